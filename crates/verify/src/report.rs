//! What a successful verification proved, for humans and for `--json`.

use serde::Serialize;

/// The result of a successful verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Bundle media type.
    pub media_type: String,
    /// `message_signature` or `dsse`.
    pub content: &'static str,
    /// DSSE payload type, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_type: Option<String>,
    /// In-toto predicate type, if the payload is a statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// SHA-256 of the artifact, hex.
    pub artifact_sha256: String,
    /// Who signed.
    pub signer: SignerReport,
    /// Verified transparency log entries.
    pub tlog_entries: Vec<LogEntryReport>,
    /// Verified RFC 3161 timestamps.
    pub timestamps: Vec<TimestampReport>,
    /// Every verified signing time (Unix seconds) the certificate was checked at.
    pub verified_times: Vec<i64>,
    /// The checks that passed, in order.
    pub checks: Vec<String>,
}

/// The verified signer.
#[derive(Debug, Clone, Serialize)]
pub struct SignerReport {
    /// `certificate` or `key`.
    pub kind: &'static str,
    /// Subject alternative names of the leaf certificate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_alternative_names: Vec<String>,
    /// OIDC issuer from the Fulcio extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Certificate validity start (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// Certificate validity end (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
    /// SHA-256 of the signer's public key (SPKI DER), hex.
    pub public_key_sha256: String,
}

/// One verified log entry.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntryReport {
    /// Log base URL from the trusted root.
    pub log_url: String,
    /// Log ID, hex.
    pub log_id: String,
    /// Global log index, when authenticated (by the SET for Rekor v1, by the inclusion
    /// proof for Rekor v2); absent when only the bundle claims it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<i64>,
    /// Index proven by the inclusion proof (shard-local for Rekor v1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof_index: Option<i64>,
    /// Entry kind and version.
    pub kind: String,
    /// Integrated time, if proven by a signed entry timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<i64>,
    /// Tree size of the verified inclusion proof.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<i64>,
    /// Origin of the verified checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_origin: Option<String>,
}

/// One verified RFC 3161 timestamp.
#[derive(Debug, Clone, Serialize)]
pub struct TimestampReport {
    /// genTime (Unix seconds).
    pub gen_time: i64,
    /// Index of the trusted TSA that signed it.
    pub tsa_index: usize,
}
