//! Storage behind one trait: the sequencer state and dedup index (durable per batch),
//! the integration lease (one integrator at a time), and the immutable tile/bundle
//! objects plus the checkpoint that the read API serves.
//!
//! Two implementations: [`fs::FsStorage`] (a directory + redb, the embedded default) and
//! [`pg::PgStorage`] (PostgreSQL sequencing + an `object_store` for tiles; any number of
//! front ends).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use chainseal_tlog::Hash;

use crate::error::Result;

pub mod fs;
pub mod pg;

/// An object's bytes as they are read, in chunks (a tile or bundle is never held whole
/// in memory while a slow client reads it), with its length.
pub type ObjectStream = (
    u64,
    futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>,
);

/// One entry handed to [`Storage::sequence`]: its leaf hash (the dedup key) and body.
pub type PendingEntry = (Hash, Arc<Vec<u8>>);

/// What an integrator holds while it integrates: the integrated size it starts from and
/// the sequenced entries that follow it, in index order.
#[derive(Debug)]
pub struct Lease<G> {
    /// Entries `[0, integrated)` are in the tiles.
    pub integrated: u64,
    /// Entries `integrated, integrated + 1, …` (at most the requested number).
    pub entries: Vec<Vec<u8>>,
    /// The lease's fencing token: strictly larger for every lease taken (PostgreSQL
    /// sequence); 0 where one process owns the storage (embedded).
    pub epoch: u64,
    /// Backend-specific lock guard (transaction, mutex).
    pub guard: G,
}

/// The log's storage.
pub trait Storage: Send + Sync + 'static {
    /// The lock an integrator holds.
    type Guard: Send + Sync;

    /// Durably assigns indices to a batch, in one transaction: a leaf hash already in
    /// the log (or earlier in the batch) gets its existing index. Returns only after
    /// the batch is durable.
    fn sequence(&self, batch: Vec<PendingEntry>) -> impl Future<Output = Result<Vec<u64>>> + Send;

    /// Tries to become the (single) integrator and reads up to `max` sequenced but
    /// unintegrated entries. `None` when another process holds the lease.
    fn lease(&self, max: usize) -> impl Future<Output = Result<Option<Lease<Self::Guard>>>> + Send;

    /// Records that entries `[0, new_size)` are integrated (tiles and checkpoint written)
    /// and releases the lease.
    fn commit(
        &self,
        lease: Lease<Self::Guard>,
        new_size: u64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Reads an object (`tile/…` or `checkpoint`); `None` if absent.
    fn read(&self, path: &str) -> impl Future<Output = Result<Option<Bytes>>> + Send;

    /// Opens an object for reading in chunks (what the read API serves); `None` if absent.
    fn read_stream(&self, path: &str) -> impl Future<Output = Result<Option<ObjectStream>>> + Send;

    /// Durably writes immutable objects (tiles, bundles): each is complete or absent.
    fn write_tiles(
        &self,
        objects: Vec<(String, Vec<u8>)>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Durably replaces the checkpoint (after the tiles it covers), fenced by `lease`: the
    /// write fails with [`crate::Error::Fenced`] when the lease is no longer held or the
    /// stored checkpoint is already larger (compare-and-swap), so a front end that lost its
    /// lease can never put back an older checkpoint.
    fn write_checkpoint(
        &self,
        lease: &Lease<Self::Guard>,
        note: Vec<u8>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes the partial tiles and bundles (`<full>.p/<W>`) of full tiles that exist
    /// (C2SP tlog-tiles: a log MAY delete them once the full tile exists; clients fall
    /// back to the full tile). Best effort: what is left is only space.
    fn remove_partials(&self, full: Vec<String>) -> impl Future<Output = Result<()>> + Send;
}

/// The full tiles (and bundles) among written object paths: those that have partial
/// siblings to prune.
pub fn full_tiles(written: &[(String, Vec<u8>)]) -> Vec<String> {
    written
        .iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("tile/") && !p.contains(".p/"))
        .cloned()
        .collect()
}
