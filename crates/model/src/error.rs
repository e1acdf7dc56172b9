//! The one error type of `chainseal-model`.

/// Everything that can go wrong decoding or encoding chainseal's data formats.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input was not valid JSON of the expected shape.
    #[error("{what}: invalid JSON: {reason}")]
    Json {
        /// What was being parsed.
        what: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A base64 field did not decode.
    #[error("{field}: invalid base64: {reason}")]
    Base64 {
        /// JSON path of the field.
        field: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// A field had a value outside what the format allows.
    #[error("{field}: {reason}")]
    Invalid {
        /// JSON path of the field.
        field: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A required field was absent.
    #[error("{field}: missing")]
    Missing {
        /// JSON path of the field.
        field: String,
    },
}
