//! Every sigstore-conformance `bundle-verify` case through `chainseal conformance
//! verify-bundle`, in both forms the harness uses (artifact path and `sha256:` digest).
//!
//! Valid cases must exit 0. Each `_fail` case must exit non-zero with one stderr line
//! naming the check that its README says is violated — a verifier that rejects for the
//! wrong reason fails these tests.

use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/sigstore/conformance-assets/bundle-verify")
}

#[derive(Clone, Copy)]
enum Form {
    Path,
    Digest,
}

/// Run one case as the conformance harness does; returns (exit ok, stderr).
fn run_case(name: &str, form: Form) -> (bool, String) {
    let dir = cases_dir().join(name);
    let artifact = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        cases_dir().join("a.txt")
    };
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .ok()
            .map(|s| s.trim().to_string())
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainseal"));
    cmd.args(["conformance", "verify-bundle", "--bundle"])
        .arg(dir.join("bundle.sigstore.json"));
    if dir.join("key.pub").exists() {
        cmd.arg("--key").arg(dir.join("key.pub"));
    } else {
        cmd.args([
            "--certificate-identity",
            &read("identity").unwrap_or_else(|| DEFAULT_IDENTITY.into()),
        ]);
        cmd.args([
            "--certificate-oidc-issuer",
            &read("issuer").unwrap_or_else(|| DEFAULT_ISSUER.into()),
        ]);
    }
    if dir.join("trusted_root.json").exists() {
        cmd.arg("--trusted-root").arg(dir.join("trusted_root.json"));
    }
    match form {
        Form::Path => {
            cmd.arg(&artifact);
        }
        Form::Digest => {
            let bytes = std::fs::read(&artifact).unwrap();
            let digest = sha256_hex(&bytes);
            cmd.arg(format!("sha256:{digest}"));
        }
    }
    let out = cmd.output().expect("run chainseal");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    // openssl is a peer tool here: the digest form must not depend on our own hashing.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a");
    std::fs::write(&p, bytes).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(&p)
        .output()
        .expect("openssl is required");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn expect_pass(name: &str, form: Form) {
    let (ok, stderr) = run_case(name, form);
    assert!(ok, "{name}: expected success, got: {stderr}");
}

/// `checks`: the failure line must name one of these checks.
fn expect_fail(name: &str, form: Form, checks: &[&str]) {
    let (ok, stderr) = run_case(name, form);
    assert!(!ok, "{name}: expected rejection, but it verified");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{name}: want exactly one stderr line, got {stderr:?}"
    );
    assert!(
        checks.iter().any(|c| lines[0].contains(&format!("{c}: "))),
        "{name}: failure should name one of {checks:?}, got: {}",
        lines[0]
    );
}

macro_rules! cases {
    ($($test:ident => $name:literal : $expect:tt,)*) => {
        $(
            mod $test {
                use super::*;
                #[test]
                fn path() { cases!(@run $name, Form::Path, $expect); }
                #[test]
                fn digest() { cases!(@run $name, Form::Digest, $expect); }
            }
        )*
        const ALL_CASES: &[&str] = &[$($name),*];
        /// (case, expected to verify) as written in the table.
        const EXPECT: &[(&str, bool)] = &[$(($name, cases!(@passes $expect))),*];
    };
    (@passes pass) => { true };
    (@passes [$($check:literal),+]) => { false };
    (@run $name:expr, $form:expr, pass) => { expect_pass($name, $form) };
    (@run $name:expr, $form:expr, [$($check:literal),+]) => { expect_fail($name, $form, &[$($check),+]) };
}

cases! {
    bundle_empty_certificate_chain_fail => "bundle-empty-certificate-chain_fail": ["bundle format"],
    bundle_from_wrong_instance_fail => "bundle-from-wrong-instance_fail": ["tlog entry", "certificate chain"],
    bundle_invalid_base64_signature_fail => "bundle-invalid-base64-signature_fail": ["bundle format"],
    bundle_malformed_json_fail => "bundle-malformed-json_fail": ["bundle format"],
    bundle_unknown_version_fail => "bundle-unknown-version_fail": ["bundle format"],
    bundle_with_root_cert_fail => "bundle-with-root-cert_fail": ["certificate chain"],
    bundle_with_sct_with_extensions => "bundle-with-sct-with-extensions": pass,
    checkpoint_bad_keyhint_fail => "checkpoint-bad-keyhint_fail": ["checkpoint"],
    dsse_invalid_sig_fail => "dsse-invalid-sig_fail": ["signature"],
    dsse_mismatch_envelope_fail => "dsse-mismatch-envelope_fail": ["tlog entry"],
    happy_path_intoto_in_dsse_v3 => "happy-path-intoto-in-dsse-v3": pass,
    happy_path_v0_1 => "happy-path-v0.1": pass,
    happy_path_v0_3 => "happy-path-v0.3": pass,
    happy_path_v0_3_new_media_type => "happy-path-v0.3-new-mediaType": pass,
    inclusion_proof_corrupted_hash_fail => "inclusion-proof-corrupted-hash_fail": ["inclusion proof"],
    incorrect_public_key_fail => "incorrect-public-key_fail": ["tlog entry"],
    intoto_expired_certificate_fail => "intoto-expired-certificate_fail": ["certificate chain"],
    intoto_log_entry_mismatch_fail => "intoto-log-entry-mismatch_fail": ["tlog entry"],
    intoto_missing_inclusion_proof_fail => "intoto-missing-inclusion-proof_fail": ["inclusion proof"],
    intoto_set_outside_signing_cert_validity_fail => "intoto-set-outside-signing-cert-validity_fail": ["certificate chain"],
    intoto_with_custom_trust_root => "intoto-with-custom-trust-root": pass,
    invalid_checkpoint_signature_fail => "invalid-checkpoint-signature_fail": ["checkpoint"],
    invalid_ct_key_fail => "invalid-ct-key_fail": ["signed certificate timestamp"],
    invalid_inclusion_proof_fail => "invalid-inclusion-proof_fail": ["inclusion proof"],
    managed_key_and_trusted_root => "managed-key-and-trusted-root": pass,
    managed_key_happy_path => "managed-key-happy-path": pass,
    managed_key_no_key_fail => "managed-key-no-key_fail": ["key material"],
    managed_key_wrong_key_fail => "managed-key-wrong-key_fail": ["key"],
    message_digest_mismatch_fail => "message-digest-mismatch_fail": ["artifact"],
    rekor2_checkpoint_cosigned => "rekor2-checkpoint-cosigned": pass,
    rekor2_checkpoint_missing_log_signature_fail => "rekor2-checkpoint-missing-log-signature_fail": ["checkpoint"],
    rekor2_checkpoint_missing_origin_fail => "rekor2-checkpoint-missing-origin_fail": ["checkpoint"],
    rekor2_checkpoint_missing_root_hash_fail => "rekor2-checkpoint-missing-root-hash_fail": ["checkpoint"],
    rekor2_checkpoint_missing_size_fail => "rekor2-checkpoint-missing-size_fail": ["checkpoint"],
    rekor2_checkpoint_multiple_cosigs => "rekor2-checkpoint-multiple-cosigs": pass,
    rekor2_checkpoint_no_matching_signature_fail => "rekor2-checkpoint-no-matching-signature_fail": ["checkpoint"],
    rekor2_checkpoint_two_sigs_cosigned => "rekor2-checkpoint-two-sigs-cosigned": pass,
    rekor2_dsse_happy_path => "rekor2-dsse-happy-path": pass,
    rekor2_dsse_invalid_sig_fail => "rekor2-dsse-invalid-sig_fail": ["signature"],
    rekor2_dsse_mismatch_envelope_fail => "rekor2-dsse-mismatch-envelope_fail": ["tlog entry"],
    rekor2_dsse_mismatch_sig_fail => "rekor2-dsse-mismatch-sig_fail": ["tlog entry"],
    rekor2_happy_path => "rekor2-happy-path": pass,
    rekor2_no_inclusion_proof_fail => "rekor2-no-inclusion-proof_fail": ["inclusion proof"],
    rekor2_no_timestamp_fail => "rekor2-no-timestamp_fail": ["time"],
    rekor2_timestamp_outside_trust_root_tsa_validity_fail => "rekor2-timestamp-outside-trust-root-tsa-validity_fail": ["timestamp"],
    rekor2_timestamp_outside_tsa_cert_validity_fail => "rekor2-timestamp-outside-tsa-cert-validity_fail": ["timestamp"],
    rekor2_timestamp_payload_mismatch_fail => "rekor2-timestamp-payload-mismatch_fail": ["timestamp"],
    rekor2_timestamp_untrusted_tsa_with_embedded_cert_fail => "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail": ["timestamp"],
    rekor2_timestamp_with_embedded_cert => "rekor2-timestamp-with-embedded-cert": pass,
    rekor2_timestamp_with_expired_cert_chain => "rekor2-timestamp-with-expired-cert-chain": pass,
    rekor2_timestamp_with_incorrect_time_fail => "rekor2-timestamp-with-incorrect-time_fail": ["certificate chain"],
    set_invalid_signature_fail => "set-invalid-signature_fail": ["signed entry timestamp"],
    signature_mismatch_fail => "signature-mismatch_fail": ["signature"],
    trust_root_tlog_missing_validity_start_fail => "trust-root-tlog-missing-validity-start_fail": ["trusted root"],
    trust_root_tlog_validity_end_inclusive => "trust-root-tlog-validity-end-inclusive": pass,
    wrong_hashedrekord_artifact_fail => "wrong-hashedrekord-artifact_fail": ["tlog entry"],
    wrong_hashedrekord_entry_fail => "wrong-hashedrekord-entry_fail": ["tlog entry"],
    wrong_material_fail => "wrong-material_fail": ["artifact", "signature"],
}

/// A case directory without a named test above would silently go unchecked.
#[test]
fn every_case_directory_has_a_named_test() {
    let mut missing = vec![];
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if !ALL_CASES.contains(&name.as_str()) {
                missing.push(name);
            }
        }
    }
    assert!(missing.is_empty(), "cases without a test: {missing:?}");
}

/// The `_fail` suffix is the vector's verdict: the table above must agree with it.
#[test]
fn expectations_agree_with_case_names() {
    for (name, passes) in EXPECT {
        assert_eq!(
            *passes,
            !name.ends_with("_fail"),
            "{name}: table disagrees with the vector's verdict"
        );
    }
    assert!(ALL_CASES.len() >= 58, "only {} cases", ALL_CASES.len());
}
