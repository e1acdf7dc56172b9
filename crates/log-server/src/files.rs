//! The directory store's durable writes and chunked reads, for other logs that keep their
//! tiles and checkpoint as files in a folder (the authority's static-ct-api CT log).
//!
//! Thin wrappers over [`crate::storage::fs`]: one implementation of "tmp → fsync → rename,
//! new folders and touched folders fsynced" for every log in the workspace.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use crate::error::Result;
use crate::storage::{ObjectStream, fs};

/// Durably writes `objects` (paths relative to `dir`) under `dir`: each through a
/// temporary file (`.tmp-<pid>-<n>`, `n` from `seq`) that is fsynced and renamed into
/// place; new folders are fsynced into their parents and each touched folder is fsynced
/// once. An object is either complete or absent after a crash.
pub fn write_objects(dir: &Path, seq: &AtomicU64, objects: &[(String, Vec<u8>)]) -> Result<()> {
    fs::write_objects(dir, seq, objects)
}

/// Opens `dir/rel` for reading in 64 KiB chunks, with its length; `None` if absent.
pub async fn stream_object(dir: &Path, rel: &str) -> Result<Option<ObjectStream>> {
    fs::stream_object(dir, rel).await
}

/// Removes temporaries that a crash or a failed write left under `dir`; returns how many.
pub fn remove_leftovers(dir: &Path) -> usize {
    fs::remove_leftovers(dir)
}

/// Removes the partial tiles of the given full tiles (`dir/<full>.p/`): a log may drop
/// them once the full tile exists (clients fall back to it). A missing folder is fine.
pub fn remove_partial_dirs(dir: &Path, full: &[String]) -> Result<()> {
    fs::remove_partial_dirs(dir, full)
}
