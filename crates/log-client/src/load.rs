//! The load generator: valid, distinct, signed Rekor v2 `hashedRekordRequestV002`
//! entries, pre-generated before timing, sent with bounded concurrency and a deadline.
//!
//! Each entry: random data, `digest = SHA-256(data)`, an ECDSA P-256 signature over the
//! data (so over the digest, as hashedrekord verifies it) with a key generated per run,
//! and the key's SPKI DER as the verifier. Requests are serialised through
//! `sigstore_protobuf_specs` (protobuf JSON), so field names are the spec's.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
use sigstore_protobuf_specs::dev::sigstore::common::v1::PublicKeyDetails;
use sigstore_protobuf_specs::dev::sigstore::rekor::v2::{
    CreateEntryRequest, HashedRekordRequestV002, PublicKey, Signature, Verifier,
    create_entry_request, verifier,
};

use crate::client::LogClient;
use crate::error::{Error, Result};

/// The Rekor v2 write path, relative to the host.
pub const WRITE_PATH: &str = "api/v2/log/entries";

/// Load parameters.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Entries to send.
    pub entries: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// Stop sending new requests after this long (in-flight ones finish or time out).
    pub deadline: Duration,
    /// Bytes of random data per entry (the artifact that is hashed and signed).
    pub data_len: usize,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            entries: 1000,
            concurrency: 64,
            deadline: Duration::from_secs(120),
            data_len: 64,
        }
    }
}

/// One pre-generated request and what it commits to.
#[derive(Debug, Clone)]
pub struct SignedEntry {
    /// SHA-256 of the data.
    pub digest: [u8; 32],
    /// The request body (protobuf JSON of a `CreateEntryRequest`).
    pub body: Vec<u8>,
}

/// Generates `n` distinct signed requests with one fresh P-256 key; also returns the
/// key's SPKI DER.
pub fn generate_requests(n: usize, data_len: usize) -> Result<(Vec<SignedEntry>, Vec<u8>)> {
    let err = |reason: String| Error::Load { reason };
    let key = PrivateKey::generate(KeyKind::EcdsaP256).map_err(|e| err(e.to_string()))?;
    let spki = key.public_key().spki_der().to_vec();
    let mut run = [0u8; 16];
    aws_lc_rs::rand::fill(&mut run).map_err(|_| err("RNG failure".into()))?;
    let data_len = data_len.max(32);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        // Random per entry, plus run nonce and index so distinctness never rests on luck.
        let mut data = vec![0u8; data_len];
        aws_lc_rs::rand::fill(&mut data).map_err(|_| err("RNG failure".into()))?;
        data[..16].copy_from_slice(&run);
        data[16..24].copy_from_slice(&(i as u64).to_be_bytes());
        let digest = sha256(&data);
        let sig = key.sign(&data).map_err(|e| err(e.to_string()))?;
        let req = CreateEntryRequest {
            spec: Some(create_entry_request::Spec::HashedRekordRequestV002(
                HashedRekordRequestV002 {
                    digest: digest.to_vec(),
                    signature: Some(Signature {
                        content: sig,
                        verifier: Some(Verifier {
                            key_details: PublicKeyDetails::PkixEcdsaP256Sha256 as i32,
                            verifier: Some(verifier::Verifier::PublicKey(PublicKey {
                                raw_bytes: spki.clone(),
                            })),
                        }),
                    }),
                },
            )),
        };
        let body = serde_json::to_vec(&req).map_err(|e| err(format!("serialise: {e}")))?;
        out.push(SignedEntry { digest, body });
    }
    Ok((out, spki))
}

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Requests pre-generated.
    pub prepared: usize,
    /// Seconds spent generating and signing them (not part of the timing).
    pub prepare_secs: f64,
    /// Requests sent.
    pub sent: usize,
    /// Requests acknowledged with a 2xx status.
    pub acknowledged: usize,
    /// Failures by kind (`http 503`, `timeout`, `connect`, …).
    pub errors: BTreeMap<String, usize>,
    /// Wall-clock seconds from the first request to the last response.
    pub elapsed_secs: f64,
    /// Acknowledged entries per second.
    pub entries_per_sec: f64,
    /// Median acknowledgement latency, milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile acknowledgement latency, milliseconds.
    pub p99_ms: f64,
    /// Slowest acknowledgement, milliseconds.
    pub max_ms: f64,
    /// Acknowledgements whose `logIndex` another acknowledgement also got.
    pub duplicate_indices: usize,
    /// Whether the deadline stopped the run before every entry was sent.
    pub deadline_hit: bool,
}

impl LoadReport {
    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "prepared": self.prepared,
            "prepareSecs": self.prepare_secs,
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "errors": self.errors,
            "elapsedSecs": self.elapsed_secs,
            "entriesPerSec": self.entries_per_sec,
            "p50Ms": self.p50_ms,
            "p99Ms": self.p99_ms,
            "maxMs": self.max_ms,
            "duplicateIndices": self.duplicate_indices,
            "deadlineHit": self.deadline_hit,
        })
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

enum Outcome {
    Ack { ms: f64, index: Option<i64> },
    Fail(String),
}

/// The `logIndex` of a `TransparencyLogEntry` (protobuf JSON writes int64 as a string);
/// the rest of the body is skipped, not built (the load generator shares the log's CPUs).
fn log_index(body: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Index<'a> {
        Text(&'a str),
        Number(i64),
    }
    #[derive(serde::Deserialize)]
    struct Ack<'a> {
        #[serde(rename = "logIndex", borrow)]
        log_index: Option<Index<'a>>,
    }
    match serde_json::from_slice::<Ack<'_>>(body).ok()?.log_index? {
        Index::Text(s) => s.parse().ok(),
        Index::Number(n) => Some(n),
    }
}

fn classify(e: &Error) -> String {
    match e {
        Error::Http { source, .. } if source.is_timeout() => "timeout".into(),
        Error::Http { source, .. } if source.is_connect() => "connect".into(),
        Error::Http { .. } => "transport".into(),
        Error::TooLarge { .. } => "response too large".into(),
        _ => "other".into(),
    }
}

/// Sends pre-generated `entries` to the log's write API with `cfg.concurrency` requests
/// in flight, until all are sent or `cfg.deadline` passes.
pub async fn send(client: &LogClient, entries: Vec<SignedEntry>, cfg: &LoadConfig) -> LoadReport {
    let entries = Arc::new(entries);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let stop_at = start + cfg.deadline;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..cfg.concurrency.max(1) {
        let (entries, next, client) = (entries.clone(), next.clone(), client.clone());
        set.spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                if Instant::now() >= stop_at {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(e) = entries.get(i) else { break };
                let t0 = Instant::now();
                let r = client.post_json(WRITE_PATH, e.body.clone()).await;
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                outcomes.push(match r {
                    Ok((s, body)) if (200..300).contains(&s) => Outcome::Ack {
                        ms,
                        index: log_index(&body),
                    },
                    Ok((s, _)) => Outcome::Fail(format!("http {s}")),
                    Err(e) => Outcome::Fail(classify(&e)),
                });
            }
            outcomes
        });
    }
    let mut report = LoadReport {
        prepared: entries.len(),
        ..LoadReport::default()
    };
    let mut lat = Vec::new();
    let mut seen = HashSet::new();
    while let Some(r) = set.join_next().await {
        for o in r.unwrap_or_default() {
            report.sent += 1;
            match o {
                Outcome::Ack { ms, index } => {
                    report.acknowledged += 1;
                    lat.push(ms);
                    if let Some(i) = index
                        && !seen.insert(i)
                    {
                        report.duplicate_indices += 1;
                    }
                }
                Outcome::Fail(kind) => *report.errors.entry(kind).or_default() += 1,
            }
        }
    }
    report.elapsed_secs = start.elapsed().as_secs_f64();
    report.deadline_hit = report.sent < entries.len();
    lat.sort_by(f64::total_cmp);
    report.p50_ms = percentile(&lat, 50.0);
    report.p99_ms = percentile(&lat, 99.0);
    report.max_ms = lat.last().copied().unwrap_or(0.0);
    if report.elapsed_secs > 0.0 {
        report.entries_per_sec = report.acknowledged as f64 / report.elapsed_secs;
    }
    report
}

/// Generates `cfg.entries` requests (untimed), then sends them ([`send`]).
pub async fn run(client: &LogClient, cfg: &LoadConfig) -> Result<LoadReport> {
    let t0 = Instant::now();
    let n = cfg.entries;
    let data_len = cfg.data_len;
    let (entries, _) = tokio::task::spawn_blocking(move || generate_requests(n, data_len))
        .await
        .map_err(|e| Error::Load {
            reason: format!("generator task: {e}"),
        })??;
    let prepare_secs = t0.elapsed().as_secs_f64();
    let mut report = send(client, entries, cfg).await;
    report.prepare_secs = prepare_secs;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainseal_crypto::keys::{HashAlgorithm, PublicKey};

    #[test]
    fn requests_are_spec_shaped_distinct_and_verify() {
        let (entries, spki) = generate_requests(20, 48).unwrap();
        let pk = PublicKey::from_spki_der(&spki).unwrap();
        let mut digests = HashSet::new();
        for e in &entries {
            let v: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
            let h = &v["hashedRekordRequestV002"];
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD;
            let digest = b64.decode(h["digest"].as_str().unwrap()).unwrap();
            assert_eq!(digest, e.digest);
            let sig = b64
                .decode(h["signature"]["content"].as_str().unwrap())
                .unwrap();
            let ver = &h["signature"]["verifier"];
            assert_eq!(ver["keyDetails"], "PKIX_ECDSA_P256_SHA_256");
            let raw = b64
                .decode(ver["publicKey"]["rawBytes"].as_str().unwrap())
                .unwrap();
            assert_eq!(raw, spki);
            pk.verify_prehashed(HashAlgorithm::Sha256, &digest, &sig)
                .unwrap();
            assert!(digests.insert(digest));
        }
    }

    #[test]
    fn log_index_reads_protobuf_json_strings_and_numbers_only() {
        assert_eq!(
            log_index(br#"{"logIndex":"42","inclusionProof":{}}"#),
            Some(42)
        );
        assert_eq!(log_index(br#"{"kindVersion":{},"logIndex":7}"#), Some(7));
        assert_eq!(log_index(br#"{"logIndex":"x"}"#), None);
        assert_eq!(log_index(br#"{"logIndex":true}"#), None);
        assert_eq!(log_index(br#"{"other":1}"#), None);
        assert_eq!(log_index(b"not json"), None);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
