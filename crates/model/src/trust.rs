//! Sigstore trusted roots (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`)
//! and signing configs, normalised for the verifier.
//!
//! Every `validFor` is a **closed** interval `[start, end]`; a missing `start` is an
//! error (the conformance case `trust-root-tlog-missing-validity-start_fail`), a missing
//! `end` means "still valid".

use crate::Error;

/// A point in time with nanosecond precision (seconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds within the second, 0..1e9.
    pub nanos: i32,
}

impl Timestamp {
    /// A whole-second timestamp.
    pub fn from_unix(seconds: i64) -> Self {
        Timestamp { seconds, nanos: 0 }
    }
}

/// A closed validity interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First instant of validity (inclusive).
    pub start: Timestamp,
    /// Last instant of validity (inclusive); `None` = open ended.
    pub end: Option<Timestamp>,
}

impl TimeRange {
    /// Whether `t` lies inside `[start, end]`.
    pub fn contains(&self, t: Timestamp) -> bool {
        t >= self.start && self.end.is_none_or(|end| t <= end)
    }

    fn from_wire(field: &str, tr: Option<wire::TimeRange>) -> Result<Self, Error> {
        let tr = tr.ok_or_else(|| Error::Missing {
            field: format!("{field}.validFor"),
        })?;
        let conv = |t: crate::pbjson::Rfc3339| Timestamp {
            seconds: t.seconds,
            nanos: t.nanos,
        };
        let start = tr.start.map(conv).ok_or_else(|| Error::Missing {
            field: format!("{field}.validFor.start"),
        })?;
        let end = tr.end.map(conv);
        if let Some(end) = end
            && end < start
        {
            return Err(Error::Invalid {
                field: format!("{field}.validFor"),
                reason: "end precedes start".into(),
            });
        }
        Ok(TimeRange { start, end })
    }
}

/// A transparency log (Rekor) or certificate transparency log instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransparencyLog {
    /// Base URL of the log.
    pub base_url: String,
    /// Public key, SPKI DER.
    pub public_key: Vec<u8>,
    /// Key details name from the protobuf enum, e.g. `PKIX_ECDSA_P256_SHA_256`.
    pub key_details: String,
    /// When the key may be used.
    pub valid_for: TimeRange,
    /// The log ID (SHA-256 of the SPKI for Rekor v1 and CT; C2SP key ID for Rekor v2).
    pub log_id: Vec<u8>,
    /// Optional checkpoint key ID (C2SP key ID) if it differs from `log_id`.
    pub checkpoint_key_id: Option<Vec<u8>>,
}

/// A certificate authority or timestamp authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    /// URI of the authority.
    pub uri: String,
    /// Certificates, DER, leaf/intermediates first and the root last.
    pub cert_chain: Vec<Vec<u8>>,
    /// When the authority may be trusted.
    pub valid_for: TimeRange,
}

/// A parsed trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRoot {
    /// Rekor instances.
    pub tlogs: Vec<TransparencyLog>,
    /// Fulcio instances.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// Certificate transparency logs.
    pub ctlogs: Vec<TransparencyLog>,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

/// The trusted root media type chainseal reads and writes.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

impl TrustedRoot {
    /// Parse a trusted root from JSON, rejecting malformed validity intervals and keys.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let w: wire::TrustedRoot = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "trusted root".into(),
            reason: e.to_string(),
        })?;
        if !w
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(Error::Invalid {
                field: "mediaType".into(),
                reason: format!("not a trusted root media type: {:?}", w.media_type),
            });
        }
        let logs = |name: &str, v: Vec<wire::Tlog>| {
            v.into_iter()
                .enumerate()
                .map(|(i, t)| TransparencyLog::from_wire(&format!("{name}[{i}]"), t))
                .collect::<Result<Vec<_>, _>>()
        };
        let cas = |name: &str, v: Vec<wire::Ca>| {
            v.into_iter()
                .enumerate()
                .map(|(i, c)| CertificateAuthority::from_wire(&format!("{name}[{i}]"), c))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(TrustedRoot {
            tlogs: logs("tlogs", w.tlogs)?,
            certificate_authorities: cas("certificateAuthorities", w.certificate_authorities)?,
            ctlogs: logs("ctlogs", w.ctlogs)?,
            timestamp_authorities: cas("timestampAuthorities", w.timestamp_authorities)?,
        })
    }
}

impl TransparencyLog {
    fn from_wire(field: &str, t: wire::Tlog) -> Result<Self, Error> {
        let pk = t.public_key.ok_or_else(|| Error::Missing {
            field: format!("{field}.publicKey"),
        })?;
        let public_key = pk
            .raw_bytes
            .map(|b| b.0)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::Missing {
                field: format!("{field}.publicKey.rawBytes"),
            })?;
        let valid_for = TimeRange::from_wire(&format!("{field}.publicKey"), pk.valid_for)?;
        let log_id = t
            .log_id
            .map(|l| l.key_id.0)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Error::Missing {
                field: format!("{field}.logId.keyId"),
            })?;
        Ok(TransparencyLog {
            base_url: t.base_url,
            public_key,
            key_details: pk.key_details.0,
            valid_for,
            log_id,
            checkpoint_key_id: t
                .checkpoint_key_id
                .map(|l| l.key_id.0)
                .filter(|k| !k.is_empty()),
        })
    }
}

impl CertificateAuthority {
    fn from_wire(field: &str, c: wire::Ca) -> Result<Self, Error> {
        let cert_chain: Vec<Vec<u8>> = c
            .cert_chain
            .map(|ch| ch.certificates.into_iter().map(|c| c.raw_bytes.0).collect())
            .unwrap_or_default();
        if cert_chain.is_empty() || cert_chain.iter().any(Vec::is_empty) {
            return Err(Error::Invalid {
                field: format!("{field}.certChain"),
                reason: "empty certificate chain or certificate".into(),
            });
        }
        Ok(CertificateAuthority {
            uri: c.uri,
            cert_chain,
            valid_for: TimeRange::from_wire(field, c.valid_for)?,
        })
    }
}

/// The trusted root's protobuf-JSON wire shape (`dev.sigstore.trustroot.v1.TrustedRoot`).
mod wire {
    use serde::Deserialize;

    use crate::pbjson::{Bytes, EnumName, Rfc3339};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TrustedRoot {
        #[serde(
            rename = "mediaType",
            alias = "media_type",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub media_type: String,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub tlogs: Vec<Tlog>,
        #[serde(
            rename = "certificateAuthorities",
            alias = "certificate_authorities",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub certificate_authorities: Vec<Ca>,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub ctlogs: Vec<Tlog>,
        #[serde(
            rename = "timestampAuthorities",
            alias = "timestamp_authorities",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub timestamp_authorities: Vec<Ca>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Tlog {
        #[serde(
            rename = "baseUrl",
            alias = "base_url",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub base_url: String,
        #[serde(
            rename = "hashAlgorithm",
            alias = "hash_algorithm",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        #[allow(dead_code)]
        pub hash_algorithm: EnumName,
        #[serde(rename = "publicKey", alias = "public_key")]
        pub public_key: Option<PublicKey>,
        #[serde(rename = "logId", alias = "log_id")]
        pub log_id: Option<LogId>,
        #[serde(rename = "checkpointKeyId", alias = "checkpoint_key_id")]
        pub checkpoint_key_id: Option<LogId>,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        #[allow(dead_code)]
        pub operator: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct PublicKey {
        #[serde(rename = "rawBytes", alias = "raw_bytes")]
        pub raw_bytes: Option<Bytes>,
        #[serde(
            rename = "keyDetails",
            alias = "key_details",
            default,
            deserialize_with = "crate::pbjson::nullable"
        )]
        pub key_details: EnumName,
        #[serde(rename = "validFor", alias = "valid_for")]
        pub valid_for: Option<TimeRange>,
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
    pub struct TimeRange {
        pub start: Option<Rfc3339>,
        pub end: Option<Rfc3339>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Ca {
        #[allow(dead_code)]
        pub subject: Option<serde::de::IgnoredAny>,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        pub uri: String,
        #[serde(rename = "certChain", alias = "cert_chain")]
        pub cert_chain: Option<Chain>,
        #[serde(rename = "validFor", alias = "valid_for")]
        pub valid_for: Option<TimeRange>,
        #[serde(default, deserialize_with = "crate::pbjson::nullable")]
        #[allow(dead_code)]
        pub operator: String,
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
}
