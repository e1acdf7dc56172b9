//! Sigstore bundles (`application/vnd.dev.sigstore.bundle…`), parsed with the
//! protobuf-specs JSON mapping and normalised into types the verifier consumes.
//!
//! Every byte string keeps the exact bytes that were signed or logged: nothing here is
//! re-serialised before it is hashed.

use crate::Error;
use crate::dsse;
use crate::pbjson::one_of;

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
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Parse the protobuf enum name (`SHA2_256`) used in Rekor v2 bodies.
    pub fn from_proto_name(field: &str, name: &str) -> Result<Self, Error> {
        match name {
            "SHA2_256" | "1" => Ok(Self::Sha256),
            "SHA2_384" | "2" => Ok(Self::Sha384),
            "SHA2_512" | "3" => Ok(Self::Sha512),
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
    /// non-empty chains, content present, at most one member of each oneof.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let w: wire::Bundle = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "bundle".into(),
            reason: e.to_string(),
        })?;
        Self::from_wire(w)
    }

    fn from_wire(w: wire::Bundle) -> Result<Self, Error> {
        let version = BundleVersion::from_media_type(&w.media_type)?;
        let vm = w.verification_material.ok_or_else(|| Error::Missing {
            field: "verificationMaterial".into(),
        })?;
        enum Km {
            Cert(wire::Cert),
            Chain(wire::Chain),
            Key(wire::KeyId),
        }
        let km = one_of(
            "verificationMaterial",
            vec![
                vm.certificate.map(Km::Cert),
                vm.x509_certificate_chain.map(Km::Chain),
                vm.public_key.map(Km::Key),
            ],
        )?;
        let key_material = match km {
            None => {
                return Err(Error::Missing {
                    field: "verificationMaterial.certificate|x509CertificateChain|publicKey".into(),
                });
            }
            Some(Km::Cert(c)) => {
                // sigstore_bundle.proto: keyless 0.1/0.2 bundles MUST use the chain form.
                if version < BundleVersion::V0_3 {
                    return Err(invalid(
                        "verificationMaterial.certificate",
                        "v0.1 and v0.2 bundles must carry an x509CertificateChain; a single certificate is v0.3+",
                    ));
                }
                if c.raw_bytes.0.is_empty() {
                    return Err(invalid(
                        "verificationMaterial.certificate.rawBytes",
                        "empty",
                    ));
                }
                KeyMaterial::Certificate(c.raw_bytes.0)
            }
            Some(Km::Chain(chain)) => {
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
                        if c.raw_bytes.0.is_empty() {
                            Err(invalid(
                                &format!(
                                    "verificationMaterial.x509CertificateChain.certificates[{i}]"
                                ),
                                "empty certificate",
                            ))
                        } else {
                            Ok(c.raw_bytes.0)
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                KeyMaterial::Chain(certs)
            }
            Some(Km::Key(pk)) => KeyMaterial::PublicKeyHint(pk.hint),
        };

        let tlog_entries = vm
            .tlog_entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| TlogEntry::from_wire(i, e))
            .collect::<Result<Vec<_>, _>>()?;

        let rfc3161_timestamps = vm
            .timestamp_verification_data
            .map(|t| {
                t.rfc3161_timestamps
                    .into_iter()
                    .map(|t| t.signed_timestamp.0)
                    .collect()
            })
            .unwrap_or_default();

        enum C {
            Ms(wire::MessageSignature),
            Dsse(wire::Envelope),
        }
        let content = match one_of(
            "content",
            vec![w.message_signature.map(C::Ms), w.dsse_envelope.map(C::Dsse)],
        )? {
            None => {
                return Err(Error::Missing {
                    field: "messageSignature|dsseEnvelope".into(),
                });
            }
            Some(C::Ms(ms)) => {
                let digest = match ms.message_digest {
                    None => None,
                    Some(d) => {
                        let algorithm = HashAlgorithm::from_proto_name(
                            "messageSignature.messageDigest.algorithm",
                            &d.algorithm.0,
                        )?;
                        if d.digest.0.len() != algorithm.digest_len() {
                            return Err(invalid(
                                "messageSignature.messageDigest.digest",
                                format!(
                                    "{} bytes, expected {}",
                                    d.digest.0.len(),
                                    algorithm.digest_len()
                                ),
                            ));
                        }
                        Some(HashOutput {
                            algorithm,
                            digest: d.digest.0,
                        })
                    }
                };
                if ms.signature.0.is_empty() {
                    return Err(invalid("messageSignature.signature", "empty"));
                }
                Content::MessageSignature {
                    digest,
                    signature: ms.signature.0,
                }
            }
            Some(C::Dsse(env)) => Content::Dsse(dsse::Envelope {
                payload: env.payload.0,
                payload_type: env.payload_type,
                signatures: env
                    .signatures
                    .into_iter()
                    .map(|s| dsse::Signature {
                        sig: s.sig.0,
                        keyid: (!s.keyid.is_empty()).then_some(s.keyid),
                    })
                    .collect(),
            }),
        };

        Ok(Bundle {
            version,
            media_type: w.media_type,
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

impl TlogEntry {
    fn from_wire(i: usize, e: wire::TlogEntry) -> Result<Self, Error> {
        let at = |f: &str| format!("verificationMaterial.tlogEntries[{i}].{f}");
        let kv = e.kind_version.ok_or_else(|| Error::Missing {
            field: at("kindVersion"),
        })?;
        let log_id = e
            .log_id
            .ok_or_else(|| Error::Missing { field: at("logId") })?
            .key_id
            .0;
        if log_id.is_empty() {
            return Err(invalid(&at("logId.keyId"), "empty"));
        }
        if e.canonicalized_body.0.is_empty() {
            return Err(Error::Missing {
                field: at("canonicalizedBody"),
            });
        }
        Ok(TlogEntry {
            log_index: e.log_index.0,
            log_id,
            kind: kv.kind,
            version: kv.version,
            integrated_time: e.integrated_time.0,
            signed_entry_timestamp: e
                .inclusion_promise
                .map(|p| p.signed_entry_timestamp.0)
                .filter(|s| !s.is_empty()),
            inclusion_proof: e.inclusion_proof.map(|p| InclusionProof {
                log_index: p.log_index.0,
                root_hash: p.root_hash.0,
                tree_size: p.tree_size.0,
                hashes: p.hashes.into_iter().map(|h| h.0).collect(),
                checkpoint: p.checkpoint.map(|c| c.envelope),
            }),
            canonicalized_body: e.canonicalized_body.0,
        })
    }
}

/// The bundle's protobuf-JSON wire shape (`dev.sigstore.bundle.v1.Bundle`).
mod wire {
    use serde::Deserialize;

    use crate::pbjson::{Bytes, EnumName, Int64};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Bundle {
        #[serde(
            rename = "mediaType",
            alias = "media_type",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub media_type: String,
        #[serde(rename = "verificationMaterial", alias = "verification_material")]
        pub verification_material: Option<VerificationMaterial>,
        #[serde(rename = "messageSignature", alias = "message_signature")]
        pub message_signature: Option<MessageSignature>,
        #[serde(rename = "dsseEnvelope", alias = "dsse_envelope")]
        pub dsse_envelope: Option<Envelope>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct VerificationMaterial {
        #[serde(rename = "publicKey", alias = "public_key")]
        pub public_key: Option<KeyId>,
        #[serde(rename = "x509CertificateChain", alias = "x509_certificate_chain")]
        pub x509_certificate_chain: Option<Chain>,
        pub certificate: Option<Cert>,
        #[serde(
            rename = "tlogEntries",
            alias = "tlog_entries",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub tlog_entries: Vec<TlogEntry>,
        #[serde(
            rename = "timestampVerificationData",
            alias = "timestamp_verification_data"
        )]
        pub timestamp_verification_data: Option<TimestampData>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct KeyId {
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub hint: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Chain {
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub certificates: Vec<Cert>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Cert {
        #[serde(
            rename = "rawBytes",
            alias = "raw_bytes",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub raw_bytes: Bytes,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TimestampData {
        #[serde(
            rename = "rfc3161Timestamps",
            alias = "rfc3161_timestamps",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub rfc3161_timestamps: Vec<SignedTimestamp>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SignedTimestamp {
        #[serde(
            rename = "signedTimestamp",
            alias = "signed_timestamp",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub signed_timestamp: Bytes,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct MessageSignature {
        #[serde(rename = "messageDigest", alias = "message_digest")]
        pub message_digest: Option<HashOutput>,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub signature: Bytes,
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
    pub struct Envelope {
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub payload: Bytes,
        #[serde(
            rename = "payloadType",
            alias = "payload_type",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub payload_type: String,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub signatures: Vec<Signature>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Signature {
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub sig: Bytes,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub keyid: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TlogEntry {
        #[serde(
            rename = "logIndex",
            alias = "log_index",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub log_index: Int64,
        #[serde(rename = "logId", alias = "log_id")]
        pub log_id: Option<LogId>,
        #[serde(rename = "kindVersion", alias = "kind_version")]
        pub kind_version: Option<KindVersion>,
        #[serde(
            rename = "integratedTime",
            alias = "integrated_time",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub integrated_time: Int64,
        #[serde(rename = "inclusionPromise", alias = "inclusion_promise")]
        pub inclusion_promise: Option<InclusionPromise>,
        #[serde(rename = "inclusionProof", alias = "inclusion_proof")]
        pub inclusion_proof: Option<InclusionProof>,
        #[serde(
            rename = "canonicalizedBody",
            alias = "canonicalized_body",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub canonicalized_body: Bytes,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LogId {
        #[serde(
            rename = "keyId",
            alias = "key_id",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub key_id: Bytes,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct KindVersion {
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub kind: String,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub version: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct InclusionPromise {
        #[serde(
            rename = "signedEntryTimestamp",
            alias = "signed_entry_timestamp",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub signed_entry_timestamp: Bytes,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct InclusionProof {
        #[serde(
            rename = "logIndex",
            alias = "log_index",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub log_index: Int64,
        #[serde(
            rename = "rootHash",
            alias = "root_hash",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub root_hash: Bytes,
        #[serde(
            rename = "treeSize",
            alias = "tree_size",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub tree_size: Int64,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub hashes: Vec<Bytes>,
        pub checkpoint: Option<Checkpoint>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Checkpoint {
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub envelope: String,
    }
}
