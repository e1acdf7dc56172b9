//! Witnessing: checkpoints carry a verified cosignature from a C2SP tlog-witness, the log
//! recovers from a 409 (the witness knows a larger size than the log assumed) with a
//! consistency proof the witness checks, and without a quorum nothing is published.
//! The witness here is a minimal in-test implementation of `add-checkpoint`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_log_server::storage::fs::FsStorage;
use chainseal_log_server::witness::Witness;
use chainseal_log_server::{Config, Log};
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::{CosignatureV1Verifier, Ed25519Signer};
use chainseal_tlog::merkle;
use chainseal_tlog::note::{Note, NoteVerifier};
use common::*;

const ORIGIN: &str = "witnessed.test/log";

struct FakeWitness {
    signer: Ed25519Signer,
    state: Mutex<(u64, [u8; 32])>,
    refuse: bool,
    conflicts: Mutex<u32>,
}

impl FakeWitness {
    fn add_checkpoint(&self, body: &[u8]) -> axum::response::Response {
        if self.refuse {
            return (StatusCode::FORBIDDEN, "no").into_response();
        }
        let text = String::from_utf8(body.to_vec()).unwrap();
        let (head, note) = text.split_once("\n\n").unwrap();
        let mut lines = head.lines();
        let old: u64 = lines
            .next()
            .unwrap()
            .strip_prefix("old ")
            .unwrap()
            .parse()
            .unwrap();
        let proof: Vec<[u8; 32]> = lines
            .map(|l| STANDARD.decode(l).unwrap().try_into().unwrap())
            .collect();
        let note = Note::parse(note.as_bytes()).unwrap();
        let cp = Checkpoint::parse(note.text()).unwrap();
        let mut st = self.state.lock().unwrap();
        if old != st.0 {
            *self.conflicts.lock().unwrap() += 1;
            return (StatusCode::CONFLICT, format!("{}\n", st.0)).into_response();
        }
        if old > 0
            && merkle::verify_consistency(old, cp.size, &proof, &st.1, &cp.root_hash).is_err()
        {
            return (StatusCode::UNPROCESSABLE_ENTITY, "bad proof").into_response();
        }
        *st = (cp.size, cp.root_hash);
        let mut n = Note::new(note.text()).unwrap();
        let mut s = Ed25519Signer::from_private_key(&self.signer.to_private_key()).unwrap();
        s.set_timestamp(1_700_000_000).unwrap();
        n.sign(&s).unwrap();
        (StatusCode::OK, n.signatures()[0].to_line()).into_response()
    }
}

async fn witness(refuse: bool) -> (Arc<FakeWitness>, String) {
    let w = Arc::new(FakeWitness {
        signer: Ed25519Signer::generate_cosigner("witness.test").unwrap(),
        state: Mutex::new((0, [0; 32])),
        refuse,
        conflicts: Mutex::new(0),
    });
    let w2 = w.clone();
    let app = axum::Router::new().route(
        "/add-checkpoint",
        axum::routing::post(move |b: axum::body::Bytes| {
            let w = w2.clone();
            async move { w.add_checkpoint(&b) }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (w, url)
}

async fn start_witnessed(
    dir: &std::path::Path,
    w: &FakeWitness,
    url: &str,
) -> (String, Log<FsStorage>) {
    let signer = chainseal_log_server::load_or_create_key(dir, ORIGIN, None).unwrap();
    let mut cfg = Config::new(ORIGIN);
    cfg.checkpoint_interval = Duration::from_millis(30);
    cfg.batch_wait = Duration::from_millis(5);
    cfg.ack_timeout = Duration::from_secs(2);
    cfg.witnesses = vec![Witness::parse(&format!("{}@{url}", w.signer.to_vkey())).unwrap()];
    cfg.witness_quorum = 1;
    let log = Log::start(FsStorage::open(dir).unwrap(), signer, cfg)
        .await
        .unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(chainseal_log_server::serve(log.clone(), l));
    (base, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_carry_a_verified_cosignature_and_survive_a_409() {
    let dir = tempfile::tempdir().unwrap();
    let (w, wurl) = witness(false).await;
    let http = reqwest::Client::new();
    let key = p256();
    let (base, log) = start_witnessed(dir.path(), &w, &wurl).await;
    for i in 0..3u32 {
        let r = hashedrekord(&key, format!("w{i}").as_bytes());
        let (st, tle) = post(&http, &base, serde_json::to_vec(&r).unwrap()).await;
        assert_eq!(st, 201, "{tle}");
        let env = tle["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
        let cv = CosignatureV1Verifier::from_vkey(&w.signer.to_vkey()).unwrap();
        let note = Note::parse(env.as_bytes()).unwrap();
        let v = note.verify(&[&cv]).unwrap();
        assert_eq!(v[0].timestamp, Some(1_700_000_000));
        assert_eq!(v[0].name, cv.name());
    }
    drop(log);
    // A fresh log process does not know the witness's size: it must get a 409 and
    // resend with a consistency proof the witness accepts.
    let conflicts_before = *w.conflicts.lock().unwrap();
    let (base2, _log2, _copy) = start_witnessed_again(dir.path(), &w, &wurl).await;
    let r = hashedrekord(&key, b"after restart");
    let (st, tle) = post(&http, &base2, serde_json::to_vec(&r).unwrap()).await;
    assert_eq!(st, 201, "{tle}");
    assert!(*w.conflicts.lock().unwrap() > conflicts_before);
    assert_eq!(
        w.state.lock().unwrap().0,
        num(&tle["inclusionProof"]["treeSize"])
    );
}

/// Restart on the same directory (the first log's tasks keep running in this test's
/// runtime but no longer receive writes; the new one shares the store only through the
/// files, exactly like a restarted process).
async fn start_witnessed_again(
    dir: &std::path::Path,
    w: &FakeWitness,
    url: &str,
) -> (String, Log<FsStorage>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().to_owned();
    for e in walk(dir) {
        let rel = e.strip_prefix(dir).unwrap();
        let to = copy.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&e, &to).unwrap();
    }
    let (base, log) = start_witnessed(&copy, w, url).await;
    (base, log, tmp)
}

fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_witness_quorum_nothing_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (w, wurl) = witness(true).await;
    let (base, _log) = start_witnessed(dir.path(), &w, &wurl).await;
    let r = hashedrekord(&p256(), b"unwitnessed");
    let (st, e) = post(
        &reqwest::Client::new(),
        &base,
        serde_json::to_vec(&r).unwrap(),
    )
    .await;
    assert_eq!(st, 503, "{e}");
    assert!(e["error"].as_str().unwrap().contains("checkpoint"), "{e}");
}
