//! The proof of possession sent to the CA (a PKCS#10 CSR, as sigstore-python sends it) is
//! accepted by `openssl req -verify` (must be installed: the test FAILS otherwise), and a
//! CSR whose signature was altered is not.

use std::process::Command;

use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_sign::csr_pem;

fn openssl_verify(pem: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("req.pem");
    std::fs::write(&f, pem).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-verify", "-noout", "-in"])
        .arg(&f)
        .output()
        .expect("openssl must be installed for the CSR test");
    // OpenSSL 3.0 exits 0 either way; it reports the outcome in text.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success() && text.contains("verify OK") && !text.contains("failure")
}

#[test]
fn csr_signature_verifies_with_openssl_and_a_tampered_one_does_not() {
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let pem = csr_pem(&key).unwrap();
    assert!(openssl_verify(&pem), "{pem}");

    let (label, mut der) = der::pem::decode_vec(pem.as_bytes()).unwrap();
    let n = der.len();
    der[n - 3] ^= 0x01; // inside the signature BIT STRING
    let bad = der::pem::encode_string(label, der::pem::LineEnding::LF, &der).unwrap();
    assert!(!openssl_verify(&bad));
}

#[test]
fn csr_carries_the_signing_public_key() {
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let pem = csr_pem(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("req.pem");
    std::fs::write(&f, &pem).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-noout", "-pubkey", "-in"])
        .arg(&f)
        .output()
        .expect("openssl must be installed for the CSR test");
    assert!(out.status.success());
    let from_csr = String::from_utf8(out.stdout).unwrap();
    assert_eq!(from_csr.trim(), key.public_key().to_pem().unwrap().trim());
    let other = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    assert_ne!(from_csr.trim(), other.public_key().to_pem().unwrap().trim());
}
