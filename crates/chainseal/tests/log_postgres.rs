//! Scale-out: two `chainseal log serve` front ends sequencing in one PostgreSQL and
//! writing tiles to one object store produce ONE log: every acknowledged entry, from
//! either front end, is at its index in tiles that recompute the checkpoint root, and no
//! index is handed out twice.
//!
//! Needs PostgreSQL: run `eval "$(scripts/setup-postgres.sh)"` first. The test reads
//! `CHAINSEAL_TEST_POSTGRES_URL` or `target/postgres-url` and FAILS if neither is set.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
use chainseal_testkit::process::{Proc, start_log};
use chainseal_testkit::rekor::hashed_rekord_request;
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::{Ed25519Signer, Ed25519Verifier};
use chainseal_tlog::merkle;
use chainseal_tlog::tile::{self, TileHashSource};

const ORIGIN: &str = "pg.test/log";

fn postgres_url() -> String {
    if let Ok(u) = std::env::var("CHAINSEAL_TEST_POSTGRES_URL") {
        return u;
    }
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/postgres-url");
    match std::fs::read_to_string(&f) {
        Ok(u) => u.trim().to_owned(),
        Err(_) => panic!(
            "PostgreSQL is required: run `eval \"$(scripts/setup-postgres.sh)\"` \
             (sets CHAINSEAL_TEST_POSTGRES_URL and writes target/postgres-url)"
        ),
    }
}

/// Creates a fresh database for this run; returns its URL.
async fn fresh_database(url: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e} (run scripts/setup-postgres.sh)"));
    tokio::spawn(conn);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("chainseal_{}_{nanos}", std::process::id());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// Starts a front end; its log goes to the test's stderr (shown when a test fails).
fn spawn(storage: &Path, key: &Path, pg: &str, objects: &Path) -> (Proc, String) {
    start_log(
        env!("CARGO_BIN_EXE_chainseal"),
        storage,
        ORIGIN,
        &[
            "--key",
            key.to_str().unwrap(),
            "--postgres",
            pg,
            "--object-store",
            objects.to_str().unwrap(),
            "--checkpoint-interval",
            "50",
            "--batch-wait",
            "5",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_front_ends_on_one_postgres_build_one_consistent_log() {
    let pg = fresh_database(&postgres_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let signer = Ed25519Signer::generate(ORIGIN).unwrap();
    let key_file = dir.path().join("log.key");
    std::fs::write(&key_file, signer.to_private_key()).unwrap();
    let objects = dir.path().join("objects");
    let (mut a, url_a) = spawn(&dir.path().join("a"), &key_file, &pg, &objects);
    let (mut b, url_b) = spawn(&dir.path().join("b"), &key_file, &pg, &objects);

    let http = reqwest::Client::new();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8u32 {
        let url = if w % 2 == 0 {
            url_a.clone()
        } else {
            url_b.clone()
        };
        let http = http.clone();
        writers.spawn(async move {
            let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
            let mut acks = Vec::new();
            for i in 0..50u32 {
                let r = http
                    .post(format!("{url}/api/v2/log/entries"))
                    .body(hashed_rekord_request(&key, format!("w{w} e{i}").as_bytes()))
                    .timeout(Duration::from_secs(20))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let text = r.text().await.unwrap();
                assert_eq!(status, 201, "entry {i} of writer {w}: {text}");
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                let index: u64 = v["logIndex"].as_str().map_or(0, |s| s.parse().unwrap());
                let body = STANDARD
                    .decode(v["canonicalizedBody"].as_str().unwrap())
                    .unwrap();
                acks.push((index, body));
            }
            acks
        });
    }
    let mut by_index: HashMap<u64, Vec<u8>> = HashMap::new();
    while let Some(r) = writers.join_next().await {
        for (index, body) in r.unwrap() {
            // No index is ever handed out for two different entries.
            if let Some(prev) = by_index.insert(index, body.clone()) {
                assert_eq!(prev, body, "index {index} given to two entries");
            }
        }
    }
    assert_eq!(by_index.len(), 400);

    let v = Ed25519Verifier::from_vkey(&signer.to_vkey()).unwrap();
    for url in [&url_a, &url_b] {
        let note = http
            .get(format!("{url}/checkpoint"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let (cp, _, _) = Checkpoint::open(&note, ORIGIN, &[&v]).unwrap();
        assert!(cp.size >= 400);
        let mut src = TileHashSource::new();
        for t in tile::tiles_for_size(cp.size) {
            let data = http
                .get(format!("{url}/{}", t.path()))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            src.insert_path(&t.path(), &data).unwrap();
        }
        assert_eq!(merkle::tree_hash(cp.size, &src).unwrap(), cp.root_hash);
        let mut entries = Vec::new();
        for t in tile::entry_bundles_for_size(cp.size) {
            let data = http
                .get(format!("{url}/{}", t.path()))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            entries.extend(
                tile::parse_entry_bundle(&data)
                    .unwrap()
                    .into_iter()
                    .map(<[u8]>::to_vec),
            );
        }
        for (i, body) in &by_index {
            assert_eq!(&entries[*i as usize], body, "entry {i}");
        }
        // Negative beside the positive: a forged root is not what the tiles give.
        let mut forged = cp.root_hash;
        forged[0] ^= 1;
        assert_ne!(merkle::tree_hash(cp.size, &src).unwrap(), forged);
    }
    a.0.kill().unwrap();
    b.0.kill().unwrap();
    a.0.wait().unwrap();
    b.0.wait().unwrap();
}

// ---- the integration lease is fenced ----------------------------------------------------

use chainseal_log_server::Error as LogError;
use chainseal_log_server::storage::Storage as _;
use chainseal_log_server::storage::pg::PgStorage;

/// A signed checkpoint note of `size` over a made-up root (the storage only reads its
/// size and root; the signature makes it the real format).
fn checkpoint_note(size: u64) -> Vec<u8> {
    let signer = Ed25519Signer::generate(ORIGIN).unwrap();
    let cp = Checkpoint {
        origin: ORIGIN.to_owned(),
        size,
        root_hash: sha256(&size.to_be_bytes()),
        extensions: Vec::new(),
    };
    let mut note = chainseal_tlog::note::Note::new(cp.to_text()).unwrap();
    note.sign(&signer).unwrap();
    note.to_bytes()
}

fn stored_size(objects: &Path) -> u64 {
    let text = std::fs::read_to_string(objects.join("checkpoint")).unwrap();
    text.lines().nth(1).unwrap().parse().unwrap()
}

fn pending(n: u8) -> Vec<chainseal_log_server::storage::PendingEntry> {
    (0..n)
        .map(|i| {
            let body = vec![i; 8];
            (merkle::leaf_hash(&body), std::sync::Arc::new(body))
        })
        .collect()
}

/// Ends every session of the database that sits inside an open transaction: what a
/// network partition or a PostgreSQL restart does to a front end that does not know yet.
async fn terminate_idle_transactions(db: &str) {
    let (client, conn) = tokio_postgres::connect(db, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let n = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND state = 'idle in transaction' \
             AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .len();
    assert_eq!(
        n, 1,
        "exactly the lease holder's session is in a transaction"
    );
}

/// Front end A takes the lease and loses its session without noticing; B takes the lease,
/// integrates more and publishes. A's late checkpoint (older) and its commit are refused,
/// and the stored state stays B's. Positive control: B's own writes go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_end_that_lost_its_lease_cannot_publish_an_older_checkpoint() {
    let db = fresh_database(&postgres_url()).await;
    let tmp = tempfile::tempdir().unwrap();
    let objects = tmp.path().join("objects");
    let objects_arg = objects.to_str().unwrap();
    let a = PgStorage::open(&db, objects_arg).await.unwrap();
    let b = PgStorage::open(&db, objects_arg).await.unwrap();

    a.sequence(pending(2)).await.unwrap();
    let lease_a = a.lease(100).await.unwrap().expect("A takes the free lease");
    assert_eq!((lease_a.integrated, lease_a.entries.len()), (0, 2));
    assert!(
        b.lease(100).await.unwrap().is_none(),
        "the lease is exclusive while A holds it"
    );

    terminate_idle_transactions(&db).await;
    b.sequence(pending(3)).await.unwrap(); // entries 0, 1 dedup; one new
    let lease_b = b
        .lease(100)
        .await
        .unwrap()
        .expect("A's lease died with its session");
    assert!(lease_b.epoch > lease_a.epoch, "fencing tokens only grow");
    assert_eq!((lease_b.integrated, lease_b.entries.len()), (0, 3));
    b.write_checkpoint(&lease_b, checkpoint_note(3))
        .await
        .unwrap();
    b.commit(lease_b, 3).await.unwrap();
    assert_eq!(stored_size(&objects), 3);

    let late = a.write_checkpoint(&lease_a, checkpoint_note(2)).await;
    assert!(
        matches!(late, Err(LogError::Fenced(_))),
        "a stale front end's checkpoint must be fenced, got {late:?}"
    );
    assert!(
        a.commit(lease_a, 2).await.is_err(),
        "and so must its commit"
    );
    assert_eq!(stored_size(&objects), 3, "B's checkpoint stands");

    // A recovers on its next round: a new lease (new session) starts from B's state.
    let again = a
        .lease(100)
        .await
        .unwrap()
        .expect("the lease is free again");
    assert_eq!((again.integrated, again.entries.len()), (3, 0));
}

/// The compare-and-swap on its own: the lease is alive, but another writer has already
/// stored a larger checkpoint (it got in between A's check and A's write): A's smaller one
/// is refused, an equal-size one with another root is refused as a fork, a larger one
/// goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_is_replaced_only_by_a_larger_one() {
    let db = fresh_database(&postgres_url()).await;
    let tmp = tempfile::tempdir().unwrap();
    let objects = tmp.path().join("objects");
    let a = PgStorage::open(&db, objects.to_str().unwrap())
        .await
        .unwrap();
    a.sequence(pending(4)).await.unwrap();
    let lease = a.lease(100).await.unwrap().unwrap();
    std::fs::write(objects.join("checkpoint"), checkpoint_note(3)).unwrap();

    let older = a.write_checkpoint(&lease, checkpoint_note(2)).await;
    assert!(matches!(older, Err(LogError::Fenced(_))), "{older:?}");
    let mut fork = String::from_utf8(checkpoint_note(3)).unwrap();
    fork = fork.replacen(
        &STANDARD.encode(sha256(&3u64.to_be_bytes())),
        &STANDARD.encode([9u8; 32]),
        1,
    );
    let forked = a.write_checkpoint(&lease, fork.into_bytes()).await;
    assert!(matches!(forked, Err(LogError::Corrupt(_))), "{forked:?}");
    assert_eq!(stored_size(&objects), 3);

    a.write_checkpoint(&lease, checkpoint_note(4))
        .await
        .unwrap();
    assert_eq!(stored_size(&objects), 4);
    a.commit(lease, 4).await.unwrap();
}
