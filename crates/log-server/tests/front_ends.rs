//! Two front ends on one store, one of them holding the integration lease: the other
//! answers its own writers from what the integrating one publishes. Two races of that
//! setup, forced deterministically through a storage wrapper (no sleeps):
//!
//! - this front end reads the checkpoint, then the other one fills the tile and prunes
//!   its partials before this one loads the partial tile the checkpoint names: the
//!   partial is read as the prefix of the full tile;
//! - loading the tiles fails once: the covered writers are kept and answered next round.
//!
//! Each test first runs the same round without the race (positive control).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chainseal_log_server::storage::fs::FsStorage;
use chainseal_log_server::storage::{Lease, ObjectStream, PendingEntry, Storage};
use chainseal_log_server::{Config, Error, Log, Result};
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::Ed25519Verifier;
use common::{check_tle, hashedrekord, p256};

const ORIGIN: &str = "fronts.example/log";

type Race = Pin<Box<dyn Future<Output = Bytes> + Send>>;

/// One front end's handle on the shared store.
struct FrontEnd {
    store: FsStorage,
    /// The other front end holds the integration lease: this one never integrates.
    lease_held_elsewhere: bool,
    /// Signalled when this front end has made a batch durable (its writers then wait).
    sequenced: Arc<tokio::sync::Notify>,
    /// Whether a batch was sequenced since `race` was armed.
    sequenced_since_armed: AtomicBool,
    /// Run instead of the first checkpoint read after this front end sequenced a batch
    /// (its writer is then registered): returns the checkpoint "read".
    race: Mutex<Option<Race>>,
    /// Tile reads to fail from now on, and how many were failed.
    fail_tile_reads: AtomicUsize,
    failed_tile_reads: AtomicUsize,
}

impl FrontEnd {
    fn new(store: FsStorage, lease_held_elsewhere: bool) -> Self {
        FrontEnd {
            store,
            lease_held_elsewhere,
            sequenced: Arc::new(tokio::sync::Notify::new()),
            sequenced_since_armed: AtomicBool::new(false),
            race: Mutex::new(None),
            fail_tile_reads: AtomicUsize::new(0),
            failed_tile_reads: AtomicUsize::new(0),
        }
    }

    /// Runs `race` instead of the first checkpoint read after this front end next
    /// sequences a batch; what it returns is the checkpoint read.
    fn arm(&self, race: impl Future<Output = Bytes> + Send + 'static) {
        self.sequenced_since_armed.store(false, Ordering::SeqCst);
        *self.race.lock().unwrap() = Some(Box::pin(race));
    }
}

impl Storage for FrontEnd {
    type Guard = <FsStorage as Storage>::Guard;

    async fn sequence(&self, batch: Vec<PendingEntry>) -> Result<Vec<u64>> {
        let r = self.store.sequence(batch).await;
        // The log registers the batch's writers as soon as this returns, before it yields
        // (the tests run on a current-thread runtime).
        self.sequenced_since_armed.store(true, Ordering::SeqCst);
        self.sequenced.notify_waiters();
        r
    }

    async fn lease(&self, max: usize) -> Result<Option<Lease<Self::Guard>>> {
        if self.lease_held_elsewhere {
            return Ok(None);
        }
        self.store.lease(max).await
    }

    async fn commit(&self, lease: Lease<Self::Guard>, new_size: u64) -> Result<()> {
        self.store.commit(lease, new_size).await
    }

    async fn read(&self, path: &str) -> Result<Option<Bytes>> {
        if path == "checkpoint" && self.sequenced_since_armed.load(Ordering::SeqCst) {
            let race = self.race.lock().unwrap().take();
            if let Some(race) = race {
                return Ok(Some(race.await));
            }
        }
        if path.starts_with("tile/")
            && self
                .fail_tile_reads
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            self.failed_tile_reads.fetch_add(1, Ordering::SeqCst);
            return Err(Error::storage(format!("read {path}"), "injected failure"));
        }
        self.store.read(path).await
    }

    async fn read_stream(&self, path: &str) -> Result<Option<ObjectStream>> {
        self.store.read_stream(path).await
    }

    async fn write_tiles(&self, objects: Vec<(String, Vec<u8>)>) -> Result<()> {
        self.store.write_tiles(objects).await
    }

    async fn write_checkpoint(&self, lease: &Lease<Self::Guard>, note: Vec<u8>) -> Result<()> {
        self.store.write_checkpoint(lease, note).await
    }

    async fn remove_partials(&self, full: Vec<String>) -> Result<()> {
        self.store.remove_partials(full).await
    }
}

/// Front end `b` integrates (it holds the lease, and integrates whenever it sequences a
/// batch); front end `a` only sequences and answers its writers, looking at the shared
/// store every 20 ms.
struct Fronts {
    _dir: tempfile::TempDir,
    store: FsStorage,
    vkey: String,
    a: Log<FrontEnd>,
    b: Log<FrontEnd>,
    key: chainseal_crypto::keys::PrivateKey,
    n: AtomicUsize,
}

impl Fronts {
    async fn start() -> Arc<Self> {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStorage::open(dir.path()).unwrap();
        let key = |dir: &std::path::Path| {
            chainseal_log_server::load_or_create_key(dir, ORIGIN, None).unwrap()
        };
        let mut cfg = Config::new(ORIGIN);
        // `b` integrates only what it sequences itself, when it does.
        cfg.checkpoint_interval = Duration::from_secs(3600);
        let b = Log::start(FrontEnd::new(store.clone(), false), key(dir.path()), cfg)
            .await
            .unwrap();
        let mut cfg = Config::new(ORIGIN);
        cfg.checkpoint_interval = Duration::from_millis(20);
        let a = Log::start(FrontEnd::new(store.clone(), true), key(dir.path()), cfg)
            .await
            .unwrap();
        Arc::new(Fronts {
            vkey: key(dir.path()).to_vkey(),
            _dir: dir,
            store,
            a,
            b,
            key: p256(),
            n: AtomicUsize::new(0),
        })
    }

    fn request(&self) -> Vec<u8> {
        let i = self.n.fetch_add(1, Ordering::SeqCst);
        serde_json::to_vec(&hashedrekord(&self.key, format!("artifact {i}").as_bytes())).unwrap()
    }

    /// `count` entries through `b`, at once; each must be answered.
    async fn through_b(&self, count: usize) {
        let reqs: Vec<Vec<u8>> = (0..count).map(|_| self.request()).collect();
        let all = futures_util::future::join_all(reqs.iter().map(|r| self.b.submit(r))).await;
        for r in all {
            r.unwrap();
        }
    }

    fn checkpoint_size(&self, note: &[u8]) -> u64 {
        let v = Ed25519Verifier::from_vkey(&self.vkey).unwrap();
        Checkpoint::open(note, ORIGIN, &[&v]).unwrap().0.size
    }

    async fn exists(&self, path: &str) -> bool {
        self.store.read(path).await.unwrap().is_some()
    }

    fn integration_errors(&self, log: &Log<FrontEnd>) -> u64 {
        log.metrics_text()
            .lines()
            .find_map(|l| l.strip_prefix("chainseal_log_integration_errors_total "))
            .expect("the integration error counter")
            .parse()
            .unwrap()
    }

    /// Submits an entry through `a` and waits (30 s at most) for its answer, checked
    /// with the tlog crate: its index and the size of the checkpoint it was proven against.
    async fn a_writer(&self) -> (u64, u64) {
        let req = self.request();
        let tle = tokio::time::timeout(Duration::from_secs(30), self.a.submit(&req))
            .await
            .expect("a's writer was answered within 30 s")
            .unwrap_or_else(|e| panic!("a's writer got no entry: {e}"));
        let tle: serde_json::Value = serde_json::from_slice(&tle).unwrap();
        check_tle(&tle, &self.vkey, ORIGIN)
    }

    /// [`Fronts::a_writer`], its entry integrated by `b` (which sequences one of its own
    /// once `a`'s is durable).
    async fn a_writer_integrated_by_b(&self) -> (u64, u64) {
        let sequenced = self.a.storage().sequenced.clone();
        let durable = sequenced.notified();
        let (answer, ()) = tokio::join!(self.a_writer(), async {
            durable.await;
            self.through_b(1).await;
        });
        answer
    }
}

/// The partial tiles a checkpoint of `size` (< 256) names, and the full ones.
fn tiles_of(size: u64) -> [String; 4] {
    [
        format!("tile/0/000.p/{size}"),
        format!("tile/entries/000.p/{size}"),
        "tile/0/000".into(),
        "tile/entries/000".into(),
    ]
}

#[tokio::test]
async fn a_partial_tile_pruned_after_the_checkpoint_was_read_is_read_from_the_full_tile() {
    let f = Fronts::start().await;
    f.through_b(10).await;

    // Positive control: `a` answers from the partial tiles the checkpoint names.
    let (index, size) = f.a_writer_integrated_by_b().await;
    assert!(index < size && size < 256, "{index} in {size}");
    let [p, pe, ..] = tiles_of(size);
    assert!(f.exists(&p).await && f.exists(&pe).await);

    // The race: `a` reads the checkpoint (covering its writer's entry); then `b` fills
    // the tile and prunes its partials; then `a` loads the tiles that checkpoint names.
    let seen = Arc::new(Mutex::new(None));
    let (f2, seen2) = (f.clone(), seen.clone());
    f.a.storage().arm(async move {
        f2.through_b(1).await;
        let note = f2.store.read("checkpoint").await.unwrap().unwrap();
        let size = f2.checkpoint_size(&note);
        let [p, pe, full, full_e] = tiles_of(size);
        let before = (f2.exists(&p).await, f2.exists(&pe).await);
        f2.through_b(256 - size as usize).await;
        let after = [&p, &pe, &full, &full_e];
        let mut now = Vec::new();
        for t in after {
            now.push(f2.exists(t).await);
        }
        *seen2.lock().unwrap() = Some((size, before, now));
        note
    });
    let (index, size) = f.a_writer().await;
    let (read, before, now) = seen.lock().unwrap().take().expect("the race ran");
    // The situation was the one described: the partials existed when `a` read the
    // checkpoint, and only the full tiles when it loaded them.
    assert_eq!(before, (true, true), "partials of {read} before the prune");
    assert_eq!(
        now,
        [false, false, true, true],
        "partials and full tiles after"
    );
    // `a` answered from the checkpoint it read, in that round.
    assert!(index < read, "{index} in {read}");
    assert_eq!(
        size, read,
        "a's writer was answered against checkpoint {size}, not the one it read ({read}): the missing partial tile failed that round"
    );
    assert_eq!(f.integration_errors(&f.a), 0);
}

#[tokio::test]
async fn writers_covered_by_a_checkpoint_survive_a_round_that_fails_to_load_its_tiles() {
    let f = Fronts::start().await;
    f.through_b(3).await;

    // Positive control: no failure, answered in the round that loads the tiles.
    f.a_writer_integrated_by_b().await;
    assert_eq!(f.integration_errors(&f.a), 0);

    // `a` reads a checkpoint covering its writer's entry, then its first tile read fails.
    let f2 = f.clone();
    f.a.storage().arm(async move {
        f2.through_b(1).await;
        f2.a.storage().fail_tile_reads.store(1, Ordering::SeqCst);
        f2.store.read("checkpoint").await.unwrap().unwrap()
    });
    let (index, size) = f.a_writer().await;
    assert!(index < size);
    assert_eq!(f.a.storage().failed_tile_reads.load(Ordering::SeqCst), 1);
    assert_eq!(
        f.integration_errors(&f.a),
        1,
        "the injected failure failed one round"
    );
}
