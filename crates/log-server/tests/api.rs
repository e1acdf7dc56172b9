//! The HTTP API end to end: writes answered with proofs that verify, the log verified from
//! tiles and checkpoint alone, dedup, and a 4xx with a reason for every bad request.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_tlog::merkle;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_entries_verify_from_tiles_and_checkpoint_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let key = p256();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300u32 {
        let (http, url) = (http.clone(), s.url.clone());
        let req = hashedrekord(&key, format!("artifact {i}").as_bytes());
        tasks.spawn(async move { post(&http, &url, serde_json::to_vec(&req).unwrap()).await });
    }
    let mut seen = std::collections::HashMap::new();
    while let Some(r) = tasks.join_next().await {
        let (status, tle) = r.unwrap();
        assert_eq!(status, 201, "{tle}");
        assert_eq!(tle["kindVersion"]["kind"], "hashedrekord");
        assert_eq!(tle["kindVersion"]["version"], "0.0.2");
        assert_eq!(b64d(&tle["logId"]["keyId"]), s.log.log_id());
        let (index, _) = check_tle(&tle, &s.vkey, &s.origin);
        assert!(
            seen.insert(index, b64d(&tle["canonicalizedBody"]))
                .is_none()
        );
    }
    let (cp, _, entries) = fetch_log(&http, &s.url, &s.vkey, &s.origin).await;
    assert_eq!(cp.size, 300);
    for (i, body) in seen {
        assert_eq!(entries[i as usize], body, "entry {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_tile_no_longer_recomputes_the_checkpoint_root() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let key = p256();
    let (st, _) = post(
        &http,
        &s.url,
        serde_json::to_vec(&hashedrekord(&key, b"x")).unwrap(),
    )
    .await;
    assert_eq!(st, 201);
    let (cp, _, _) = fetch_log(&http, &s.url, &s.vkey, &s.origin).await;
    let mut t = get_ok(&http, &format!("{}/tile/0/000.p/{}", s.url, cp.size)).await;
    t[0] ^= 1;
    let mut src = chainseal_tlog::tile::TileHashSource::new();
    src.insert_path(&format!("tile/0/000.p/{}", cp.size), &t)
        .unwrap();
    assert_ne!(merkle::tree_hash(cp.size, &src).unwrap(), cp.root_hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_consistent_with_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let key = p256();
    for i in 0..5u32 {
        let r = hashedrekord(&key, format!("a{i}").as_bytes());
        assert_eq!(
            post(&http, &s.url, serde_json::to_vec(&r).unwrap()).await.0,
            201
        );
    }
    let (old, _, _) = fetch_log(&http, &s.url, &s.vkey, &s.origin).await;
    for i in 0..300u32 {
        let r = hashedrekord(&key, format!("b{i}").as_bytes());
        let (st, _) = post(&http, &s.url, serde_json::to_vec(&r).unwrap()).await;
        assert_eq!(st, 201);
    }
    let (new, src, _) = fetch_log(&http, &s.url, &s.vkey, &s.origin).await;
    let proof = merkle::consistency_proof(old.size, new.size, &src).unwrap();
    merkle::verify_consistency(old.size, new.size, &proof, &old.root_hash, &new.root_hash).unwrap();
    // Negative: the same proof does not link a different old root.
    let mut forged = old.root_hash;
    forged[0] ^= 1;
    assert!(
        merkle::verify_consistency(old.size, new.size, &proof, &forged, &new.root_hash).is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_entries_dedup_to_the_same_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let key = p256();
    let same = serde_json::to_vec(&hashedrekord(&key, b"same")).unwrap();
    let (a, b) = tokio::join!(
        post(&http, &s.url, same.clone()),
        post(&http, &s.url, same.clone())
    );
    let (_, c) = post(&http, &s.url, same).await;
    let idx = |v: &serde_json::Value| num(&v["logIndex"]);
    assert_eq!(idx(&a.1), idx(&b.1));
    assert_eq!(idx(&a.1), idx(&c));
    // Negative: a different artifact gets a different index.
    let other = serde_json::to_vec(&hashedrekord(&key, b"other")).unwrap();
    let (_, d) = post(&http, &s.url, other).await;
    assert_ne!(idx(&d), idx(&a.1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsse_entries_are_verified_over_the_pae() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let pae = chainseal_model::dsse::pae("application/vnd.in-toto+json", payload);
    let req = |sig: Vec<u8>| {
        serde_json::json!({"dsseRequestV002": {
            "envelope": {"payload": STANDARD.encode(payload),
                         "payloadType": "application/vnd.in-toto+json",
                         "signatures": [{"sig": STANDARD.encode(sig), "keyid": ""}]},
            "verifiers": [{"publicKey": {"rawBytes": STANDARD.encode(key.public_key().spki_der())},
                           "keyDetails": "PKIX_ED25519"}]}})
    };
    let (st, tle) = post(
        &http,
        &s.url,
        serde_json::to_vec(&req(key.sign(&pae).unwrap())).unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{tle}");
    assert_eq!(tle["kindVersion"]["kind"], "dsse");
    check_tle(&tle, &s.vkey, &s.origin);
    // Negative: a signature over the payload alone (not the PAE) is refused.
    let (st, e) = post(
        &http,
        &s.url,
        serde_json::to_vec(&req(key.sign(payload).unwrap())).unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("PAE"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let key = p256();
    let good = hashedrekord(&key, b"good");
    let mut wrong_sig = good.clone();
    wrong_sig["hashedRekordRequestV002"]["digest"] = STANDARD
        .encode(chainseal_crypto::keys::sha256(b"not it"))
        .into();
    let mut short_digest = good.clone();
    short_digest["hashedRekordRequestV002"]["digest"] = STANDARD.encode([1u8; 20]).into();
    let mut wrong_details = good.clone();
    wrong_details["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] =
        "PKIX_ECDSA_P384_SHA_384".into();
    let mut bad_key = good.clone();
    bad_key["hashedRekordRequestV002"]["signature"]["verifier"]["publicKey"]["rawBytes"] =
        STANDARD.encode(b"not a key").into();
    let mut no_verifier = good.clone();
    no_verifier["hashedRekordRequestV002"]["signature"]
        .as_object_mut()
        .unwrap()
        .remove("verifier");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"not json".to_vec(), 400, "protobuf JSON"),
        (
            b"{}".to_vec(),
            400,
            "hashedRekordRequestV002 or dsseRequestV002",
        ),
        (
            serde_json::to_vec(&wrong_sig).unwrap(),
            400,
            "does not verify",
        ),
        (serde_json::to_vec(&short_digest).unwrap(), 400, "digest"),
        (
            serde_json::to_vec(&wrong_details).unwrap(),
            400,
            "keyDetails",
        ),
        (serde_json::to_vec(&bad_key).unwrap(), 400, "rawBytes"),
        (serde_json::to_vec(&no_verifier).unwrap(), 400, "verifier"),
        (vec![b' '; 200 * 1024], 413, "length limit"),
    ];
    for (body, status, reason) in cases {
        let (st, e) = post(&http, &s.url, body).await;
        assert_eq!(st, status, "{e}");
        let msg = e["error"].as_str().unwrap();
        assert!(msg.contains(reason), "{msg:?} should mention {reason:?}");
    }
    for (path, status) in [
        ("/tile/0/5", 400),
        ("/tile/0/x000/005", 400),
        ("/tile/9/000", 404),
        ("/nope", 404),
        ("/api/v2/tile/entries/000.p/0", 400),
    ] {
        let r = http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error"].is_string(), "{path}");
    }
    // Positive beside the negatives: the good request is accepted.
    assert_eq!(
        post(&http, &s.url, serde_json::to_vec(&good).unwrap())
            .await
            .0,
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_api_is_served_at_the_root_and_under_api_v2_with_cache_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let r = hashedrekord(&p256(), b"one");
    assert_eq!(
        post(&http, &s.url, serde_json::to_vec(&r).unwrap()).await.0,
        201
    );
    for prefix in ["", "/api/v2"] {
        let c = http
            .get(format!("{}{prefix}/checkpoint", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(c.status().as_u16(), 200);
        assert_eq!(c.headers()["content-type"], "text/plain; charset=utf-8");
        assert!(
            !c.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        for p in ["tile/0/000.p/1", "tile/entries/000.p/1"] {
            let t = http
                .get(format!("{}{prefix}/{p}", s.url))
                .send()
                .await
                .unwrap();
            assert_eq!(t.status().as_u16(), 200, "{prefix}/{p}");
            assert_eq!(
                t.headers()["cache-control"],
                "public, max-age=31536000, immutable"
            );
        }
    }
    // Negative: a tile the checkpoint does not justify does not exist.
    let t = http
        .get(format!("{}/tile/0/000.p/2", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(t.status().as_u16(), 404);
}

/// Protobuf JSON drops default values; a response for entry 0 (index 0, one-entry tree,
/// empty proof) must still carry every field, or clients such as sigstore-python refuse it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_entry_response_carries_index_zero_and_empty_proof_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let req = serde_json::to_vec(&hashedrekord(&p256(), b"first")).unwrap();
    let (status, v) = post(&http, &s.url, req).await;
    assert!((200..300).contains(&status), "{status} {v}");
    assert_eq!(v["logIndex"], serde_json::json!("0"), "{v}");
    assert_eq!(
        v["inclusionProof"]["logIndex"],
        serde_json::json!("0"),
        "{v}"
    );
    assert_eq!(
        v["inclusionProof"]["treeSize"],
        serde_json::json!("1"),
        "{v}"
    );
    assert_eq!(v["inclusionProof"]["hashes"], serde_json::json!([]), "{v}");
    // Negative: the second entry has a non-empty proof and index 1.
    let req = serde_json::to_vec(&hashedrekord(&p256(), b"second")).unwrap();
    let (_, v) = post(&http, &s.url, req).await;
    assert_eq!(v["logIndex"], serde_json::json!("1"), "{v}");
    assert_eq!(
        v["inclusionProof"]["hashes"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );
}

#[tokio::test]
async fn an_entry_over_the_configured_size_gets_413_and_is_not_logged() {
    let key = p256();
    let req = serde_json::to_vec(&hashedrekord(&key, b"sized")).unwrap();
    // Positive control: the default limit takes an ordinary entry.
    let dir = tempfile::tempdir().unwrap();
    let s = common::start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let (status, _) = post(&http, &s.url, req.clone()).await;
    assert_eq!(status, 201);
    // With a limit below that entry's canonical body, it is refused naming the limit.
    let dir = tempfile::tempdir().unwrap();
    let s = common::start_with(dir.path(), None, |c| c.max_entry_bytes = 100).await;
    let (status, body) = post(&http, &s.url, req).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.to_string().contains("100"), "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        s.log.storage().sizes().unwrap().0,
        0,
        "nothing was sequenced"
    );
}

/// Posts `n` distinct entries concurrently and waits until each is acknowledged.
async fn append(s: &common::Server, key: &PrivateKey, from: u32, n: u32) {
    let http = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in from..from + n {
        let (http, url) = (http.clone(), s.url.clone());
        let req = hashedrekord(key, format!("pruned {i}").as_bytes());
        tasks.spawn(async move { post(&http, &url, serde_json::to_vec(&req).unwrap()).await });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.unwrap().0, 201);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_tiles_are_pruned_once_the_full_tile_exists_and_the_log_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let key = p256();
    append(&s, &key, 0, 200).await;
    let d = dir.path();
    // Control: while tile 0 is partial, its partials are served from disk.
    assert!(d.join("tile/0/000.p/200").is_file());
    assert!(d.join("tile/entries/000.p/200").is_file());
    append(&s, &key, 200, 100).await;
    assert!(d.join("tile/0/000").is_file(), "the full tile");
    assert!(d.join("tile/entries/000").is_file(), "the full bundle");
    assert!(
        !d.join("tile/0/000.p").exists(),
        "partial hash tiles of a full tile are kept"
    );
    assert!(
        !d.join("tile/entries/000.p").exists(),
        "partial bundles of a full bundle are kept"
    );
    // The current right edge is still partial, and the whole log verifies from tiles.
    assert!(d.join("tile/0/001.p/44").is_file());
    let http = reqwest::Client::new();
    let (cp, _, entries) = fetch_log(&http, &s.url, &s.vkey, &s.origin).await;
    assert_eq!(cp.size, 300);
    assert_eq!(entries.len(), 300);
}
