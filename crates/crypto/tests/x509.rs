//! X.509 parsing, identity extraction and path validation against real Sigstore
//! conformance bundles and trusted roots.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chainseal_crypto::Error;
use chainseal_crypto::x509::{Certificate, KeyPurpose, SubjectAltName, verify_path};
use serde_json::Value;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors");
const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect(path)).expect(path)
}

fn case_dir(case: &str) -> String {
    format!("{VECTORS}/sigstore/conformance-assets/bundle-verify/{case}")
}

fn cert(b64: &Value) -> Certificate {
    Certificate::from_der(&B64.decode(b64.as_str().unwrap()).unwrap()).unwrap()
}

/// (leaf, bundle intermediates, integratedTime if any)
fn bundle(case: &str) -> (Certificate, Vec<Certificate>, Option<i64>) {
    let b = json(&format!("{}/bundle.sigstore.json", case_dir(case)));
    let vm = &b["verificationMaterial"];
    let mut certs: Vec<Certificate> = if vm["certificate"].is_object() {
        vec![cert(&vm["certificate"]["rawBytes"])]
    } else {
        vm["x509CertificateChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| cert(&c["rawBytes"]))
            .collect()
    };
    let leaf = certs.remove(0);
    let time = vm["tlogEntries"][0]["integratedTime"]
        .as_str()
        .map(|s| s.parse().unwrap());
    (leaf, certs, time)
}

/// (intermediates, anchors) from a trusted root's Fulcio CA chains.
fn trusted_root(path: &str) -> (Vec<Certificate>, Vec<Certificate>) {
    let root = json(path);
    let mut intermediates = Vec::new();
    let mut anchors = Vec::new();
    for ca in root["certificateAuthorities"].as_array().unwrap() {
        let mut chain: Vec<Certificate> = ca["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| cert(&c["rawBytes"]))
            .collect();
        anchors.push(chain.pop().unwrap());
        intermediates.extend(chain);
    }
    (intermediates, anchors)
}

fn production_root() -> (Vec<Certificate>, Vec<Certificate>) {
    trusted_root(&format!(
        "{VECTORS}/sigstore/trusted-roots/public-good-production.json"
    ))
}

fn root_for(case: &str) -> (Vec<Certificate>, Vec<Certificate>) {
    let own = format!("{}/trusted_root.json", case_dir(case));
    if std::path::Path::new(&own).exists() {
        trusted_root(&own)
    } else {
        production_root()
    }
}

fn expected(case: &str, file: &str, default: &str) -> String {
    std::fs::read_to_string(format!("{}/{file}", case_dir(case)))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| default.to_string())
}

fn validate(case: &str, at: i64, purpose: KeyPurpose) -> Result<Vec<Certificate>, Error> {
    let (leaf, mut intermediates, _) = bundle(case);
    let (root_intermediates, anchors) = root_for(case);
    intermediates.extend(root_intermediates);
    verify_path(&leaf, &intermediates, &anchors, at, purpose)
}

fn reason(e: Error) -> String {
    e.to_string()
}

const HAPPY_CASES: &[&str] = &[
    "happy-path-v0.1",
    "happy-path-v0.3",
    "happy-path-intoto-in-dsse-v3",
    "intoto-with-custom-trust-root",
];

#[test]
fn fulcio_leafs_validate_to_their_trust_root_at_integrated_time() {
    for case in HAPPY_CASES {
        let (leaf, _, time) = bundle(case);
        let chain = validate(case, time.unwrap(), KeyPurpose::CodeSigning)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(chain[0], leaf, "{case}");
        let anchor = chain.last().unwrap();
        assert!(
            anchor.is_self_signed() && anchor.is_ca(),
            "{case}: anchor is a self-signed CA"
        );
        for pair in chain.windows(2) {
            pair[0].verify_signed_by(&pair[1]).unwrap();
            assert_eq!(pair[0].issuer_der(), pair[1].subject_der(), "{case}");
        }
        assert!(!leaf.is_ca() && !leaf.is_self_signed(), "{case}");
    }
}

#[test]
fn rekor_v2_leaf_validates_to_its_trust_root_inside_its_validity() {
    let (leaf, _, _) = bundle("rekor2-happy-path");
    let at = leaf.not_before_unix() + 60;
    validate("rekor2-happy-path", at, KeyPurpose::CodeSigning).unwrap();
    assert!(
        validate(
            "rekor2-happy-path",
            leaf.not_after_unix() + 1,
            KeyPurpose::CodeSigning
        )
        .is_err()
    );
}

#[test]
fn validity_bounds_are_inclusive() {
    let (leaf, _, _) = bundle("happy-path-v0.3");
    validate(
        "happy-path-v0.3",
        leaf.not_before_unix(),
        KeyPurpose::CodeSigning,
    )
    .unwrap();
    validate(
        "happy-path-v0.3",
        leaf.not_after_unix(),
        KeyPurpose::CodeSigning,
    )
    .unwrap();
    let e = reason(
        validate(
            "happy-path-v0.3",
            leaf.not_before_unix() - 1,
            KeyPurpose::CodeSigning,
        )
        .unwrap_err(),
    );
    assert!(e.contains("not yet valid"), "{e}");
    let e = reason(
        validate(
            "happy-path-v0.3",
            leaf.not_after_unix() + 1,
            KeyPurpose::CodeSigning,
        )
        .unwrap_err(),
    );
    assert!(e.contains("expired"), "{e}");
}

#[test]
fn rejects_certificate_outside_validity_at_signing_time() {
    // intoto-expired-certificate_fail: leaf issued for 2030, logged in 2023.
    let (_, _, time) = bundle("intoto-expired-certificate_fail");
    let e = validate(
        "intoto-expired-certificate_fail",
        time.unwrap(),
        KeyPurpose::CodeSigning,
    )
    .unwrap_err();
    assert!(matches!(e, Error::CertificatePath { .. }));
    assert!(reason(e).contains("not yet valid"));
    // intoto-set-outside-signing-cert-validity_fail: integrated time after notAfter.
    let (_, _, time) = bundle("intoto-set-outside-signing-cert-validity_fail");
    let e = validate(
        "intoto-set-outside-signing-cert-validity_fail",
        time.unwrap(),
        KeyPurpose::CodeSigning,
    )
    .unwrap_err();
    assert!(reason(e).contains("expired"));
}

#[test]
fn rejects_staging_leaf_against_production_root() {
    let (leaf, intermediates, time) = bundle("bundle-from-wrong-instance_fail");
    let (mut prod_intermediates, anchors) = production_root();
    prod_intermediates.extend(intermediates);
    let e = verify_path(
        &leaf,
        &prod_intermediates,
        &anchors,
        time.unwrap(),
        KeyPurpose::CodeSigning,
    )
    .unwrap_err();
    // Staging's intermediate has the same name as production's, so the path builder finds a
    // name match whose key did not sign the leaf.
    let e = reason(e);
    assert!(
        e.contains("unknown issuer") || e.contains("bad signature"),
        "{e}"
    );
}

#[test]
fn rejects_leaf_against_another_instances_root() {
    // A production leaf must not chain to the custom (sigstore.mock) root.
    let (leaf, _, time) = bundle("happy-path-v0.3");
    let (intermediates, anchors) = trusted_root(&format!(
        "{}/trusted_root.json",
        case_dir("intoto-with-custom-trust-root")
    ));
    assert!(
        verify_path(
            &leaf,
            &intermediates,
            &anchors,
            time.unwrap(),
            KeyPurpose::CodeSigning
        )
        .is_err()
    );
    assert!(verify_path(&leaf, &[], &[], time.unwrap(), KeyPurpose::CodeSigning).is_err());
}

#[test]
fn rejects_code_signing_leaf_for_time_stamping() {
    let (_, _, time) = bundle("happy-path-v0.3");
    let e = validate("happy-path-v0.3", time.unwrap(), KeyPurpose::TimeStamping).unwrap_err();
    assert!(reason(e).contains("EKU missing"));
}

#[test]
fn rejects_leaf_with_tampered_signature_or_tbs() {
    let (leaf, _, time) = bundle("happy-path-v0.3");
    let (intermediates, anchors) = production_root();
    let mut der = leaf.der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 0x01; // inside the ECDSA signature's s
    let tampered = Certificate::from_der(&der).unwrap();
    let e = verify_path(
        &tampered,
        &intermediates,
        &anchors,
        time.unwrap(),
        KeyPurpose::CodeSigning,
    )
    .unwrap_err();
    assert!(reason(e).contains("signature"), "signature flip");
    // Flip one character of the SAN URI inside the TBS.
    let pos = der
        .windows(b"extremely".len())
        .position(|w| w == b"extremely")
        .unwrap();
    let mut der = leaf.der().to_vec();
    der[pos] = b'X';
    let tampered = Certificate::from_der(&der).unwrap();
    let e = verify_path(
        &tampered,
        &intermediates,
        &anchors,
        time.unwrap(),
        KeyPurpose::CodeSigning,
    )
    .unwrap_err();
    assert!(reason(e).contains("signature"), "tbs flip");
}

#[test]
fn rejects_negative_verification_time() {
    let e = validate("happy-path-v0.3", -1, KeyPurpose::CodeSigning).unwrap_err();
    assert!(matches!(e, Error::CertificatePath { .. }));
}

#[test]
fn san_and_issuer_match_the_expected_identity() {
    for case in HAPPY_CASES
        .iter()
        .chain(&["rekor2-happy-path", "bundle-with-sct-with-extensions"])
    {
        let (leaf, _, _) = bundle(case);
        let identity = expected(case, "identity", DEFAULT_IDENTITY);
        let issuer = expected(case, "issuer", DEFAULT_ISSUER);
        let sans = leaf.subject_alt_names();
        assert!(
            sans.iter().any(|s| s.value() == Some(identity.as_str())),
            "{case}: {sans:?}"
        );
        let fulcio = leaf.fulcio_identity().unwrap();
        assert_eq!(fulcio.issuer(), Some(issuer.as_str()), "{case}");
        // negative beside the positive: a different identity is not among the SANs
        assert!(
            !sans
                .iter()
                .any(|s| s.value() == Some("https://example.com/other"))
        );
    }
}

#[test]
fn github_workflow_extensions_are_consistent_with_the_identity() {
    let (leaf, _, _) = bundle("happy-path-intoto-in-dsse-v3");
    let f = leaf.fulcio_identity().unwrap();
    assert!(matches!(
        leaf.subject_alt_names().as_slice(),
        [SubjectAltName::Uri(u)] if u == DEFAULT_IDENTITY
    ));
    // Fulcio: BuildSignerURI is the SAN for GitHub Actions; the source repository is the
    // repository part of the workflow identity.
    if let Some(signer) = &f.build_signer_uri {
        assert_eq!(signer, DEFAULT_IDENTITY);
    }
    let repo = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon";
    if let Some(src) = &f.source_repository_uri {
        assert_eq!(src, repo);
    }
    assert_eq!(f.all.get(&8).map(String::as_str), Some(DEFAULT_ISSUER));
}

#[test]
fn pem_chain_parses_every_certificate_in_order() {
    let (intermediates, anchors) = production_root();
    let mut pem = String::from("leading text is ignored\n");
    for c in intermediates.iter().chain(&anchors) {
        let body = B64.encode(c.der());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    let parsed = Certificate::pem_chain(&pem).unwrap();
    let expected: Vec<&Certificate> = intermediates.iter().chain(&anchors).collect();
    assert_eq!(parsed.iter().collect::<Vec<_>>(), expected);
    assert!(Certificate::from_pem(&pem).is_err(), "more than one block");
    assert!(Certificate::pem_chain("no pem here").is_err());
    let bad = pem.replace("CERTIFICATE-----", "PUBLIC KEY-----");
    assert!(Certificate::pem_chain(&bad).is_err());
}

#[test]
fn rejects_truncated_or_padded_der() {
    let (leaf, _, _) = bundle("happy-path-v0.3");
    let der = leaf.der();
    assert!(Certificate::from_der(&der[..der.len() - 1]).is_err());
    let mut padded = der.to_vec();
    padded.push(0);
    assert!(Certificate::from_der(&padded).is_err());
    assert!(Certificate::from_der(&[]).is_err());
}

#[test]
fn tbs_der_is_the_signed_part_of_the_original_bytes() {
    let (leaf, _, _) = bundle("happy-path-v0.1");
    let tbs = leaf.tbs_der();
    assert!(leaf.der().windows(tbs.len()).any(|w| w == tbs));
    assert!(tbs.len() < leaf.der().len());
    let key = leaf.public_key().unwrap();
    assert_eq!(key.kind(), chainseal_crypto::keys::KeyKind::EcdsaP256);
}
