//! Security properties of the CA, the TSA and the OIDC verifier, checked with chainseal's
//! own verifiers (path validation, SCT verification, RFC 3161 verification) and with
//! `openssl` (a verifier no one here wrote). Each positive test has a negative beside it.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_authority::Error;
use chainseal_authority::http::Authority;
use chainseal_authority::store::AuthorityDir;
use chainseal_crypto::keys::{HashAlgorithm, KeyKind, PrivateKey};
use chainseal_crypto::rfc3161::{TimestampToken, TrustedTsa, timestamp_request, verify_timestamp};
use chainseal_crypto::sct::{CtLog, verify_embedded_scts};
use chainseal_crypto::x509::{Certificate, KeyPurpose, SubjectAltName, verify_path};

const URL: &str = "http://127.0.0.1:1";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn authority(dir: &Path) -> (AuthorityDir, Authority) {
    let d = AuthorityDir::open(dir).unwrap();
    let a = Authority::load(&d, URL, vec![]).unwrap();
    (d, a)
}

fn pk_request(token: Option<&str>, key: &PrivateKey, proof: &[u8]) -> Vec<u8> {
    let pem = key.public_key().to_pem().unwrap();
    let mut v = serde_json::json!({
        "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": pem},
                             "proofOfPossession": STANDARD.encode(proof)}
    });
    if let Some(t) = token {
        v["credentials"] = serde_json::json!({"oidcIdentityToken": t});
    }
    serde_json::to_vec(&v).unwrap()
}

/// A development-issuer token; an email-like `sub` is also the verified `email` (as
/// `chainseal authority token` does), since only a verified email makes an email SAN.
fn token(a: &Authority, sub: &str, email: Option<&str>, aud: &str, ttl: i64) -> String {
    let email = email.or(sub.contains('@').then_some(sub));
    a.oidc.dev().unwrap().mint(sub, email, aud, ttl).unwrap()
}

async fn issue_for(a: &Authority, sub: &str) -> chainseal_authority::ca::Issued {
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let t = token(a, sub, None, "sigstore", 600);
    let proof = key.sign(sub.as_bytes()).unwrap();
    a.signing_cert(None, &pk_request(Some(&t), &key, &proof))
        .await
        .unwrap()
}

#[tokio::test]
async fn issued_certificate_passes_path_validation_and_embedded_sct_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, a) = authority(tmp.path());
    let issued = issue_for(&a, "spiffe://chainseal.local/factory/hello").await;
    let leaf = &issued.leaf;
    let [inter, root] = [&issued.chain[0], &issued.chain[1]];
    let path = verify_path(
        leaf,
        std::slice::from_ref(inter),
        std::slice::from_ref(root),
        now(),
        KeyPurpose::CodeSigning,
    )
    .unwrap();
    assert_eq!(path.len(), 3);
    let ct = CtLog::from_key(a.ca.ct_log().public_key(), None, None);
    assert_eq!(verify_embedded_scts(leaf, inter, &[ct]).unwrap(), 1);
    assert_eq!(a.ca.ct_log().size(), 1, "the precertificate is logged");
    // Identity and issuer as Fulcio writes them.
    assert!(leaf.subject_alt_names().contains(&SubjectAltName::Uri(
        "spiffe://chainseal.local/factory/hello".into()
    )));
    let ext = leaf.fulcio_identity().unwrap();
    assert_eq!(ext.issuer_v1.as_deref(), Some(URL));
    assert_eq!(ext.issuer_v2.as_deref(), Some(URL));
    assert_eq!(leaf.not_after_unix() - leaf.not_before_unix(), 599);
}

#[tokio::test]
async fn sct_from_another_ct_key_and_expired_certificate_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, a) = authority(tmp.path());
    let issued = issue_for(&a, "dev@example.com").await;
    let other = PrivateKey::generate(KeyKind::EcdsaP256)
        .unwrap()
        .public_key();
    let err = verify_embedded_scts(
        &issued.leaf,
        &issued.chain[0],
        &[CtLog::from_key(other, None, None)],
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("none of the 1 embedded SCTs"),
        "{err}"
    );
    let err = verify_path(
        &issued.leaf,
        &issued.chain[..1],
        &issued.chain[1..],
        now() + 601,
        KeyPurpose::CodeSigning,
    )
    .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}

#[test]
fn openssl_accepts_the_issued_chain_and_sees_the_fulcio_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, a) = authority(tmp.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let issued = rt.block_on(issue_for(&a, "dev@example.com"));
    let d = tmp.path();
    std::fs::write(
        d.join("leaf.pem"),
        chainseal_authority::certs::pem(&issued.leaf),
    )
    .unwrap();
    std::fs::write(
        d.join("inter.pem"),
        chainseal_authority::certs::pem(&issued.chain[0]),
    )
    .unwrap();
    std::fs::write(
        d.join("root.pem"),
        chainseal_authority::certs::pem(&issued.chain[1]),
    )
    .unwrap();
    let out = openssl(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "inter.pem",
            "leaf.pem",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = openssl(d, &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("email:dev@example.com"), "{text}");
    assert!(text.contains("Code Signing"), "{text}");
    assert!(text.contains("CT Precertificate SCTs"), "{text}");
    // Negative: another root does not anchor the chain.
    let (_, b) = authority(&d.join("other"));
    std::fs::write(
        d.join("other.pem"),
        chainseal_authority::certs::pem(b.ca.root()),
    )
    .unwrap();
    let out = openssl(
        d,
        &[
            "verify",
            "-CAfile",
            "other.pem",
            "-untrusted",
            "inter.pem",
            "leaf.pem",
        ],
    );
    assert!(!out.status.success());
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (/usr/bin/openssl) for the authority tests")
}

#[tokio::test]
async fn csr_request_is_accepted_and_a_tampered_csr_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (_, a) = authority(&d.join("a"));
    let out = openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-noenc",
            "-keyout",
            "k.pem",
            "-out",
            "csr.pem",
            "-subj",
            "/",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csr = std::fs::read(d.join("csr.pem")).unwrap();
    let body = serde_json::to_vec(
        &serde_json::json!({"certificateSigningRequest": STANDARD.encode(&csr)}),
    )
    .unwrap();
    let t = token(&a, "dev@example.com", None, "sigstore", 600);
    a.signing_cert(Some(&t), &body).await.unwrap();
    // Flip one byte of the signature (the end of the DER).
    let (_, mut der) = der::pem::decode_vec(&csr).unwrap();
    let n = der.len();
    der[n - 3] ^= 1;
    let body = serde_json::to_vec(
        &serde_json::json!({"certificateSigningRequest": STANDARD.encode(&der)}),
    )
    .unwrap();
    let err = a.signing_cert(Some(&t), &body).await.unwrap_err();
    assert!(
        matches!(err, Error::ProofOfPossession(_) | Error::BadRequest(_)),
        "{err}"
    );
    assert_eq!(err.http_status(), 400);
}

#[tokio::test]
async fn proof_of_possession_replayed_with_another_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, a) = authority(tmp.path());
    let sub = "dev@example.com";
    let t = token(&a, sub, None, "sigstore", 600);
    let k1 = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let k2 = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let proof = k1.sign(sub.as_bytes()).unwrap();
    a.signing_cert(Some(&t), &pk_request(None, &k1, &proof))
        .await
        .unwrap();
    let err = a
        .signing_cert(Some(&t), &pk_request(None, &k2, &proof))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProofOfPossession(_)), "{err}");
    assert_eq!(err.http_status(), 400);
    // A proof over another subject does not verify either.
    let wrong = k1.sign(b"someone-else@example.com").unwrap();
    let err = a
        .signing_cert(Some(&t), &pk_request(None, &k1, &wrong))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProofOfPossession(_)), "{err}");
}

#[tokio::test]
async fn dev_token_verifies_and_expired_wrong_audience_unknown_issuer_or_forged_tokens_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, a) = authority(tmp.path());
    let id = a
        .oidc
        .verify(&token(
            &a,
            "spiffe://chainseal.local/ci/job",
            None,
            "sigstore",
            600,
        ))
        .await
        .unwrap();
    assert_eq!(id.issuer, URL);
    let expect = |e: Error, what: &str| {
        assert!(matches!(e, Error::Token(_)), "{e}");
        assert_eq!(e.http_status(), 401);
        assert!(e.to_string().contains(what), "{e} should mention {what}");
    };
    expect(
        a.oidc
            .verify(&token(&a, "x@example.com", None, "sigstore", -120))
            .await
            .unwrap_err(),
        "expired",
    );
    expect(
        a.oidc
            .verify(&token(&a, "x@example.com", None, "other", 600))
            .await
            .unwrap_err(),
        "audience",
    );
    // Same issuer URL, another key: a forged signature.
    let (_, b) = authority(&tmp.path().join("b"));
    expect(
        a.oidc
            .verify(&token(&b, "x@example.com", None, "sigstore", 600))
            .await
            .unwrap_err(),
        "signature",
    );
    // Another issuer URL altogether.
    let d3 = AuthorityDir::open(&tmp.path().join("c")).unwrap();
    let c = Authority::load(&d3, "http://127.0.0.1:2", vec![]).unwrap();
    expect(
        a.oidc
            .verify(&token(&c, "x@example.com", None, "sigstore", 600))
            .await
            .unwrap_err(),
        "unknown issuer",
    );
    expect(a.oidc.verify("not.a.jwt").await.unwrap_err(), "");
}

#[test]
fn openssl_ts_verify_accepts_tsa_tokens_and_a_tampered_token_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (_, a) = authority(&d.join("auth"));
    std::fs::write(d.join("data.bin"), b"artifact signature bytes").unwrap();
    let out = openssl(
        d,
        &[
            "ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "req.tsq",
        ],
    );
    assert!(out.status.success());
    let reply = a
        .tsa
        .respond(&std::fs::read(d.join("req.tsq")).unwrap(), now())
        .unwrap();
    assert!(reply.granted);
    std::fs::write(d.join("resp.tsr"), &reply.body).unwrap();
    let chain = a.tsa.chain();
    std::fs::write(
        d.join("tsa-root.pem"),
        chainseal_authority::certs::pem(&chain[1]),
    )
    .unwrap();
    std::fs::write(
        d.join("tsa.pem"),
        chainseal_authority::certs::pem(&chain[0]),
    )
    .unwrap();
    let out = openssl(
        d,
        &[
            "ts",
            "-verify",
            "-data",
            "data.bin",
            "-in",
            "resp.tsr",
            "-CAfile",
            "tsa-root.pem",
            "-untrusted",
            "tsa.pem",
        ],
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Other data: openssl refuses.
    std::fs::write(d.join("other.bin"), b"other bytes").unwrap();
    let out = openssl(
        d,
        &[
            "ts",
            "-verify",
            "-data",
            "other.bin",
            "-in",
            "resp.tsr",
            "-CAfile",
            "tsa-root.pem",
            "-untrusted",
            "tsa.pem",
        ],
    );
    assert!(!out.status.success());

    // chainseal's verifier: the token verifies; a byte flipped in it does not.
    let req = timestamp_request(b"sig", HashAlgorithm::Sha256, Some(&[7, 7]), false).unwrap();
    let reply = a.tsa.respond(&req, now()).unwrap();
    let tsas = [TrustedTsa {
        chain: chain.to_vec(),
        valid_from: None,
        valid_to: None,
    }];
    let tok = TimestampToken::from_der(&reply.body).unwrap();
    verify_timestamp(&tok, b"sig", &tsas).unwrap();
    let mut bad = reply.body.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x40;
    let refused = TimestampToken::from_der(&bad).and_then(|t| verify_timestamp(&t, b"sig", &tsas));
    assert!(refused.is_err());
    // A malformed request gets a rejection with a reason.
    let reply = a.tsa.respond(b"\x30\x03\x02\x01\x09", now()).unwrap();
    assert!(!reply.granted);
    assert!(reply.reason.is_some());
}

#[test]
fn tsa_certificate_has_critical_time_stamping_eku_and_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, a) = authority(tmp.path());
    let chain: Vec<Certificate> = a.tsa.chain().to_vec();
    verify_path(&chain[0], &[], &chain[1..], now(), KeyPurpose::TimeStamping).unwrap();
    assert!(verify_path(&chain[0], &[], &chain[1..], now(), KeyPurpose::CodeSigning).is_err());
    let eku = chain[0]
        .inner()
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.37")
        .unwrap()
        .critical;
    assert!(eku);
}

#[test]
fn keys_are_private_files_and_never_in_state() {
    let tmp = tempfile::tempdir().unwrap();
    let _ = authority(tmp.path());
    let _ = Arc::new(());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for k in [
            "ca-1/intermediate.key",
            "ca-1/root.key",
            "ct-1/ct.key",
            "tsa-1/tsa.key",
            "oidc/dev.key",
        ] {
            let mode = std::fs::metadata(tmp.path().join(k))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{k} is readable by others: {mode:o}");
        }
        let mode = std::fs::metadata(tmp.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
    }
    let state = std::fs::read_to_string(tmp.path().join("state.json")).unwrap();
    assert!(!state.contains("PRIVATE"));
}
