//! Every slsa-verifier testdata case, read in place, with the outcome the vectors README
//! expects; plus constructed negatives. Each negative asserts which check failed.

use chainseal_crypto::keys::{KeyKind, PrivateKey, PublicKey, sha256};
use chainseal_provenance::vsa::{self, VsaExpectations, VsaPolicy, VsaPredicate, VsaVerifier};
use chainseal_provenance::{Check, Options, verify_provenance};
use chainseal_verify::{TrustMaterial, Verifier};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/slsa/slsa-verifier-testdata/"
);
const GENERIC_V210_DIGEST: &str =
    "376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa";
const DELEGATOR_ID: &str =
    "https://github.com/slsa-framework/example-trw/.github/workflows/builder_high-perms_slsa3.yml";
const MAVEN_ID: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_maven_slsa3.yml";
const BCR_ID: &str =
    "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml";

fn read(p: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{p}")).unwrap()
}
fn verifier() -> Verifier {
    Verifier::new(TrustMaterial::public_good().unwrap())
}
fn opts(src: &str) -> Options {
    Options {
        source_uri: src.into(),
        ..Default::default()
    }
}
fn digest_hex(h: &str) -> [u8; 32] {
    hex::decode(h).unwrap().try_into().unwrap()
}
fn run(
    prov: &str,
    artifact: [u8; 32],
    o: &Options,
) -> Result<chainseal_provenance::Verified, chainseal_provenance::Error> {
    verify_provenance(&verifier(), &read(prov), artifact, o)
}
fn file_digest(p: &str) -> [u8; 32] {
    sha256(&read(p))
}
fn fails(r: Result<chainseal_provenance::Verified, chainseal_provenance::Error>, check: Check) {
    match r {
        Ok(_) => panic!("expected failure at {check}"),
        Err(e) => assert_eq!(e.check, check, "wrong check: {e}"),
    }
}

// ---- gha_generic v2.1.0 (bundle v0.3, generic generator) ----

#[test]
fn generic_generator_bundle_passes() {
    let v = run(
        "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
        digest_hex(GENERIC_V210_DIGEST),
        &opts("github.com/slsa-framework/example-package"),
    )
    .unwrap();
    assert_eq!(
        v.builder.id,
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0"
    );
    assert_eq!(v.builder.slsa_build_level(), 3);
}

#[test]
fn generic_generator_with_builder_id_with_and_without_ref_passes() {
    let base = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml";
    for b in [
        base.to_string(),
        format!("{base}@refs/tags/v2.1.0"),
        format!("{base}@v2.1.0"),
    ] {
        let o = Options {
            builder_id: Some(b),
            ..opts("https://github.com/slsa-framework/example-package")
        };
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest_hex(GENERIC_V210_DIGEST),
            &o,
        )
        .unwrap();
    }
}

#[test]
fn generic_generator_wrong_builder_id_fails_builder_id() {
    let o = Options { builder_id: Some("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml".into()), ..opts("github.com/slsa-framework/example-package") };
    fails(
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest_hex(GENERIC_V210_DIGEST),
            &o,
        ),
        Check::BuilderId,
    );
    let o = Options { builder_id: Some("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@v2.0.0".into()), ..opts("github.com/slsa-framework/example-package") };
    fails(
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest_hex(GENERIC_V210_DIGEST),
            &o,
        ),
        Check::BuilderId,
    );
}

#[test]
fn wrong_source_uri_fails_source_uri() {
    fails(
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest_hex(GENERIC_V210_DIGEST),
            &opts("github.com/slsa-framework/example-package2"),
        ),
        Check::SourceUri,
    );
    fails(
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest_hex(GENERIC_V210_DIGEST),
            &opts("github.com/evil/example-package"),
        ),
        Check::SourceUri,
    );
}

#[test]
fn branch_matches_certificate_ref() {
    let o = Options {
        source_branch: Some("main".into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    run(
        "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
        digest_hex(GENERIC_V210_DIGEST),
        &o,
    )
    .unwrap();
}

#[test]
fn wrong_branch_fails_source_branch() {
    let o = Options {
        source_branch: Some("release".into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    fails(
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest_hex(GENERIC_V210_DIGEST),
            &o,
        ),
        Check::SourceBranch,
    );
}

#[test]
fn tag_on_branch_build_fails_source_tag() {
    let o = Options {
        source_tag: Some("v14".into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    fails(
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest_hex(GENERIC_V210_DIGEST),
            &o,
        ),
        Check::SourceTag,
    );
}

#[test]
fn artifact_not_a_subject_fails_subject() {
    fails(
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            sha256(b"not the artifact"),
            &opts("github.com/slsa-framework/example-package"),
        ),
        Check::Subject,
    );
}

#[test]
fn tampered_provenance_payload_fails_signature() {
    let mut v: serde_json::Value = serde_json::from_slice(&read(
        "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
    ))
    .unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let tampered = String::from_utf8(payload).unwrap().replace(
        "example-package@refs/heads/main",
        "example-package@refs/heads/evil",
    );
    v["dsseEnvelope"]["payload"] = b64.encode(tampered).into();
    let r = verify_provenance(
        &verifier(),
        &serde_json::to_vec(&v).unwrap(),
        digest_hex(GENERIC_V210_DIGEST),
        &opts("github.com/slsa-framework/example-package"),
    );
    let e = r.unwrap_err();
    assert_eq!(e.check, Check::Signature, "{e}");
    assert_eq!(
        e.sigstore_check,
        Some(chainseal_verify::Check::Signature),
        "{e}"
    );
}

// ---- gha_delegator and gha_maven v2.1.0 (bundle v0.2, BYOB) ----

#[test]
fn delegator_with_builder_id_passes() {
    for b in [
        DELEGATOR_ID.to_string(),
        format!("{DELEGATOR_ID}@refs/tags/v2.1.0"),
    ] {
        let o = Options {
            builder_id: Some(b),
            source_tag: Some("v14".into()),
            ..opts("github.com/slsa-framework/example-package")
        };
        let v = run(
            "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
            file_digest("gha_delegator/v2.1.0/binary-linux-amd64-push-v14"),
            &o,
        )
        .unwrap();
        assert!(v.builder.id.starts_with(DELEGATOR_ID));
    }
}

#[test]
fn delegator_without_builder_id_fails_builder_id() {
    fails(
        run(
            "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
            file_digest("gha_delegator/v2.1.0/binary-linux-amd64-push-v14"),
            &opts("github.com/slsa-framework/example-package"),
        ),
        Check::BuilderId,
    );
}

#[test]
fn delegator_wrong_builder_id_fails_builder_id() {
    let o = Options {
        builder_id: Some(MAVEN_ID.into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    fails(
        run(
            "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
            file_digest("gha_delegator/v2.1.0/binary-linux-amd64-push-v14"),
            &o,
        ),
        Check::BuilderId,
    );
}

#[test]
fn delegator_tag_build_branch_from_base_ref_passes_and_wrong_tag_fails() {
    let o = Options {
        builder_id: Some(DELEGATOR_ID.into()),
        source_branch: Some("main".into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    run(
        "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
        file_digest("gha_delegator/v2.1.0/binary-linux-amd64-push-v14"),
        &o,
    )
    .unwrap();
    let o = Options {
        builder_id: Some(DELEGATOR_ID.into()),
        source_tag: Some("v13".into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    fails(
        run(
            "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
            file_digest("gha_delegator/v2.1.0/binary-linux-amd64-push-v14"),
            &o,
        ),
        Check::SourceTag,
    );
}

#[test]
fn maven_lowperms_delegator_passes() {
    let o = Options {
        builder_id: Some(MAVEN_ID.into()),
        source_tag: Some("v14".into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    run(
        "gha_maven/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
        file_digest("gha_maven/v2.1.0/binary-linux-amd64-push-v14"),
        &o,
    )
    .unwrap();
}

#[test]
fn maven_artifact_swapped_fails_subject() {
    let o = Options {
        builder_id: Some(MAVEN_ID.into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    fails(
        run(
            "gha_maven/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
            file_digest("gha_delegator/v2.1.0/binary-linux-amd64-push-v14"),
            &o,
        ),
        Check::Subject,
    );
}

// ---- bcr (GitHub attest action in the publish-to-bcr reusable workflow) ----

#[test]
fn bcr_named_builder_passes() {
    let o = Options {
        builder_id: Some(BCR_ID.into()),
        source_branch: Some("publish-to-bcr".into()),
        ..opts("github.com/aspect-build/rules_lint")
    };
    let v = run(
        "bcr/MODULE.bazel.intoto.jsonl",
        file_digest("bcr/MODULE.bazel"),
        &o,
    )
    .unwrap();
    assert_eq!(v.builder.kind, chainseal_provenance::BuilderKind::Named);
}

#[test]
fn bcr_without_builder_id_fails_builder_identity() {
    fails(
        run(
            "bcr/MODULE.bazel.intoto.jsonl",
            file_digest("bcr/MODULE.bazel"),
            &opts("github.com/aspect-build/rules_lint"),
        ),
        Check::BuilderIdentity,
    );
}

#[test]
fn bcr_wrong_signer_fails_builder_identity() {
    let o = Options {
        builder_id: Some(BCR_ID.into()),
        ..opts("github.com/aspect-build/rules_lint")
    };
    fails(
        run(
            "bcr/MODULE-wrong-signer.bazel.intoto.jsonl",
            file_digest("bcr/MODULE-wrong-signer.bazel"),
            &o,
        ),
        Check::BuilderIdentity,
    );
}

// ---- bare DSSE envelopes with an embedded certificate (2023, no Rekor entry) ----

#[test]
fn untrusted_builder_fails_builder_identity() {
    let r = run(
        "binary-linux-amd64-untrusted-builder.intoto.jsonl",
        digest_hex("b01c4f22b92c57fe1c94ba99b568e8d704bbf544882784b5b8c765fc32e627c4"),
        &opts("github.com/asraa/slsa-on-github-test"),
    );
    fails(r, Check::BuilderIdentity);
}

#[test]
fn bare_envelope_trusted_builder_is_rejected_offline_for_lack_of_log_entry() {
    // Trusted builder (v1.2.2 tag): every SLSA check passes, but without a Rekor entry
    // the signing time cannot be proven offline.
    let o = Options {
        source_tag: Some("v1.5.0".into()),
        ..opts("github.com/asraa/slsa-on-github-test")
    };
    let e = run(
        "annotated-tag.intoto.jsonl",
        file_digest("annotated-tag"),
        &o,
    )
    .unwrap_err();
    assert_eq!(e.check, Check::Signature, "{e}");
    assert_eq!(
        e.sigstore_check,
        Some(chainseal_verify::Check::TlogEntry),
        "{e}"
    );
}

#[test]
fn bare_envelope_wrong_tag_fails_source_tag() {
    let o = Options {
        source_tag: Some("v1.4.0".into()),
        ..opts("github.com/asraa/slsa-on-github-test")
    };
    fails(
        run(
            "annotated-tag.intoto.jsonl",
            file_digest("annotated-tag"),
            &o,
        ),
        Check::SourceTag,
    );
}

#[test]
fn multi_subject_each_artifact_reaches_log_check() {
    let o = Options {
        allow_e2e_main_ref: true,
        ..opts("github.com/slsa-framework/example-package")
    };
    for (prov, art) in [
        (
            "binary-linux-amd64-multi-subject-first.intoto.jsonl",
            "binary-linux-amd64-multi-subject-first",
        ),
        (
            "binary-linux-amd64-multi-subject-second.intoto.jsonl",
            "binary-linux-amd64-multi-subject-second",
        ),
    ] {
        let e = run(prov, file_digest(art), &o).unwrap_err();
        assert_eq!(
            e.sigstore_check,
            Some(chainseal_verify::Check::TlogEntry),
            "{e}"
        );
    }
}

#[test]
fn multi_subject_main_ref_builder_fails_without_testing_mode() {
    fails(
        run(
            "binary-linux-amd64-multi-subject-first.intoto.jsonl",
            file_digest("binary-linux-amd64-multi-subject-first"),
            &opts("github.com/slsa-framework/example-package"),
        ),
        Check::BuilderIdentity,
    );
}

#[test]
fn multi_subject_non_subject_fails_subject() {
    let o = Options {
        allow_e2e_main_ref: true,
        ..opts("github.com/slsa-framework/example-package")
    };
    fails(
        run(
            "binary-linux-amd64-multi-subject-first.intoto.jsonl",
            sha256(b"artifact4\n"),
            &o,
        ),
        Check::Subject,
    );
}

// ---- VSA ----

fn vsa_expect() -> VsaExpectations {
    VsaExpectations {
        subject_digests: vec![("gce_image_id".into(), "8970095005306000053".into())],
        verifier_id: "https://bcid.corp.google.com/verifier/bcid_package_enforcer/v0.1".into(),
        resource_uri:
            "gce_image://gke-node-images:gke-12615-gke1418000-cos-101-17162-463-29-c-cgpv1-pre"
                .into(),
        verified_levels: vec!["BCID_L1".into(), "SLSA_BUILD_LEVEL_2".into()],
    }
}
fn vsa_key() -> PublicKey {
    PublicKey::from_pem(
        std::str::from_utf8(&read("vsa/gce/v1/vsa_signing_public_key.pem")).unwrap(),
    )
    .unwrap()
}

#[test]
fn vsa_vector_verifies_with_its_key() {
    let mut e = vsa_expect();
    e.verified_levels = vec!["SLSA_BUILD_LEVEL_1".into()];
    vsa::verify_vsa(
        &read("vsa/gce/v1/gke-gce-pre.bcid-vsa.jsonl"),
        &vsa_key(),
        &e,
    )
    .unwrap();
    vsa::verify_vsa(
        &read("vsa/gce/v1/gke-gce-pre.bcid-vsa.jsonl"),
        &vsa_key(),
        &vsa_expect(),
    )
    .unwrap();
}

#[test]
fn vsa_vector_rejects_higher_level_wrong_verifier_and_other_key() {
    let bytes = read("vsa/gce/v1/gke-gce-pre.bcid-vsa.jsonl");
    let mut e = vsa_expect();
    e.verified_levels = vec!["SLSA_BUILD_LEVEL_3".into()];
    assert_eq!(
        vsa::verify_vsa(&bytes, &vsa_key(), &e).unwrap_err().check,
        Check::Vsa
    );
    let mut e = vsa_expect();
    e.verifier_id = "https://example.com/other".into();
    assert_eq!(
        vsa::verify_vsa(&bytes, &vsa_key(), &e).unwrap_err().check,
        Check::Vsa
    );
    let other = PrivateKey::generate(KeyKind::EcdsaP256)
        .unwrap()
        .public_key();
    assert!(
        vsa::verify_vsa(&bytes, &other, &vsa_expect())
            .unwrap_err()
            .reason
            .contains("signature")
    );
}

#[test]
fn emitted_vsa_round_trips_and_tampering_fails() {
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let pred = VsaPredicate {
        verifier: VsaVerifier {
            id: "https://chainseal.dev/verifier".into(),
            version: None,
        },
        time_verified: vsa::now_rfc3339(),
        resource_uri: "file://a".into(),
        policy: VsaPolicy {
            uri: Some("https://chainseal.dev/policy".into()),
            digest: None,
        },
        input_attestations: vec![],
        verification_result: "PASSED".into(),
        verified_levels: vec!["SLSA_BUILD_LEVEL_3".into()],
        dependency_levels: None,
        slsa_version: Some("1.0".into()),
    };
    let d = "ab".repeat(32);
    let st = vsa::vsa_statement(&[("a".into(), d.clone())], &pred).unwrap();
    let env = vsa::sign_statement(st, &key, None).unwrap();
    let exp = VsaExpectations {
        subject_digests: vec![("sha256".into(), d)],
        verifier_id: "https://chainseal.dev/verifier".into(),
        resource_uri: "file://a".into(),
        verified_levels: vec!["SLSA_BUILD_LEVEL_2".into()],
    };
    vsa::verify_vsa(&env.to_json(), &key.public_key(), &exp).unwrap();
    let mut bad = env.clone();
    bad.payload = String::from_utf8(bad.payload)
        .unwrap()
        .replace("PASSED", "FAILED")
        .into_bytes();
    assert_eq!(
        vsa::verify_vsa(&bad.to_json(), &key.public_key(), &exp)
            .unwrap_err()
            .check,
        Check::Vsa
    );
}

// ---- --source-versioned-tag (slsa-verifier's semver prefix match) ----

fn versioned(v: &str) -> Options {
    Options {
        builder_id: Some(DELEGATOR_ID.into()),
        source_versioned_tag: Some(v.into()),
        ..opts("github.com/slsa-framework/example-package")
    }
}

#[test]
fn versioned_tag_prefix_of_the_built_tag_passes() {
    // The delegator vector was built from refs/tags/v14 (v14.0.0 in semver terms).
    for v in ["v14", "v14.0", "v14.0.0", "14"] {
        run(
            "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
            file_digest("gha_delegator/v2.1.0/binary-linux-amd64-push-v14"),
            &versioned(v),
        )
        .unwrap_or_else(|e| panic!("{v}: {e}"));
    }
    let o = Options {
        builder_id: Some(MAVEN_ID.into()),
        ..versioned("v14")
    };
    run(
        "gha_maven/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
        file_digest("gha_maven/v2.1.0/binary-linux-amd64-push-v14"),
        &o,
    )
    .unwrap();
}

#[test]
fn versioned_tag_disagreeing_with_the_built_tag_fails_source_versioned_tag() {
    for v in [
        "v13",
        "v15",
        "v1",
        "v14.1",
        "v14.0.1",
        "v14.0.0-rc.1",
        "latest",
        "",
    ] {
        fails(
            run(
                "gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa",
                file_digest("gha_delegator/v2.1.0/binary-linux-amd64-push-v14"),
                &versioned(v),
            ),
            Check::SourceVersionedTag,
        );
    }
    // A branch build (workflow_dispatch on main) has no tag.
    let o = Options {
        source_versioned_tag: Some("v1".into()),
        ..opts("github.com/slsa-framework/example-package")
    };
    fails(
        run(
            "gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
            digest_hex(GENERIC_V210_DIGEST),
            &o,
        ),
        Check::SourceVersionedTag,
    );
}

#[test]
fn versioned_tag_on_bare_envelope_passes_the_slsa_checks_or_fails_them() {
    // annotated-tag was built from refs/tags/v1.5.0; offline it can only be rejected, for
    // the missing log entry when the tag matches, for the tag when it does not.
    for v in ["v1", "v1.5", "v1.5.0"] {
        let o = Options {
            source_versioned_tag: Some(v.into()),
            ..opts("github.com/asraa/slsa-on-github-test")
        };
        let e = run(
            "annotated-tag.intoto.jsonl",
            file_digest("annotated-tag"),
            &o,
        )
        .unwrap_err();
        assert_eq!(e.check, Check::Signature, "{v}: {e}");
    }
    for v in ["v1.4", "v2", "v1.5.1"] {
        let o = Options {
            source_versioned_tag: Some(v.into()),
            ..opts("github.com/asraa/slsa-on-github-test")
        };
        fails(
            run(
                "annotated-tag.intoto.jsonl",
                file_digest("annotated-tag"),
                &o,
            ),
            Check::SourceVersionedTag,
        );
    }
}
