//! Rekor entry bodies (the `canonicalizedBody` of a log entry): hashedrekord 0.0.1 and
//! 0.0.2, dsse 0.0.1 and 0.0.2, intoto 0.0.2.
//!
//! Bodies are parsed strictly (unknown fields rejected) so that a verifier comparing a
//! body with the bundle's signature, key and artifact sees every field the log committed
//! to.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sigstore_protobuf_specs::dev::sigstore::rekor::v2 as pb_v2;

use crate::Error;
use crate::bundle::{HashAlgorithm, HashOutput};

/// A decoded Rekor entry body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    /// `hashedrekord` 0.0.1: artifact digest, signature, and key or certificate (PEM).
    HashedRekordV001 {
        /// The artifact digest.
        digest: HashOutput,
        /// Signature bytes.
        signature: Vec<u8>,
        /// PEM of the public key or certificate.
        verifier_pem: Vec<u8>,
    },
    /// `dsse` 0.0.1: payload hash and (signature, verifier PEM) pairs.
    DsseV001 {
        /// SHA-256 of the DSSE payload.
        payload_hash: HashOutput,
        /// Signatures with the PEM of their verifier.
        signatures: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// legacy `intoto` 0.0.2: the envelope itself (payload and signatures double-encoded).
    IntotoV002 {
        /// SHA-256 of the DSSE payload.
        payload_hash: HashOutput,
        /// The envelope's payload type.
        payload_type: String,
        /// The decoded payload bytes.
        payload: Vec<u8>,
        /// Signatures with the PEM of their verifier.
        signatures: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// `hashedrekord` 0.0.2 (Rekor v2): digest, signature and a verifier.
    HashedRekordV002 {
        /// The digest that was signed (artifact digest, or the DSSE PAE digest).
        digest: HashOutput,
        /// Signature bytes.
        signature: Vec<u8>,
        /// The verifier key or certificate.
        verifier: V2Verifier,
    },
    /// `dsse` 0.0.2 (Rekor v2, deprecated): payload hash and signatures.
    DsseV002 {
        /// SHA-256 of the DSSE payload.
        payload_hash: HashOutput,
        /// Signatures with their verifiers.
        signatures: Vec<(Vec<u8>, V2Verifier)>,
    },
}

/// A Rekor v2 verifier: DER public key or DER certificate, with its key details name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V2Verifier {
    /// SPKI DER public key.
    PublicKey(Vec<u8>),
    /// DER certificate.
    Certificate(Vec<u8>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<S> {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    spec: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V1Hash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrSpec {
    data: HrData,
    signature: HrSig,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrData {
    hash: V1Hash,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrSig {
    content: String,
    #[serde(rename = "publicKey")]
    public_key: HrKey,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrKey {
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseSpec {
    #[serde(rename = "envelopeHash")]
    #[allow(dead_code)]
    envelope_hash: Option<V1Hash>,
    #[serde(rename = "payloadHash")]
    payload_hash: V1Hash,
    signatures: Vec<DsseSig>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseSig {
    signature: String,
    verifier: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntotoSpec {
    content: IntotoContent,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntotoContent {
    envelope: IntotoEnvelope,
    #[allow(dead_code)]
    hash: Option<V1Hash>,
    #[serde(rename = "payloadHash")]
    payload_hash: V1Hash,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntotoEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<IntotoSig>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntotoSig {
    #[serde(rename = "publicKey")]
    public_key: String,
    sig: String,
    #[serde(default)]
    #[allow(dead_code)]
    keyid: Option<String>,
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, Error> {
    STANDARD.decode(s).map_err(|e| Error::Base64 {
        field: field.into(),
        reason: e.to_string(),
    })
}

fn v1_hash(field: &str, h: &V1Hash) -> Result<HashOutput, Error> {
    let algorithm = match h.algorithm.as_str() {
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        other => {
            return Err(Error::Invalid {
                field: format!("{field}.algorithm"),
                reason: format!("unsupported {other:?}"),
            });
        }
    };
    let digest = hex::decode(&h.value).map_err(|e| Error::Invalid {
        field: format!("{field}.value"),
        reason: format!("not hex: {e}"),
    })?;
    if digest.len() != algorithm.len() {
        return Err(Error::Invalid {
            field: format!("{field}.value"),
            reason: format!("{} bytes for {:?}", digest.len(), algorithm),
        });
    }
    Ok(HashOutput { algorithm, digest })
}

fn json<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Json {
        what: what.into(),
        reason: e.to_string(),
    })
}

impl EntryBody {
    /// Decode a canonicalised body, checking that its `kind`/`apiVersion` equal the
    /// entry's declared `kindVersion`.
    pub fn parse(kind: &str, version: &str, body: &[u8]) -> Result<Self, Error> {
        #[derive(Deserialize)]
        struct Head {
            #[serde(rename = "apiVersion")]
            api_version: String,
            kind: String,
        }
        let head: Head = json("entry body", body)?;
        if head.kind != kind || head.api_version != version {
            return Err(Error::Invalid {
                field: "canonicalizedBody".into(),
                reason: format!(
                    "body is {} {} but kindVersion says {kind} {version}",
                    head.kind, head.api_version
                ),
            });
        }
        match (kind, version) {
            ("hashedrekord", "0.0.1") => {
                let e: Envelope<HrSpec> = json("hashedrekord 0.0.1 body", body)?;
                let _ = (e.api_version, e.kind);
                Ok(EntryBody::HashedRekordV001 {
                    digest: v1_hash("spec.data.hash", &e.spec.data.hash)?,
                    signature: b64("spec.signature.content", &e.spec.signature.content)?,
                    verifier_pem: b64(
                        "spec.signature.publicKey.content",
                        &e.spec.signature.public_key.content,
                    )?,
                })
            }
            ("dsse", "0.0.1") => {
                let e: Envelope<DsseSpec> = json("dsse 0.0.1 body", body)?;
                let signatures = e
                    .spec
                    .signatures
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        Ok((
                            b64(&format!("spec.signatures[{i}].signature"), &s.signature)?,
                            b64(&format!("spec.signatures[{i}].verifier"), &s.verifier)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                Ok(EntryBody::DsseV001 {
                    payload_hash: v1_hash("spec.payloadHash", &e.spec.payload_hash)?,
                    signatures,
                })
            }
            ("intoto", "0.0.2") => {
                let e: Envelope<IntotoSpec> = json("intoto 0.0.2 body", body)?;
                let env = e.spec.content.envelope;
                // The legacy intoto type base64-encodes the already-base64 payload and sigs.
                let payload_b64 = b64("spec.content.envelope.payload", &env.payload)?;
                let payload = b64(
                    "spec.content.envelope.payload (inner)",
                    std::str::from_utf8(&payload_b64).map_err(|_| Error::Invalid {
                        field: "spec.content.envelope.payload".into(),
                        reason: "inner payload is not base64 text".into(),
                    })?,
                )?;
                let signatures = env
                    .signatures
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let f = format!("spec.content.envelope.signatures[{i}]");
                        let inner = b64(&format!("{f}.sig"), &s.sig)?;
                        let sig = b64(
                            &format!("{f}.sig (inner)"),
                            std::str::from_utf8(&inner).map_err(|_| Error::Invalid {
                                field: format!("{f}.sig"),
                                reason: "inner signature is not base64 text".into(),
                            })?,
                        )?;
                        Ok((sig, b64(&format!("{f}.publicKey"), &s.public_key)?))
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                Ok(EntryBody::IntotoV002 {
                    payload_hash: v1_hash(
                        "spec.content.payloadHash",
                        &e.spec.content.payload_hash,
                    )?,
                    payload_type: env.payload_type,
                    payload,
                    signatures,
                })
            }
            ("hashedrekord", "0.0.2") | ("dsse", "0.0.2") => {
                let entry: pb_v2::Entry = json("Rekor v2 entry body", body)?;
                Self::from_v2(entry)
            }
            (k, v) => Err(Error::Invalid {
                field: "kindVersion".into(),
                reason: format!("unsupported entry type {k} {v}"),
            }),
        }
    }

    fn from_v2(entry: pb_v2::Entry) -> Result<Self, Error> {
        let spec = entry
            .spec
            .and_then(|s| s.spec)
            .ok_or_else(|| Error::Missing {
                field: "spec".into(),
            })?;
        let hash_out =
            |f: &str, h: Option<sigstore_protobuf_specs::dev::sigstore::common::v1::HashOutput>| {
                let h = h.ok_or_else(|| Error::Missing { field: f.into() })?;
                let algorithm =
                match sigstore_protobuf_specs::dev::sigstore::common::v1::HashAlgorithm::try_from(
                    h.algorithm,
                ) {
                    Ok(a) => HashAlgorithm::from_proto_name(f, a.as_str_name())?,
                    Err(_) => {
                        return Err(Error::Invalid {
                            field: f.into(),
                            reason: format!("unknown hash algorithm {}", h.algorithm),
                        });
                    }
                };
                if h.digest.len() != algorithm.len() {
                    return Err(Error::Invalid {
                        field: format!("{f}.digest"),
                        reason: format!("{} bytes for {algorithm:?}", h.digest.len()),
                    });
                }
                Ok(HashOutput {
                    algorithm,
                    digest: h.digest,
                })
            };
        let sig = |f: &str, s: Option<pb_v2::Signature>| -> Result<(Vec<u8>, V2Verifier), Error> {
            let s = s.ok_or_else(|| Error::Missing { field: f.into() })?;
            let v = s
                .verifier
                .and_then(|v| v.verifier)
                .ok_or_else(|| Error::Missing {
                    field: format!("{f}.verifier"),
                })?;
            let verifier = match v {
                pb_v2::verifier::Verifier::PublicKey(pk) => V2Verifier::PublicKey(pk.raw_bytes),
                pb_v2::verifier::Verifier::X509Certificate(c) => {
                    V2Verifier::Certificate(c.raw_bytes)
                }
            };
            Ok((s.content, verifier))
        };
        match spec {
            pb_v2::spec::Spec::HashedRekordV002(h) => {
                let digest = hash_out("spec.hashedRekordV002.data", h.data)?;
                let (signature, verifier) = sig("spec.hashedRekordV002.signature", h.signature)?;
                Ok(EntryBody::HashedRekordV002 {
                    digest,
                    signature,
                    verifier,
                })
            }
            pb_v2::spec::Spec::DsseV002(d) => {
                let payload_hash = hash_out("spec.dsseV002.payloadHash", d.payload_hash)?;
                let signatures = d
                    .signatures
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| sig(&format!("spec.dsseV002.signatures[{i}]"), Some(s)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(EntryBody::DsseV002 {
                    payload_hash,
                    signatures,
                })
            }
        }
    }
}
