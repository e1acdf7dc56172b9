//! RFC 3161 verification on the sigstore-conformance Rekor v2 bundles.
//!
//! Each test reads a case's `bundle.sigstore.json` (timestamp + signature bytes) and
//! `trusted_root.json` (`timestampAuthorities[]`) and checks the property the case's README
//! states. Expected outcomes come from the case names/READMEs, not from our own output.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chainseal_crypto::Error;
use chainseal_crypto::rfc3161::{TimestampToken, TrustedTsa, VerifiedTimestamp, verify_timestamp};
use chainseal_crypto::x509::Certificate;
use der::Decode;
use serde_json::Value;

fn case_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/sigstore/conformance-assets/bundle-verify")
        .join(name)
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn rfc3339(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// (timestamp DER, signature bytes, bundle leaf certificate DER)
fn bundle(name: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let b = read_json(case_dir(name).join("bundle.sigstore.json"));
    let ts = b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
        ["signedTimestamp"]
        .as_str()
        .expect("bundle has an RFC 3161 timestamp");
    let sig = b["messageSignature"]["signature"]
        .as_str()
        .or_else(|| b["dsseEnvelope"]["signatures"][0]["sig"].as_str())
        .expect("bundle has a signature");
    let cert = b["verificationMaterial"]["certificate"]["rawBytes"]
        .as_str()
        .map(|c| B64.decode(c).unwrap())
        .unwrap_or_default();
    // The incorrect-time case was made with `base64` (line-wrapped); drop the newlines.
    let ts: String = ts.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    (B64.decode(ts).unwrap(), B64.decode(sig).unwrap(), cert)
}

fn trusted_tsas(name: &str) -> Vec<TrustedTsa> {
    let root = read_json(case_dir(name).join("trusted_root.json"));
    root["timestampAuthorities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tsa| TrustedTsa {
            chain: tsa["certChain"]["certificates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    Certificate::from_der(&B64.decode(c["rawBytes"].as_str().unwrap()).unwrap())
                        .unwrap()
                })
                .collect(),
            valid_from: tsa["validFor"]["start"].as_str().map(rfc3339),
            valid_to: tsa["validFor"]["end"].as_str().map(rfc3339),
        })
        .collect()
}

fn verify_case(name: &str) -> Result<VerifiedTimestamp, Error> {
    let (ts, sig, _) = bundle(name);
    let token = TimestampToken::from_der(&ts)?;
    verify_timestamp(&token, &sig, &trusted_tsas(name))
}

#[test]
fn accepts_sigstore_tsa_timestamp_over_bundle_signature() {
    let v = verify_case("rekor2-happy-path").expect("happy path timestamp verifies");
    assert_eq!(v.tsa_index, 0);
    // The timestamp must lie inside the TSA validity window the trusted root declares.
    let tsa = &trusted_tsas("rekor2-happy-path")[0];
    assert!(tsa.valid_from.is_none_or(|f| v.gen_time_unix >= f));
}

#[test]
fn rejects_timestamp_when_signature_bytes_differ() {
    let (ts, mut sig, _) = bundle("rekor2-happy-path");
    sig[0] ^= 1;
    let token = TimestampToken::from_der(&ts).unwrap();
    let err = verify_timestamp(&token, &sig, &trusted_tsas("rekor2-happy-path")).unwrap_err();
    assert!(matches!(err, Error::TimestampImprintMismatch), "{err}");
    assert!(
        err.to_string()
            .contains("message imprint does not match signature")
    );
}

#[test]
fn accepts_timestamp_with_embedded_tsa_certificates() {
    let (ts, _, _) = bundle("rekor2-timestamp-with-embedded-cert");
    let token = TimestampToken::from_der(&ts).unwrap();
    assert!(
        !token.embedded_certificates().is_empty(),
        "case embeds certificates"
    );
    verify_case("rekor2-timestamp-with-embedded-cert").expect("embedded-cert timestamp verifies");
}

#[test]
fn rejects_timestamp_with_embedded_certificates_when_no_tsa_is_trusted() {
    let (ts, sig, _) = bundle("rekor2-timestamp-with-embedded-cert");
    let token = TimestampToken::from_der(&ts).unwrap();
    let err = verify_timestamp(&token, &sig, &[]).unwrap_err();
    assert!(
        matches!(err, Error::TimestampUntrustedChain { .. }),
        "{err}"
    );
}

#[test]
fn accepts_timestamp_whose_tsa_chain_expired_after_gen_time() {
    let name = "rekor2-timestamp-with-expired-cert-chain";
    let v = verify_case(name).expect("chain is checked at genTime, not now");
    // Sanity: the TSA leaf really has expired by now (otherwise the test proves nothing).
    let leaf = &trusted_tsas(name)[0].chain[0];
    let parsed = x509_cert::Certificate::from_der(leaf.der()).unwrap();
    let not_after = parsed
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(not_after < now);
    assert!(u64::try_from(v.gen_time_unix).unwrap() <= not_after);
}

#[test]
fn rejects_timestamp_issued_after_tsa_certificate_expired() {
    let err = verify_case("rekor2-timestamp-outside-tsa-cert-validity_fail").unwrap_err();
    assert!(
        matches!(err, Error::TimestampUntrustedChain { .. }),
        "{err}"
    );
}

#[test]
fn rejects_timestamp_outside_trusted_root_tsa_validity() {
    let name = "rekor2-timestamp-outside-trust-root-tsa-validity_fail";
    let err = verify_case(name).unwrap_err();
    assert!(
        matches!(err, Error::TimestampOutsideTsaValidity { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("outside TSA validity"), "{err}");
}

#[test]
fn accepts_same_timestamp_once_tsa_validity_is_open_ended() {
    // Negative control for the test above: same token, validFor end removed.
    let name = "rekor2-timestamp-outside-trust-root-tsa-validity_fail";
    let (ts, sig, _) = bundle(name);
    let mut tsas = trusted_tsas(name);
    tsas[0].valid_to = None;
    let token = TimestampToken::from_der(&ts).unwrap();
    verify_timestamp(&token, &sig, &tsas).expect("only validFor made it fail");
}

#[test]
fn tsa_validity_end_is_inclusive() {
    let (ts, sig, _) = bundle("rekor2-happy-path");
    let token = TimestampToken::from_der(&ts).unwrap();
    let mut tsas = trusted_tsas("rekor2-happy-path");
    let gen_at = token.gen_time_unix();
    let at_end_ok = token.gen_time_nanos() == 0;
    tsas[0].valid_to = Some(gen_at);
    tsas[0].valid_from = Some(gen_at);
    assert_eq!(verify_timestamp(&token, &sig, &tsas).is_ok(), at_end_ok);
    tsas[0].valid_to = Some(gen_at - 1);
    assert!(matches!(
        verify_timestamp(&token, &sig, &tsas),
        Err(Error::TimestampOutsideTsaValidity { .. })
    ));
    tsas[0].valid_to = None;
    tsas[0].valid_from = Some(gen_at + 1);
    assert!(matches!(
        verify_timestamp(&token, &sig, &tsas),
        Err(Error::TimestampOutsideTsaValidity { .. })
    ));
}

#[test]
fn rejects_timestamp_from_untrusted_tsa_with_embedded_chain() {
    let name = "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail";
    let (ts, _, _) = bundle(name);
    let token = TimestampToken::from_der(&ts).unwrap();
    assert!(
        !token.embedded_certificates().is_empty(),
        "FreeTSA embeds its chain"
    );
    let err = verify_case(name).unwrap_err();
    assert!(
        matches!(err, Error::TimestampUntrustedChain { .. }),
        "{err}"
    );
}

#[test]
fn rejects_timestamp_whose_imprint_covers_another_bundles_signature() {
    let err = verify_case("rekor2-timestamp-payload-mismatch_fail").unwrap_err();
    assert!(matches!(err, Error::TimestampImprintMismatch), "{err}");
}

#[test]
fn timestamp_after_signing_certificate_expiry_verifies_but_reports_its_gen_time() {
    // The token itself is valid; the bundle verifier must reject because genTime is after
    // the signing certificate's notAfter. This layer's job is to report genTime faithfully.
    let name = "rekor2-timestamp-with-incorrect-time_fail";
    let (_, _, leaf) = bundle(name);
    let v = verify_case(name).expect("token is a valid Sigstore staging timestamp");
    let leaf = x509_cert::Certificate::from_der(&leaf).unwrap();
    let not_after = leaf
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs();
    assert!(u64::try_from(v.gen_time_unix).unwrap() > not_after);

    // Negative beside it: the happy-path token lies inside its signing certificate's lifetime.
    let (_, _, leaf) = bundle("rekor2-happy-path");
    let v = verify_case("rekor2-happy-path").unwrap();
    let leaf = x509_cert::Certificate::from_der(&leaf).unwrap();
    let validity = leaf.tbs_certificate().validity();
    let gen_at = u64::try_from(v.gen_time_unix).unwrap();
    assert!(gen_at >= validity.not_before.to_unix_duration().as_secs());
    assert!(gen_at <= validity.not_after.to_unix_duration().as_secs());
}

/// Finds `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn rejects_token_whose_tst_info_was_altered() {
    let (ts, sig, _) = bundle("rekor2-happy-path");
    let token = TimestampToken::from_der(&ts).unwrap();
    // Alter one byte of the serial number inside the encapsulated TSTInfo.
    let serial = token.serial_number().to_vec();
    let at = find(&ts, &serial).expect("serial is in the token");
    let mut bad = ts.clone();
    bad[at + serial.len() - 1] ^= 0x01;
    let token = TimestampToken::from_der(&bad).unwrap();
    let err = verify_timestamp(&token, &sig, &trusted_tsas("rekor2-happy-path")).unwrap_err();
    assert!(
        matches!(err, Error::TimestampMessageDigestMismatch),
        "{err}"
    );
}

#[test]
fn rejects_token_whose_signature_was_altered() {
    let (ts, sig, _) = bundle("rekor2-happy-path");
    let tsas = trusted_tsas("rekor2-happy-path");
    // Flip a bit near the end: the SignerInfo signature is the last field of the token.
    let mut rejected = 0;
    for back in 2..12 {
        let mut bad = ts.clone();
        let i = bad.len() - back;
        bad[i] ^= 0x01;
        if let Ok(token) = TimestampToken::from_der(&bad) {
            let r = verify_timestamp(&token, &sig, &tsas);
            assert!(r.is_err(), "altered byte {back} from the end accepted");
            if matches!(r, Err(Error::TimestampSignature { .. })) {
                rejected += 1;
            }
        }
    }
    assert!(rejected > 0, "no alteration reached the signature check");
}

#[test]
fn rejects_timestamp_response_that_is_not_granted() {
    // PKIStatusInfo { status rejection(2) } with no token.
    let resp = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02];
    let err = TimestampToken::from_der(&resp).unwrap_err();
    assert!(matches!(err, Error::TimestampStatus { .. }), "{err}");
    // Truncated input is a parse error, not a panic.
    let (ts, _, _) = bundle("rekor2-happy-path");
    for cut in [0, 1, 10, ts.len() / 2, ts.len() - 1] {
        assert!(TimestampToken::from_der(&ts[..cut]).is_err());
    }
}

#[test]
fn accepts_bare_content_info_token_like_the_response() {
    let (ts, sig, _) = bundle("rekor2-happy-path");
    let from_resp = TimestampToken::from_der(&ts).unwrap();
    let bare = TimestampToken::from_der(from_resp.token_der()).unwrap();
    let tsas = trusted_tsas("rekor2-happy-path");
    assert_eq!(
        verify_timestamp(&bare, &sig, &tsas).unwrap(),
        verify_timestamp(&from_resp, &sig, &tsas).unwrap()
    );
}

#[test]
fn never_panics_and_never_changes_the_verified_time_under_single_byte_corruption() {
    let (ts, sig, _) = bundle("rekor2-happy-path");
    let tsas = trusted_tsas("rekor2-happy-path");
    let good = verify_case("rekor2-happy-path").unwrap();
    let mut rejected = 0usize;
    for i in 0..ts.len() {
        let mut bad = ts.clone();
        bad[i] ^= 0x5a;
        match TimestampToken::from_der(&bad).and_then(|t| verify_timestamp(&t, &sig, &tsas)) {
            // Unsigned parts (e.g. the embedded copy of a trusted certificate, response
            // status) may change without affecting what was verified.
            Ok(v) => assert_eq!(v, good, "corrupting byte {i} changed the verified result"),
            Err(_) => rejected += 1,
        }
    }
    assert!(rejected > ts.len() / 2);
}
