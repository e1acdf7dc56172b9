//! Keyless signing against a running `chainseal stack`: `sign-blob`, `attest-blob` and
//! `conformance sign-bundle` with a development-issuer token; the bundles pass
//! `chainseal verify-blob` and sigstore-python 4.5.1's `sigstore verify identity`
//! (`<workspace>/.venv/bin/sigstore`, which must exist: the test FAILS otherwise), for the
//! right identity only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use base64::Engine as _;

use chainseal_testkit::process::{Proc, start_stack};

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

fn sigstore_python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/sigstore");
    assert!(
        p.exists(),
        "sigstore-python must be installed at {} for the keyless interop test",
        p.display()
    );
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SIGSTORE_ID_TOKEN")
        .output()
        .unwrap()
}

/// Starts `chainseal stack serve` and waits (bounded) until it serves.
fn stack(dir: &Path) -> Proc {
    start_stack(BIN, dir)
}

fn token(dir: &Path, email: &str) -> (String, String) {
    let out = run(&[
        "authority",
        "token",
        "--dir",
        s(&dir.join("authority")),
        "--subject",
        "alice",
        "--email",
        email,
    ]);
    ok(&out);
    let tok = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let payload = tok.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    (tok, claims["iss"].as_str().unwrap().to_owned())
}

fn py_verify(dir: &Path, bundle: &Path, identity: &str, issuer: &str, art: &Path) -> Output {
    Command::new(sigstore_python())
        .args([
            "--trust-config",
            s(&dir.join("client_trust_config.json")),
            "verify",
            "identity",
            "--bundle",
            s(bundle),
            "--cert-identity",
            identity,
            "--cert-oidc-issuer",
            issuer,
            s(art),
        ])
        .output()
        .unwrap()
}

#[test]
fn keyless_bundles_verify_in_chainseal_and_sigstore_python_for_the_signer_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stack");
    let _stack = stack(&dir);
    let (tok, iss) = token(&dir, "alice@example.com");
    let tc = dir.join("client_trust_config.json");
    let art = tmp.path().join("a.txt");
    std::fs::write(&art, b"keyless artifact\n").unwrap();

    // Message signature.
    let bundle = tmp.path().join("a.sigstore.json");
    let t = Instant::now();
    ok(&run(&[
        "sign-blob",
        "--identity-token",
        &tok,
        "--trust-config",
        s(&tc),
        "--bundle",
        s(&bundle),
        s(&art),
    ]));
    eprintln!("keyless sign-blob end to end: {:?}", t.elapsed());
    ok(&run(&[
        "verify-blob",
        "--bundle",
        s(&bundle),
        "--certificate-identity",
        "alice@example.com",
        "--certificate-oidc-issuer",
        &iss,
        "--trusted-root",
        s(&dir.join("trusted_root.json")),
        s(&art),
    ]));
    ok(&py_verify(&dir, &bundle, "alice@example.com", &iss, &art));
    assert!(
        !py_verify(&dir, &bundle, "bob@example.com", &iss, &art)
            .status
            .success()
    );
    let other = tmp.path().join("b.txt");
    std::fs::write(&other, b"other\n").unwrap();
    assert!(
        !py_verify(&dir, &bundle, "alice@example.com", &iss, &other)
            .status
            .success()
    );

    // Attestation.
    let pred = tmp.path().join("pred.json");
    std::fs::write(&pred, br#"{"builder":"test"}"#).unwrap();
    let att = tmp.path().join("att.sigstore.json");
    ok(&run(&[
        "attest-blob",
        "--predicate",
        s(&pred),
        "--type",
        "https://example.com/pred/v1",
        "--identity-token",
        &tok,
        "--trust-config",
        s(&tc),
        "--bundle",
        s(&att),
        s(&art),
    ]));
    ok(&py_verify(&dir, &att, "alice@example.com", &iss, &art));
    assert!(
        !py_verify(&dir, &att, "alice@example.com", &iss, &other)
            .status
            .success()
    );
}

#[test]
fn conformance_sign_bundle_keyless_message_and_in_toto() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stack");
    let _stack = stack(&dir);
    let (tok, iss) = token(&dir, "carol@example.com");
    let art = tmp.path().join("a.txt");
    std::fs::write(&art, b"conformance\n").unwrap();
    let bundle = tmp.path().join("c.json");
    let tr = dir.join("trusted_root.json");
    let sc = dir.join("signing_config.json");
    ok(&run(&[
        "conformance",
        "sign-bundle",
        "--identity-token",
        &tok,
        "--bundle",
        s(&bundle),
        "--trusted-root",
        s(&tr),
        "--signing-config",
        s(&sc),
        s(&art),
    ]));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert!(v["messageSignature"].is_object() && v["dsseEnvelope"].is_null());
    // No root CA in the bundle: v0.3 carries the leaf only.
    assert!(v["verificationMaterial"]["certificate"]["rawBytes"].is_string());
    assert_eq!(
        v["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"],
        "0.0.2"
    );
    ok(&py_verify(&dir, &bundle, "carol@example.com", &iss, &art));

    // --in-toto: the file is a statement, signed exactly as given.
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"conformance\n"));
    let stmt = format!(
        "{{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{{\"name\":\"a.txt\",\
         \"digest\":{{\"sha256\":\"{digest}\"}}}}],\"predicateType\":\"https://example.com/x\",\
         \"predicate\":{{}}}}"
    );
    let stmt_file = tmp.path().join("statement.json");
    std::fs::write(&stmt_file, &stmt).unwrap();
    let dsse = tmp.path().join("d.json");
    ok(&run(&[
        "conformance",
        "sign-bundle",
        "--in-toto",
        "--identity-token",
        &tok,
        "--bundle",
        s(&dsse),
        "--trusted-root",
        s(&tr),
        "--signing-config",
        s(&sc),
        s(&stmt_file),
    ]));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&dsse).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    assert_eq!(payload, stmt.as_bytes());
    ok(&py_verify(&dir, &dsse, "carol@example.com", &iss, &art));

    // A token that is not a JWT is refused, and nothing is written.
    let none = tmp.path().join("none.json");
    let out = run(&[
        "conformance",
        "sign-bundle",
        "--identity-token",
        "not-a-token",
        "--bundle",
        s(&none),
        "--trusted-root",
        s(&tr),
        "--signing-config",
        s(&sc),
        s(&art),
    ]);
    assert!(!out.status.success());
    assert!(!none.exists());
}
