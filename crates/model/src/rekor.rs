//! Rekor entry bodies (the `canonicalizedBody` of a log entry): hashedrekord 0.0.1 and
//! 0.0.2, dsse 0.0.1 and 0.0.2, intoto 0.0.2.
//!
//! Bodies are parsed strictly (unknown fields rejected) so that a verifier comparing a
//! body with the bundle's signature, key and artifact sees every field the log committed
//! to.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

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
        /// The decoded payload bytes, when the stored body keeps them (Rekor usually
        /// drops them and keeps only `payload_hash`).
        payload: Option<Vec<u8>>,
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
    /// Rekor keeps the payload out of stored intoto bodies (only `payloadHash` remains);
    /// some bodies carry it.
    #[serde(default)]
    payload: Option<String>,
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
    if digest.len() != algorithm.digest_len() {
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
                let payload = match &env.payload {
                    None => None,
                    Some(p) => {
                        let payload_b64 = b64("spec.content.envelope.payload", p)?;
                        Some(b64(
                            "spec.content.envelope.payload (inner)",
                            std::str::from_utf8(&payload_b64).map_err(|_| Error::Invalid {
                                field: "spec.content.envelope.payload".into(),
                                reason: "inner payload is not base64 text".into(),
                            })?,
                        )?)
                    }
                };
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
                let entry: v2::Entry = json("Rekor v2 entry body", body)?;
                Self::from_v2(entry)
            }
            (k, v) => Err(Error::Invalid {
                field: "kindVersion".into(),
                reason: format!("unsupported entry type {k} {v}"),
            }),
        }
    }

    fn from_v2(entry: v2::Entry) -> Result<Self, Error> {
        let hash_out = |f: &str, h: Option<v2::HashOutput>| {
            let h = h.ok_or_else(|| Error::Missing { field: f.into() })?;
            let algorithm = HashAlgorithm::from_proto_name(f, &h.algorithm.0)?;
            if h.digest.0.len() != algorithm.digest_len() {
                return Err(Error::Invalid {
                    field: format!("{f}.digest"),
                    reason: format!("{} bytes for {algorithm:?}", h.digest.0.len()),
                });
            }
            Ok(HashOutput {
                algorithm,
                digest: h.digest.0,
            })
        };
        let sig = |f: &str, s: Option<v2::Signature>| -> Result<(Vec<u8>, V2Verifier), Error> {
            let s = s.ok_or_else(|| Error::Missing { field: f.into() })?;
            let v = s.verifier.ok_or_else(|| Error::Missing {
                field: format!("{f}.verifier"),
            })?;
            let verifier = match crate::pbjson::one_of(
                &format!("{f}.verifier"),
                vec![
                    v.public_key.map(|k| V2Verifier::PublicKey(k.raw_bytes.0)),
                    v.x509_certificate
                        .map(|c| V2Verifier::Certificate(c.raw_bytes.0)),
                ],
            )? {
                Some(v) => v,
                None => {
                    return Err(Error::Missing {
                        field: format!("{f}.verifier.publicKey|x509Certificate"),
                    });
                }
            };
            if s.content.0.is_empty() {
                return Err(Error::Missing {
                    field: format!("{f}.content"),
                });
            }
            Ok((s.content.0, verifier))
        };
        let spec = entry.spec.ok_or_else(|| Error::Missing {
            field: "spec".into(),
        })?;
        match crate::pbjson::one_of(
            "spec",
            vec![spec.hashed_rekord_v002.map(Ok), spec.dsse_v002.map(Err)],
        )? {
            None => Err(Error::Missing {
                field: "spec.hashedRekordV002|dsseV002".into(),
            }),
            Some(Ok(h)) => {
                let digest = hash_out("spec.hashedRekordV002.data", h.data)?;
                let (signature, verifier) = sig("spec.hashedRekordV002.signature", h.signature)?;
                Ok(EntryBody::HashedRekordV002 {
                    digest,
                    signature,
                    verifier,
                })
            }
            Some(Err(d)) => {
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

/// Rekor v2 entry bodies in protobuf JSON (`dev.sigstore.rekor.v2.Entry`).
mod v2 {
    use serde::Deserialize;

    use crate::pbjson::{Bytes, EnumName};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Entry {
        #[allow(dead_code)]
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub kind: String,
        #[allow(dead_code)]
        #[serde(
            rename = "apiVersion",
            alias = "api_version",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub api_version: String,
        pub spec: Option<Spec>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Spec {
        #[serde(rename = "hashedRekordV002", alias = "hashed_rekord_v002")]
        pub hashed_rekord_v002: Option<HashedRekord>,
        #[serde(rename = "dsseV002", alias = "dsse_v002")]
        pub dsse_v002: Option<Dsse>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct HashedRekord {
        pub data: Option<HashOutput>,
        pub signature: Option<Signature>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Dsse {
        #[serde(rename = "payloadHash", alias = "payload_hash")]
        pub payload_hash: Option<HashOutput>,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub signatures: Vec<Signature>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct HashOutput {
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub algorithm: EnumName,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub digest: Bytes,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Signature {
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub content: Bytes,
        pub verifier: Option<Verifier>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Verifier {
        #[serde(rename = "publicKey", alias = "public_key")]
        pub public_key: Option<Raw>,
        #[serde(rename = "x509Certificate", alias = "x509_certificate")]
        pub x509_certificate: Option<Raw>,
        #[allow(dead_code)]
        #[serde(
            rename = "keyDetails",
            alias = "key_details",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub key_details: EnumName,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Raw {
        #[serde(
            rename = "rawBytes",
            alias = "raw_bytes",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub raw_bytes: Bytes,
    }
}
