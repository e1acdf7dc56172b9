//! The load generator against a fake Rekor v2 write endpoint on 127.0.0.1 that verifies
//! every request's signature independently (chainseal-crypto) and counts distinct ones.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{HashAlgorithm, PublicKey};
use chainseal_log_client::LogClient;
use chainseal_log_client::load::{LoadConfig, run};

#[derive(Default)]
struct Fake {
    valid: Mutex<HashSet<(Vec<u8>, Vec<u8>)>>,
    invalid: AtomicU64,
    next: AtomicU64,
    fail_every: u64,
    delay_ms: u64,
}

/// Checks a hashedRekordRequestV002 the way a log must: digest is 32 bytes, the key is a
/// P-256 SPKI, and the signature verifies over the digest.
fn check(body: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let h = v.get("hashedRekordRequestV002")?;
    let digest = STANDARD.decode(h["digest"].as_str()?).ok()?;
    let sig = STANDARD.decode(h["signature"]["content"].as_str()?).ok()?;
    let ver = &h["signature"]["verifier"];
    if ver["keyDetails"] != "PKIX_ECDSA_P256_SHA_256" || digest.len() != 32 {
        return None;
    }
    let spki = STANDARD
        .decode(ver["publicKey"]["rawBytes"].as_str()?)
        .ok()?;
    let pk = PublicKey::from_spki_der(&spki).ok()?;
    pk.verify_prehashed(HashAlgorithm::Sha256, &digest, &sig)
        .ok()?;
    Some((digest, sig))
}

async fn entries(State(f): State<Arc<Fake>>, body: Bytes) -> Response {
    if f.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
    }
    let n = f.next.fetch_add(1, Ordering::SeqCst);
    if f.fail_every > 0 && n % f.fail_every == f.fail_every - 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    match check(&body) {
        Some(k) => {
            f.valid.lock().unwrap().insert(k);
            let body = serde_json::json!({"logIndex": n.to_string(), "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"}});
            (StatusCode::CREATED, body.to_string()).into_response()
        }
        None => {
            f.invalid.fetch_add(1, Ordering::SeqCst);
            (StatusCode::BAD_REQUEST, "invalid").into_response()
        }
    }
}

async fn fake_rekor(fake: Fake) -> (String, Arc<Fake>) {
    let fake = Arc::new(fake);
    let app = Router::new()
        .route("/api/v2/log/entries", post(entries))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, fake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_distinct_valid_signed_entries() {
    let (url, fake) = fake_rekor(Fake::default()).await;
    let client = LogClient::new(&url, Duration::from_secs(10)).unwrap();
    let cfg = LoadConfig {
        entries: 300,
        concurrency: 8,
        deadline: Duration::from_secs(60),
        data_len: 64,
    };
    let r = run(&client, &cfg).await.unwrap();
    assert_eq!((r.sent, r.acknowledged), (300, 300), "{r:?}");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(
        fake.valid.lock().unwrap().len(),
        300,
        "every request distinct and valid"
    );
    assert_eq!(fake.invalid.load(Ordering::SeqCst), 0);
    assert_eq!(r.duplicate_indices, 0);
    assert!(r.p50_ms > 0.0 && r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms);
    assert!(r.entries_per_sec > 0.0 && !r.deadline_hit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_errors_by_status() {
    let (url, _fake) = fake_rekor(Fake {
        fail_every: 4,
        ..Fake::default()
    })
    .await;
    let client = LogClient::new(&url, Duration::from_secs(10)).unwrap();
    let cfg = LoadConfig {
        entries: 100,
        concurrency: 4,
        ..LoadConfig::default()
    };
    let r = run(&client, &cfg).await.unwrap();
    assert_eq!(r.sent, 100);
    assert_eq!(r.errors.get("http 503"), Some(&25), "{:?}", r.errors);
    assert_eq!(r.acknowledged, 75);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_at_the_deadline() {
    let (url, _fake) = fake_rekor(Fake {
        delay_ms: 100,
        ..Fake::default()
    })
    .await;
    let client = LogClient::new(&url, Duration::from_secs(10)).unwrap();
    let cfg = LoadConfig {
        entries: 1000,
        concurrency: 2,
        deadline: Duration::from_millis(350),
        data_len: 32,
    };
    let r = run(&client, &cfg).await.unwrap();
    assert!(r.deadline_hit && r.sent < 1000, "{r:?}");
    assert!(r.elapsed_secs < 5.0);
}

#[tokio::test]
async fn unreachable_log_is_counted_not_a_panic() {
    // Bind then drop to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client =
        LogClient::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2)).unwrap();
    let cfg = LoadConfig {
        entries: 5,
        concurrency: 2,
        ..LoadConfig::default()
    };
    let r = run(&client, &cfg).await.unwrap();
    assert_eq!((r.sent, r.acknowledged), (5, 0));
    assert_eq!(r.errors.values().sum::<usize>(), 5);
}
