//! Scale-out: two `chainseal log serve` front ends sequencing in one PostgreSQL and
//! writing tiles to one object store produce ONE log: every acknowledged entry, from
//! either front end, is at its index in tiles that recompute the checkpoint root, and no
//! index is handed out twice.
//!
//! Needs PostgreSQL: run `eval "$(scripts/setup-postgres.sh)"` first. The test reads
//! `CHAINSEAL_TEST_POSTGRES_URL` or `target/postgres-url` and FAILS if neither is set.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
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

fn spawn(storage: &Path, key: &Path, pg: &str, objects: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chainseal"))
        .args(["log", "serve", "--storage"])
        .arg(storage)
        .arg("--key")
        .arg(key)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--origin",
            ORIGIN,
            "--postgres",
            pg,
        ])
        .arg("--object-store")
        .arg(objects)
        .args(["--checkpoint-interval", "50", "--batch-wait", "5"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(u) = line.strip_prefix("chainseal log: listening on ") {
            break u.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

fn request(key: &PrivateKey, artifact: &[u8]) -> Vec<u8> {
    let sig = key.sign(artifact).unwrap();
    serde_json::to_vec(&serde_json::json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(sha256(artifact)),
        "signature": {"content": STANDARD.encode(sig), "verifier": {
            "publicKey": {"rawBytes": STANDARD.encode(key.public_key().spki_der())},
            "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}))
    .unwrap()
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
                    .body(request(&key, format!("w{w} e{i}").as_bytes()))
                    .timeout(Duration::from_secs(20))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                let v: serde_json::Value = r.json().await.unwrap();
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
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
}
