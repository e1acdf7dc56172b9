//! `chainseal verify-provenance` end to end (needs the subcommand wired in main.rs).

use std::process::{Command, Output};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/slsa/slsa-verifier-testdata/"
);

fn chainseal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainseal"))
}

const BCR_BUILDER: &str =
    "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml";

/// `verify-provenance` on a BCR vector: `provenance` and `artifact` under `bcr/`, the
/// named builder, `source_uri`, and any `extra` flags.
fn bcr(provenance: &str, source_uri: &str, extra: &[&str], artifact: &str) -> Output {
    chainseal()
        .args(["verify-provenance", "--provenance-path"])
        .arg(format!("{DIR}bcr/{provenance}"))
        .args(["--source-uri", source_uri, "--builder-id", BCR_BUILDER])
        .args(extra)
        .arg(format!("{DIR}bcr/{artifact}"))
        .output()
        .unwrap()
}

#[test]
fn bcr_named_builder_passes_and_prints_provenance() {
    let out = bcr(
        "MODULE.bazel.intoto.jsonl",
        "github.com/aspect-build/rules_lint",
        &["--print-provenance"],
        "MODULE.bazel",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("PASSED: SLSA verification passed"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("https://slsa.dev/provenance/v1"));
}

#[test]
fn bcr_wrong_signer_fails_naming_builder_identity() {
    let out = bcr(
        "MODULE-wrong-signer.bazel.intoto.jsonl",
        "github.com/aspect-build/rules_lint",
        &[],
        "MODULE-wrong-signer.bazel",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FAILED:") && err.contains("builder identity"),
        "{err}"
    );
}

#[test]
fn wrong_source_uri_fails_naming_source_uri() {
    let out = bcr(
        "MODULE.bazel.intoto.jsonl",
        "github.com/evil/rules_lint",
        &[],
        "MODULE.bazel",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("source uri"));
}

#[test]
fn json_output_reports_builder_kind_level_and_source() {
    let out = bcr(
        "MODULE.bazel.intoto.jsonl",
        "github.com/aspect-build/rules_lint",
        &["--json"],
        "MODULE.bazel",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "Verified build using builder https://github.com/bazel-contrib/publish-to-bcr/"
        ) && err.contains("SLSA Build L2"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &v["verified"][0];
    assert_eq!(first["builderKind"], "named");
    assert_eq!(first["slsaBuildLevel"], 2);
    assert_eq!(
        first["sourceUri"],
        "git+https://github.com/aspect-build/rules_lint"
    );
    assert_eq!(first["sha256"].as_str().map(str::len), Some(64), "{first}");
    assert!(
        first["builderId"]
            .as_str()
            .is_some_and(|b| b.starts_with("https://github.com/bazel-contrib/publish-to-bcr/")),
        "{first}"
    );
}

#[test]
fn json_output_prints_nothing_when_verification_fails() {
    let out = bcr(
        "MODULE.bazel.intoto.jsonl",
        "github.com/evil/rules_lint",
        &["--json"],
        "MODULE.bazel",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("FAILED:")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("source uri"), "{err}");
}

/// A factory-signed bare DSSE envelope (`.intoto.jsonl`) for `artifact`, from a chainseal
/// CA: certificate `spiffe://chainseal.local/factory/hello`, dev OIDC issuer.
fn factory_envelope(dir: &std::path::Path, artifact: &[u8]) -> std::path::PathBuf {
    use base64::Engine as _;
    use chainseal_authority::{ca::Ca, certs, ct::CtLog, oidc::Identity};
    use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
    let b64 = base64::engine::general_purpose::STANDARD;
    let p256 = || PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let (root_key, int_key, leaf_key) = (p256(), p256(), p256());
    let root = certs::self_signed_ca(&root_key, "CN=test root", now - 60, 1).unwrap();
    let int = certs::intermediate_ca(
        &int_key,
        "CN=test intermediate",
        &root,
        &root_key,
        now - 60,
        Some(certs::OID_KP_CODE_SIGNING),
    )
    .unwrap();
    let ca = Ca::new(
        root,
        int,
        int_key,
        std::sync::Arc::new(CtLog::new(p256()).unwrap()),
    )
    .unwrap();
    let id = "spiffe://chainseal.local/factory/hello";
    let identity = Identity {
        issuer: "http://127.0.0.1:38555".into(),
        subject: id.into(),
        email: None,
        san: certs::San::Uri(id.into()),
    };
    let leaf = ca
        .issue(leaf_key.public_key().spki_der(), &identity, now)
        .unwrap()
        .leaf;
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "hello", "digest": {"sha256": hex::encode(sha256(artifact))}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://chainseal.dev/factory/v1",
                "externalParameters": {
                    "pipeline": {"name": "hello", "path": "pipeline.yaml", "digest": {"sha256": "ab".repeat(32)}},
                    "source": {"uri": "git+https://github.com/o/r.git@v1.0.0", "digest": {"sha256": "cd".repeat(32)}},
                },
            },
            "runDetails": {
                "builder": {"id": id},
                "metadata": {"invocationId": "1", "startedOn": "2026-01-01T00:00:00Z", "finishedOn": "2026-01-01T00:00:01Z"},
            },
        },
    });
    let payload = serde_json::to_vec(&statement).unwrap();
    let payload_type = "application/vnd.in-toto+json";
    // DSSE pre-authentication encoding (DSSE spec, protocol.md).
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(&payload);
    let line = serde_json::json!({
        "payloadType": payload_type,
        "payload": b64.encode(&payload),
        "signatures": [{"sig": b64.encode(leaf_key.sign(&pae).unwrap()), "cert": certs::pem(&leaf)}],
    });
    let path = dir.join("hello.intoto.jsonl");
    std::fs::write(&path, format!("{line}\n")).unwrap();
    path
}

#[test]
fn factory_provenance_without_builder_id_fails_naming_builder_id() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("hello");
    std::fs::write(&artifact, b"hello artifact").unwrap();
    let prov = factory_envelope(dir.path(), b"hello artifact");
    let out = chainseal()
        .args(["verify-provenance", "--provenance-path"])
        .arg(&prov)
        .args(["--source-uri", "github.com/o/r"])
        .arg(&artifact)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("FAILED:")).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("builder id") && err.contains("--builder-id is required"),
        "{err}"
    );
}

#[test]
fn factory_provenance_with_its_builder_id_passes_every_factory_rule_and_needs_a_log_entry() {
    // Offline, a bare envelope has no log entry to prove its signing time: the one
    // remaining failure once the builder, source and subject checks pass.
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("hello");
    std::fs::write(&artifact, b"hello artifact").unwrap();
    let prov = factory_envelope(dir.path(), b"hello artifact");
    let out = chainseal()
        .args(["verify-provenance", "--provenance-path"])
        .arg(&prov)
        .args([
            "--source-uri",
            "github.com/o/r",
            "--source-tag",
            "v1.0.0",
            "--builder-id",
            "spiffe://chainseal.local/factory/hello",
        ])
        .arg(&artifact)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FAILED:") && err.contains("signature:") && err.contains("Rekor entry"),
        "{err}"
    );
}
