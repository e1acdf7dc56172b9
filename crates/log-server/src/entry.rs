//! Rekor v2 write requests: decode a `CreateEntryRequest`, verify its signature, and build
//! the canonical entry body (the log leaf) exactly as Rekor v2 does; and build the
//! `TransparencyLogEntry` response.
//!
//! The leaf is the RFC 8785 canonical JSON of the protobuf-JSON `Entry`
//! (`{"apiVersion":"0.0.2","kind":…,"spec":{…}}`), so identical requests give identical
//! leaves and dedup to the same index.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::{HashAlgorithm, KeyKind, PublicKey};
use chainseal_crypto::x509::Certificate;
use chainseal_tlog::Hash;
use sigstore_protobuf_specs::dev::sigstore::common::v1 as pb_common;
use sigstore_protobuf_specs::dev::sigstore::rekor::v2 as pb_v2;

use crate::error::{Error, Result};

/// Largest request body accepted by the write API.
pub const MAX_REQUEST_BYTES: usize = 128 * 1024;
/// Largest entry (canonical body) the log stores: the tlog-tiles uint16 bound.
pub const MAX_ENTRY_BYTES: usize = chainseal_tlog::tile::MAX_ENTRY_LEN;
/// Most signatures / verifiers a DSSE request may carry (bounds verification work).
pub const MAX_DSSE_SIGNATURES: usize = 8;

/// A verified request, ready to be sequenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// `hashedrekord` or `dsse`.
    pub kind: &'static str,
    /// The canonical entry body: the bytes the log commits to.
    pub body: Vec<u8>,
    /// `SHA-256(0x00 || body)`.
    pub leaf_hash: Hash,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::BadRequest(reason.into())
}

/// Decodes protobuf JSON into `T`. prost-reflect's decoder is not documented as
/// panic-free on every input, so a panic is caught and turned into a 400.
fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T> {
    let r = std::panic::catch_unwind(|| serde_json::from_slice::<T>(body));
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(bad(format!("{what} is not valid protobuf JSON: {e}"))),
        Err(_) => Err(bad(format!("{what} could not be decoded"))),
    }
}

/// Parses, verifies and canonicalises a `CreateEntryRequest` (protobuf JSON).
pub fn prepare(request: &[u8]) -> Result<Prepared> {
    if request.len() > MAX_REQUEST_BYTES {
        return Err(Error::TooLarge {
            what: "request body",
            got: request.len(),
            max: MAX_REQUEST_BYTES,
        });
    }
    let req: pb_v2::CreateEntryRequest = decode("CreateEntryRequest", request)?;
    let (kind, spec) = match req.spec {
        Some(pb_v2::create_entry_request::Spec::HashedRekordRequestV002(h)) => {
            ("hashedrekord", hashed_rekord(h)?)
        }
        Some(pb_v2::create_entry_request::Spec::DsseRequestV002(d)) => ("dsse", dsse(d)?),
        None => {
            return Err(bad(
                "request must contain hashedRekordRequestV002 or dsseRequestV002",
            ));
        }
    };
    let entry = pb_v2::Entry {
        kind: kind.to_owned(),
        api_version: "0.0.2".to_owned(),
        spec: Some(pb_v2::Spec { spec: Some(spec) }),
    };
    let body = canonical_body(&entry)?;
    if body.len() > MAX_ENTRY_BYTES {
        return Err(Error::TooLarge {
            what: "entry body",
            got: body.len(),
            max: MAX_ENTRY_BYTES,
        });
    }
    let leaf_hash = chainseal_tlog::merkle::leaf_hash(&body);
    Ok(Prepared {
        kind,
        body,
        leaf_hash,
    })
}

/// The RFC 8785 canonical JSON of an entry's protobuf JSON.
pub fn canonical_body(entry: &pb_v2::Entry) -> Result<Vec<u8>> {
    let value =
        serde_json::to_value(entry).map_err(|e| bad(format!("entry cannot be serialised: {e}")))?;
    serde_json_canonicalizer::to_vec(&value)
        .map_err(|e| bad(format!("entry cannot be canonicalised: {e}")))
}

/// What a `keyDetails` value requires: a test on the key kind, the hash of the signed
/// digest, and the value's name.
type KeyRequirement = (fn(KeyKind) -> bool, HashAlgorithm, &'static str);

/// What a `keyDetails` value requires.
fn key_details(details: i32) -> Result<KeyRequirement> {
    use pb_common::PublicKeyDetails as D;
    let d = D::try_from(details).map_err(|_| bad(format!("unknown keyDetails {details}")))?;
    let name = d.as_str_name();
    let r: (fn(KeyKind) -> bool, HashAlgorithm) = match d {
        D::PkixEcdsaP256Sha256 => (|k| k == KeyKind::EcdsaP256, HashAlgorithm::Sha256),
        D::PkixEcdsaP384Sha384 => (|k| k == KeyKind::EcdsaP384, HashAlgorithm::Sha384),
        D::PkixEcdsaP521Sha512 => (|k| k == KeyKind::EcdsaP521, HashAlgorithm::Sha512),
        D::PkixRsaPkcs1v152048Sha256 => {
            (|k| k == KeyKind::Rsa { bits: 2048 }, HashAlgorithm::Sha256)
        }
        D::PkixRsaPkcs1v153072Sha256 => {
            (|k| k == KeyKind::Rsa { bits: 3072 }, HashAlgorithm::Sha256)
        }
        D::PkixRsaPkcs1v154096Sha256 => {
            (|k| k == KeyKind::Rsa { bits: 4096 }, HashAlgorithm::Sha256)
        }
        D::PkixEd25519 => (|k| k == KeyKind::Ed25519, HashAlgorithm::Sha512),
        _ => return Err(bad(format!("keyDetails {name} is not supported"))),
    };
    Ok((r.0, r.1, name))
}

/// The public key of a verifier, checked against its `keyDetails`.
fn verifier_key(v: &pb_v2::Verifier, field: &str) -> Result<(PublicKey, HashAlgorithm)> {
    let (fits, hash, name) = key_details(v.key_details)?;
    let key = match &v.verifier {
        Some(pb_v2::verifier::Verifier::PublicKey(pk)) => {
            PublicKey::from_spki_der(&pk.raw_bytes)
                .map_err(|e| bad(format!("{field}.publicKey.rawBytes: {e}")))?
        }
        Some(pb_v2::verifier::Verifier::X509Certificate(c)) => Certificate::from_der(&c.raw_bytes)
            .and_then(|c| c.public_key())
            .map_err(|e| bad(format!("{field}.x509Certificate.rawBytes: {e}")))?,
        None => {
            return Err(bad(format!(
                "{field}: publicKey or x509Certificate is required"
            )));
        }
    };
    if !fits(key.kind()) {
        return Err(bad(format!(
            "{field}: the key is {:?} but keyDetails says {name}",
            key.kind()
        )));
    }
    Ok((key, hash))
}

fn hashed_rekord(h: pb_v2::HashedRekordRequestV002) -> Result<pb_v2::spec::Spec> {
    let sig = h
        .signature
        .ok_or_else(|| bad("hashedRekordRequestV002.signature is required"))?;
    if sig.content.is_empty() {
        return Err(bad("hashedRekordRequestV002.signature.content is empty"));
    }
    let v = sig
        .verifier
        .as_ref()
        .ok_or_else(|| bad("hashedRekordRequestV002.signature.verifier is required"))?;
    let (key, hash) = verifier_key(v, "hashedRekordRequestV002.signature.verifier")?;
    if key.kind() == KeyKind::Ed25519 {
        return Err(bad(
            "hashedrekord with PKIX_ED25519 cannot be verified over a digest; use dsse",
        ));
    }
    if h.digest.len() != hash.output_len() {
        return Err(bad(format!(
            "hashedRekordRequestV002.digest is {} bytes; {hash:?} needs {}",
            h.digest.len(),
            hash.output_len()
        )));
    }
    key.verify_prehashed(hash, &h.digest, &sig.content)
        .map_err(|e| {
            bad(format!(
                "the signature does not verify over the digest: {e}"
            ))
        })?;
    let algorithm = match hash {
        HashAlgorithm::Sha256 => pb_common::HashAlgorithm::Sha2256,
        HashAlgorithm::Sha384 => pb_common::HashAlgorithm::Sha2384,
        _ => pb_common::HashAlgorithm::Sha2512,
    };
    Ok(pb_v2::spec::Spec::HashedRekordV002(
        pb_v2::HashedRekordLogEntryV002 {
            data: Some(pb_common::HashOutput {
                algorithm: algorithm as i32,
                digest: h.digest,
            }),
            signature: Some(sig),
        },
    ))
}

fn dsse(d: pb_v2::DsseRequestV002) -> Result<pb_v2::spec::Spec> {
    let env = d
        .envelope
        .ok_or_else(|| bad("dsseRequestV002.envelope is required"))?;
    if env.signatures.is_empty() {
        return Err(bad("dsseRequestV002.envelope has no signatures"));
    }
    if d.verifiers.is_empty() {
        return Err(bad("dsseRequestV002.verifiers is empty"));
    }
    if env.signatures.len() > MAX_DSSE_SIGNATURES || d.verifiers.len() > MAX_DSSE_SIGNATURES {
        return Err(bad(format!(
            "at most {MAX_DSSE_SIGNATURES} signatures and verifiers are accepted"
        )));
    }
    let keys = d
        .verifiers
        .iter()
        .enumerate()
        .map(|(i, v)| verifier_key(v, &format!("dsseRequestV002.verifiers[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    let pae = chainseal_model::dsse::pae(&env.payload_type, &env.payload);
    let mut signatures = Vec::with_capacity(env.signatures.len());
    for (i, s) in env.signatures.iter().enumerate() {
        let which = keys
            .iter()
            .position(|(k, _)| k.verify(&pae, &s.sig).is_ok())
            .ok_or_else(|| {
                bad(format!(
                    "dsseRequestV002.envelope.signatures[{i}] does not verify over the PAE with any verifier"
                ))
            })?;
        signatures.push(pb_v2::Signature {
            content: s.sig.clone(),
            verifier: Some(d.verifiers[which].clone()),
        });
    }
    Ok(pb_v2::spec::Spec::DsseV002(pb_v2::DsseLogEntryV002 {
        payload_hash: Some(pb_common::HashOutput {
            algorithm: pb_common::HashAlgorithm::Sha2256 as i32,
            digest: chainseal_crypto::keys::sha256(&env.payload).to_vec(),
        }),
        signatures,
    }))
}

/// Everything needed to answer a write request once a checkpoint covers the entry.
#[derive(Debug, Clone)]
pub struct Included<'a> {
    /// The entry's kind (`hashedrekord` / `dsse`).
    pub kind: &'a str,
    /// The canonical body.
    pub body: &'a [u8],
    /// The entry's index.
    pub index: u64,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// Inclusion proof of `index` in `tree_size`.
    pub proof: &'a [Hash],
    /// The signed checkpoint note.
    pub checkpoint: &'a str,
    /// The log ID: the full C2SP key ID.
    pub log_id: &'a [u8; 32],
}

/// The `TransparencyLogEntry` (protobuf-specs JSON) for an included entry.
///
/// Written directly rather than through the protobuf mapping, which drops default values:
/// for entry 0 it would omit `logIndex` and for a one-entry tree the empty `hashes`, and
/// clients such as sigstore-python 4.5.1 reject such a response. Every field is explicit.
pub fn transparency_log_entry(inc: &Included<'_>) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let tle = serde_json::json!({
        "logIndex": inc.index.to_string(),
        "logId": { "keyId": b64(inc.log_id) },
        "kindVersion": { "kind": inc.kind, "version": "0.0.2" },
        "inclusionProof": {
            "logIndex": inc.index.to_string(),
            "rootHash": b64(&inc.root[..]),
            "treeSize": inc.tree_size.to_string(),
            "hashes": inc.proof.iter().map(|h| b64(&h[..])).collect::<Vec<_>>(),
            "checkpoint": { "envelope": inc.checkpoint },
        },
        "canonicalizedBody": b64(inc.body),
    });
    serde_json::to_vec(&tle).map_err(|e| Error::Corrupt(format!("response: {e}")))
}

/// The kind recorded in a canonical body (`hashedrekord` or `dsse`), for entries found by
/// dedup.
pub fn body_kind(body: &[u8]) -> &'static str {
    if body.starts_with(b"{\"apiVersion\":\"0.0.2\",\"kind\":\"dsse\"") {
        "dsse"
    } else {
        "hashedrekord"
    }
}

/// Base64 helper for error messages and tests.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HAPPY: &str = include_str!(
        "../../../../shared/vectors/sigstore/conformance-assets/bundle-verify/rekor2-happy-path/bundle.sigstore.json"
    );

    fn vector_body() -> Vec<u8> {
        let v: serde_json::Value = serde_json::from_str(HAPPY).unwrap();
        let b = v["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
            .as_str()
            .unwrap();
        STANDARD.decode(b).unwrap()
    }

    #[test]
    fn canonical_body_reproduces_rekor_v2_bytes() {
        let body = vector_body();
        let entry: pb_v2::Entry = serde_json::from_slice(&body).unwrap();
        assert_eq!(canonical_body(&entry).unwrap(), body);
    }

    #[test]
    fn canonical_body_differs_when_a_field_changes() {
        let body = vector_body();
        let mut entry: pb_v2::Entry = serde_json::from_slice(&body).unwrap();
        entry.api_version = "0.0.1".into();
        assert_ne!(canonical_body(&entry).unwrap(), body);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            &b""[..],
            b"null",
            b"{}",
            b"[]",
            b"{\"hashedRekordRequestV002\":{}}",
            b"{\"hashedRekordRequestV002\":{\"digest\":\"!!\"}}",
            b"{\"dsseRequestV002\":{\"envelope\":{}}}",
            b"{\"unknown\":1}",
            b"\xff\xfe",
        ] {
            let e = prepare(bad).unwrap_err();
            assert!(e.is_client_error(), "{e}");
        }
    }
}
