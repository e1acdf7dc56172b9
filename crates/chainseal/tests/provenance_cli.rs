//! `chainseal verify-provenance` end to end (needs the subcommand wired in main.rs).

use std::process::Command;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/slsa/slsa-verifier-testdata/"
);

fn chainseal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainseal"))
}

#[test]
fn bcr_named_builder_passes_and_prints_provenance() {
    let out = chainseal()
        .args(["verify-provenance", "--provenance-path"])
        .arg(format!("{DIR}bcr/MODULE.bazel.intoto.jsonl"))
        .args([
            "--source-uri",
            "github.com/aspect-build/rules_lint",
            "--builder-id",
            "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml",
            "--print-provenance",
        ])
        .arg(format!("{DIR}bcr/MODULE.bazel"))
        .output()
        .unwrap();
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
    let out = chainseal()
        .args(["verify-provenance", "--provenance-path"])
        .arg(format!("{DIR}bcr/MODULE-wrong-signer.bazel.intoto.jsonl"))
        .args([
            "--source-uri",
            "github.com/aspect-build/rules_lint",
            "--builder-id",
            "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml",
        ])
        .arg(format!("{DIR}bcr/MODULE-wrong-signer.bazel"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FAILED:") && err.contains("builder identity"),
        "{err}"
    );
}

#[test]
fn wrong_source_uri_fails_naming_source_uri() {
    let out = chainseal()
        .args(["verify-provenance", "--provenance-path"])
        .arg(format!("{DIR}bcr/MODULE.bazel.intoto.jsonl"))
        .args([
            "--source-uri",
            "github.com/evil/rules_lint",
            "--builder-id",
            "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml",
        ])
        .arg(format!("{DIR}bcr/MODULE.bazel"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("source uri"));
}
