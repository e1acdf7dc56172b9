//! Bundles forged against self-made trusted roots (issue 11): each test changes exactly one
//! thing from an honest bundle that verifies, and checks the forged one is refused — where
//! sigstore-python 4.5.1 is the reference, it is run on both bundles too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_testkit::bundle::{
    IDENTITY, ISSUER, LeafOptions, OID_FULCIO_USERNAME, San, TsaEku, World, sigstore_python,
};
use chainseal_verify::{Artifact, Check, Error, Matcher, Policy, Report, TrustMaterial, Verifier};
use serde_json::{Value, json};

fn policy() -> Policy {
    Policy::identity(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
    )
}

fn verify(world: &World, root: &Value, bundle: &Value) -> Result<Report, Error> {
    let trust = TrustMaterial::from_json(&serde_json::to_vec(root).unwrap())?;
    Verifier::new(trust).verify_json(
        &serde_json::to_vec(bundle).unwrap(),
        Artifact::Bytes(&world.artifact),
        &policy(),
    )
}

#[track_caller]
fn accepts(world: &World, root: &Value, bundle: &Value) {
    if let Err(e) = verify(world, root, bundle) {
        panic!("the honest bundle must verify: {e}");
    }
}

#[track_caller]
fn refuses(world: &World, root: &Value, bundle: &Value, check: Check, needle: &str) {
    match verify(world, root, bundle) {
        Ok(_) => panic!("the forged bundle was accepted (expected {check:?}: {needle})"),
        Err(e) => {
            assert_eq!(e.check, check, "{e}");
            assert!(e.to_string().contains(needle), "{e:?} lacks {needle:?}");
        }
    }
}

/// sigstore-python must agree: accept the honest bundle, refuse the forged one.
#[track_caller]
fn python_agrees(world: &World, root: &Value, honest: &Value, forged: &Value) {
    let Some(h) = sigstore_python(world, root, honest) else {
        eprintln!("sigstore-python not installed (.venv/bin/sigstore): reference check skipped");
        return;
    };
    assert!(
        h.accepted,
        "sigstore-python refuses the honest bundle:\n{}",
        h.output
    );
    let f = sigstore_python(world, root, forged).unwrap();
    assert!(
        !f.accepted,
        "sigstore-python accepts the forged bundle:\n{}",
        f.output
    );
}

fn ts_of(bundle: &Value) -> Vec<u8> {
    let t = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
        ["signedTimestamp"]
        .as_str()
        .unwrap();
    STANDARD.decode(t).unwrap()
}

fn set_ts(bundle: &mut Value, der: &[u8]) {
    bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"] =
        STANDARD.encode(der).into();
}

// ---- 1. TSA signer tied to its trusted-root entry -------------------------------------

#[test]
fn tsa_token_of_an_expired_entry_does_not_pass_through_a_sibling_entry_sharing_its_root() {
    let w = World::new();
    let (tsa_a, cert_a) = w.new_tsa("CN=TSA A,O=chainseal", TsaEku::CriticalSole);
    let (tsa_b, cert_b) = w.new_tsa("CN=TSA B,O=chainseal", TsaEku::CriticalSole);
    let mut root = w.trusted_root();
    let ended = json!({"start": chainseal_testkit::bundle::rfc3339(w.now - 40 * 86_400),
                       "end": chainseal_testkit::bundle::rfc3339(w.now - 10 * 86_400)});
    root["timestampAuthorities"] = json!([
        w.tsa_entry(&cert_a, ended),
        w.tsa_entry(&cert_b, w.valid_for())
    ]);

    let (signed, mut honest) = w.honest_v2(&LeafOptions::default());
    set_ts(
        &mut honest,
        &w.timestamp_by(&tsa_b, &signed.signature, w.now - 30),
    );
    accepts(&w, &root, &honest);

    let mut forged = honest.clone();
    set_ts(
        &mut forged,
        &w.timestamp_by(&tsa_a, &signed.signature, w.now - 30),
    );
    refuses(&w, &root, &forged, Check::Timestamp, "outside");
    python_agrees(&w, &root, &honest, &forged);
}

#[test]
fn tsa_leaf_embedded_in_the_token_but_not_in_the_trusted_root_is_never_a_signer() {
    let w = World::new();
    let root = w.trusted_root();
    let (signed, honest) = w.honest_v2(&LeafOptions::default());
    accepts(&w, &root, &honest);

    // Issued by the trusted TSA root, timeStamping, embedded — but no trusted-root entry.
    let (stranger, _) = w.new_tsa("CN=unlisted TSA,O=chainseal", TsaEku::CriticalSole);
    let mut forged = honest.clone();
    set_ts(
        &mut forged,
        &w.timestamp_by(&stranger, &signed.signature, w.now - 30),
    );
    refuses(
        &w,
        &root,
        &forged,
        Check::Timestamp,
        "is not this authority's TSA certificate",
    );
    python_agrees(&w, &root, &honest, &forged);
}

// ---- 2. TSA EKU critical and sole -----------------------------------------------------

#[test]
fn tsa_leaf_eku_must_be_critical_and_time_stamping_alone() {
    let w = World::new();
    let (signed, honest) = w.honest_v2(&LeafOptions::default());
    for (eku, ok) in [
        (TsaEku::CriticalSole, true),
        (TsaEku::NonCritical, false),
        (TsaEku::NotSole, false),
    ] {
        let (tsa, cert) = w.new_tsa("CN=TSA under test,O=chainseal", eku);
        let mut root = w.trusted_root();
        root["timestampAuthorities"] = json!([w.tsa_entry(&cert, w.valid_for())]);
        let mut bundle = honest.clone();
        set_ts(
            &mut bundle,
            &w.timestamp_by(&tsa, &signed.signature, w.now - 30),
        );
        if ok {
            accepts(&w, &root, &bundle);
        } else {
            refuses(&w, &root, &bundle, Check::Timestamp, "RFC 3161 §2.3");
        }
    }
}

// ---- 3. An embedded certificate that does not parse -----------------------------------

#[test]
fn tsa_token_with_a_damaged_embedded_certificate_is_refused() {
    let w = World::new();
    let root = w.trusted_root();
    let (_, honest) = w.honest_v2(&LeafOptions::default());
    accepts(&w, &root, &honest);
    let der = ts_of(&honest);
    let leaf = w.tsa_cert.der();
    let at = der
        .windows(leaf.len())
        .position(|win| win == leaf)
        .expect("the token embeds the TSA certificate");

    // (a) A byte of the embedded certificate's subject changed: still DER, no longer the
    // trusted certificate (the token's signature does not cover embedded certificates).
    let cn = b"forged TSA";
    let off = at + leaf.windows(cn.len()).position(|win| win == cn).unwrap();
    let mut changed = der.clone();
    changed[off] ^= 0x20;
    let mut forged = honest.clone();
    set_ts(&mut forged, &changed);
    refuses(&w, &root, &forged, Check::Timestamp, "embedded certificate");
    python_agrees(&w, &root, &honest, &forged);

    // (b) The TBSCertificate tag changed: the certificate no longer parses.
    let mut broken = der.clone();
    let tbs_tag = at
        + if leaf[1] & 0x80 != 0 {
            2 + (leaf[1] & 0x7f) as usize
        } else {
            2
        };
    assert_eq!(broken[tbs_tag], 0x30);
    broken[tbs_tag] = 0x31;
    let mut forged = honest.clone();
    set_ts(&mut forged, &broken);
    refuses(&w, &root, &forged, Check::Timestamp, "");
}

// ---- 4. Rekor v1 body naming the bare key of a certificate bundle ---------------------

#[test]
fn rekor_v1_hashedrekord_body_must_name_the_certificate_not_its_public_key() {
    let w = World::new();
    let root = w.trusted_root();
    let (signed, honest) = w.honest_v1(&LeafOptions::default());
    accepts(&w, &root, &honest);

    let key_pem = signed.leaf.cert.public_key().unwrap().to_pem().unwrap();
    let body = w.hashedrekord_v001_body(&signed.signature, &key_pem);
    let entry = w.rekor_v1_entry("hashedrekord", "0.0.1", &body, w.now - 30);
    let forged = w.bundle_json(&signed, vec![entry], &[]);
    refuses(
        &w,
        &root,
        &forged,
        Check::TlogEntry,
        "verifier key or certificate",
    );
    python_agrees(&w, &root, &honest, &forged);
}

#[test]
fn rekor_v1_dsse_body_must_name_the_certificate_not_its_public_key() {
    let w = World::new();
    let root = w.trusted_root();
    let payload = w.statement();
    let signed = w.sign_dsse(&LeafOptions::default(), &payload);
    let make = |pem: &str| {
        let body = w.dsse_v001_body(&payload, &signed.signature, pem);
        let entry = w.rekor_v1_entry("dsse", "0.0.1", &body, w.now - 30);
        w.dsse_bundle_json(&signed, &payload, vec![entry], &[])
    };
    let honest = make(&chainseal_authority::certs::pem(&signed.leaf.cert));
    accepts(&w, &root, &honest);
    let forged = make(&signed.leaf.cert.public_key().unwrap().to_pem().unwrap());
    refuses(
        &w,
        &root,
        &forged,
        Check::TlogEntry,
        "verifier key or certificate",
    );
    python_agrees(&w, &root, &honest, &forged);
}

// ---- 5. Fulcio leaf without digitalSignature ------------------------------------------

#[test]
fn fulcio_leaf_without_digital_signature_key_usage_is_refused() {
    let w = World::new();
    let root = w.trusted_root();
    let (_, honest) = w.honest_v1(&LeafOptions::default());
    accepts(&w, &root, &honest);
    let (_, forged) = w.honest_v1(&LeafOptions {
        key_usage: false,
        ..LeafOptions::default()
    });
    refuses(
        &w,
        &root,
        &forged,
        Check::CertificateChain,
        "digitalSignature",
    );
    python_agrees(&w, &root, &honest, &forged);
}

// ---- 6. Identity only from email, URI and Fulcio username SANs ------------------------

#[test]
fn identity_is_matched_only_against_email_uri_and_fulcio_username_sans() {
    let w = World::new();
    let root = w.trusted_root();
    let other = |oid: &str| LeafOptions {
        sans: vec![San::OtherName {
            oid: oid.into(),
            value: IDENTITY.into(),
        }],
        ..LeafOptions::default()
    };
    let (_, honest) = w.honest_v1(&other(OID_FULCIO_USERNAME));
    accepts(&w, &root, &honest);
    let (_, uri) = w.honest_v1(&LeafOptions {
        sans: vec![
            San::Uri("https://example.com/other".into()),
            San::Email(IDENTITY.into()),
        ],
        ..LeafOptions::default()
    });
    accepts(&w, &root, &uri);
    let (_, forged) = w.honest_v1(&other("1.3.6.1.4.1.99999.1"));
    refuses(
        &w,
        &root,
        &forged,
        Check::Identity,
        "no email, URI or Fulcio username SAN",
    );
}

// ---- 7. Checkpoint origin --------------------------------------------------------------

#[test]
fn rekor_v1_checkpoint_origin_must_be_the_logs() {
    let mut w = World::new();
    let root = w.trusted_root();
    let (_, honest) = w.honest_v1(&LeafOptions::default());
    accepts(&w, &root, &honest);
    // The bare host is a valid v1 origin too.
    w.rekor_v1_origin = "rekor.forged.test".into();
    accepts(&w, &root, &w.honest_v1(&LeafOptions::default()).1);
    for origin in [
        "rekor.elsewhere.test - 4242424242",
        "rekor.forged.test - x",
        "other",
    ] {
        w.rekor_v1_origin = origin.into();
        let (_, forged) = w.honest_v1(&LeafOptions::default());
        refuses(&w, &root, &forged, Check::Checkpoint, "checkpoint origin");
    }
}

#[test]
fn rekor_v2_checkpoint_origin_must_be_the_logs_c2sp_origin() {
    let mut w = World::new();
    let root = w.trusted_root();
    let (_, honest) = w.honest_v2(&LeafOptions::default());
    accepts(&w, &root, &honest);
    for origin in [
        "log2.elsewhere.test",
        "log2.forged.test - 1",
        "log2.forged.test/v2",
    ] {
        w.rekor_v2_origin = origin.into();
        let (_, forged) = w.honest_v2(&LeafOptions::default());
        // (sigstore-python 4.5.1 does not compare the origin and accepts these; sigstore-go
        // requires the origin to be the log's.)
        refuses(&w, &root, &forged, Check::Checkpoint, "checkpoint origin");
    }
}

// ---- 8. kindVersion and spec must agree ------------------------------------------------

#[test]
fn hashedrekord_kind_carrying_a_dsse_spec_is_refused() {
    let w = World::new();
    let root = w.trusted_root();
    let payload = w.statement();
    let signed = w.sign_dsse(&LeafOptions::default(), &payload);
    let ts = w.timestamp_by(&w.tsa, &signed.signature, w.now - 30);
    let make = |kind: &str| {
        let body = w.dsse_v002_body(kind, &payload, &signed.signature, signed.leaf.cert.der());
        let entry = w.rekor_v2_entry(kind, "0.0.2", &body);
        w.dsse_bundle_json(&signed, &payload, vec![entry], std::slice::from_ref(&ts))
    };
    accepts(&w, &root, &make("dsse"));
    refuses(
        &w,
        &root,
        &make("hashedrekord"),
        Check::TlogEntry,
        "kindVersion is hashedrekord 0.0.2",
    );
}

// ---- 9. Duplicate log IDs ---------------------------------------------------------------

#[test]
fn duplicate_log_ids_accept_any_entry_whose_key_verifies_and_covers_the_time() {
    let w = World::new();
    let (_, bundle) = w.honest_v1(&LeafOptions::default());
    let t = chainseal_testkit::bundle::rfc3339;
    let base = w.trusted_root();
    let v1 = base["tlogs"][0].clone();
    let with_validity = |log: &Value, start: i64, end: i64| {
        let mut l = log.clone();
        l["publicKey"]["validFor"] = json!({"start": t(start), "end": t(end)});
        l
    };
    let expired = with_validity(&v1, w.now - 7200, w.now - 600);
    let current = with_validity(&v1, w.now - 600, w.now + 3600);

    let mut root = base.clone();
    root["tlogs"] = json!([expired, current, base["tlogs"][1]]);
    accepts(&w, &root, &bundle);

    root["tlogs"] = json!([expired, expired, base["tlogs"][1]]);
    refuses(
        &w,
        &root,
        &bundle,
        Check::Time,
        "outside the validity of log",
    );

    // A second entry under the same ID covers the time, but with a key that did not sign.
    let mut impostor = current.clone();
    let other = World::new();
    impostor["publicKey"]["rawBytes"] =
        other.trusted_root()["tlogs"][0]["publicKey"]["rawBytes"].clone();
    root["tlogs"] = json!([expired, impostor, base["tlogs"][1]]);
    refuses(
        &w,
        &root,
        &bundle,
        Check::Time,
        "outside the validity of log",
    );
}

// ---- 10. Leaf issued directly by the root of an [intermediate, root] entry -------------

#[test]
fn leaf_issued_directly_by_the_root_of_a_two_certificate_ca_entry_validates() {
    let w = World::new();
    let root = w.trusted_root();
    accepts(&w, &root, &w.honest_v1(&LeafOptions::default()).1);
    let (_, by_root) = w.honest_v1(&LeafOptions {
        issued_by_root: true,
        ..LeafOptions::default()
    });
    accepts(&w, &root, &by_root);
    // Control: a root that is not in the trusted root still does not validate.
    let stranger = World::new();
    let (_, foreign) = stranger.honest_v1(&LeafOptions {
        issued_by_root: true,
        ..LeafOptions::default()
    });
    let mut mixed = stranger.trusted_root();
    mixed["certificateAuthorities"] = root["certificateAuthorities"].clone();
    refuses(&stranger, &mixed, &foreign, Check::CertificateChain, "");
}

// ---- 11. Input size caps ----------------------------------------------------------------

#[test]
fn inputs_are_read_with_a_size_cap() {
    use chainseal_verify::input::{MAX_BUNDLE_BYTES, MAX_TRUSTED_ROOT_BYTES, read_capped};
    assert_eq!(MAX_BUNDLE_BYTES, 16 << 20);
    assert_eq!(MAX_TRUSTED_ROOT_BYTES, 4 << 20);
    let dir = std::env::temp_dir().join(format!("chainseal-capped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("input.json");
    std::fs::write(&path, vec![b' '; 1000]).unwrap();
    assert_eq!(read_capped(&path, 1000).unwrap().len(), 1000);
    let err = read_capped(&path, 999).unwrap_err();
    assert_eq!(err.check, Check::BundleFormat);
    assert!(
        err.to_string().contains("larger than the 999-byte limit"),
        "{err}"
    );
    assert!(read_capped(&dir.join("missing"), 10).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
