//! Embedded SCT verification against real Fulcio certificates and trusted-root CT logs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chainseal_crypto::keys::{PublicKey, sha256};
use chainseal_crypto::sct::{CtLog, embedded_scts, precert_tbs, verify_embedded_scts};
use chainseal_crypto::x509::Certificate;
use serde_json::Value;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors");

fn json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect(path)).expect(path)
}

fn case_dir(case: &str) -> String {
    format!("{VECTORS}/sigstore/conformance-assets/bundle-verify/{case}")
}

fn cert(b64: &Value) -> Certificate {
    Certificate::from_der(&B64.decode(b64.as_str().unwrap()).unwrap()).unwrap()
}

fn rfc3339(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    Some(t.unix_timestamp())
}

fn root_path(case: &str) -> String {
    let own = format!("{}/trusted_root.json", case_dir(case));
    if std::path::Path::new(&own).exists() {
        own
    } else {
        format!("{VECTORS}/sigstore/trusted-roots/public-good-production.json")
    }
}

fn ct_logs(root_path: &str) -> Vec<CtLog> {
    json(root_path)["ctlogs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| {
            // A key the crate cannot parse is simply not a usable log.
            let key =
                PublicKey::from_spki_der(&B64.decode(l["publicKey"]["rawBytes"].as_str()?).ok()?)
                    .ok()?;
            let id = B64.decode(l["logId"]["keyId"].as_str()?).ok()?;
            Some(CtLog {
                log_id: id.try_into().ok()?,
                key,
                valid_from: rfc3339(&l["publicKey"]["validFor"]["start"]),
                valid_to: rfc3339(&l["publicKey"]["validFor"]["end"]),
            })
        })
        .collect()
}

/// Leaf and its issuer (from the bundle chain or the trusted root's CA chains).
fn leaf_and_issuer(case: &str) -> (Certificate, Certificate) {
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
    for ca in json(&root_path(case))["certificateAuthorities"]
        .as_array()
        .unwrap()
    {
        for c in ca["certChain"]["certificates"].as_array().unwrap() {
            certs.push(cert(&c["rawBytes"]));
        }
    }
    let issuer = certs
        .into_iter()
        .find(|c| leaf.verify_signed_by(c).is_ok())
        .expect("issuer of the leaf");
    (leaf, issuer)
}

#[test]
fn production_fulcio_leafs_carry_scts_that_verify_against_production_ct_logs() {
    for case in [
        "happy-path-v0.1",
        "happy-path-v0.3",
        "happy-path-intoto-in-dsse-v3",
    ] {
        let (leaf, issuer) = leaf_and_issuer(case);
        let n = verify_embedded_scts(&leaf, &issuer, &ct_logs(&root_path(case)))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(n >= 1, "{case}");
    }
}

#[test]
fn custom_trust_root_ct_log_verifies_its_leaf() {
    let case = "intoto-with-custom-trust-root";
    let (leaf, issuer) = leaf_and_issuer(case);
    verify_embedded_scts(&leaf, &issuer, &ct_logs(&root_path(case))).unwrap();
}

#[test]
fn sct_with_non_empty_extensions_verifies() {
    let case = "bundle-with-sct-with-extensions";
    let (leaf, issuer) = leaf_and_issuer(case);
    let scts = embedded_scts(&leaf).unwrap();
    assert!(
        scts.iter().any(|s| !s.extensions.is_empty()),
        "the case's SCT has extensions"
    );
    verify_embedded_scts(&leaf, &issuer, &ct_logs(&root_path(case))).unwrap();
    // ... and the extensions are covered by the signature.
    let der = leaf.der().to_vec();
    let ext = &scts
        .iter()
        .find(|s| !s.extensions.is_empty())
        .unwrap()
        .extensions;
    let pos = der.windows(ext.len()).position(|w| w == &ext[..]).unwrap();
    let mut mutated = der.clone();
    mutated[pos + ext.len() - 1] ^= 0x01;
    let mutated = Certificate::from_der(&mutated).unwrap();
    assert!(verify_embedded_scts(&mutated, &issuer, &ct_logs(&root_path(case))).is_err());
}

#[test]
fn rejects_scts_against_trusted_root_with_wrong_ct_key() {
    let case = "invalid-ct-key_fail";
    let (leaf, issuer) = leaf_and_issuer(case);
    let e = verify_embedded_scts(&leaf, &issuer, &ct_logs(&root_path(case))).unwrap_err();
    assert!(matches!(e, chainseal_crypto::Error::Sct { .. }), "{e}");
}

#[test]
fn rejects_known_log_sct_with_a_corrupted_signature_or_timestamp() {
    let case = "happy-path-v0.3";
    let (leaf, issuer) = leaf_and_issuer(case);
    let logs = ct_logs(&root_path(case));
    let sct = embedded_scts(&leaf).unwrap().remove(0);
    let der = leaf.der().to_vec();

    let sig_pos = der
        .windows(sct.signature.len())
        .position(|w| w == &sct.signature[..])
        .unwrap();
    let mut bad_sig = der.clone();
    bad_sig[sig_pos + sct.signature.len() - 1] ^= 0x01;
    let bad_sig = Certificate::from_der(&bad_sig).unwrap();
    let e = verify_embedded_scts(&bad_sig, &issuer, &logs)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not verify"), "{e}");

    let ts = sct.timestamp_ms.to_be_bytes();
    let ts_pos = der.windows(8).position(|w| w == ts).unwrap();
    let mut bad_ts = der.clone();
    bad_ts[ts_pos + 7] ^= 0x01;
    let bad_ts = Certificate::from_der(&bad_ts).unwrap();
    assert!(verify_embedded_scts(&bad_ts, &issuer, &logs).is_err());
}

#[test]
fn log_validity_period_is_a_closed_interval() {
    let case = "happy-path-v0.3";
    let (leaf, issuer) = leaf_and_issuer(case);
    let sct = embedded_scts(&leaf).unwrap().remove(0);
    let at = (sct.timestamp_ms / 1000) as i64;
    let with_period = |from: Option<i64>, to: Option<i64>| -> Vec<CtLog> {
        ct_logs(&root_path(case))
            .into_iter()
            .map(|mut l| {
                l.valid_from = from;
                l.valid_to = to;
                l
            })
            .collect()
    };
    verify_embedded_scts(&leaf, &issuer, &with_period(Some(at), Some(at))).unwrap();
    let e = verify_embedded_scts(&leaf, &issuer, &with_period(None, Some(at - 1)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside"), "{e}");
    assert!(verify_embedded_scts(&leaf, &issuer, &with_period(Some(at + 1), None)).is_err());
}

#[test]
fn log_id_is_the_sha256_of_the_log_key() {
    // RFC 6962 §3.2; the production trusted root's keyIds follow it.
    let logs = ct_logs(&format!(
        "{VECTORS}/sigstore/trusted-roots/public-good-production.json"
    ));
    assert!(!logs.is_empty());
    for log in &logs {
        assert_eq!(log.log_id, sha256(log.key.spki_der()));
        assert_eq!(
            CtLog::from_key(log.key.clone(), None, None).log_id,
            log.log_id
        );
    }
}

#[test]
fn rejects_when_no_sct_is_from_a_trusted_log() {
    let (leaf, issuer) = leaf_and_issuer("happy-path-v0.3");
    // The custom (sigstore.mock) root's CT log did not sign production leafs.
    let other = ct_logs(&root_path("intoto-with-custom-trust-root"));
    let e = verify_embedded_scts(&leaf, &issuer, &other)
        .unwrap_err()
        .to_string();
    assert!(e.contains("trusted CT log"), "{e}");
    assert!(verify_embedded_scts(&leaf, &issuer, &[]).is_err());
}

#[test]
fn rejects_an_issuer_that_did_not_issue_the_leaf() {
    let (leaf, issuer) = leaf_and_issuer("happy-path-v0.3");
    let logs = ct_logs(&root_path("happy-path-v0.3"));
    assert!(verify_embedded_scts(&leaf, &leaf, &logs).is_err());
    // The right name with another key (staging intermediate vs production) fails too.
    let (_, wrong) = leaf_and_issuer("intoto-with-custom-trust-root");
    assert!(verify_embedded_scts(&leaf, &wrong, &logs).is_err());
    verify_embedded_scts(&leaf, &issuer, &logs).unwrap();
}

#[test]
fn precert_tbs_drops_only_the_sct_extension() {
    let (leaf, issuer) = leaf_and_issuer("happy-path-v0.1");
    let tbs = precert_tbs(&leaf).unwrap();
    let sct_oid = [
        0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02,
    ];
    assert!(leaf.tbs_der().windows(sct_oid.len()).any(|w| w == sct_oid));
    assert!(!tbs.windows(sct_oid.len()).any(|w| w == sct_oid));
    // Everything else is kept: the SAN URI and the subject key are still there.
    let spki = leaf.spki_der().unwrap();
    assert!(tbs.windows(spki.len()).any(|w| w == &spki[..]));
    // A CA certificate carries no SCT list.
    assert!(precert_tbs(&issuer).is_err());
    assert!(embedded_scts(&issuer).is_err());
}
