//! Key parsing, signing and verification against third-party vectors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chainseal_crypto::keys::{
    HashAlgorithm, KeyKind, PrivateKey, PublicKey, SignatureScheme, sha256,
};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors");

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{VECTORS}/{rel}")).expect(rel)
}

fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn flip(mut v: Vec<u8>, i: usize) -> Vec<u8> {
    let i = i % v.len();
    v[i] ^= 0x01;
    v
}

#[test]
fn sign_verify_round_trip_for_every_generated_kind() {
    let kinds = [
        KeyKind::EcdsaP256,
        KeyKind::EcdsaP384,
        KeyKind::EcdsaP521,
        KeyKind::Ed25519,
        KeyKind::Rsa { bits: 2048 },
    ];
    for kind in kinds {
        let key = PrivateKey::generate(kind).unwrap();
        let public = key.public_key();
        assert_eq!(public.kind(), kind);
        let msg = b"chainseal round trip";
        let sig = key.sign(msg).unwrap();
        public.verify(msg, &sig).unwrap();
        // negatives beside the positive
        assert!(
            public.verify(b"chainseal round trip!", &sig).is_err(),
            "{kind:?} other msg"
        );
        assert!(
            public
                .verify(msg, &flip(sig.clone(), sig.len() / 2))
                .is_err(),
            "{kind:?} flipped"
        );
        let other = PrivateKey::generate(kind).unwrap().public_key();
        assert!(other.verify(msg, &sig).is_err(), "{kind:?} wrong key");
    }
}

#[test]
fn rsa_pss_and_pkcs1_schemes_do_not_cross_verify() {
    let key = PrivateKey::generate(KeyKind::Rsa { bits: 2048 }).unwrap();
    let public = key.public_key();
    let msg = b"scheme separation";
    for (scheme, other) in [
        (
            SignatureScheme::RsaPssSha256,
            SignatureScheme::RsaPkcs1Sha256,
        ),
        (
            SignatureScheme::RsaPkcs1Sha384,
            SignatureScheme::RsaPssSha384,
        ),
        (SignatureScheme::RsaPssSha512, SignatureScheme::RsaPssSha256),
    ] {
        let sig = key.sign_with(scheme, msg).unwrap();
        public.verify_with(scheme, msg, &sig).unwrap();
        assert!(
            public.verify_with(other, msg, &sig).is_err(),
            "{scheme:?} as {other:?}"
        );
    }
}

#[test]
fn rejects_scheme_that_does_not_fit_the_key_kind() {
    let ec = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let sig = ec.sign(b"m").unwrap();
    let public = ec.public_key();
    assert!(
        public
            .verify_with(SignatureScheme::Ed25519, b"m", &sig)
            .is_err()
    );
    assert!(
        public
            .verify_with(SignatureScheme::RsaPkcs1Sha256, b"m", &sig)
            .is_err()
    );
    assert!(
        public
            .verify_with(SignatureScheme::EcdsaSha384, b"m", &sig)
            .is_err()
    );
    assert!(ec.sign_with(SignatureScheme::RsaPssSha256, b"m").is_err());
    let ed = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let sig = ed.sign(b"m").unwrap();
    assert!(
        ed.public_key()
            .verify_with(SignatureScheme::EcdsaSha256, b"m", &sig)
            .is_err()
    );
}

#[test]
fn p521_signs_and_verifies_with_each_sha2() {
    let key = PrivateKey::generate(KeyKind::EcdsaP521).unwrap();
    for scheme in [
        SignatureScheme::EcdsaSha256,
        SignatureScheme::EcdsaSha384,
        SignatureScheme::EcdsaSha512,
    ] {
        let sig = key.sign_with(scheme, b"m").unwrap();
        key.public_key().verify_with(scheme, b"m", &sig).unwrap();
    }
}

#[test]
fn prehashed_verification_matches_message_verification() {
    for kind in [
        KeyKind::EcdsaP256,
        KeyKind::EcdsaP384,
        KeyKind::Rsa { bits: 2048 },
    ] {
        let key = PrivateKey::generate(kind).unwrap();
        let msg = b"prehash me";
        let sig = key.sign(msg).unwrap();
        let hash = key.public_key().default_scheme().hash().unwrap();
        let digest = hash.digest(msg);
        key.public_key()
            .verify_prehashed(hash, &digest, &sig)
            .unwrap();
        let other = hash.digest(b"another message");
        assert!(
            key.public_key()
                .verify_prehashed(hash, &other, &sig)
                .is_err(),
            "{kind:?}"
        );
        assert!(
            key.public_key()
                .verify_prehashed(hash, &digest[1..], &sig)
                .is_err(),
            "{kind:?} short digest"
        );
    }
    let p256 = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let sig = p256.sign(b"x").unwrap();
    assert!(
        p256.public_key()
            .verify_prehashed(
                HashAlgorithm::Sha384,
                &HashAlgorithm::Sha384.digest(b"x"),
                &sig
            )
            .is_err(),
        "digest of another hash must not verify"
    );
}

#[test]
fn ed25519_refuses_prehashed_verification() {
    let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let sig = key.sign(b"x").unwrap();
    assert!(
        key.public_key()
            .verify_prehashed(HashAlgorithm::Sha256, &sha256(b"x"), &sig)
            .is_err()
    );
}

#[test]
fn dsse_spec_vector_verifies_with_raw_r_s_signature() {
    let envelope: serde_json::Value =
        serde_json::from_str(&read("intoto/dsse-spec/envelope.json")).unwrap();
    let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let payload_type = envelope["payloadType"].as_str().unwrap();
    let sig = B64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    assert_eq!(sig.len(), 64, "the spec vector carries raw r||s");
    let expected_pae = std::fs::read(format!("{VECTORS}/intoto/dsse-spec/pae.bin")).unwrap();
    let pae = pae(payload_type, &payload);
    assert_eq!(pae, expected_pae);
    let key = PublicKey::from_pem(&read("intoto/dsse-spec/pub.pem")).unwrap();
    assert_eq!(key.kind(), KeyKind::EcdsaP256);
    key.verify(&pae, &sig).unwrap();
    // prehashed path accepts raw r||s too
    key.verify_prehashed(HashAlgorithm::Sha256, &sha256(&pae), &sig)
        .unwrap();
}

#[test]
fn dsse_spec_vector_rejects_any_changed_byte() {
    let envelope: serde_json::Value =
        serde_json::from_str(&read("intoto/dsse-spec/envelope.json")).unwrap();
    let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let payload_type = envelope["payloadType"].as_str().unwrap();
    let sig = B64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let key = PublicKey::from_pem(&read("intoto/dsse-spec/pub.pem")).unwrap();
    let pae = pae(payload_type, &payload);
    for i in 0..pae.len() {
        assert!(key.verify(&flip(pae.clone(), i), &sig).is_err(), "byte {i}");
    }
    for i in 0..sig.len() {
        assert!(
            key.verify(&pae, &flip(sig.clone(), i)).is_err(),
            "sig byte {i}"
        );
    }
}

#[test]
fn intoto_dsse_layout_rsa_pss_signature_verifies_with_layout_key() {
    // demo.dsse.layout is signed by alice (rsassa-pss-sha256) and must pass upstream.
    let envelope: serde_json::Value =
        serde_json::from_str(&read("intoto/intoto-golang-upstream/demo.dsse.layout")).unwrap();
    let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let pae = pae(envelope["payloadType"].as_str().unwrap(), &payload);
    let sig = B64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let alice = PublicKey::from_pem(&read("intoto/intoto-golang-upstream/alice.pub")).unwrap();
    alice
        .verify_with(SignatureScheme::RsaPssSha256, &pae, &sig)
        .unwrap();
    assert!(
        alice
            .verify_with(SignatureScheme::RsaPkcs1Sha256, &pae, &sig)
            .is_err()
    );
    assert!(
        alice
            .verify_with(SignatureScheme::RsaPssSha256, &flip(pae, 20), &sig)
            .is_err()
    );
}

#[test]
fn intoto_upstream_private_keys_parse_and_match_their_public_keys() {
    let dir = "intoto/intoto-golang-upstream";
    for (name, kind) in [
        ("alice", None),
        ("carol", Some(KeyKind::Ed25519)),
        ("dan", None),
        ("frank", Some(KeyKind::EcdsaP521)),
        ("grace", Some(KeyKind::EcdsaP384)),
    ] {
        let private = PrivateKey::from_pem(&read(&format!("{dir}/{name}"))).unwrap();
        let public = PublicKey::from_pem(&read(&format!("{dir}/{name}.pub"))).unwrap();
        assert_eq!(private.public_key().spki_der(), public.spki_der(), "{name}");
        if let Some(kind) = kind {
            assert_eq!(public.kind(), kind, "{name}");
        } else {
            assert!(
                matches!(public.kind(), KeyKind::Rsa { bits } if bits >= 2048),
                "{name}"
            );
        }
        let sig = private.sign(b"in-toto").unwrap();
        public.verify(b"in-toto", &sig).unwrap();
        // PKCS#8 export re-imports to the same key
        let again = PrivateKey::from_pem(&private.to_pkcs8_pem()).unwrap();
        assert_eq!(again.public_key(), public, "{name}");
    }
}

#[test]
fn rejects_keys_on_unsupported_curves() {
    let dir = "intoto/intoto-golang-upstream";
    // erin: secp256k1, heidi: secp224r1
    for name in ["erin", "heidi"] {
        assert!(
            PublicKey::from_pem(&read(&format!("{dir}/{name}.pub"))).is_err(),
            "{name}.pub"
        );
        assert!(
            PrivateKey::from_pem(&read(&format!("{dir}/{name}"))).is_err(),
            "{name}"
        );
    }
}

#[test]
fn parses_pkcs1_rsa_public_key_pem_equivalently_to_spki() {
    let spki_key = PublicKey::from_pem(&read("intoto/intoto-golang-upstream/alice.pub")).unwrap();
    // Build an "RSA PUBLIC KEY" PEM from the SPKI's inner RSAPublicKey.
    let pkcs1 = spki_key.raw_public_key();
    let body = B64.encode(pkcs1);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        lines.join("\n")
    );
    let pkcs1_key = PublicKey::from_pem(&pem).unwrap();
    assert_eq!(pkcs1_key.spki_der(), spki_key.spki_der());
}

#[test]
fn rejects_malformed_key_input() {
    assert!(PublicKey::from_pem("not a pem").is_err());
    assert!(PublicKey::from_spki_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
    let good = PublicKey::from_pem(&read("intoto/dsse-spec/pub.pem")).unwrap();
    let mut trailing = good.spki_der().to_vec();
    trailing.push(0);
    assert!(
        PublicKey::from_spki_der(&trailing).is_err(),
        "trailing data"
    );
    let truncated = &good.spki_der()[..good.spki_der().len() - 1];
    assert!(PublicKey::from_spki_der(truncated).is_err(), "truncated");
    assert!(PrivateKey::from_pkcs8_der(&[0x30, 0x00]).is_err());
    assert!(
        PrivateKey::from_pem(&read("intoto/dsse-spec/pub.pem")).is_err(),
        "public as private"
    );
}

#[test]
fn private_key_debug_prints_no_secret() {
    let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let debug = format!("{key:?}");
    let pkcs8 = key.to_pkcs8_der();
    let b64 = B64.encode(&pkcs8[pkcs8.len() - 32..]);
    let hex_secret = hex::encode(&pkcs8[pkcs8.len() - 32..]);
    assert!(!debug.contains(&b64) && !debug.contains(&hex_secret));
    assert!(!debug.contains("PRIVATE KEY"));
}

#[test]
fn pem_of_any_line_width_parses_but_headers_and_bad_base64_do_not() {
    let key = PublicKey::from_pem(&read("intoto/dsse-spec/pub.pem")).unwrap();
    let body = B64.encode(key.spki_der());
    for width in [52, 64, 76] {
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(width)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\n",
            lines.join("\r\n")
        );
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), key, "width {width}");
    }
    let with_header = format!(
        "-----BEGIN PUBLIC KEY-----\nProc-Type: 4,ENCRYPTED\n{body}\n-----END PUBLIC KEY-----\n"
    );
    assert!(PublicKey::from_pem(&with_header).is_err());
    let bad = format!(
        "-----BEGIN PUBLIC KEY-----\n{}!\n-----END PUBLIC KEY-----\n",
        &body[1..]
    );
    assert!(PublicKey::from_pem(&bad).is_err());
    assert!(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n").is_err());
}

/// Fuzzing found that an END marker overlapping the BEGIN line made the PEM reader slice
/// backwards and panic; such input must be a clean error for every PEM entry point.
#[test]
fn rejects_pem_whose_end_marker_overlaps_the_begin_line() {
    for text in [
        "-----BEGIN CERTIFICATE-----END CERTIFICATE-----",
        "-----BEGIN -----END -----",
        "-----BEGIN PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
    ] {
        assert!(
            chainseal_crypto::keys::PublicKey::from_pem(text).is_err(),
            "{text:?}"
        );
        assert!(
            chainseal_crypto::keys::PrivateKey::from_pem(text).is_err(),
            "{text:?}"
        );
        assert!(
            chainseal_crypto::x509::Certificate::from_pem(text).is_err(),
            "{text:?}"
        );
    }
}
