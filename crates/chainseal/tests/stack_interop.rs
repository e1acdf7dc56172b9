//! `chainseal stack` against a client no one here wrote: sigstore-python 4.5.1 (installed
//! in `<repo>/.venv` by scripts/setup-python-peers.sh) signs with the stack's client trust
//! config and a development-issuer token; `chainseal verify-blob` and `sigstore verify
//! identity` accept the bundle, and refuse it for another identity or another artifact.
//! Also: the stack's trusted root loads in `chainseal_verify`, and rotation keeps old keys
//! with a closed `validFor`. These tests FAIL (never skip) when the venv is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chainseal_testkit::process::Proc;

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sigstore_bin() -> PathBuf {
    let p = repo().join(".venv/bin/sigstore");
    assert!(
        p.exists(),
        "sigstore-python is missing at {}: run scripts/setup-python-peers.sh (installs sigstore 4.5.1 in <repo>/.venv)",
        p.display()
    );
    p
}

fn start_stack(dir: &Path) -> Proc {
    chainseal_testkit::process::start_stack(BIN, dir)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running a command")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn token(dir: &Path, subject: &str) -> String {
    ok(
        &run(Command::new(BIN)
            .args(["authority", "token", "--dir"])
            .arg(dir.join("authority"))
            .args(["--subject", subject, "--audience", "sigstore"])),
        "chainseal authority token",
    )
}

fn verify_blob(dir: &Path, bundle: &Path, identity: &str, issuer: &str, file: &Path) -> Output {
    run(Command::new(BIN)
        .arg("verify-blob")
        .arg("--bundle")
        .arg(bundle)
        .arg("--trusted-root")
        .arg(dir.join("trusted_root.json"))
        .args([
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
        ])
        .arg(file))
}

#[test]
fn sigstore_python_signs_against_the_stack_and_chainseal_verifies_the_bundle() {
    let sigstore = sigstore_bin();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stack");
    let _stack = start_stack(&dir);
    let issuer = std::fs::read_to_string(dir.join("authority/url")).unwrap();
    let issuer = issuer.trim();
    let identity = "release-bot@example.com";
    let file = tmp.path().join("artifact.txt");
    std::fs::write(&file, b"chainseal interop artifact\n").unwrap();
    let bundle = tmp.path().join("artifact.sigstore.json");

    let tok = token(&dir, identity);
    ok(
        &run(Command::new(&sigstore)
            .arg("--trust-config")
            .arg(dir.join("client_trust_config.json"))
            .args(["sign", "--identity-token", &tok, "--bundle"])
            .arg(&bundle)
            .arg(&file)),
        "sigstore sign",
    );

    ok(
        &verify_blob(&dir, &bundle, identity, issuer, &file),
        "chainseal verify-blob",
    );
    ok(
        &run(Command::new(&sigstore)
            .arg("--trust-config")
            .arg(dir.join("client_trust_config.json"))
            .args([
                "verify",
                "identity",
                "--cert-identity",
                identity,
                "--cert-oidc-issuer",
                issuer,
                "--bundle",
            ])
            .arg(&bundle)
            .arg(&file)),
        "sigstore verify identity",
    );

    // Negatives: another identity, another issuer, another artifact.
    assert!(
        !verify_blob(&dir, &bundle, "mallory@example.com", issuer, &file)
            .status
            .success()
    );
    assert!(
        !verify_blob(
            &dir,
            &bundle,
            identity,
            "https://accounts.google.com",
            &file
        )
        .status
        .success()
    );
    let other = tmp.path().join("other.txt");
    std::fs::write(&other, b"tampered\n").unwrap();
    assert!(
        !verify_blob(&dir, &bundle, identity, issuer, &other)
            .status
            .success()
    );
}

#[test]
fn stack_trusted_root_loads_in_chainseal_verify_and_rotation_closes_old_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stack");
    {
        let _stack = start_stack(&dir);
    }
    let root = std::fs::read(dir.join("trusted_root.json")).unwrap();
    chainseal_verify::TrustMaterial::from_json(&root).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&root).unwrap();
    let stack: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("stack.json")).unwrap()).unwrap();
    assert_eq!(
        v["tlogs"][0]["baseUrl"],
        format!("http://127.0.0.1:{}", stack["log"]).as_str()
    );
    for k in ["certificateAuthorities", "ctlogs", "timestampAuthorities"] {
        assert_eq!(v[k].as_array().unwrap().len(), 1, "{k}");
    }
    let sc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("signing_config.json")).unwrap()).unwrap();
    assert_eq!(
        sc["mediaType"],
        "application/vnd.dev.sigstore.signingconfig.v0.2+json"
    );
    assert_eq!(sc["rekorTlogUrls"][0]["majorApiVersion"], 2);

    for what in ["ca", "tsa", "ct"] {
        ok(
            &run(Command::new(BIN)
                .args(["stack", "rotate", "--dir"])
                .arg(&dir)
                .arg(what)),
            "stack rotate",
        );
    }
    let root = std::fs::read(dir.join("trusted_root.json")).unwrap();
    chainseal_verify::TrustMaterial::from_json(&root).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&root).unwrap();
    for k in ["certificateAuthorities", "timestampAuthorities"] {
        let list = v[k].as_array().unwrap();
        assert_eq!(list.len(), 2, "{k}");
        assert!(
            list[0]["validFor"]["end"].is_string(),
            "old {k} window is closed"
        );
        assert!(
            list[1]["validFor"]["end"].is_null(),
            "new {k} window is open"
        );
    }
    let cts = v["ctlogs"].as_array().unwrap();
    assert!(cts[0]["publicKey"]["validFor"]["end"].is_string());
    assert_ne!(cts[0]["logId"], cts[1]["logId"]);
    // The log cannot be rotated in place: refused with a reason.
    let out = run(Command::new(BIN)
        .args(["stack", "rotate", "--dir"])
        .arg(&dir)
        .arg("log"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard"));
}
