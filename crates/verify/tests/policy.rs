//! Identity policy, artifact binding and trust-root selection, on real bundles.

use chainseal_verify::{Artifact, Check, Matcher, Policy, TrustMaterial, Verifier};

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/sigstore/conformance-assets/bundle-verify"
);
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn bundle(case: &str) -> Vec<u8> {
    std::fs::read(format!("{CASES}/{case}/bundle.sigstore.json")).unwrap()
}

fn a_txt() -> Vec<u8> {
    std::fs::read(format!("{CASES}/a.txt")).unwrap()
}

fn prod() -> Verifier {
    Verifier::new(TrustMaterial::public_good().unwrap())
}

fn policy(identity: Matcher, issuer: Matcher) -> Policy {
    Policy::Identity {
        identity,
        issuer,
        extensions: Vec::new(),
    }
}

fn exact() -> Policy {
    policy(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
    )
}

#[test]
fn accepts_exact_identity_and_issuer() {
    let r = prod()
        .verify_json(
            &bundle("happy-path-v0.3"),
            Artifact::Bytes(&a_txt()),
            &exact(),
        )
        .unwrap();
    assert!(
        r.signer
            .subject_alternative_names
            .iter()
            .any(|s| s == IDENTITY)
    );
    assert_eq!(r.signer.issuer.as_deref(), Some(ISSUER));
}

#[test]
fn rejects_other_identity() {
    let p = policy(
        Matcher::Exact(format!("{IDENTITY}x")),
        Matcher::Exact(ISSUER.into()),
    );
    let err = prod()
        .verify_json(&bundle("happy-path-v0.3"), Artifact::Bytes(&a_txt()), &p)
        .unwrap_err();
    assert_eq!(err.check, Check::Identity, "{err}");
}

#[test]
fn rejects_other_issuer() {
    let p = policy(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact("https://accounts.google.com".into()),
    );
    let err = prod()
        .verify_json(&bundle("happy-path-v0.3"), Artifact::Bytes(&a_txt()), &p)
        .unwrap_err();
    assert_eq!(err.check, Check::Identity, "{err}");
}

#[test]
fn accepts_matching_identity_regex_and_rejects_non_matching() {
    let ok = policy(
        Matcher::regex("^https://github.com/sigstore-conformance/").unwrap(),
        Matcher::regex("^https://token\\.actions\\.githubusercontent\\.com$").unwrap(),
    );
    prod()
        .verify_json(&bundle("happy-path-v0.3"), Artifact::Bytes(&a_txt()), &ok)
        .unwrap();
    let bad = policy(
        Matcher::regex("^https://github.com/someone-else/").unwrap(),
        Matcher::Exact(ISSUER.into()),
    );
    let err = prod()
        .verify_json(&bundle("happy-path-v0.3"), Artifact::Bytes(&a_txt()), &bad)
        .unwrap_err();
    assert_eq!(err.check, Check::Identity);
}

#[test]
fn digest_form_and_bytes_form_agree() {
    let digest: [u8; 32] = chainseal_crypto::keys::sha256(&a_txt());
    for case in [
        "happy-path-v0.3",
        "happy-path-v0.1",
        "happy-path-intoto-in-dsse-v3",
    ] {
        prod()
            .verify_json(&bundle(case), Artifact::Bytes(&a_txt()), &exact())
            .unwrap();
        prod()
            .verify_json(&bundle(case), Artifact::Sha256(digest), &exact())
            .unwrap();
        let mut other = digest;
        other[0] ^= 1;
        assert!(
            prod()
                .verify_json(&bundle(case), Artifact::Sha256(other), &exact())
                .is_err(),
            "{case}"
        );
    }
}

#[test]
fn rejects_attestation_whose_subject_is_not_the_artifact() {
    let r = prod()
        .verify_json(
            &bundle("happy-path-intoto-in-dsse-v3"),
            Artifact::Bytes(&a_txt()),
            &exact(),
        )
        .unwrap();
    assert_eq!(r.content, "dsse");
    let err = prod()
        .verify_json(
            &bundle("happy-path-intoto-in-dsse-v3"),
            Artifact::Bytes(b"not the subject"),
            &exact(),
        )
        .unwrap_err();
    assert_eq!(err.check, Check::Artifact, "{err}");
}

#[test]
fn rejects_production_bundle_under_a_foreign_trusted_root() {
    // The rekor2 cases ship the staging root: a production bundle must not verify under it.
    let staging = std::fs::read(format!("{CASES}/rekor2-happy-path/trusted_root.json")).unwrap();
    let v = Verifier::new(TrustMaterial::from_json(&staging).unwrap());
    assert!(
        v.verify_json(
            &bundle("happy-path-v0.3"),
            Artifact::Bytes(&a_txt()),
            &exact()
        )
        .is_err()
    );
}

#[test]
fn report_names_the_log_entry_from_the_bundle() {
    // logIndex as written in the third-party bundle.
    let raw: serde_json::Value = serde_json::from_slice(&bundle("happy-path-v0.3")).unwrap();
    let want: i64 = raw["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = prod()
        .verify_json(
            &bundle("happy-path-v0.3"),
            Artifact::Bytes(&a_txt()),
            &exact(),
        )
        .unwrap();
    assert_eq!(r.tlog_entries.len(), 1);
    assert_eq!(r.tlog_entries[0].log_index, Some(want));
    assert!(
        r.tlog_entries[0].integrated_time.is_some(),
        "a v1 entry's SET proves its time"
    );
}

#[test]
fn rejects_bundle_without_any_tlog_entry() {
    let mut raw: serde_json::Value = serde_json::from_slice(&bundle("happy-path-v0.3")).unwrap();
    raw["verificationMaterial"]["tlogEntries"] = serde_json::json!([]);
    let err = prod()
        .verify_json(
            &serde_json::to_vec(&raw).unwrap(),
            Artifact::Bytes(&a_txt()),
            &exact(),
        )
        .unwrap_err();
    assert_eq!(err.check, Check::TlogEntry, "{err}");
}

#[test]
fn embedded_root_is_the_public_good_root_sigstore_clients_ship() {
    let shared = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/sigstore/trusted-roots/public-good-production.json"
    ))
    .unwrap();
    assert_eq!(
        chainseal_verify::PUBLIC_GOOD_TRUSTED_ROOT,
        shared.as_slice()
    );
    // The digest prefix the vectors' README gives for the file sigstore clients embed.
    let digest = hex::encode(chainseal_crypto::keys::sha256(
        chainseal_verify::PUBLIC_GOOD_TRUSTED_ROOT,
    ));
    assert!(digest.starts_with("6494e21e"), "{digest}");
}
