//! Crash safety of `chainseal log serve` (the built binary): concurrent writers, `kill -9`
//! in the middle of the load, restart on the same storage. Every acknowledged entry must
//! be in the log at the index it was given, and the new checkpoint must be consistent
//! with the last checkpoint published before the crash.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_testkit::process::{Proc, start_log};
use chainseal_testkit::rekor::hashed_rekord_request;
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::Ed25519Verifier;
use chainseal_tlog::merkle;
use chainseal_tlog::tile::{self, TileHashSource};

const ORIGIN: &str = "crash.test/log";

/// Starts the server; returns it and its base URL.
fn spawn(storage: &Path) -> (Proc, String) {
    start_log(
        env!("CARGO_BIN_EXE_chainseal"),
        storage,
        ORIGIN,
        &["--checkpoint-interval", "50", "--batch-wait", "5"],
    )
}

fn num(v: &serde_json::Value) -> u64 {
    v.as_str().map_or(0, |s| s.parse().unwrap())
}

/// An acknowledged entry: its index, body, and the checkpoint note of its proof.
struct Ack {
    index: u64,
    body: Vec<u8>,
    checkpoint: String,
}

async fn fetch_log(
    http: &reqwest::Client,
    url: &str,
    vkey: &str,
) -> (Checkpoint, TileHashSource, Vec<Vec<u8>>) {
    let get = |p: String| async move {
        let r = http.get(format!("{url}/{p}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{p}");
        r.bytes().await.unwrap().to_vec()
    };
    let v = Ed25519Verifier::from_vkey(vkey).unwrap();
    let (cp, _, _) = Checkpoint::open(&get("checkpoint".into()).await, ORIGIN, &[&v]).unwrap();
    let mut src = TileHashSource::new();
    for t in tile::tiles_for_size(cp.size) {
        src.insert_path(&t.path(), &get(t.path()).await).unwrap();
    }
    assert_eq!(merkle::tree_hash(cp.size, &src).unwrap(), cp.root_hash);
    let mut entries = Vec::new();
    for b in tile::entry_bundles_for_size(cp.size) {
        let data = get(b.path()).await;
        entries.extend(
            tile::parse_entry_bundle(&data)
                .unwrap()
                .into_iter()
                .map(<[u8]>::to_vec),
        );
    }
    (cp, src, entries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_kill_9_and_the_tree_never_forks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn(dir.path());
    let vkey = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_chainseal"))
            .args(["log", "vkey", "--storage"])
            .arg(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let http = reqwest::Client::new();
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..16u32 {
        let (http, url, acks) = (http.clone(), url.clone(), acks.clone());
        writers.spawn(async move {
            let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            for i in 0..100_000u32 {
                if Instant::now() > deadline {
                    break;
                }
                let body = hashed_rekord_request(&key, format!("writer {w} entry {i}").as_bytes());
                let r = http
                    .post(format!("{url}/api/v2/log/entries"))
                    .body(body)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                let Ok(r) = r else { break };
                if r.status().as_u16() != 201 {
                    continue;
                }
                let Ok(v) = r.json::<serde_json::Value>().await else {
                    break;
                };
                acks.lock().unwrap().push(Ack {
                    index: num(&v["logIndex"]),
                    body: STANDARD
                        .decode(v["canonicalizedBody"].as_str().unwrap())
                        .unwrap(),
                    checkpoint: v["inclusionProof"]["checkpoint"]["envelope"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                });
            }
        });
    }
    // Let the load run until a few hundred entries are acknowledged, then kill -9.
    let start = Instant::now();
    while acks.lock().unwrap().len() < 600 && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    while writers.join_next().await.is_some() {}
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    assert!(
        acks.len() >= 100,
        "only {} entries acknowledged before the crash",
        acks.len()
    );

    // The last checkpoint published before the crash (the largest any ack carried).
    let v = Ed25519Verifier::from_vkey(&vkey).unwrap();
    let before = acks
        .iter()
        .map(|a| {
            Checkpoint::open(a.checkpoint.as_bytes(), ORIGIN, &[&v])
                .unwrap()
                .0
        })
        .max_by_key(|c| c.size)
        .unwrap();

    let (mut child, url) = spawn(dir.path());
    let (after, src, entries) = fetch_log(&http, &url, &vkey).await;
    for a in &acks {
        assert!(a.index < after.size, "acknowledged index {} lost", a.index);
        assert_eq!(
            entries[a.index as usize], a.body,
            "entry at {} changed",
            a.index
        );
    }
    assert!(after.size >= before.size);
    if after.size > before.size {
        let proof = merkle::consistency_proof(before.size, after.size, &src).unwrap();
        merkle::verify_consistency(
            before.size,
            after.size,
            &proof,
            &before.root_hash,
            &after.root_hash,
        )
        .unwrap();
        // Negative beside the positive: the same proof rejects a forged old root.
        let mut forged = before.root_hash;
        forged[0] ^= 1;
        assert!(
            merkle::verify_consistency(before.size, after.size, &proof, &forged, &after.root_hash)
                .is_err()
        );
    } else {
        assert_eq!(after.root_hash, before.root_hash);
    }

    // Dedup survives the crash: resubmitting an acknowledged entry returns its index.
    let a = &acks[acks.len() / 2];
    let key_req: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    let hr = &key_req["spec"]["hashedRekordV002"];
    let resubmit = serde_json::json!({"hashedRekordRequestV002": {
        "digest": hr["data"]["digest"], "signature": hr["signature"]}});
    let r = http
        .post(format!("{url}/api/v2/log/entries"))
        .json(&resubmit)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(num(&v["logIndex"]), a.index);
    child.0.kill().unwrap();
    child.0.wait().unwrap();
}
