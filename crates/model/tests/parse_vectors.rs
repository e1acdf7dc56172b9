//! Every conformance bundle and trusted root parses, except those whose defect is
//! structural (the model layer must reject them with the field named).

use chainseal_model::bundle::Bundle;
use chainseal_model::trust::TrustedRoot;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/sigstore/conformance-assets/bundle-verify"
);

fn case(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CASES}/{name}/bundle.sigstore.json")).unwrap()
}

#[test]
fn rejects_malformed_bundle_json() {
    let err = Bundle::from_json(&case("bundle-malformed-json_fail")).unwrap_err();
    assert!(err.to_string().contains("bundle: invalid JSON"), "{err}");
}

#[test]
fn rejects_unknown_bundle_version() {
    let err = Bundle::from_json(&case("bundle-unknown-version_fail")).unwrap_err();
    assert!(err.to_string().contains("mediaType"), "{err}");
}

#[test]
fn rejects_invalid_base64_signature() {
    assert!(Bundle::from_json(&case("bundle-invalid-base64-signature_fail")).is_err());
}

#[test]
fn rejects_empty_certificate_chain() {
    let err = Bundle::from_json(&case("bundle-empty-certificate-chain_fail")).unwrap_err();
    assert!(err.to_string().contains("empty certificate chain"), "{err}");
}

#[test]
fn rejects_trusted_root_with_missing_validity_start() {
    let bytes = std::fs::read(format!(
        "{CASES}/trust-root-tlog-missing-validity-start_fail/trusted_root.json"
    ))
    .unwrap();
    let err = TrustedRoot::from_json(&bytes).unwrap_err();
    assert!(err.to_string().contains("validFor.start"), "{err}");
}

#[test]
fn parses_every_well_formed_conformance_bundle_and_root() {
    let structural = [
        "bundle-malformed-json_fail",
        "bundle-unknown-version_fail",
        "bundle-invalid-base64-signature_fail",
        "bundle-empty-certificate-chain_fail",
    ];
    let mut n = 0;
    for entry in std::fs::read_dir(CASES).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        if structural.contains(&name.as_str()) {
            continue;
        }
        Bundle::from_json(&case(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let tr = dir.join("trusted_root.json");
        if tr.exists() && name != "trust-root-tlog-missing-validity-start_fail" {
            TrustedRoot::from_json(&std::fs::read(tr).unwrap())
                .unwrap_or_else(|e| panic!("{name} root: {e}"));
        }
        n += 1;
    }
    assert!(n >= 50, "only {n} cases found");
    let prod = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/sigstore/trusted-roots/public-good-production.json"
    ))
    .unwrap();
    let root = TrustedRoot::from_json(&prod).unwrap();
    assert!(
        !root.tlogs.is_empty()
            && !root.certificate_authorities.is_empty()
            && !root.ctlogs.is_empty()
    );
}
