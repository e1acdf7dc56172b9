//! Sigstore trusted roots (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`)
//! and signing configs, normalised for the verifier.
//!
//! Every `validFor` is a **closed** interval `[start, end]`; a missing `start` is an
//! error (the conformance case `trust-root-tlog-missing-validity-start_fail`), a missing
//! `end` means "still valid".

use sigstore_protobuf_specs::dev::sigstore::{common::v1 as pb_common, trustroot::v1 as pb_trust};

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

    fn from_pb(field: &str, tr: Option<pb_common::TimeRange>) -> Result<Self, Error> {
        let tr = tr.ok_or_else(|| Error::Missing {
            field: format!("{field}.validFor"),
        })?;
        let conv = |t: prost_types_ts::Timestamp| Timestamp {
            seconds: t.seconds,
            nanos: t.nanos,
        };
        let start = tr.start.map(conv).ok_or_else(|| Error::Missing {
            field: format!("{field}.validFor.start"),
        })?;
        let end = tr.end.map(conv);
        if let Some(end) = end {
            if end < start {
                return Err(Error::Invalid {
                    field: format!("{field}.validFor"),
                    reason: "end precedes start".into(),
                });
            }
        }
        Ok(TimeRange { start, end })
    }
}

// The protobuf-specs crate re-exports prost_types' Timestamp through its fields.
mod prost_types_ts {
    pub use prost_types::Timestamp;
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
        let pb: pb_trust::TrustedRoot = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "trusted root".into(),
            reason: e.to_string(),
        })?;
        Self::from_pb(pb)
    }

    /// Normalise a protobuf trusted root.
    pub fn from_pb(pb: pb_trust::TrustedRoot) -> Result<Self, Error> {
        if !pb
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(Error::Invalid {
                field: "mediaType".into(),
                reason: format!("not a trusted root media type: {:?}", pb.media_type),
            });
        }
        let logs = |name: &str, v: Vec<pb_trust::TransparencyLogInstance>| {
            v.into_iter()
                .enumerate()
                .map(|(i, t)| TransparencyLog::from_pb(&format!("{name}[{i}]"), t))
                .collect::<Result<Vec<_>, _>>()
        };
        let cas = |name: &str, v: Vec<pb_trust::CertificateAuthority>| {
            v.into_iter()
                .enumerate()
                .map(|(i, c)| CertificateAuthority::from_pb(&format!("{name}[{i}]"), c))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(TrustedRoot {
            tlogs: logs("tlogs", pb.tlogs)?,
            certificate_authorities: cas("certificateAuthorities", pb.certificate_authorities)?,
            ctlogs: logs("ctlogs", pb.ctlogs)?,
            timestamp_authorities: cas("timestampAuthorities", pb.timestamp_authorities)?,
        })
    }
}

impl TransparencyLog {
    fn from_pb(field: &str, t: pb_trust::TransparencyLogInstance) -> Result<Self, Error> {
        let pk = t.public_key.ok_or_else(|| Error::Missing {
            field: format!("{field}.publicKey"),
        })?;
        let public_key = pk
            .raw_bytes
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::Missing {
                field: format!("{field}.publicKey.rawBytes"),
            })?;
        let valid_for = TimeRange::from_pb(&format!("{field}.publicKey"), pk.valid_for)?;
        let key_details = pb_common::PublicKeyDetails::try_from(pk.key_details)
            .map(|d| d.as_str_name().to_string())
            .unwrap_or_else(|_| format!("UNKNOWN_{}", pk.key_details));
        let log_id = t
            .log_id
            .map(|l| l.key_id)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Error::Missing {
                field: format!("{field}.logId.keyId"),
            })?;
        Ok(TransparencyLog {
            base_url: t.base_url,
            public_key,
            key_details,
            valid_for,
            log_id,
            checkpoint_key_id: t
                .checkpoint_key_id
                .map(|l| l.key_id)
                .filter(|k| !k.is_empty()),
        })
    }
}

impl CertificateAuthority {
    fn from_pb(field: &str, c: pb_trust::CertificateAuthority) -> Result<Self, Error> {
        let cert_chain: Vec<Vec<u8>> = c
            .cert_chain
            .map(|ch| ch.certificates.into_iter().map(|c| c.raw_bytes).collect())
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
            valid_for: TimeRange::from_pb(field, c.valid_for)?,
        })
    }
}
