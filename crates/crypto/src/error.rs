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
    /// A certificate (or one of its extensions) could not be parsed.
    #[error("certificate parse: {what}: {reason}")]
    CertificateParse {
        /// Which structure or field failed to parse.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Certificate path validation failed (expired, not yet valid, unknown issuer, EKU
    /// missing, bad signature, ...).
    #[error("certificate path: {reason}")]
    CertificatePath {
        /// Which check failed and why.
        reason: String,
    },
    /// Certificate identity (SAN / Fulcio extension) check failed.
    #[error("certificate identity: {reason}")]
    CertificateIdentity {
        /// Which check failed and why.
        reason: String,
    },
    /// Signed Certificate Timestamp verification failed.
    #[error("SCT: {reason}")]
    Sct {
        /// Which check failed and why.
        reason: String,
    },
    /// An RFC 3161 structure (response, token, TSTInfo, request) could not be parsed.
    #[error("timestamp: malformed {what}: {reason}")]
    TimestampParse {
        /// Which structure failed to parse.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The `TimeStampResp` status is neither granted nor grantedWithMods.
    #[error("timestamp: response status is {status}, not granted{detail}")]
    TimestampStatus {
        /// The status (name or number).
        status: String,
        /// Status text and failure bits, if any (prefixed with `: `).
        detail: String,
    },
    /// The token is not `SignedData` or its `eContentType` is not `id-ct-TSTInfo`.
    #[error("timestamp: content type: {reason}")]
    TimestampContentType {
        /// Which content type was wrong.
        reason: String,
    },
    /// A hash or signature algorithm of the token is not supported.
    #[error("timestamp: unsupported {what} algorithm {oid}")]
    TimestampUnsupportedAlgorithm {
        /// Where the algorithm appeared.
        what: &'static str,
        /// Its OID.
        oid: String,
    },
    /// The token's messageImprint is not the hash of the signed data.
    #[error("timestamp: message imprint does not match signature")]
    TimestampImprintMismatch,
    /// The signed attributes are missing or malformed, or contentType is not id-ct-TSTInfo.
    #[error("timestamp: signed attributes: {reason}")]
    TimestampSignedAttributes {
        /// Which check failed.
        reason: String,
    },
    /// The messageDigest signed attribute is not the digest of the encapsulated TSTInfo.
    #[error("timestamp: messageDigest attribute does not match the encapsulated TSTInfo")]
    TimestampMessageDigestMismatch,
    /// No certificate matching the SignerInfo `sid` was found.
    #[error(
        "timestamp: signer certificate ({sid}) not found among embedded certificates or trusted TSA chains"
    )]
    TimestampSignerNotFound {
        /// The signer identifier, rendered for humans.
        sid: String,
    },
    /// The ESSCertID / ESSCertIDv2 does not identify the signer certificate.
    #[error(
        "timestamp: signing certificate attribute does not match the signer certificate: {reason}"
    )]
    TimestampSigningCertificateMismatch {
        /// Which part differed.
        reason: String,
    },
    /// The SignerInfo signature over the signed attributes does not verify.
    #[error("timestamp: signature over signed attributes does not verify: {reason}")]
    TimestampSignature {
        /// Why.
        reason: String,
    },
    /// The signer certificate does not chain to any trusted TSA root at genTime (with EKU
    /// timeStamping).
    #[error("timestamp: TSA certificate chain not trusted at genTime {gen_time}: {reason}")]
    TimestampUntrustedChain {
        /// genTime, RFC 3339.
        gen_time: String,
        /// Why each trusted TSA was refused.
        reason: String,
    },
    /// genTime lies outside the trusted TSA's `validFor` interval (closed).
    #[error("timestamp: genTime {gen_time} outside TSA validity [{valid_from}, {valid_to}]")]
    TimestampOutsideTsaValidity {
        /// genTime, RFC 3339.
        gen_time: String,
        /// Start of validity (`-` when open).
        valid_from: String,
        /// End of validity (`-` when open).
        valid_to: String,
    },
    /// Issuing a timestamp failed (bad signer configuration, signing error).
    #[error("timestamp: issuing: {reason}")]
    TimestampIssue {
        /// Why.
        reason: String,
    },
}
