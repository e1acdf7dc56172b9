//! Interop with `openssl ts` (OpenSSL 3), a TSA implementation no one here wrote.
//!
//! (a) openssl issues, we verify; (b) we issue, openssl verifies. Every key, certificate
//! and config is created in a temp dir at test time. These tests FAIL (never skip) when
//! `openssl` is missing.

use std::path::Path;
use std::process::Command;

use chainseal_crypto::Error;
use chainseal_crypto::keys::{HashAlgorithm, PrivateKey};
use chainseal_crypto::rfc3161::{
    TimestampToken, TrustedTsa, TsaSigner, timestamp_request, verify_timestamp,
};
use chainseal_crypto::x509::Certificate;

const POLICY: &str = "1.3.6.1.4.1.55555.1.2";

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (/usr/bin/openssl) for the RFC 3161 interop tests")
}

fn openssl_ok(dir: &Path, args: &[&str]) {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn now() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_secs()).unwrap()
}

/// The key algorithm options for `openssl req -newkey`.
#[derive(Clone, Copy)]
enum Alg {
    P256,
    Rsa2048,
}

impl Alg {
    fn newkey(self) -> [&'static str; 4] {
        match self {
            Alg::P256 => ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Alg::Rsa2048 => ["-newkey", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"],
        }
    }
}

/// A root CA (`{prefix}root.pem/.der/.key`) and, when `tsa`, a TSA certificate with a
/// critical EKU timeStamping signed by it (`{prefix}tsa.pem/.der/.key`).
fn make_pki(dir: &Path, prefix: &str, alg: Alg) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[ v3_ca ]\n\
         basicConstraints = critical,CA:TRUE\n\
         keyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [ v3_tsa ]\n\
         basicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature\n\
         extendedKeyUsage = critical,timeStamping\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    let root_key = format!("{prefix}root.key");
    let root_pem = format!("{prefix}root.pem");
    let mut args = vec!["req", "-x509", "-noenc", "-days", "30"];
    args.extend(alg.newkey());
    args.extend([
        "-keyout",
        &root_key,
        "-out",
        &root_pem,
        "-subj",
        "/O=chainseal test/CN=test TSA root",
        "-config",
        "ext.cnf",
        "-extensions",
        "v3_ca",
    ]);
    openssl_ok(dir, &args);
    let root_der = format!("{prefix}root.der");
    openssl_ok(
        dir,
        &[
            "x509", "-in", &root_pem, "-outform", "DER", "-out", &root_der,
        ],
    );

    let tsa_key = format!("{prefix}tsa.key");
    let tsa_csr = format!("{prefix}tsa.csr");
    let tsa_pem = format!("{prefix}tsa.pem");
    let tsa_der = format!("{prefix}tsa.der");
    let mut args = vec!["req", "-new", "-noenc"];
    args.extend(alg.newkey());
    args.extend([
        "-keyout",
        &tsa_key,
        "-out",
        &tsa_csr,
        "-subj",
        "/O=chainseal test/CN=test TSA",
    ]);
    openssl_ok(dir, &args);
    openssl_ok(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &tsa_csr,
            "-CA",
            &root_pem,
            "-CAkey",
            &root_key,
            "-set_serial",
            "4242",
            "-days",
            "10",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "v3_tsa",
            "-out",
            &tsa_pem,
        ],
    );
    openssl_ok(
        dir,
        &["x509", "-in", &tsa_pem, "-outform", "DER", "-out", &tsa_der],
    );
}

fn cert(dir: &Path, file: &str) -> Certificate {
    Certificate::from_der(&std::fs::read(dir.join(file)).unwrap()).unwrap()
}

fn write_ts_config(dir: &Path, prefix: &str) {
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    std::fs::write(
        dir.join("ts.cnf"),
        format!(
            "[ tsa ]\n\
             default_tsa = tsa_config1\n\
             [ tsa_config1 ]\n\
             serial = serial\n\
             crypto_device = builtin\n\
             signer_cert = {prefix}tsa.pem\n\
             signer_key = {prefix}tsa.key\n\
             signer_digest = sha256\n\
             default_policy = {POLICY}\n\
             digests = sha256, sha384, sha512\n\
             accuracy = secs:1, millisecs:500, microsecs:100\n\
             clock_precision_digits = 3\n\
             ordering = yes\n\
             tsa_name = yes\n\
             ess_cert_id_chain = no\n\
             ess_cert_id_alg = sha256\n"
        ),
    )
    .unwrap();
}

/// openssl answers an `openssl ts -query` for `data.bin`; returns the response DER.
fn openssl_issue(dir: &Path, prefix: &str, hash: &str) -> Vec<u8> {
    write_ts_config(dir, prefix);
    openssl_ok(
        dir,
        &[
            "ts", "-query", "-data", "data.bin", hash, "-cert", "-out", "req.tsq",
        ],
    );
    openssl_ok(
        dir,
        &[
            "ts",
            "-reply",
            "-config",
            "ts.cnf",
            "-queryfile",
            "req.tsq",
            "-out",
            "resp.tsr",
        ],
    );
    std::fs::read(dir.join("resp.tsr")).unwrap()
}

fn trusted(dir: &Path, prefix: &str) -> TrustedTsa {
    TrustedTsa {
        chain: vec![
            cert(dir, &format!("{prefix}tsa.der")),
            cert(dir, &format!("{prefix}root.der")),
        ],
        valid_from: Some(now() - 3600),
        valid_to: Some(now() + 3600),
    }
}

fn check_openssl_token_verifies(alg: Alg, hash: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = b"chainseal: artifact signature bytes".to_vec();
    std::fs::write(d.join("data.bin"), &data).unwrap();
    make_pki(d, "", alg);
    let resp = openssl_issue(d, "", hash);

    let token = TimestampToken::from_der(&resp).unwrap();
    let v = verify_timestamp(&token, &data, &[trusted(d, "")]).expect("openssl token verifies");
    assert_eq!(v.tsa_index, 0);
    assert!((v.gen_time_unix - now()).abs() < 600);
    assert_eq!(token.policy().to_string(), POLICY);
    // accuracy = 1 s + 500 ms + 100 µs, as configured above.
    assert_eq!(token.accuracy_micros(), Some(1_500_100));
}

#[test]
fn accepts_openssl_token_signed_with_p256_and_embedded_cert() {
    check_openssl_token_verifies(Alg::P256, "-sha256");
}

#[test]
fn accepts_openssl_token_signed_with_rsa_over_sha512_imprint() {
    check_openssl_token_verifies(Alg::Rsa2048, "-sha512");
}

#[test]
fn rejects_openssl_token_for_other_data_other_root_or_time_outside_validity() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = b"the signed bytes".to_vec();
    std::fs::write(d.join("data.bin"), &data).unwrap();
    make_pki(d, "", Alg::P256);
    make_pki(d, "other-", Alg::P256);
    let resp = openssl_issue(d, "", "-sha256");
    let token = TimestampToken::from_der(&resp).unwrap();
    let good = trusted(d, "");
    verify_timestamp(&token, &data, std::slice::from_ref(&good)).expect("control: verifies");

    // Different data.
    let err = verify_timestamp(&token, b"other bytes", std::slice::from_ref(&good)).unwrap_err();
    assert!(matches!(err, Error::TimestampImprintMismatch), "{err}");

    // A different trusted root: the embedded TSA certificate must not be trusted on its own.
    let other = trusted(d, "other-");
    let err = verify_timestamp(&token, &data, std::slice::from_ref(&other)).unwrap_err();
    assert!(
        matches!(err, Error::TimestampUntrustedChain { .. }),
        "{err}"
    );
    let only_root = TrustedTsa {
        chain: vec![cert(d, "other-root.der")],
        ..other
    };
    let err = verify_timestamp(&token, &data, &[only_root]).unwrap_err();
    assert!(
        matches!(err, Error::TimestampUntrustedChain { .. }),
        "{err}"
    );

    // genTime outside validFor (both ends).
    for (from, to) in [(Some(now() + 600), None), (None, Some(now() - 600))] {
        let tsa = TrustedTsa {
            valid_from: from,
            valid_to: to,
            ..good.clone()
        };
        let err = verify_timestamp(&token, &data, &[tsa]).unwrap_err();
        assert!(
            matches!(err, Error::TimestampOutsideTsaValidity { .. }),
            "{err}"
        );
    }

    // Second trusted TSA accepted when the first is the wrong one.
    let v = verify_timestamp(&token, &data, &[trusted(d, "other-"), good]).unwrap();
    assert_eq!(v.tsa_index, 1);
}

#[test]
fn rejects_token_whose_tsa_cert_lacks_time_stamping_eku() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = b"data".to_vec();
    std::fs::write(d.join("data.bin"), &data).unwrap();
    make_pki(d, "", Alg::P256);
    // Same key, same issuer, but EKU codeSigning instead of timeStamping. openssl ts
    // refuses to sign with such a certificate, so our TsaSigner produces the token.
    std::fs::write(
        d.join("bad.cnf"),
        "[ v3_bad ]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = critical,codeSigning\n",
    )
    .unwrap();
    openssl_ok(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-set_serial",
            "4343",
            "-days",
            "10",
            "-extfile",
            "bad.cnf",
            "-extensions",
            "v3_bad",
            "-outform",
            "DER",
            "-out",
            "bad.der",
        ],
    );
    let key = PrivateKey::from_pem(&std::fs::read_to_string(d.join("tsa.key")).unwrap()).unwrap();
    let bad_signer =
        TsaSigner::new(key, vec![cert(d, "bad.der"), cert(d, "root.der")], POLICY).unwrap();
    let req = timestamp_request(&data, HashAlgorithm::Sha256, None, true).unwrap();
    let resp = bad_signer.respond(&req, now(), &[9]).unwrap();
    let token = TimestampToken::from_der(&resp).unwrap();
    let tsa = TrustedTsa {
        chain: vec![cert(d, "bad.der"), cert(d, "root.der")],
        valid_from: None,
        valid_to: None,
    };
    let err = verify_timestamp(&token, &data, &[tsa]).unwrap_err();
    assert!(
        matches!(err, Error::TimestampUntrustedChain { .. }),
        "{err}"
    );

    // Control: the same flow with the timeStamping certificate verifies.
    let resp = our_signer(d).respond(&req, now(), &[9]).unwrap();
    let token = TimestampToken::from_der(&resp).unwrap();
    verify_timestamp(&token, &data, &[trusted(d, "")]).unwrap();
}

fn our_signer(d: &Path) -> TsaSigner {
    let key_pem = std::fs::read_to_string(d.join("tsa.key")).unwrap();
    let key = PrivateKey::from_pem(&key_pem).unwrap();
    TsaSigner::new(key, vec![cert(d, "tsa.der"), cert(d, "root.der")], POLICY).unwrap()
}

/// Runs `openssl ts -verify` on `resp.tsr` against `req.tsq`; returns success.
fn openssl_verifies(d: &Path, root: &str) -> bool {
    let out = openssl(
        d,
        &[
            "ts",
            "-verify",
            "-in",
            "resp.tsr",
            "-queryfile",
            "req.tsq",
            "-CAfile",
            root,
            "-untrusted",
            "tsa.pem",
        ],
    );
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verification: OK")
}

fn check_openssl_accepts_our_response(alg: Alg) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = b"bytes to time-stamp".to_vec();
    std::fs::write(d.join("data.bin"), &data).unwrap();
    make_pki(d, "", alg);
    make_pki(d, "other-", alg);
    openssl_ok(
        d,
        &[
            "ts", "-query", "-data", "data.bin", "-sha384", "-cert", "-out", "req.tsq",
        ],
    );
    let req = std::fs::read(d.join("req.tsq")).unwrap();
    let resp = our_signer(d)
        .respond(&req, now(), &[0x01, 0x02, 0x03])
        .unwrap();
    std::fs::write(d.join("resp.tsr"), &resp).unwrap();

    assert!(
        openssl_verifies(d, "root.pem"),
        "openssl ts -verify accepts our response"
    );
    assert!(
        !openssl_verifies(d, "other-root.pem"),
        "openssl refuses an unrelated root"
    );

    // And we accept our own response against the same trust, with openssl's nonce echoed.
    let token = TimestampToken::from_der(&resp).unwrap();
    verify_timestamp(&token, &data, &[trusted(d, "")]).unwrap();
    assert!(
        token.nonce().is_some(),
        "openssl -query sends a nonce, we echo it"
    );
    assert_eq!(token.embedded_certificates().len(), 1, "certReq honoured");
}

#[test]
fn openssl_accepts_our_response_signed_with_p256() {
    check_openssl_accepts_our_response(Alg::P256);
}

#[test]
fn openssl_accepts_our_response_signed_with_rsa() {
    check_openssl_accepts_our_response(Alg::Rsa2048);
}

#[test]
fn openssl_and_we_refuse_our_response_with_tampered_tst_info() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = b"bytes to time-stamp".to_vec();
    std::fs::write(d.join("data.bin"), &data).unwrap();
    make_pki(d, "", Alg::P256);
    openssl_ok(
        d,
        &[
            "ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "req.tsq",
        ],
    );
    let req = std::fs::read(d.join("req.tsq")).unwrap();
    let serial = [0x7a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
    let resp = our_signer(d).respond(&req, now(), &serial).unwrap();

    // Control: the untampered response verifies in both.
    std::fs::write(d.join("resp.tsr"), &resp).unwrap();
    assert!(openssl_verifies(d, "root.pem"));

    // Flip one bit of the serial number inside the TSTInfo.
    let at = resp
        .windows(serial.len())
        .position(|w| w == serial)
        .expect("serial inside TSTInfo");
    let mut bad = resp.clone();
    bad[at + 3] ^= 0x01;
    std::fs::write(d.join("resp.tsr"), &bad).unwrap();
    assert!(
        !openssl_verifies(d, "root.pem"),
        "openssl refuses tampered TSTInfo"
    );
    let token = TimestampToken::from_der(&bad).unwrap();
    let err = verify_timestamp(&token, &data, &[trusted(d, "")]).unwrap_err();
    assert!(
        matches!(err, Error::TimestampMessageDigestMismatch),
        "{err}"
    );
}

#[test]
fn rejects_requests_it_cannot_honour_with_a_rejection_status() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d, "", Alg::P256);
    let signer = our_signer(d);
    // Garbage request.
    let resp = signer.respond(b"not DER", now(), &[1]).unwrap();
    let err = TimestampToken::from_der(&resp).unwrap_err();
    assert!(matches!(err, Error::TimestampStatus { .. }), "{err}");
    // A well-formed request from our own builder is granted (control).
    let req = timestamp_request(b"x", HashAlgorithm::Sha256, Some(&[0x80, 1]), false).unwrap();
    let resp = signer.respond(&req, now(), &[1]).unwrap();
    let token = TimestampToken::from_der(&resp).unwrap();
    assert!(
        token.embedded_certificates().is_empty(),
        "certReq false: no certificates"
    );
    assert_eq!(token.nonce(), Some(&[0x00, 0x80, 0x01][..]));
    verify_timestamp(&token, b"x", &[trusted(d, "")]).unwrap();
    // openssl parses our request (independent decoder).
    std::fs::write(d.join("ours.tsq"), &req).unwrap();
    let out = openssl(d, &["ts", "-query", "-in", "ours.tsq", "-text"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sha256"), "{text}");
    assert!(text.contains("Certificate required: no"), "{text}");
}
