//! The one error type of `chainseal-sign`.

use std::path::PathBuf;

/// Why a key could not be made, read or written, or a bundle could not be produced.
///
/// No variant ever carries key material or a password; service errors carry the URL and
/// the HTTP status, never the identity token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{op} {path}: {source}", path = path.display())]
    Io {
        /// What was being done (`reading`, `writing`, `renaming`…).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The output file exists and `--force` was not given.
    #[error("{} already exists (use --force to overwrite)", .0.display())]
    Exists(PathBuf),
    /// A key file is malformed or of an unsupported kind.
    #[error("key: {0}")]
    Key(String),
    /// The encrypted key did not decrypt: wrong password or tampered file (the two are
    /// indistinguishable by design).
    #[error("key: decryption failed (wrong password or corrupted key file)")]
    Decrypt,
    /// The encrypted key uses parameters this reader refuses (unknown KDF or cipher, or
    /// scrypt costs outside the accepted range).
    #[error("key: unsupported encryption parameters: {0}")]
    KeyParams(String),
    /// The trust config, trusted root or signing config is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A service (CA, log, TSA) failed or answered something unusable.
    #[error("{service} at {url}: {reason}")]
    Service {
        /// `certificate authority`, `transparency log` or `timestamp authority`.
        service: &'static str,
        /// The endpoint called.
        url: String,
        /// What went wrong (HTTP status and the server's message, or a parse error).
        reason: String,
    },
    /// The identity token is malformed (it is never echoed back).
    #[error("identity token: {0}")]
    Token(String),
    /// The input (artifact, predicate, statement) is unusable.
    #[error("input: {0}")]
    Input(String),
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] chainseal_crypto::Error),
    /// The bundle we produced did not verify; it was not written.
    #[error("the produced bundle does not verify, refusing to write it: {0}")]
    SelfCheck(#[from] chainseal_verify::Error),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}
