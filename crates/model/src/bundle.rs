//! Sigstore bundles (`application/vnd.dev.sigstore.bundle…`), parsed with the
//! protobuf-specs JSON mapping and normalised into types the verifier consumes.
//!
//! Every byte string keeps the exact bytes that were signed or logged: nothing here is
//! re-serialised before it is hashed.

use sigstore_protobuf_specs::dev::sigstore::{bundle::v1 as pb_bundle, common::v1 as pb_common};

use crate::Error;
use crate::dsse;

/// Bundle format versions chainseal understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    /// `…bundle+json;version=0.1`: chains, inclusion promise required, proof optional.
    V0_1,
    /// `…bundle+json;version=0.2`: inclusion proof required.
    V0_2,
    /// `…bundle+json;version=0.3` or `…bundle.v0.3+json`: single certificate.
    V0_3,
}

impl BundleVersion {
    /// Map a bundle media type to its version; unknown media types are an error.
    pub fn from_media_type(media_type: &str) -> Result<Self, Error> {
        match media_type {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Ok(Self::V0_1),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Ok(Self::V0_2),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Ok(Self::V0_3),
            other => Err(Error::Invalid {
                field: "mediaType".into(),
                reason: format!("unsupported bundle media type {other:?}"),
            }),
        }
    }

    /// The canonical media type chainseal writes for this version.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::V0_1 => "application/vnd.dev.sigstore.bundle+json;version=0.1",
            Self::V0_2 => "application/vnd.dev.sigstore.bundle+json;version=0.2",
            Self::V0_3 => "application/vnd.dev.sigstore.bundle.v0.3+json",
        }
    }
}

/// Hash algorithms that appear in bundles and log entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA2-256.
    Sha256,
    /// SHA2-384.
    Sha384,
    /// SHA2-512.
    Sha512,
}

impl HashAlgorithm {
    /// The digest length in bytes.
    pub fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn from_pb(field: &str, v: i32) -> Result<Self, Error> {
        match pb_common::HashAlgorithm::try_from(v) {
            Ok(pb_common::HashAlgorithm::Sha2256) => Ok(Self::Sha256),
            Ok(pb_common::HashAlgorithm::Sha2384) => Ok(Self::Sha384),
            Ok(pb_common::HashAlgorithm::Sha2512) => Ok(Self::Sha512),
            _ => Err(Error::Invalid {
                field: field.into(),
                reason: format!("unsupported hash algorithm {v}"),
            }),
        }
    }

    /// Parse the protobuf enum name (`SHA2_256`) used in Rekor v2 bodies.
    pub fn from_proto_name(field: &str, name: &str) -> Result<Self, Error> {
        match name {
            "SHA2_256" => Ok(Self::Sha256),
            "SHA2_384" => Ok(Self::Sha384),
            "SHA2_512" => Ok(Self::Sha512),
            other => Err(Error::Invalid {
                field: field.into(),
                reason: format!("unsupported hash algorithm {other:?}"),
            }),
        }
    }
}

/// A digest with its algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashOutput {
    /// The algorithm.
    pub algorithm: HashAlgorithm,
    /// The digest bytes (length checked against the algorithm).
    pub digest: Vec<u8>,
}

/// How the signer's key is conveyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// v0.3: a single leaf certificate (DER).
    Certificate(Vec<u8>),
    /// v0.1/v0.2: leaf first, then intermediates (DER); never empty.
    Chain(Vec<Vec<u8>>),
    /// A managed key, identified only by an untrusted hint; the verifier supplies the key.
    PublicKeyHint(String),
}

impl KeyMaterial {
    /// The leaf certificate, if the material is certificate based.
    pub fn leaf(&self) -> Option<&[u8]> {
        match self {
            Self::Certificate(c) => Some(c),
            Self::Chain(c) => c.first().map(Vec::as_slice),
            Self::PublicKeyHint(_) => None,
        }
    }
}

/// What was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A signature directly over an artifact, with an optional claimed digest.
    MessageSignature {
        /// The digest the bundle claims for the artifact (must be checked, never trusted).
        digest: Option<HashOutput>,
        /// The signature bytes.
        signature: Vec<u8>,
    },
    /// A DSSE envelope (usually an in-toto statement).
    Dsse(dsse::Envelope),
}

/// A Rekor inclusion proof as carried in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the entry in the (shard's) tree.
    pub log_index: i64,
    /// Root hash the proof leads to.
    pub root_hash: Vec<u8>,
    /// Tree size the proof is for.
    pub tree_size: i64,
    /// Sibling hashes from the leaf upwards.
    pub hashes: Vec<Vec<u8>>,
    /// The signed checkpoint (C2SP signed note) committing to `root_hash`.
    pub checkpoint: Option<String>,
}

/// One transparency log entry of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    /// Global log index (Rekor v1) or index in the log (v2).
    pub log_index: i64,
    /// Log ID: SHA-256 of the log key's SPKI (v1) or the C2SP key ID (v2).
    pub log_id: Vec<u8>,
    /// Entry kind, e.g. `hashedrekord`.
    pub kind: String,
    /// Entry kind version, e.g. `0.0.1`.
    pub version: String,
    /// Integrated time (seconds); 0 when absent (Rekor v2).
    pub integrated_time: i64,
    /// Signed entry timestamp (Rekor v1 inclusion promise), if present.
    pub signed_entry_timestamp: Option<Vec<u8>>,
    /// Inclusion proof, if present.
    pub inclusion_proof: Option<InclusionProof>,
    /// The canonicalised entry body, exactly as logged.
    pub canonicalized_body: Vec<u8>,
}

/// A parsed Sigstore bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Format version from the media type.
    pub version: BundleVersion,
    /// The media type string as given.
    pub media_type: String,
    /// Key material.
    pub key_material: KeyMaterial,
    /// Transparency log entries.
    pub tlog_entries: Vec<TlogEntry>,
    /// RFC 3161 signed timestamps (DER `TimeStampResp` bytes).
    pub rfc3161_timestamps: Vec<Vec<u8>>,
    /// The signed content.
    pub content: Content,
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Bundle {
    /// Parse a bundle from its JSON bytes (protobuf JSON mapping), checking its structure:
    /// known media type, key material present and of the form the version allows,
    /// non-empty chains, content present.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let json_err = |e: serde_json::Error| Error::Json {
            what: "bundle".into(),
            reason: e.to_string(),
        };
        let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(json_err)?;
        strip_base64_line_breaks(&mut value);
        let pb: pb_bundle::Bundle = serde_json::from_value(value).map_err(json_err)?;
        Self::from_pb(pb)
    }

    /// Normalise a protobuf bundle.
    pub fn from_pb(pb: pb_bundle::Bundle) -> Result<Self, Error> {
        let version = BundleVersion::from_media_type(&pb.media_type)?;
        let vm = pb.verification_material.ok_or_else(|| Error::Missing {
            field: "verificationMaterial".into(),
        })?;
        use pb_bundle::verification_material::Content as VmContent;
        let key_material = match vm.content {
            None => {
                return Err(Error::Missing {
                    field: "verificationMaterial.certificate|x509CertificateChain|publicKey".into(),
                });
            }
            Some(VmContent::Certificate(c)) => {
                if c.raw_bytes.is_empty() {
                    return Err(invalid(
                        "verificationMaterial.certificate.rawBytes",
                        "empty",
                    ));
                }
                KeyMaterial::Certificate(c.raw_bytes)
            }
            Some(VmContent::X509CertificateChain(chain)) => {
                if version >= BundleVersion::V0_3 {
                    return Err(invalid(
                        "verificationMaterial.x509CertificateChain",
                        "v0.3 bundles must carry a single certificate, not a chain",
                    ));
                }
                if chain.certificates.is_empty() {
                    return Err(invalid(
                        "verificationMaterial.x509CertificateChain.certificates",
                        "empty certificate chain",
                    ));
                }
                let certs = chain
                    .certificates
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if c.raw_bytes.is_empty() {
                            Err(invalid(
                                &format!(
                                    "verificationMaterial.x509CertificateChain.certificates[{i}]"
                                ),
                                "empty certificate",
                            ))
                        } else {
                            Ok(c.raw_bytes)
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                KeyMaterial::Chain(certs)
            }
            Some(VmContent::PublicKey(pk)) => KeyMaterial::PublicKeyHint(pk.hint),
        };

        let tlog_entries = vm
            .tlog_entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| TlogEntry::from_pb(i, e))
            .collect::<Result<Vec<_>, _>>()?;

        let rfc3161_timestamps = vm
            .timestamp_verification_data
            .map(|t| {
                t.rfc3161_timestamps
                    .into_iter()
                    .map(|t| t.signed_timestamp)
                    .collect()
            })
            .unwrap_or_default();

        use pb_bundle::bundle::Content as PbContent;
        let content = match pb.content {
            None => {
                return Err(Error::Missing {
                    field: "messageSignature|dsseEnvelope".into(),
                });
            }
            Some(PbContent::MessageSignature(ms)) => {
                let digest = match ms.message_digest {
                    None => None,
                    Some(d) => {
                        let algorithm = HashAlgorithm::from_pb(
                            "messageSignature.messageDigest.algorithm",
                            d.algorithm,
                        )?;
                        if d.digest.len() != algorithm.len() {
                            return Err(invalid(
                                "messageSignature.messageDigest.digest",
                                format!("{} bytes, expected {}", d.digest.len(), algorithm.len()),
                            ));
                        }
                        Some(HashOutput {
                            algorithm,
                            digest: d.digest,
                        })
                    }
                };
                if ms.signature.is_empty() {
                    return Err(invalid("messageSignature.signature", "empty"));
                }
                Content::MessageSignature {
                    digest,
                    signature: ms.signature,
                }
            }
            Some(PbContent::DsseEnvelope(env)) => Content::Dsse(dsse::Envelope {
                payload: env.payload,
                payload_type: env.payload_type,
                signatures: env
                    .signatures
                    .into_iter()
                    .map(|s| dsse::Signature {
                        sig: s.sig,
                        keyid: (!s.keyid.is_empty()).then_some(s.keyid),
                    })
                    .collect(),
            }),
        };

        Ok(Bundle {
            version,
            media_type: pb.media_type,
            key_material,
            tlog_entries,
            rfc3161_timestamps,
            content,
        })
    }

    /// The signature bytes a timestamp must cover: the message signature, or the DSSE
    /// envelope's (single) signature.
    pub fn signature_bytes(&self) -> Option<&[u8]> {
        match &self.content {
            Content::MessageSignature { signature, .. } => Some(signature),
            Content::Dsse(env) => env.signatures.first().map(|s| s.sig.as_slice()),
        }
    }
}

/// Names of the fields that the bundle schema declares as `bytes` (base64 in JSON).
/// No string-typed field of the schema shares one of these names.
const BYTES_FIELDS: &[&str] = &[
    "rawBytes",
    "signature",
    "digest",
    "payload",
    "sig",
    "keyId",
    "signedTimestamp",
    "rootHash",
    "hashes",
    "canonicalizedBody",
    "signedEntryTimestamp",
];

/// Remove ASCII line breaks and spaces inside base64 `bytes` fields, as Go's protojson
/// and Python's decoders do (`base64` CLI output wraps at 76 columns). Only the schema's
/// bytes fields are touched; a checkpoint's text keeps its line breaks.
fn strip_base64_line_breaks(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if BYTES_FIELDS.contains(&k.as_str()) {
                    match child {
                        serde_json::Value::String(s) => strip(s),
                        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| {
                            if let serde_json::Value::String(s) = i {
                                strip(s)
                            }
                        }),
                        other => strip_base64_line_breaks(other),
                    }
                } else {
                    strip_base64_line_breaks(child);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_base64_line_breaks),
        _ => {}
    }
    fn strip(s: &mut String) {
        if s.bytes().any(|b| matches!(b, b'\n' | b'\r' | b' ' | b'\t')) {
            s.retain(|c| !matches!(c, '\n' | '\r' | ' ' | '\t'));
        }
    }
}

impl TlogEntry {
    fn from_pb(
        i: usize,
        e: sigstore_protobuf_specs::dev::sigstore::rekor::v1::TransparencyLogEntry,
    ) -> Result<Self, Error> {
        let at = |f: &str| format!("verificationMaterial.tlogEntries[{i}].{f}");
        let kv = e.kind_version.ok_or_else(|| Error::Missing {
            field: at("kindVersion"),
        })?;
        let log_id = e
            .log_id
            .ok_or_else(|| Error::Missing { field: at("logId") })?
            .key_id;
        if log_id.is_empty() {
            return Err(invalid(&at("logId.keyId"), "empty"));
        }
        if e.canonicalized_body.is_empty() {
            return Err(Error::Missing {
                field: at("canonicalizedBody"),
            });
        }
        Ok(TlogEntry {
            log_index: e.log_index,
            log_id,
            kind: kv.kind,
            version: kv.version,
            integrated_time: e.integrated_time,
            signed_entry_timestamp: e
                .inclusion_promise
                .map(|p| p.signed_entry_timestamp)
                .filter(|s| !s.is_empty()),
            inclusion_proof: e.inclusion_proof.map(|p| InclusionProof {
                log_index: p.log_index,
                root_hash: p.root_hash,
                tree_size: p.tree_size,
                hashes: p.hashes,
                checkpoint: p.checkpoint.map(|c| c.envelope),
            }),
            canonicalized_body: e.canonicalized_body,
        })
    }
}
