//! Canonical JSON: RFC 8785 (JCS), as Rekor uses for signed entry timestamps.

use crate::Error;

/// RFC 8785 canonical form of a JSON value.
pub fn jcs<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| Error::Invalid {
        field: "canonical JSON".into(),
        reason: e.to_string(),
    })
}
