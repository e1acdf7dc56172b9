//! The crate's one error type.

use std::fmt;

/// Everything that can go wrong in the log server.
///
/// Request errors ([`Error::BadRequest`], [`Error::TooLarge`], [`Error::Overloaded`]) map to
/// 4xx/503 responses with their reason; the others are server-side failures.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The request is malformed or its signature does not verify.
    BadRequest(String),
    /// The request or the entry exceeds a size bound.
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size in bytes.
        got: usize,
        /// The bound.
        max: usize,
    },
    /// The in-flight queue is full; retry later.
    Overloaded,
    /// The server is shutting down or a background task died.
    Unavailable(&'static str),
    /// A storage operation failed.
    Storage {
        /// What was being done.
        context: String,
        /// The underlying error, rendered.
        reason: String,
    },
    /// The stored log state is inconsistent (e.g. a tile does not match the checkpoint).
    /// The server refuses to continue rather than fork the tree.
    Corrupt(String),
    /// A tlog computation failed.
    Tlog(chainseal_tlog::Error),
    /// Configuration is invalid (key file, origin, witness spec, …).
    Config(String),
    /// This front end's integration lease was lost (its PostgreSQL session ended, or
    /// another front end has published a newer checkpoint since): nothing it integrated
    /// after that is published, and the next round starts from the stored state.
    Fenced(String),
    /// Talking to a witness failed.
    Witness {
        /// The witness URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// A storage error with context.
    pub fn storage(context: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Storage {
            context: context.into(),
            reason: reason.to_string(),
        }
    }

    /// Whether the error is the client's fault (a 4xx response).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Error::BadRequest(_) | Error::TooLarge { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRequest(r) => write!(f, "bad request: {r}"),
            Error::TooLarge { what, got, max } => {
                write!(f, "{what} is {got} bytes, more than the limit of {max}")
            }
            Error::Overloaded => write!(f, "the log is overloaded; retry later"),
            Error::Unavailable(r) => write!(f, "the log is unavailable: {r}"),
            Error::Storage { context, reason } => write!(f, "storage: {context}: {reason}"),
            Error::Corrupt(r) => write!(f, "log state is inconsistent: {r}"),
            Error::Tlog(e) => write!(f, "tlog: {e}"),
            Error::Config(r) => write!(f, "configuration: {r}"),
            Error::Witness { url, reason } => write!(f, "witness {url}: {reason}"),
            Error::Fenced(r) => write!(f, "integration lease lost (fenced): {r}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Tlog(e) => Some(e),
            _ => None,
        }
    }
}

impl From<chainseal_tlog::Error> for Error {
    fn from(e: chainseal_tlog::Error) -> Self {
        Error::Tlog(e)
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
