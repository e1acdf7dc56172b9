//! The one error type of `chainseal-verify`: which check failed, and why.

use std::fmt;

/// The verification check that rejected a bundle. Its `Display` is the stable name
/// printed first on the failure line (e.g. `inclusion proof: …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The bundle did not parse or has a structure its version forbids.
    BundleFormat,
    /// The trusted root is unusable.
    TrustedRoot,
    /// The signing certificate did not chain to a trusted CA at the signing time.
    CertificateChain,
    /// The embedded signed certificate timestamp did not verify.
    Sct,
    /// The certificate's identity or issuer did not match the policy.
    Identity,
    /// The bundle's key material does not fit the policy (key vs certificate).
    KeyMaterial,
    /// The artifact signature or DSSE envelope signature did not verify.
    Signature,
    /// The artifact does not match the bundle (digest or statement subject).
    Artifact,
    /// A transparency log entry body does not match the bundle.
    TlogEntry,
    /// The signed entry timestamp (Rekor v1 inclusion promise) did not verify.
    SignedEntryTimestamp,
    /// The inclusion proof does not lead to the claimed root.
    InclusionProof,
    /// The checkpoint is malformed, unsigned, or does not commit to the proof's root.
    Checkpoint,
    /// An RFC 3161 timestamp did not verify.
    Timestamp,
    /// A time (integrated or timestamped) lies outside a validity window.
    Time,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::BundleFormat => "bundle format",
            Check::TrustedRoot => "trusted root",
            Check::CertificateChain => "certificate chain",
            Check::Sct => "signed certificate timestamp",
            Check::Identity => "identity",
            Check::KeyMaterial => "key material",
            Check::Signature => "signature",
            Check::Artifact => "artifact",
            Check::TlogEntry => "tlog entry",
            Check::SignedEntryTimestamp => "signed entry timestamp",
            Check::InclusionProof => "inclusion proof",
            Check::Checkpoint => "checkpoint",
            Check::Timestamp => "timestamp",
            Check::Time => "time",
        })
    }
}

/// A failed verification: the check that failed and the reason, one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {reason}")]
#[non_exhaustive]
pub struct Error {
    /// Which check failed.
    pub check: Check,
    /// Why, with the values involved.
    pub reason: String,
}

impl Error {
    /// Build an error for `check`.
    pub fn new(check: Check, reason: impl Into<String>) -> Self {
        Error {
            check,
            reason: reason.into(),
        }
    }
}

/// Short hex for messages: first 8 bytes and an ellipsis.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    if bytes.len() <= 8 {
        hex::encode(bytes)
    } else {
        format!("{}…", hex::encode(&bytes[..8]))
    }
}
