//! The authority's CT log persisted as a C2SP static-ct-api log: it survives restarts,
//! what it serves over HTTP verifies from the trusted root alone (checkpoint signature,
//! root recomputed from the data tiles and from the hash tiles), every issued
//! certificate's SCT names a logged record with its TBS, and a damaged folder is refused
//! with an error naming the file instead of restarting the log from zero.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_authority::ca::Issued;
use chainseal_authority::ct::Rfc6962Signer;
use chainseal_authority::http::{Authority, serve};
use chainseal_authority::store::AuthorityDir;
use chainseal_authority::trustroot::{LogInfo, trusted_root};
use chainseal_crypto::keys::{KeyKind, PrivateKey, PublicKey, sha256};
use chainseal_crypto::sct::{CtLog, embedded_scts, precert_tbs, verify_embedded_scts};
use chainseal_crypto::x509::Certificate;
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::Ed25519Signer;
use chainseal_tlog::merkle::{self, HashSource, MemoryTree};
use chainseal_tlog::note::{Note, NoteVerifier};
use chainseal_tlog::pkix::Rfc6962Verifier;
use chainseal_tlog::static_ct::{leaf_index_from_extensions, parse_data_tile};
use chainseal_tlog::tile::{self, Tile, TileHashSource, TileKind};

const SUB: &str = "ci@example.com";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A development-issuer token for `SUB`.
fn token(a: &Authority) -> String {
    a.oidc
        .dev()
        .unwrap()
        .mint(SUB, Some(SUB), "sigstore", 600)
        .unwrap()
}

/// Issues `n` certificates through the CA (the token and identity checked once).
async fn issue(a: &Authority, n: usize) -> Vec<Issued> {
    let tok = token(a);
    let id = a.oidc.verify(&tok).await.unwrap();
    (0..n)
        .map(|_| {
            let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
            a.ca.issue(key.public_key().spki_der(), &id, now()).unwrap()
        })
        .collect()
}

/// One certificate through the Fulcio API path (token + proof of possession).
async fn issue_over_api(a: &Authority) -> Issued {
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let tok = token(a);
    let body = serde_json::json!({
        "credentials": {"oidcIdentityToken": tok},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key().to_pem().unwrap()},
            "proofOfPossession": STANDARD.encode(key.sign(SUB.as_bytes()).unwrap())
        }
    });
    a.signing_cert(None, &serde_json::to_vec(&body).unwrap())
        .await
        .unwrap()
}

/// The CT log entry of the trusted root the authority publishes: (origin, key).
fn ct_from_trusted_root(dir: &AuthorityDir, url: &str) -> (String, PublicKey) {
    let log = LogInfo {
        base_url: "http://127.0.0.1:9".into(),
        vkey: Ed25519Signer::generate("127.0.0.1:9").unwrap().to_vkey(),
        log_id: [0; 32],
        start: now(),
    };
    let root = trusted_root(&log, url, &dir.public_material().unwrap()).unwrap();
    let ct = root["ctlogs"].as_array().unwrap().last().unwrap().clone();
    let base = ct["baseUrl"].as_str().unwrap();
    let origin = base.split_once("://").unwrap().1.to_owned();
    let spki = STANDARD
        .decode(ct["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    (origin, PublicKey::from_spki_der(&spki).unwrap())
}

struct Fetched {
    status: u16,
    content_type: String,
    cache: String,
    body: Vec<u8>,
}

async fn get(http: &reqwest::Client, url: &str) -> Fetched {
    let r = http.get(url).send().await.unwrap();
    let h = |n: &str| {
        r.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, cache) = (h("content-type"), h("cache-control"));
    Fetched {
        status: r.status().as_u16(),
        content_type,
        cache,
        body: r.bytes().await.unwrap().to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ct_log_survives_restarts_and_what_it_serves_verifies_from_the_trusted_root() {
    let tmp = tempfile::tempdir().unwrap();
    // The listener stays bound across the restarts, so the URL (and origin) is stable.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = AuthorityDir::open(tmp.path()).unwrap();

    // 3 certificates, restart mid-tile; 255 more (a full data tile), restart; 2 more.
    let mut issued = Vec::new();
    let a = Authority::load(&dir, &url, vec![]).unwrap();
    issued.extend(issue(&a, 2).await);
    issued.push(issue_over_api(&a).await);
    assert_eq!(a.ca.ct_log().size(), 3);
    let root3 = a.ca.ct_log().root();
    drop(a);
    let a = Authority::load(&dir, &url, vec![]).unwrap();
    assert_eq!(a.ca.ct_log().size(), 3, "the log survives a restart");
    assert_eq!(a.ca.ct_log().root(), root3);
    issued.extend(issue(&a, 255).await);
    drop(a);
    let a = Arc::new(Authority::load(&dir, &url, vec![]).unwrap());
    assert_eq!(a.ca.ct_log().size(), 258);
    issued.extend(issue(&a, 2).await);
    let n = issued.len() as u64;
    assert_eq!(a.ca.ct_log().size(), n);

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = a.clone();
    tokio::spawn(async move {
        let _ = serve(listener, served, async {
            let _ = rx.await;
        })
        .await;
    });
    let http = reqwest::Client::new();
    let ct_url = |p: &str| format!("{url}/ct/{p}");

    // The checkpoint verifies with the key and origin the trusted root publishes.
    let (origin, ct_key) = ct_from_trusted_root(&dir, &url);
    assert_eq!(a.ca.ct_log().origin(), origin);
    let cp = get(&http, &ct_url("checkpoint")).await;
    assert_eq!(cp.status, 200);
    assert_eq!(cp.content_type, "text/plain; charset=utf-8");
    assert!(!cp.cache.contains("immutable"), "{}", cp.cache);
    let verifier = Rfc6962Verifier::new(&origin, ct_key.clone()).unwrap();
    let (checkpoint, _, verified) =
        Checkpoint::open(&cp.body, &origin, &[&verifier as &dyn NoteVerifier]).unwrap();
    assert_eq!(
        checkpoint.size, n,
        "exactly the issued certificates are logged"
    );
    let newest_sct = issued
        .iter()
        .map(|i| embedded_scts(&i.leaf).unwrap()[0].timestamp_ms)
        .max()
        .unwrap();
    assert!(verified[0].timestamp.unwrap() >= newest_sct);

    // Every data tile parses; the leaf hashes of its records give the signed root.
    let mut records = Vec::new();
    for t in tile::entry_bundles_for_size(n) {
        let t = Tile {
            kind: TileKind::Data,
            ..t
        };
        let f = get(&http, &ct_url(&t.path())).await;
        assert_eq!(f.status, 200, "{}", t.path());
        assert_eq!(f.content_type, "application/octet-stream");
        assert!(f.cache.contains("immutable"), "{}", f.cache);
        let leaves = parse_data_tile(&f.body).unwrap();
        assert_eq!(leaves.len(), usize::from(t.width));
        records.extend(leaves.into_iter().map(|l| {
            (
                l.leaf_hash(),
                l.timestamp,
                l.certificate.to_vec(),
                l.pre_certificate.unwrap().to_vec(),
                l.chain.clone(),
            )
        }));
    }
    let leaf_hashes: Vec<_> = records.iter().map(|r| r.0).collect();
    assert_eq!(
        MemoryTree::from_leaf_hashes(leaf_hashes.clone()).root(),
        checkpoint.root_hash
    );
    // The hash tiles agree with the data tiles and give the same root.
    let mut src = TileHashSource::new();
    for t in tile::tiles_for_size(n) {
        let f = get(&http, &ct_url(&t.path())).await;
        assert_eq!(f.status, 200, "{}", t.path());
        src.insert_path(&t.path(), &f.body).unwrap();
    }
    assert_eq!(merkle::tree_hash(n, &src).unwrap(), checkpoint.root_hash);
    assert_eq!(src.subtree_hash(0, 257).unwrap(), leaf_hashes[257]);

    // Each certificate's SCT verifies, names its record by leaf index, and that record
    // holds its timestamp, its TBS, a precertificate its issuer signed and the chain.
    let ct = CtLog::from_key(ct_key, None, None);
    let mut seen = std::collections::BTreeSet::new();
    for i in &issued {
        let inter = &i.chain[0];
        assert_eq!(
            verify_embedded_scts(&i.leaf, inter, std::slice::from_ref(&ct)).unwrap(),
            1
        );
        let sct = &embedded_scts(&i.leaf).unwrap()[0];
        let index = leaf_index_from_extensions(&sct.extensions).expect("leaf_index");
        assert!(seen.insert(index), "two SCTs name entry {index}");
        let (_, ts, tbs, precert, chain) = &records[index as usize];
        assert_eq!(*ts, sct.timestamp_ms);
        assert_eq!(*tbs, precert_tbs(&i.leaf).unwrap());
        Certificate::from_der(precert)
            .unwrap()
            .verify_signed_by(inter)
            .unwrap();
        assert_eq!(*chain, vec![sha256(inter.der()), sha256(i.chain[1].der())]);
    }
    assert_eq!(seen.len() as u64, n);

    // Issuers are served by fingerprint.
    let inter = &issued[0].chain[0];
    let f = get(
        &http,
        &ct_url(&format!("issuer/{}", hex::encode(sha256(inter.der())))),
    )
    .await;
    assert_eq!(
        (f.status, f.content_type.as_str()),
        (200, "application/pkix-cert")
    );
    assert_eq!(f.body, inter.der());

    // Partial tiles made obsolete by a full tile are pruned; bad paths are 400, absent
    // tiles and entry bundles 404.
    for (p, status) in [
        ("tile/data/000.p/3", 404),
        ("tile/0/000.p/3", 404),
        ("tile/data/001.p/4", 200),
        ("tile/data/999", 404),
        ("tile/entries/000", 404),
        ("tile/0/5", 400),
        ("tile/0/x000/005", 400),
        ("tile/data/000.p/0", 400),
        ("tile/data/000.p/256", 400),
        ("tile/64/000", 400),
        ("tile/0/..%2F..%2F..%2Fct.key", 400),
        ("issuer/ABCDEF", 400),
        (&format!("issuer/{}", "0".repeat(64)), 404),
    ] {
        assert_eq!(get(&http, &ct_url(p)).await.status, status, "{p}");
    }
    let _ = tx.send(());
}

fn flip(path: &Path, at: usize) -> Vec<u8> {
    let orig = std::fs::read(path).unwrap();
    let mut b = orig.clone();
    b[at] ^= 0x01;
    std::fs::write(path, b).unwrap();
    orig
}

fn load_err(dir: &AuthorityDir) -> String {
    Authority::load(dir, "http://127.0.0.1:1", vec![])
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn a_damaged_ct_log_is_refused_naming_the_file_and_never_restarted_from_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = AuthorityDir::open(tmp.path()).unwrap();
    let a = Authority::load(&dir, "http://127.0.0.1:1", vec![]).unwrap();
    issue(&a, 3).await;
    let key = dir.ct_key().unwrap();
    let origin = a.ca.ct_log().origin().to_owned();
    drop(a);
    let log = dir.ct_log_dir().unwrap();
    let ok = |what: &str| {
        let a = Authority::load(&dir, "http://127.0.0.1:1", vec![])
            .unwrap_or_else(|e| panic!("after restoring {what}: {e}"));
        assert_eq!(a.ca.ct_log().size(), 3);
    };
    ok("nothing");

    // One byte flipped in the right-edge hash tile: it no longer matches the data tile
    // (nor the checkpoint's root).
    let hash_tile = log.join("tile/0/000.p/3");
    let orig = flip(&hash_tile, 40);
    let e = load_err(&dir);
    assert!(e.contains("tile/0/000.p/3"), "{e}");
    std::fs::write(&hash_tile, orig).unwrap();
    ok("the hash tile");

    // One byte flipped in the partial data tile: in the TimestampedEntry (leaf hash),
    // in the precertificate (its issuer's signature), in the last chain fingerprint.
    let data_tile = log.join("tile/data/000.p/3");
    let bytes = std::fs::read(&data_tile).unwrap();
    let in_precert = parse_data_tile(&bytes).unwrap()[0].timestamped_entry.len() + 3 + 100;
    for at in [3, in_precert, bytes.len() - 1] {
        let orig = flip(&data_tile, at);
        let e = load_err(&dir);
        assert!(e.contains("tile/data/000.p/3"), "byte {at}: {e}");
        std::fs::write(&data_tile, orig).unwrap();
        ok("the data tile");
    }

    // A missing right-edge tile.
    let orig = std::fs::read(&hash_tile).unwrap();
    std::fs::remove_file(&hash_tile).unwrap();
    let e = load_err(&dir);
    assert!(e.contains("tile/0/000.p/3") && e.contains("missing"), "{e}");
    std::fs::write(&hash_tile, orig).unwrap();
    ok("the missing tile");

    // A checkpoint for the same tree, signed by another key under the same name.
    let cp_path = log.join("checkpoint");
    let orig = std::fs::read(&cp_path).unwrap();
    let text = Note::parse(&orig).unwrap().text().to_owned();
    let other = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let mut forged = Note::new(text.clone()).unwrap();
    forged
        .sign(&Rfc6962Signer::new(&origin, &other, 1).unwrap())
        .unwrap();
    std::fs::write(&cp_path, forged.to_bytes()).unwrap();
    let e = load_err(&dir);
    assert!(e.contains(&cp_path.display().to_string()), "{e}");
    // A checkpoint signed by the log's own key for another root: the tiles do not give it.
    let cp = Checkpoint::parse(&text).unwrap();
    let wrong = Checkpoint {
        root_hash: [9; 32],
        ..cp
    };
    let mut note = Note::new(wrong.to_text()).unwrap();
    note.sign(&Rfc6962Signer::new(&origin, &key, 1).unwrap())
        .unwrap();
    std::fs::write(&cp_path, note.to_bytes()).unwrap();
    let e = load_err(&dir);
    assert!(
        e.contains(&cp_path.display().to_string()) && e.contains("tile/0/000.p/3"),
        "{e}"
    );
    // Positive control: the same text signed by the log's own key loads.
    let mut resigned = Note::new(text).unwrap();
    resigned
        .sign(&Rfc6962Signer::new(&origin, &key, 1).unwrap())
        .unwrap();
    std::fs::write(&cp_path, resigned.to_bytes()).unwrap();
    ok("a checkpoint signed by the log's key");

    // Tiles but no checkpoint: refused with a way to recover; nothing rewritten.
    std::fs::remove_file(&cp_path).unwrap();
    let e = load_err(&dir);
    assert!(
        e.contains(&cp_path.display().to_string())
            && e.contains("missing")
            && e.contains("To recover"),
        "{e}"
    );
    assert!(!cp_path.exists(), "no empty log started over the tiles");
    std::fs::write(&cp_path, &orig).unwrap();
    ok("the checkpoint");
}

#[tokio::test]
async fn two_authorities_on_one_folder_append_to_one_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = AuthorityDir::open(tmp.path()).unwrap();
    let a = Authority::load(&dir, "http://127.0.0.1:1", vec![]).unwrap();
    let b = Authority::load(&dir, "http://127.0.0.1:1", vec![]).unwrap();
    issue(&a, 1).await;
    issue(&b, 1).await;
    issue(&a, 1).await;
    assert_eq!(a.ca.ct_log().size(), 3, "a picked up b's entry, not forked");
    drop((a, b));
    let c = Authority::load(&dir, "http://127.0.0.1:1", vec![]).unwrap();
    assert_eq!(c.ca.ct_log().size(), 3);
}

/// Two authorities on one folder issuing at the same time (threads, as two processes
/// would): the folder lock serialises their appends, so the log holds every entry once
/// and still loads. Without it both build on the same size and the log forks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_authorities_issuing_at_once_never_fork_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = AuthorityDir::open(tmp.path()).unwrap();
    let a = std::sync::Arc::new(Authority::load(&dir, "http://127.0.0.1:1", vec![]).unwrap());
    let b = std::sync::Arc::new(Authority::load(&dir, "http://127.0.0.1:1", vec![]).unwrap());
    let (ta, tb) = (
        tokio::spawn({
            let a = a.clone();
            async move { issue(&a, 25).await.len() }
        }),
        tokio::spawn({
            let b = b.clone();
            async move { issue(&b, 25).await.len() }
        }),
    );
    assert_eq!(ta.await.unwrap() + tb.await.unwrap(), 50);
    drop((a, b));
    let c = Authority::load(&dir, "http://127.0.0.1:1", vec![]).unwrap();
    assert_eq!(c.ca.ct_log().size(), 50, "every entry once, in one tree");
    issue(&c, 1).await;
    assert_eq!(c.ca.ct_log().size(), 51);
}
