//! The log: a bounded submission queue, the sequencer (batches made durable in one
//! transaction each), and the integration loop (tiles, checkpoint, witnesses, replies).
//!
//! A request is answered only once a published checkpoint covers its entry, with an
//! inclusion proof against that checkpoint.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::{Ed25519Signer, VerifierKey};
use chainseal_tlog::note::{Note, NoteSigner};
use chainseal_tlog::{Hash, merkle};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::entry::{self, Included, Prepared};
use crate::error::{Error, Result};
use crate::storage::{Lease, PendingEntry, Storage};
use crate::tree::TileTree;
use crate::witness::Witness;

/// Tuning and identity of a log.
#[derive(Debug)]
pub struct Config {
    /// The checkpoint origin (and note key name).
    pub origin: String,
    /// Most entries per sequenced batch.
    pub batch_max: usize,
    /// Longest a batch waits to fill (default 0: group commit, a batch is what queued
    /// while the previous one was being made durable).
    pub batch_wait: Duration,
    /// How often the integrator looks for batches sequenced elsewhere (other front ends
    /// of a shared store), and how long it backs off after a failure. A batch sequenced
    /// here is integrated as soon as it is durable and the previous checkpoint is out.
    pub checkpoint_interval: Duration,
    /// Most submissions waiting to be sequenced (pushback beyond: 503).
    pub queue: usize,
    /// Largest canonical entry body accepted (at most the tlog-tiles bound, 65,535
    /// bytes). Rekor v2 bodies hold digests, signatures and at most 8 verifiers, so the
    /// default (16 KiB) fits any honest entry and bounds an entry bundle at 4 MiB.
    pub max_entry_bytes: usize,
    /// Most entries integrated per checkpoint.
    pub integrate_max: usize,
    /// How long a writer waits for a checkpoint covering its entry.
    pub ack_timeout: Duration,
    /// Witnesses asked to cosign each checkpoint.
    pub witnesses: Vec<Witness>,
    /// How many witness cosignatures a checkpoint needs before it is published.
    pub witness_quorum: usize,
}

impl Config {
    /// Defaults: group commit (batches of up to 256 with no waiting, a checkpoint as soon
    /// as one is durable), a look at the shared store every 250 ms, 8192 queued.
    pub fn new(origin: &str) -> Self {
        Config {
            origin: origin.to_owned(),
            batch_max: 256,
            batch_wait: Duration::ZERO,
            checkpoint_interval: Duration::from_millis(250),
            queue: 8192,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            integrate_max: 1 << 16,
            ack_timeout: Duration::from_secs(30),
            witnesses: Vec::new(),
            witness_quorum: 0,
        }
    }
}

/// The default of [`Config::max_entry_bytes`].
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 16 * 1024;

type Reply = oneshot::Sender<Result<Vec<u8>>>;

struct Submit {
    prepared: Prepared,
    reply: Reply,
}

struct Waiter {
    kind: &'static str,
    body: Arc<Vec<u8>>,
    reply: Reply,
}

struct Inner<S: Storage> {
    /// Bounds the entry verifications running at once on the blocking pool.
    verifiers: tokio::sync::Semaphore,
    /// [`Config::max_entry_bytes`].
    max_entry_bytes: usize,
    /// Counters for `/metrics`.
    metrics: crate::metrics::Metrics,
    storage: S,
    origin: String,
    signer: Ed25519Signer,
    log_id: [u8; 32],
    tx: mpsc::Sender<Submit>,
    waiters: Mutex<BTreeMap<u64, Vec<Waiter>>>,
    ack_timeout: Duration,
    /// Signalled after each durable batch, so an idle log integrates it at once.
    sequenced: tokio::sync::Notify,
}

/// A running log (cheap to clone; shared by HTTP handlers).
pub struct Log<S: Storage> {
    inner: Arc<Inner<S>>,
}

impl<S: Storage> Clone for Log<S> {
    fn clone(&self) -> Self {
        Log {
            inner: self.inner.clone(),
        }
    }
}

/// The full C2SP key ID of an Ed25519 note key: `SHA-256(name || 0x0A || 0x01 || key)`,
/// which Rekor v2 uses as the log ID.
pub fn log_id(signer: &Ed25519Signer) -> Result<[u8; 32]> {
    let vk = VerifierKey::parse(&signer.to_vkey())?;
    let mut h = Sha256::new();
    h.update(vk.name.as_bytes());
    h.update([0x0A, vk.key_type]);
    h.update(&vk.public_key);
    Ok(h.finalize().into())
}

/// Parses a published checkpoint note, checking it is ours.
fn parse_published(
    origin: &str,
    signer: &Ed25519Signer,
    bytes: &[u8],
) -> Result<(Checkpoint, Note)> {
    let vk = chainseal_tlog::keys::Ed25519Verifier::from_vkey(&signer.to_vkey())?;
    let (cp, note, _) = Checkpoint::open(bytes, origin, &[&vk])
        .map_err(|e| Error::Corrupt(format!("published checkpoint: {e}")))?;
    Ok((cp, note))
}

impl<S: Storage> Log<S> {
    /// Starts a log over `storage`: recovers from whatever state it is in, then spawns the
    /// sequencer and the integration loop. Must be called inside a Tokio runtime.
    pub async fn start(storage: S, signer: Ed25519Signer, mut cfg: Config) -> Result<Self> {
        if signer.name() != cfg.origin {
            return Err(Error::Config(format!(
                "the key is named {:?} but the origin is {:?}; they must be equal",
                signer.name(),
                cfg.origin
            )));
        }
        if cfg.max_entry_bytes == 0 || cfg.max_entry_bytes > entry::MAX_ENTRY_BYTES {
            return Err(Error::Config(format!(
                "the largest entry must be 1..={} bytes (the tlog-tiles bound), not {}",
                entry::MAX_ENTRY_BYTES,
                cfg.max_entry_bytes
            )));
        }
        if cfg.witness_quorum > cfg.witnesses.len() {
            return Err(Error::Config(format!(
                "witness quorum {} exceeds the {} witnesses configured",
                cfg.witness_quorum,
                cfg.witnesses.len()
            )));
        }
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let inner = Arc::new(Inner {
            storage,
            origin: cfg.origin.clone(),
            log_id: log_id(&signer)?,
            signer,
            tx,
            waiters: Mutex::new(BTreeMap::new()),
            ack_timeout: cfg.ack_timeout,
            sequenced: tokio::sync::Notify::new(),
            max_entry_bytes: cfg.max_entry_bytes,
            metrics: crate::metrics::Metrics::default(),
            verifiers: tokio::sync::Semaphore::new(
                2 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            ),
        });
        let mut integrator = Integrator {
            inner: inner.clone(),
            tree: TileTree::new(),
            witnesses: std::mem::take(&mut cfg.witnesses),
            quorum: cfg.witness_quorum,
            max: cfg.integrate_max.max(1),
            http: reqwest::Client::new(),
        };
        // Recover synchronously: a store that would fork the tree fails start-up. Missing
        // cosignatures do not: the log serves reads, and the loop below retries.
        match integrator.tick().await {
            Ok(_) => {}
            Err(e @ Error::Witness { .. }) => tracing::warn!(
                "start-up: {e}; serving the last published checkpoint, retrying every interval"
            ),
            Err(e) => return Err(e),
        }
        tokio::spawn(sequencer(
            inner.clone(),
            rx,
            cfg.batch_max.max(1),
            cfg.batch_wait,
        ));
        let interval = cfg.checkpoint_interval.max(Duration::from_millis(1));
        let woken = inner.clone();
        tokio::spawn(async move {
            // Group commit: a batch made durable here is integrated and published at
            // once; batches that become durable meanwhile wait only for that checkpoint
            // and then go out together, so latency follows load instead of a tick.
            // The interval only paces the look for other front ends' batches (shared
            // storage) and the back-off after a failure.
            loop {
                tokio::select! {
                    _ = woken.sequenced.notified() => {}
                    _ = tokio::time::sleep(interval) => {}
                }
                if let Err(e) = integrator.tick().await {
                    integrator
                        .inner
                        .metrics
                        .integration_errors
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!("integration: {e}");
                    // Reload the right edge from storage next round, after a pause.
                    integrator.tree.reset(u64::MAX);
                    tokio::time::sleep(interval).await;
                }
            }
        });
        Ok(Log { inner })
    }

    /// The log ID (full C2SP key ID).
    pub fn log_id(&self) -> [u8; 32] {
        self.inner.log_id
    }

    /// The C2SP verifier key.
    pub fn vkey(&self) -> String {
        self.inner.signer.to_vkey()
    }

    /// The storage.
    pub fn storage(&self) -> &S {
        &self.inner.storage
    }

    /// Verifies and submits a `CreateEntryRequest`; resolves to the `TransparencyLogEntry`
    /// JSON once a published checkpoint covers the entry.
    pub async fn submit(&self, request: &[u8]) -> Result<Vec<u8>> {
        let m = &self.inner.metrics;
        m.submitted.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let r = self.submit_inner(request).await;
        match &r {
            Ok(_) => m.ack(started.elapsed()),
            Err(e) if e.is_client_error() => {
                m.rejected.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                m.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }

    /// The `/metrics` text (Prometheus exposition format).
    pub fn metrics_text(&self) -> String {
        let queued = self.inner.tx.max_capacity() - self.inner.tx.capacity();
        let waiting = {
            let w = self.inner.waiters.lock().unwrap_or_else(|p| p.into_inner());
            w.values().map(Vec::len).sum()
        };
        self.inner.metrics.render(queued, waiting)
    }

    async fn submit_inner(&self, request: &[u8]) -> Result<Vec<u8>> {
        // Decoding and signature checks are CPU work (up to 8×8 signatures a request):
        // on the blocking pool, a few at a time, never on the threads serving reads.
        let prepared = {
            let _permit = self
                .inner
                .verifiers
                .acquire()
                .await
                .map_err(|_| Error::Unavailable("shutting down"))?;
            let req = request.to_vec();
            tokio::task::spawn_blocking(move || entry::prepare(&req))
                .await
                .map_err(|_| Error::Unavailable("entry verification failed"))??
        };
        if prepared.body.len() > self.inner.max_entry_bytes {
            return Err(Error::TooLarge {
                what: "entry body",
                got: prepared.body.len(),
                max: self.inner.max_entry_bytes,
            });
        }
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .try_send(Submit { prepared, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Error::Overloaded,
                mpsc::error::TrySendError::Closed(_) => Error::Unavailable("sequencer stopped"),
            })?;
        match tokio::time::timeout(self.inner.ack_timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::Unavailable("the entry's batch was dropped")),
            Err(_) => Err(Error::Unavailable("timed out waiting for a checkpoint")),
        }
    }
}

async fn sequencer<S: Storage>(
    inner: Arc<Inner<S>>,
    mut rx: mpsc::Receiver<Submit>,
    batch_max: usize,
    batch_wait: Duration,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + batch_wait;
        while batch.len() < batch_max {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    tokio::select! {
                        m = rx.recv() => match m {
                            Some(s) => batch.push(s),
                            None => break,
                        },
                        _ = tokio::time::sleep_until(deadline) => break,
                    }
                }
            }
        }
        let pending: Vec<PendingEntry> = batch
            .iter()
            .map(|s| (s.prepared.leaf_hash, Arc::new(s.prepared.body.clone())))
            .collect();
        let bodies: Vec<Arc<Vec<u8>>> = pending.iter().map(|p| p.1.clone()).collect();
        match inner.storage.sequence(pending).await {
            Ok(indices) => {
                inner.metrics.batch(indices.len());
                {
                    let mut w = inner.waiters.lock().unwrap_or_else(|p| p.into_inner());
                    for ((s, idx), body) in batch.into_iter().zip(indices).zip(bodies) {
                        w.entry(idx).or_default().push(Waiter {
                            kind: s.prepared.kind,
                            body,
                            reply: s.reply,
                        });
                    }
                }
                inner.sequenced.notify_one();
            }
            Err(e) => {
                tracing::error!("sequencing a batch of {}: {e}", batch.len());
                for s in batch {
                    let _ = s.reply.send(Err(Error::Unavailable("sequencing failed")));
                }
            }
        }
    }
}

/// The integration loop's state (owned by one task).
struct Integrator<S: Storage> {
    inner: Arc<Inner<S>>,
    tree: TileTree,
    witnesses: Vec<Witness>,
    quorum: usize,
    max: usize,
    http: reqwest::Client,
}

impl<S: Storage> Integrator<S> {
    async fn load(&mut self, tiles: Vec<chainseal_tlog::tile::Tile>) -> Result<()> {
        for t in tiles {
            let data = match self.inner.storage.read(&t.path()).await? {
                Some(d) => d.to_vec(),
                // Another front end may have filled the tile and pruned its partials since
                // this one read the checkpoint: the full tile's prefix is the same data.
                None if !t.is_full() => self.prefix_of_full(&t).await?,
                None => return Err(Error::Corrupt(format!("{} is missing", t.path()))),
            };
            self.tree.insert(&t, &data)?;
        }
        Ok(())
    }

    /// The first `t.width` hashes or entries of the full tile that replaced partial `t`.
    async fn prefix_of_full(&self, t: &chainseal_tlog::tile::Tile) -> Result<Vec<u8>> {
        use chainseal_tlog::tile::{self, TileKind};
        let full = chainseal_tlog::tile::Tile {
            width: tile::TILE_WIDTH as u16,
            ..*t
        };
        let data = self
            .inner
            .storage
            .read(&full.path())
            .await?
            .ok_or_else(|| {
                Error::Corrupt(format!("{} and {} are missing", t.path(), full.path()))
            })?;
        let w = usize::from(t.width);
        match t.kind {
            TileKind::Hashes(_) => data
                .get(..w * 32)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| Error::Corrupt(format!("{} is short", full.path()))),
            TileKind::Entries => {
                let entries = tile::parse_entry_bundle(&data)?;
                let prefix = entries
                    .get(..w)
                    .ok_or_else(|| Error::Corrupt(format!("{} is short", full.path())))?;
                Ok(tile::encode_entry_bundle(prefix)?)
            }
            _ => Err(Error::Corrupt(format!("{} is missing", t.path()))),
        }
    }

    /// Makes the cached tree describe exactly `size` leaves (reloading the right edge).
    async fn resync(&mut self, size: u64) -> Result<()> {
        if self.tree.size() == size {
            return Ok(());
        }
        self.tree.reset(size);
        self.load(TileTree::right_edge(size)).await
    }

    async fn ensure(&mut self, points: &[u64], size: u64) -> Result<()> {
        let missing = self.tree.missing(points, size);
        self.load(missing).await
    }

    async fn published(&self) -> Result<Option<(Checkpoint, Note)>> {
        match self.inner.storage.read("checkpoint").await? {
            Some(b) => parse_published(&self.inner.origin, &self.inner.signer, &b).map(Some),
            None => Ok(None),
        }
    }

    /// One round: integrate what is sequenced, publish a checkpoint, answer writers.
    /// Integrates what is sequenced and answers covered writers; `true` when a new
    /// checkpoint was published.
    async fn tick(&mut self) -> Result<bool> {
        let mut published = false;
        if let Some(lease) = self.inner.storage.lease(self.max).await? {
            self.resync(lease.integrated).await?;
            let writes = self.tree.append(&lease.entries)?;
            let full = crate::storage::full_tiles(&writes);
            self.inner.storage.write_tiles(writes).await?;
            if !full.is_empty()
                && let Err(e) = self.inner.storage.remove_partials(full).await
            {
                tracing::warn!("pruning partial tiles: {e}");
            }
            let size = self.tree.size();
            let prev = self.published().await?;
            let prev_size = prev.as_ref().map(|p| p.0.size);
            if prev_size.is_none_or(|p| p < size) {
                self.publish(&lease, size, prev.map(|p| p.0)).await?;
                self.inner
                    .metrics
                    .checkpoints
                    .fetch_add(1, Ordering::Relaxed);
                published = true;
            } else if let Some((cp, _)) = &prev
                && cp.size > size
            {
                return Err(Error::Corrupt(format!(
                    "published checkpoint has size {} but only {size} entries are integrated",
                    cp.size
                )));
            }
            self.inner.storage.commit(lease, size).await?;
        }
        self.answer().await?;
        Ok(published)
    }

    /// Signs, cosigns and writes the checkpoint for the tree of `size`, after checking it
    /// is consistent with the previously published one.
    async fn publish(
        &mut self,
        lease: &Lease<S::Guard>,
        size: u64,
        prev: Option<Checkpoint>,
    ) -> Result<()> {
        let mut points = vec![size.saturating_sub(1)];
        if let Some(p) = &prev {
            points.push(p.size.saturating_sub(1));
            self.ensure(&points, size).await?;
            if p.size > 0 && self.tree.root_at(p.size)? != p.root_hash {
                return Err(Error::Corrupt(format!(
                    "the tiles give a root at size {} that differs from the published checkpoint; refusing to fork",
                    p.size
                )));
            }
        } else {
            self.ensure(&points, size).await?;
        }
        let root = self.tree.root_at(size)?;
        let cp = Checkpoint {
            origin: self.inner.origin.clone(),
            size,
            root_hash: root,
            extensions: Vec::new(),
        };
        let mut note = Note::new(cp.to_text())?;
        note.sign(&self.inner.signer)?;
        if !self.witnesses.is_empty() && size > 0 {
            let mut witnesses = std::mem::take(&mut self.witnesses);
            let sigs = self.cosign(&mut witnesses, &note, size).await;
            self.witnesses = witnesses;
            let sigs = sigs?;
            if sigs.len() < self.quorum {
                return Err(Error::Witness {
                    url: "(quorum)".into(),
                    reason: format!(
                        "{} of {} required cosignatures; checkpoint {size} not published",
                        sigs.len(),
                        self.quorum
                    ),
                });
            }
            for s in sigs {
                note.add_signature(s)?;
            }
        }
        self.inner
            .storage
            .write_checkpoint(lease, note.to_bytes())
            .await
    }

    /// Asks every witness at once and returns as soon as `quorum` cosignatures are in
    /// (a hung witness no longer delays a checkpoint another one can cosign); the
    /// requests still out are dropped. A witness that names a size whose tiles were not
    /// loaded is asked again, after loading them.
    async fn cosign(
        &mut self,
        witnesses: &mut [Witness],
        note: &Note,
        size: u64,
    ) -> Result<Vec<chainseal_tlog::note::NoteSignature>> {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let mut sigs = Vec::new();
        let mut pending: Vec<usize> = (0..witnesses.len()).collect();
        for _round in 0..2 {
            // Proofs from the sizes the witnesses last reported need those tiles.
            let olds: Vec<u64> = pending
                .iter()
                .map(|&i| witnesses[i].old_size())
                .filter(|&o| o > 0 && o < size)
                .map(|o| o - 1)
                .collect();
            self.ensure(&olds, size).await?;
            let tree = &self.tree;
            let http = &self.http;
            let proof = |o: u64| -> Result<Vec<Hash>> { tree.consistency(o, size) };
            let proof = &proof;
            let mut asks: FuturesUnordered<_> = witnesses
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| pending.contains(i))
                .map(|(i, w)| async move { (i, w.cosign(http, note, size, proof).await) })
                .collect();
            let mut retry = Vec::new();
            while let Some((i, r)) = asks.next().await {
                match r {
                    Ok(s) => {
                        sigs.push(s);
                        if sigs.len() >= self.quorum.max(1) {
                            return Ok(sigs);
                        }
                    }
                    Err(Error::Tlog(chainseal_tlog::Error::MissingHash { .. })) => retry.push(i),
                    Err(e) => tracing::warn!("{e}"),
                }
            }
            drop(asks);
            if retry.is_empty() {
                break;
            }
            pending = retry;
        }
        Ok(sigs)
    }

    /// Answers every writer whose entry the published checkpoint covers.
    async fn answer(&mut self) -> Result<()> {
        let Some((cp, note)) = self.published().await? else {
            return Ok(());
        };
        let ready: Vec<(u64, Vec<Waiter>)> = {
            let mut w = self.inner.waiters.lock().unwrap_or_else(|p| p.into_inner());
            // Writers whose client gave up are not kept until their entry is covered.
            w.retain(|_, list| {
                list.retain(|x| !x.reply.is_closed());
                !list.is_empty()
            });
            let rest = w.split_off(&cp.size);
            std::mem::replace(&mut *w, rest).into_iter().collect()
        };
        if ready.is_empty() {
            return Ok(());
        }
        let points: Vec<u64> = ready.iter().map(|(i, _)| *i).collect();
        let loaded = async {
            // Proofs are against the published checkpoint, so the tree is made to describe
            // it whenever it does not: another front end published more, or a failed round
            // reset it (a front end without the lease has no other round that reloads it).
            if self.tree.size() != cp.size {
                self.resync(cp.size).await?;
            }
            self.ensure(&points, cp.size).await
        }
        .await;
        if let Err(e) = loaded {
            // Keep the writers for the next round rather than dropping their answers.
            let mut w = self.inner.waiters.lock().unwrap_or_else(|p| p.into_inner());
            for (index, list) in ready {
                w.entry(index).or_default().extend(list);
            }
            return Err(e);
        }
        let envelope = String::from_utf8_lossy(&note.to_bytes()).into_owned();
        for (index, waiters) in ready {
            let proof = self.tree.inclusion(index, cp.size);
            for w in waiters {
                let r = match &proof {
                    Ok(p) => {
                        if merkle::verify_inclusion(
                            index,
                            cp.size,
                            &merkle::leaf_hash(&w.body),
                            p,
                            &cp.root_hash,
                        )
                        .is_err()
                        {
                            Err(Error::Corrupt(format!(
                                "entry {index} is not the one submitted"
                            )))
                        } else {
                            entry::transparency_log_entry(&Included {
                                kind: w.kind,
                                body: &w.body,
                                index,
                                tree_size: cp.size,
                                root: cp.root_hash,
                                proof: p,
                                checkpoint: &envelope,
                                log_id: &self.inner.log_id,
                            })
                        }
                    }
                    Err(e) => Err(Error::Corrupt(format!("inclusion proof for {index}: {e}"))),
                };
                let _ = w.reply.send(r);
            }
        }
        Ok(())
    }
}
