//! The one error type of `chainseal-witness`.

use std::path::PathBuf;

/// Everything that can go wrong in the witness. Request errors map to the HTTP status the
/// C2SP tlog-witness protocol prescribes ([`Error::http_status`]); the others are
/// start-up or storage failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request body is malformed (framing, note or checkpoint syntax). HTTP 400.
    #[error("bad request: {reason}")]
    BadRequest {
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint's origin is not a log this witness is configured for. HTTP 404.
    #[error("unknown log origin {origin:?}")]
    UnknownOrigin {
        /// The origin line of the submitted checkpoint.
        origin: String,
    },
    /// No trusted log key verified the checkpoint, or a signature from a trusted key
    /// failed. HTTP 403.
    #[error("checkpoint for {origin:?} is not signed by a trusted log key: {reason}")]
    Forbidden {
        /// The origin.
        origin: String,
        /// Why verification failed.
        reason: String,
    },
    /// The request's old size is larger than the checkpoint's size. HTTP 400.
    #[error("old size {old} is larger than the checkpoint size {new}")]
    OldSizeTooLarge {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        new: u64,
    },
    /// The request's old size is not the size this witness last cosigned. HTTP 409,
    /// body `<stored>\n`.
    #[error("old size {old} does not match the latest cosigned size {stored} for {origin:?}")]
    Conflict {
        /// The origin.
        origin: String,
        /// The request's old size.
        old: u64,
        /// The size the witness last cosigned (0 if none).
        stored: u64,
    },
    /// The checkpoint is not provably consistent with what the witness cosigned before
    /// (bad proof, same size with a different root, a proof with old size 0, or an empty
    /// tree). HTTP 422.
    #[error("checkpoint for {origin:?} at size {new} is not consistent with size {old}: {reason}")]
    Inconsistent {
        /// The origin.
        origin: String,
        /// The size the proof starts from.
        old: u64,
        /// The checkpoint's size.
        new: u64,
        /// Why.
        reason: String,
    },
    /// Reading or writing the state directory failed. HTTP 500 during a request.
    #[error("witness state {}: {source}", path.display())]
    Storage {
        /// The file or directory involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored record is unreadable. The witness refuses to start rather than forget
    /// what it cosigned (forgetting would allow a rollback).
    #[error("witness state {}: corrupt record: {reason}", path.display())]
    CorruptState {
        /// The record file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The witness or a log key is unusable (bad key string, wrong key type, name mismatch).
    #[error("key: {reason}")]
    Key {
        /// What is wrong.
        reason: String,
    },
    /// Signing the cosignature failed. HTTP 500.
    #[error("cosigning failed: {reason}")]
    Signing {
        /// Why.
        reason: String,
    },
}

impl Error {
    /// The HTTP status code the tlog-witness protocol prescribes for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest { .. } | Error::OldSizeTooLarge { .. } => 400,
            Error::Forbidden { .. } => 403,
            Error::UnknownOrigin { .. } => 404,
            Error::Conflict { .. } => 409,
            Error::Inconsistent { .. } => 422,
            Error::Storage { .. }
            | Error::CorruptState { .. }
            | Error::Key { .. }
            | Error::Signing { .. } => 500,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Storage { path, source }
    }
}

/// Shorthand for `Result<T, chainseal_witness::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
