//! Shared helpers: start a log on 127.0.0.1:0, make signed Rekor v2 requests, fetch and
//! check what the server returns using only the tlog crate.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
use chainseal_log_server::storage::fs::FsStorage;
use chainseal_log_server::{Config, Log};
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::Ed25519Verifier;
use chainseal_tlog::merkle::{self, Hash};
use chainseal_tlog::tile::{self, TileHashSource};

/// A running test server.
pub struct Server {
    pub url: String,
    pub origin: String,
    pub log: Log<FsStorage>,
    pub vkey: String,
}

/// Starts a log over `dir`. `origin`: `None` = the bound address (as Sigstore clients
/// expect: note name = base URL without scheme).
pub async fn start(dir: &Path, origin: Option<&str>) -> Server {
    start_with(dir, origin, |_| {}).await
}

/// [`start`] with the configuration adjusted by `tune`.
pub async fn start_with(
    dir: &Path,
    origin: Option<&str>,
    tune: impl FnOnce(&mut Config),
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let origin = origin.map_or_else(|| addr.to_string(), str::to_owned);
    let signer = chainseal_log_server::load_or_create_key(dir, &origin, None).unwrap();
    let vkey = signer.to_vkey();
    let mut cfg = Config::new(&origin);
    cfg.checkpoint_interval = Duration::from_millis(30);
    cfg.batch_wait = Duration::from_millis(5);
    tune(&mut cfg);
    let log = Log::start(FsStorage::open(dir).unwrap(), signer, cfg)
        .await
        .unwrap();
    tokio::spawn(chainseal_log_server::serve(log.clone(), listener));
    Server {
        url: format!("http://{addr}"),
        origin,
        log,
        vkey,
    }
}

/// A hashedrekord v0.0.2 request signing `artifact` with `key` (P-256).
pub fn hashedrekord(key: &PrivateKey, artifact: &[u8]) -> serde_json::Value {
    let sig = key.sign(artifact).unwrap();
    serde_json::json!({
        "hashedRekordRequestV002": {
            "digest": STANDARD.encode(sha256(artifact)),
            "signature": {
                "content": STANDARD.encode(sig),
                "verifier": {
                    "publicKey": {"rawBytes": STANDARD.encode(key.public_key().spki_der())},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256"
                }
            }
        }
    })
}

pub fn p256() -> PrivateKey {
    PrivateKey::generate(KeyKind::EcdsaP256).unwrap()
}

/// POSTs a request; returns (status, JSON body).
pub async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let r = http
        .post(format!("{url}/api/v2/log/entries"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("non-JSON response {status}: {bytes:?}"));
    (status, v)
}

pub fn b64d(v: &serde_json::Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

pub fn hash(v: &serde_json::Value) -> Hash {
    merkle::hash_from_slice("hash", &b64d(v)).unwrap()
}

/// A protobuf-JSON int64 (a string; absent = 0, as protojson omits defaults).
pub fn num(v: &serde_json::Value) -> u64 {
    if v.is_null() {
        return 0;
    }
    v.as_str()
        .map_or_else(|| v.as_u64().unwrap(), |s| s.parse().unwrap())
}

/// Checks a TransparencyLogEntry with the tlog crate alone: the checkpoint verifies with
/// the log's vkey, the inclusion proof leads from the body's leaf hash to its root.
/// Returns (index, checkpoint size).
pub fn check_tle(tle: &serde_json::Value, vkey: &str, origin: &str) -> (u64, u64) {
    let body = b64d(&tle["canonicalizedBody"]);
    let p = &tle["inclusionProof"];
    let index = num(&p["logIndex"]);
    assert_eq!(num(&tle["logIndex"]), index);
    let size = num(&p["treeSize"]);
    let proof: Vec<Hash> = p["hashes"]
        .as_array()
        .map(|a| a.iter().map(hash).collect())
        .unwrap_or_default();
    let root = hash(&p["rootHash"]);
    merkle::verify_inclusion(index, size, &merkle::leaf_hash(&body), &proof, &root).unwrap();
    let v = Ed25519Verifier::from_vkey(vkey).unwrap();
    let (cp, _, _) = Checkpoint::open(
        p["checkpoint"]["envelope"].as_str().unwrap().as_bytes(),
        origin,
        &[&v],
    )
    .unwrap();
    assert_eq!((cp.size, cp.root_hash), (size, root));
    (index, size)
}

/// Fetches the checkpoint and every tile and bundle for its size over HTTP; verifies the
/// checkpoint and recomputes its root from the tiles. Returns (checkpoint, entries).
pub async fn fetch_log(
    http: &reqwest::Client,
    url: &str,
    vkey: &str,
    origin: &str,
) -> (Checkpoint, TileHashSource, Vec<Vec<u8>>) {
    let note = http
        .get(format!("{url}/checkpoint"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let v = Ed25519Verifier::from_vkey(vkey).unwrap();
    let (cp, _, _) = Checkpoint::open(&note, origin, &[&v]).unwrap();
    let mut src = TileHashSource::new();
    for t in tile::tiles_for_size(cp.size) {
        let b = get_ok(http, &format!("{url}/{}", t.path())).await;
        src.insert_path(&t.path(), &b).unwrap();
    }
    assert_eq!(merkle::tree_hash(cp.size, &src).unwrap(), cp.root_hash);
    let mut entries = Vec::new();
    for b in tile::entry_bundles_for_size(cp.size) {
        let data = get_ok(http, &format!("{url}/{}", b.path())).await;
        entries.extend(
            tile::parse_entry_bundle(&data)
                .unwrap()
                .into_iter()
                .map(<[u8]>::to_vec),
        );
    }
    assert_eq!(entries.len() as u64, cp.size);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(
            src.subtree_hash_checked(i as u64),
            merkle::leaf_hash(e),
            "entry {i} does not match its leaf hash"
        );
    }
    (cp, src, entries)
}

trait LeafAt {
    fn subtree_hash_checked(&self, i: u64) -> Hash;
}
impl LeafAt for TileHashSource {
    fn subtree_hash_checked(&self, i: u64) -> Hash {
        merkle::HashSource::subtree_hash(self, 0, i).unwrap()
    }
}

pub async fn get_ok(http: &reqwest::Client, url: &str) -> Vec<u8> {
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "GET {url}");
    r.bytes().await.unwrap().to_vec()
}
