//! Acceptance: an entry our log returns, put into a Sigstore v0.3 bundle with an RFC 3161
//! timestamp, verifies with `chainseal_verify::Verifier` given a trusted root that lists
//! this log — the same checks a Sigstore client applies to a Rekor v2 entry. The TSA
//! certificates are made with `openssl` in a temp dir (the test FAILS if it is missing).

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{HashAlgorithm, sha256};
use chainseal_crypto::rfc3161::timestamp_request;
use chainseal_crypto::x509::Certificate;
use chainseal_tlog::keys::VerifierKey;
use chainseal_verify::{Artifact, Policy, TrustMaterial, Verifier};
use common::*;

fn trusted_root(
    base_url: &str,
    log_vkey: &str,
    log_id: &[u8],
    tsa_chain: &[Certificate],
) -> Vec<u8> {
    let vk = VerifierKey::parse(log_vkey).unwrap();
    let mut spki = hex::decode("302a300506032b6570032100").unwrap();
    spki.extend_from_slice(&vk.public_key);
    serde_json::to_vec(&serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": STANDARD.encode(&spki), "keyDetails": "PKIX_ED25519",
                          "validFor": {"start": "2020-01-01T00:00:00Z"}},
            "logId": {"keyId": STANDARD.encode(log_id)}
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [{
            "subject": {"organization": "t", "commonName": "tsa"},
            "certChain": {"certificates": tsa_chain.iter()
                .map(|c| serde_json::json!({"rawBytes": STANDARD.encode(c.der())}))
                .collect::<Vec<_>>()},
            "validFor": {"start": "2020-01-01T00:00:00Z"}
        }]
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_entry_in_a_v03_bundle_verifies_with_chainseal_verify() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let http = reqwest::Client::new();
    let key = p256();
    let artifact = b"release artifact v1.2.3";
    let req = hashedrekord(&key, artifact);
    let signature = STANDARD
        .decode(
            req["hashedRekordRequestV002"]["signature"]["content"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let (status, tle) = post(&http, &s.url, serde_json::to_vec(&req).unwrap()).await;
    assert_eq!(status, 201, "{tle}");

    let (signer, chain) = chainseal_testkit::openssl_tsa(pki.path());
    let ts_req = timestamp_request(&signature, HashAlgorithm::Sha256, None, true).unwrap();
    let ts = signer
        .respond(&ts_req, chainseal_testkit::unix_now(), &[1, 2, 3])
        .unwrap();

    let bundle = |tle: &serde_json::Value| {
        serde_json::to_vec(&serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "publicKey": {"hint": "managed"},
                "tlogEntries": [tle],
                "timestampVerificationData": {"rfc3161Timestamps": [{"signedTimestamp": STANDARD.encode(&ts)}]}
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(sha256(artifact))},
                "signature": STANDARD.encode(&signature)
            }
        }))
        .unwrap()
    };
    let root = trusted_root(&s.url, &s.vkey, &s.log.log_id(), &chain);
    let verifier = Verifier::new(TrustMaterial::from_json(&root).unwrap());
    let policy = Policy::Key(key.public_key());
    verifier
        .verify_json(&bundle(&tle), Artifact::Bytes(artifact), &policy)
        .unwrap();

    // Negative: the same entry with a tampered inclusion proof hash fails verification.
    let mut bad = tle.clone();
    let h = bad["inclusionProof"]["rootHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut raw = STANDARD.decode(h).unwrap();
    raw[0] ^= 1;
    bad["inclusionProof"]["rootHash"] = STANDARD.encode(raw).into();
    assert!(
        verifier
            .verify_json(&bundle(&bad), Artifact::Bytes(artifact), &policy)
            .is_err()
    );
    // Negative: a trusted root naming a different log key rejects the entry.
    let other = chainseal_tlog::keys::Ed25519Signer::generate(&s.origin).unwrap();
    let root2 = trusted_root(&s.url, &other.to_vkey(), &s.log.log_id(), &chain);
    let v2 = Verifier::new(TrustMaterial::from_json(&root2).unwrap());
    assert!(
        v2.verify_json(&bundle(&tle), Artifact::Bytes(artifact), &policy)
            .is_err()
    );
}
