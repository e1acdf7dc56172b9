//! Differential test against a verifier no one here wrote: for every sigstore-conformance
//! case that relies on the production trusted root, `chainseal verify-blob` and
//! sigstore-python 4.5.1 (`sigstore verify identity --offline`, installed in `.venv` by
//! scripts/setup-python-peers.sh) must reach the same verdict.

use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// sigstore-python's own conformance CI marks these as expected failures (it does not
/// support managed keys through `verify identity`); they are covered by tests/conformance.rs.
const PEER_UNSUPPORTED: &[&str] = &[
    "managed-key-happy-path",
    "managed-key-no-key_fail",
    "managed-key-wrong-key_fail",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sigstore_python() -> PathBuf {
    let p = repo().join(".venv/bin/sigstore");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-python-peers.sh",
        p.display()
    );
    p
}

#[test]
fn chainseal_and_sigstore_python_agree_on_every_production_root_case() {
    let cases = repo().join("../shared/vectors/sigstore/conformance-assets/bundle-verify");
    let peer = sigstore_python();
    let (mut compared, mut disagreements) = (0, vec![]);
    let mut names: Vec<_> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_dir() && !p.join("trusted_root.json").exists() && !p.join("key.pub").exists()
        })
        .collect();
    names.sort();
    for dir in names {
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        if PEER_UNSUPPORTED.contains(&name.as_str()) {
            continue;
        }
        let artifact = if dir.join("artifact").exists() {
            dir.join("artifact")
        } else {
            cases.join("a.txt")
        };
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let identity = read("identity").unwrap_or_else(|| DEFAULT_IDENTITY.into());
        let issuer = read("issuer").unwrap_or_else(|| DEFAULT_ISSUER.into());
        let bundle = dir.join("bundle.sigstore.json");
        // Like cosign, chainseal splits signatures and attestations into two commands;
        // sigstore-python's `verify identity` takes both.
        let is_dsse = std::fs::read_to_string(&bundle)
            .unwrap_or_default()
            .contains("\"dsseEnvelope\"");
        let sub = if is_dsse {
            "verify-blob-attestation"
        } else {
            "verify-blob"
        };
        let ours = Command::new(env!("CARGO_BIN_EXE_chainseal"))
            .args([sub, "--bundle"])
            .arg(&bundle)
            .args([
                "--certificate-identity",
                &identity,
                "--certificate-oidc-issuer",
                &issuer,
            ])
            .arg(&artifact)
            .output()
            .unwrap();
        let theirs = Command::new(&peer)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(&bundle)
            .args(["--cert-identity", &identity, "--cert-oidc-issuer", &issuer])
            .arg(&artifact)
            .output()
            .unwrap();
        compared += 1;
        if ours.status.success() != theirs.status.success() {
            disagreements.push(format!(
                "{name}: chainseal {} / sigstore-python {}\n  ours: {}\n  theirs: {}",
                ours.status.success(),
                theirs.status.success(),
                String::from_utf8_lossy(&ours.stderr).trim(),
                String::from_utf8_lossy(&theirs.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
    }
    assert!(compared >= 20, "only {compared} cases compared");
    assert!(
        disagreements.is_empty(),
        "verdicts differ:\n{}",
        disagreements.join("\n")
    );
}
