//! ECDSA note signatures: static-ct-api RFC 6962 TreeHeadSignature notes (Sunlight) and
//! Sigstore Rekor v1 checkpoints with the production Rekor key.

mod common;

use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::CosignatureV1Verifier;
use chainseal_tlog::note::{Note, NoteVerifier, open};
use chainseal_tlog::pkix::{PkixVerifier, Rfc6962Verifier};
use common::*;
use serde_json::Value;
use sha2::Digest;

const SKY: &str = "sunlight/cmd/skylight/testdata";

fn rome_key() -> Rfc6962Verifier {
    let log = json(&format!("{SKY}/tree/log.v3.json"));
    let spki = b64(log["key"].as_str().unwrap());
    let v = Rfc6962Verifier::from_spki_der("rome2026h1.example.org", &spki).unwrap();
    assert_eq!(
        v.log_id().to_vec(),
        b64(log["log_id"].as_str().unwrap()),
        "log ID is SHA-256 of the SPKI"
    );
    v
}

fn witness_key() -> CosignatureV1Verifier {
    let v = json("signed-note/vectors.json");
    CosignatureV1Verifier::from_vkey(
        v["skylight_cosignature_v1"]["witness_vkey"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

fn witnessed_rome() -> Vec<u8> {
    let dir = hex::encode(sha2::Sha256::digest(b"rome2026h1.example.org"));
    read(&format!("{SKY}/witness/{dir}/checkpoint"))
}

#[test]
fn sunlight_rfc6962_note_signature_verifies() {
    let key = rome_key();
    let bytes = read(&format!("{SKY}/tree/checkpoint"));
    let (cp, _, verified) = Checkpoint::open(&bytes, "rome2026h1.example.org", &[&key]).unwrap();
    assert_eq!(cp.size, 300);
    // the note timestamp is the STH timestamp from log.v3.json
    let log = json(&format!("{SKY}/tree/log.v3.json"));
    assert_eq!(
        verified[0].timestamp,
        log["final_tree_head"]["timestamp"].as_u64()
    );
}

#[test]
fn sunlight_witnessed_checkpoint_verifies_with_log_signature_and_cosignature() {
    let log = rome_key();
    let witness = witness_key();
    let (_, verified) = open(&witnessed_rome(), &[&log, &witness]).unwrap();
    assert_eq!(verified.len(), 2, "log signature and witness cosignature");
}

#[test]
fn rejects_rfc6962_note_with_flipped_signature_or_changed_tree() {
    let key = rome_key();
    let note = Note::parse(&read(&format!("{SKY}/tree/checkpoint"))).unwrap();
    let sig = note.signatures()[0].clone();
    // flip a byte of the timestamp, of the ECDSA signature
    for i in [3, sig.signature.len() - 5] {
        let mut s = sig.clone();
        s.signature[i] ^= 0x01;
        let mut bad = Note::new(note.text()).unwrap();
        bad.add_signature(s).unwrap();
        assert!(bad.verify(&[&key]).is_err(), "byte {i}");
    }
    // change the root / size under the same signature
    let mut cp = Checkpoint::parse(note.text()).unwrap();
    cp.root_hash[0] ^= 1;
    let mut bad = Note::new(cp.to_text()).unwrap();
    bad.add_signature(sig.clone()).unwrap();
    assert!(bad.verify(&[&key]).is_err());
    // an extension line is not covered by the TreeHeadSignature: rejected
    let mut cp = Checkpoint::parse(note.text()).unwrap();
    cp.extensions.push("extra".into());
    let mut bad = Note::new(cp.to_text()).unwrap();
    bad.add_signature(sig).unwrap();
    assert!(bad.verify(&[&key]).is_err());
}

fn rekor_key() -> PkixVerifier {
    let k = json("sigstore-prod-keys/rekor.sigstore.dev.json");
    let spki = b64(k["publicKeySPKI_b64"].as_str().unwrap());
    let v = PkixVerifier::from_spki_der("rekor.sigstore.dev", &spki).unwrap();
    let log_id = b64(k["logId_keyId_b64"].as_str().unwrap());
    assert_eq!(v.key_id().to_be_bytes().to_vec(), log_id[..4].to_vec());
    v
}

fn bundle_checkpoint(case: &str) -> String {
    let p = vectors()
        .join("../sigstore/conformance-assets/bundle-verify")
        .join(case)
        .join("bundle.sigstore.json");
    let b: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn rekor_v1_production_checkpoints_verify_with_the_rekor_key() {
    let key = rekor_key();
    for case in [
        "happy-path-v0.3",
        "happy-path-v0.1",
        "happy-path-intoto-in-dsse-v3",
    ] {
        let env = bundle_checkpoint(case);
        let (note, verified) =
            open(env.as_bytes(), &[&key]).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(verified.len(), 1);
        let cp = Checkpoint::parse(note.text()).unwrap();
        assert!(cp.origin.starts_with("rekor.sigstore.dev - "), "{case}");
    }
}

#[test]
fn rejects_rekor_checkpoint_with_wrong_root_or_bad_signature() {
    let key = rekor_key();
    let env = bundle_checkpoint("happy-path-v0.3");
    let note = Note::parse(env.as_bytes()).unwrap();
    let mut cp = Checkpoint::parse(note.text()).unwrap();
    cp.root_hash[5] ^= 1;
    let mut bad = Note::new(cp.to_text()).unwrap();
    bad.add_signature(note.signatures()[0].clone()).unwrap();
    assert!(bad.verify(&[&key]).is_err());
    let mut s = note.signatures()[0].clone();
    let n = s.signature.len();
    s.signature[n - 1] ^= 1;
    let mut bad = Note::new(note.text()).unwrap();
    bad.add_signature(s).unwrap();
    assert!(bad.verify(&[&key]).is_err());
}

#[test]
fn rejects_rekor_checkpoint_signed_with_an_unknown_key_hint() {
    // The conformance case whose checkpoint key hint belongs to a different log.
    let key = rekor_key();
    let env = bundle_checkpoint("checkpoint-bad-keyhint_fail");
    assert!(open(env.as_bytes(), &[&key]).is_err());
}
