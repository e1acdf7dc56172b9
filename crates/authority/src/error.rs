//! The authority's error type.

use std::fmt;

/// Everything that can go wrong in the authority, with the context needed to act on it.
///
/// Client-facing variants map to an HTTP status through [`Error::http_status`]; their
/// `Display` text is the reason sent back to the client (it never contains secrets).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed (bad JSON, bad base64, bad key or CSR, too large…).
    BadRequest(String),
    /// The OIDC identity token was refused (signature, issuer, audience, expiry, claims).
    Token(String),
    /// The proof of possession of the private key does not verify.
    ProofOfPossession(String),
    /// A cryptographic or encoding operation failed.
    Crypto(String),
    /// Reading or writing state (keys, certificates, configuration) failed.
    Io {
        /// What was being done, including the path.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Configuration or on-disk state is invalid.
    Config(String),
    /// Another chainseal service (log, witness) failed.
    Service(String),
    /// Persisting state failed (the CT log's tiles and checkpoint).
    Storage(String),
    /// The requested resource does not exist (e.g. a CT log tile).
    NotFound(String),
}

impl Error {
    /// An [`Error::Io`] with context.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// The HTTP status a server answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest(_) | Error::ProofOfPossession(_) => 400,
            Error::Token(_) => 401,
            Error::NotFound(_) => 404,
            _ => 500,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRequest(r) => write!(f, "bad request: {r}"),
            Error::Token(r) => write!(f, "identity token refused: {r}"),
            Error::ProofOfPossession(r) => write!(f, "proof of possession refused: {r}"),
            Error::Crypto(r) => write!(f, "cryptographic operation failed: {r}"),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Config(r) => write!(f, "configuration: {r}"),
            Error::Service(r) => write!(f, "service: {r}"),
            Error::Storage(r) => write!(f, "storage: {r}"),
            Error::NotFound(r) => write!(f, "not found: {r}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<chainseal_crypto::Error> for Error {
    fn from(e: chainseal_crypto::Error) -> Self {
        Error::Crypto(e.to_string())
    }
}

impl From<der::Error> for Error {
    fn from(e: der::Error) -> Self {
        Error::Crypto(format!("DER: {e}"))
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
