//! The one error type of `chainseal-crypto`.

/// Everything that can go wrong in key handling, signature checks, certificate path
/// validation, SCT and RFC 3161 verification. Each variant names the check and the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key could not be parsed or is of an unsupported kind.
    #[error("key: {0}")]
    Key(String),
    /// A signature did not verify.
    #[error("signature: {0}")]
    Signature(String),
}
