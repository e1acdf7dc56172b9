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

#[test]
fn certificate_extension_flags_match_the_bcr_certificate_or_fail_naming_the_extension() {
    let out = bcr(
        "MODULE.bazel.intoto.jsonl",
        "github.com/aspect-build/rules_lint",
        &[
            "--certificate-source-repository-uri",
            "https://github.com/aspect-build/rules_lint",
            "--certificate-source-repository-digest",
            "8f70009fde0c94ade6ce2a054b94718c819126ec",
            "--certificate-source-repository-ref",
            "refs/heads/publish-to-bcr",
            "--certificate-build-trigger",
            "workflow_dispatch",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
        ],
        "MODULE.bazel",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (flag, value, name) in [
        ("--certificate-build-trigger", "push", "BuildTrigger"),
        (
            "--certificate-source-repository-ref",
            "refs/heads/main",
            "SourceRepositoryRef",
        ),
        (
            "--certificate-build-config-digest",
            "sha256:00",
            "BuildConfigDigest",
        ),
    ] {
        let out = bcr(
            "MODULE.bazel.intoto.jsonl",
            "github.com/aspect-build/rules_lint",
            &[flag, value],
            "MODULE.bazel",
        );
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("FAILED:") && err.contains(name) && err.contains(value),
            "{flag}: {err}"
        );
    }
    // GitHub provenance is signed by GitHub's issuer: pinning another fails.
    let out = bcr(
        "MODULE.bazel.intoto.jsonl",
        "github.com/aspect-build/rules_lint",
        &["--certificate-oidc-issuer", "https://issuer.example"],
        "MODULE.bazel",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("builder identity"));
}

#[test]
fn source_versioned_tag_matches_the_delegator_vector_by_semver_prefix() {
    let run = |v: &str| {
        chainseal()
            .args(["verify-provenance", "--provenance-path"])
            .arg(format!("{DIR}gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa"))
            .args([
                "--source-uri",
                "github.com/slsa-framework/example-package",
                "--builder-id",
                "https://github.com/slsa-framework/example-trw/.github/workflows/builder_high-perms_slsa3.yml",
                "--source-versioned-tag",
                v,
            ])
            .arg(format!("{DIR}gha_delegator/v2.1.0/binary-linux-amd64-push-v14"))
            .output()
            .unwrap()
    };
    let out = run("v14.0");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("v13");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("source versioned tag"));
}

const HAPPY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/sigstore/conformance-assets/bundle-verify/"
);

/// `verify-blob` (or `verify-blob-attestation`) on the conformance happy-path v0.3
/// bundle with the beacon identity and `extra` flags.
fn happy(extra: &[&str]) -> Output {
    chainseal()
        .args(["verify-blob", "--bundle"])
        .arg(format!("{HAPPY}happy-path-v0.3/bundle.sigstore.json"))
        .args([
            "--certificate-identity",
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
        ])
        .args(extra)
        .arg(format!("{HAPPY}a.txt"))
        .output()
        .unwrap()
}

#[test]
fn verify_blob_certificate_extension_flags_match_exactly() {
    let repo = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon";
    let wf =
        format!("{repo}/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main");
    let sha = "c7b3dfb335f051e1c86bda4c716fac97df62ad81";
    let out = happy(&[
        "--certificate-github-workflow-trigger",
        "workflow_dispatch",
        "--certificate-github-workflow-sha",
        sha,
        "--certificate-github-workflow-name",
        "Extremely dangerous OIDC beacon",
        "--certificate-github-workflow-repository",
        "sigstore-conformance/extremely-dangerous-public-oidc-beacon",
        "--certificate-github-workflow-ref",
        "refs/heads/main",
        "--certificate-build-signer-uri",
        &wf,
        "--certificate-build-signer-digest",
        sha,
        "--certificate-runner-environment",
        "github-hosted",
        "--certificate-source-repository-uri",
        repo,
        "--certificate-source-repository-digest",
        sha,
        "--certificate-source-repository-ref",
        "refs/heads/main",
        "--certificate-build-config-uri",
        &wf,
        "--certificate-build-config-digest",
        sha,
        "--certificate-build-trigger",
        "workflow_dispatch",
        "--certificate-run-invocation-uri",
        &format!("{repo}/actions/runs/8347481628/attempts/1"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (flag, name) in [
        (
            "--certificate-github-workflow-trigger",
            "GitHubWorkflowTrigger",
        ),
        ("--certificate-github-workflow-sha", "GitHubWorkflowSHA"),
        ("--certificate-github-workflow-name", "GitHubWorkflowName"),
        (
            "--certificate-github-workflow-repository",
            "GitHubWorkflowRepository",
        ),
        ("--certificate-github-workflow-ref", "GitHubWorkflowRef"),
        ("--certificate-build-signer-uri", "BuildSignerURI"),
        ("--certificate-build-signer-digest", "BuildSignerDigest"),
        ("--certificate-runner-environment", "RunnerEnvironment"),
        ("--certificate-source-repository-uri", "SourceRepositoryURI"),
        (
            "--certificate-source-repository-digest",
            "SourceRepositoryDigest",
        ),
        ("--certificate-source-repository-ref", "SourceRepositoryRef"),
        ("--certificate-build-config-uri", "BuildConfigURI"),
        ("--certificate-build-config-digest", "BuildConfigDigest"),
        ("--certificate-build-trigger", "BuildTrigger"),
        ("--certificate-run-invocation-uri", "RunInvocationURI"),
    ] {
        let out = happy(&[flag, "other-value"]);
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("verification failed: identity:")
                && err.contains(name)
                && err.contains("other-value"),
            "{flag}: {err}"
        );
    }
}

#[test]
fn key_with_certificate_flags_is_an_error() {
    for extra in [
        &[
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
        ][..],
        &["--certificate-oidc-issuer-regexp", "."][..],
        &["--certificate-build-trigger", "push"][..],
        &["--certificate-github-workflow-ref", "refs/heads/main"][..],
    ] {
        for cmd in ["verify-blob", "verify-blob-attestation"] {
            let out = chainseal()
                .args([cmd, "--bundle"])
                .arg(format!("{HAPPY}happy-path-v0.3/bundle.sigstore.json"))
                .args(["--key", "/nonexistent/key.pub"])
                .args(extra)
                .arg(format!("{HAPPY}a.txt"))
                .output()
                .unwrap();
            assert!(!out.status.success(), "{cmd} {extra:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("--key") && err.contains("cannot be combined"),
                "{cmd} {extra:?}: {err}"
            );
        }
    }
}

/// The pipeline file the factory envelope's provenance records.
const PIPELINE_FILE: &[u8] = b"name: hello\nsteps: []\n";
const FACTORY_ID: &str = "spiffe://chainseal.local/factory/hello";
const FACTORY_ISSUER: &str = "http://127.0.0.1:38555";
const FACTORY_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A factory-signed bare DSSE envelope (`.intoto.jsonl`) for `artifact`, from a chainseal
/// CA: certificate `spiffe://chainseal.local/factory/hello`, dev OIDC issuer, build
/// extensions binding the provenance (built from `git+https://github.com/o/r.git` at
/// `refs/tags/v1.0.0` with [`PIPELINE_FILE`]).
fn factory_envelope(dir: &std::path::Path, artifact: &[u8]) -> std::path::PathBuf {
    use base64::Engine as _;
    use chainseal_authority::{ca::Ca, certs, claims::BuildClaims, ct::CtLog, oidc::Identity};
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
    let identity = Identity {
        issuer: FACTORY_ISSUER.into(),
        subject: FACTORY_ID.into(),
        email: None,
        san: certs::San::Uri(FACTORY_ID.into()),
    };
    let pipeline = hex::encode(sha256(PIPELINE_FILE));
    let invocation = "6f1c2a4e-5b3d-4c8e-9a7f-1e2d3c4b5a69";
    let claims = serde_json::json!({
        "build_signer_uri": FACTORY_ID,
        "build_signer_digest": format!("sha256:{pipeline}"),
        "runner_environment": "chainseal-factory",
        "source_repository_uri": "git+https://github.com/o/r.git",
        "source_repository_digest": FACTORY_COMMIT,
        "source_repository_ref": "refs/tags/v1.0.0",
        "build_config_uri": "file:///work/hello/pipeline.yaml",
        "build_config_digest": format!("sha256:{pipeline}"),
        "build_trigger": "manual",
        "run_invocation_uri": format!("urn:uuid:{invocation}"),
    });
    let claims = BuildClaims::from_claims(claims.as_object().unwrap()).unwrap();
    let leaf = ca
        .issue_with_build_claims(leaf_key.public_key().spki_der(), &identity, &claims, now)
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
                    "pipeline": {"name": "hello", "path": "pipeline.yaml", "digest": {"sha256": pipeline}},
                    "source": {
                        "uri": "git+https://github.com/o/r.git@refs/tags/v1.0.0",
                        "digest": {"gitCommit": FACTORY_COMMIT, "sha256": "cd".repeat(32)},
                        "ref": "refs/tags/v1.0.0",
                    },
                },
            },
            "runDetails": {
                "builder": {"id": FACTORY_ID},
                "metadata": {"invocationId": invocation, "startedOn": "2026-01-01T00:00:00Z", "finishedOn": "2026-01-01T00:00:01Z"},
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
    std::fs::write(dir.join("pipeline.yaml"), PIPELINE_FILE).unwrap();
    path
}

/// `verify-provenance` of a fresh factory envelope with `flags` (source uri included).
fn factory(flags: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("hello");
    std::fs::write(&artifact, b"hello artifact").unwrap();
    let prov = factory_envelope(dir.path(), b"hello artifact");
    let flags: Vec<String> = flags
        .iter()
        .map(|f| f.replace("{dir}", &dir.path().display().to_string()))
        .collect();
    let out = chainseal()
        .args(["verify-provenance", "--provenance-path"])
        .arg(&prov)
        .args(["--source-uri", "github.com/o/r"])
        .args(&flags)
        .arg(&artifact)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, err)
}

#[test]
fn factory_provenance_without_builder_id_fails_naming_builder_id() {
    let (out, err) = factory(&[
        "--certificate-oidc-issuer",
        FACTORY_ISSUER,
        "--pipeline",
        "{dir}/pipeline.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
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
    // remaining failure once the builder, source, pipeline, extension and ref checks pass.
    let pipeline_digest = format!(
        "sha256:{}",
        hex::encode(chainseal_crypto::keys::sha256(PIPELINE_FILE))
    );
    for pipeline in [
        ["--pipeline", "{dir}/pipeline.yaml"],
        ["--pipeline-digest", pipeline_digest.as_str()],
    ] {
        let (out, err) = factory(&[
            "--source-tag",
            "v1.0.0",
            "--source-versioned-tag",
            "v1.0",
            "--builder-id",
            FACTORY_ID,
            "--certificate-oidc-issuer",
            FACTORY_ISSUER,
            pipeline[0],
            pipeline[1],
            "--certificate-build-trigger",
            "manual",
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            err.contains("FAILED:") && err.contains("signature:") && err.contains("Rekor entry"),
            "{err}"
        );
    }
}

#[test]
fn factory_provenance_without_pinned_issuer_or_pipeline_fails_naming_the_flag() {
    let (out, err) = factory(&[
        "--builder-id",
        FACTORY_ID,
        "--pipeline",
        "{dir}/pipeline.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("builder identity") && err.contains("--certificate-oidc-issuer"),
        "{err}"
    );
    let (out, err) = factory(&[
        "--builder-id",
        FACTORY_ID,
        "--certificate-oidc-issuer",
        "https://issuer.example",
        "--pipeline",
        "{dir}/pipeline.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("builder identity") && err.contains("https://issuer.example"),
        "{err}"
    );
    let (out, err) = factory(&[
        "--builder-id",
        FACTORY_ID,
        "--certificate-oidc-issuer",
        FACTORY_ISSUER,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("pipeline:") && err.contains("--pipeline"),
        "{err}"
    );
}

#[test]
fn factory_provenance_from_another_pipeline_or_ref_fails_naming_the_check() {
    let base = [
        "--builder-id",
        FACTORY_ID,
        "--certificate-oidc-issuer",
        FACTORY_ISSUER,
    ];
    let other = format!("sha256:{}", "ef".repeat(32));
    let (out, err) = factory(&[&base[..], &["--pipeline-digest", other.as_str()]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("pipeline:") && err.contains(&"ef".repeat(32)),
        "{err}"
    );
    let (out, err) = factory(&[&base[..], &["--pipeline-digest", "ef"]].concat());
    assert!(
        !out.status.success() && err.contains("--pipeline-digest"),
        "{err}"
    );
    let with_pipeline = [&base[..], &["--pipeline", "{dir}/pipeline.yaml"]].concat();
    let (out, err) = factory(&[&with_pipeline[..], &["--source-branch", "v1.0.0"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("source branch"), "{err}");
    let (out, err) = factory(&[&with_pipeline[..], &["--source-versioned-tag", "v2"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("source versioned tag"), "{err}");
    let (out, err) =
        factory(&[&with_pipeline[..], &["--certificate-build-trigger", "push"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("certificate extension") && err.contains("BuildTrigger"),
        "{err}"
    );
}
