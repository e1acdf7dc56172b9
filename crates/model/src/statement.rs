//! in-toto attestation framework Statement v1 (and v0.1 for reading).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of the older in-toto Statement v0.1, still produced by some builders.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

/// An in-toto Statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// The statement type URI.
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// The predicate type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate, kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Value>,
}

/// An in-toto ResourceDescriptor (the subset used for subjects and materials).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// Name, e.g. a file name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// URI of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests by algorithm name (`sha256` → lowercase hex).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// Any other fields, preserved.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Statement {
    /// Parse a statement from the exact payload bytes of a DSSE envelope.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let s: Statement = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "in-toto statement".into(),
            reason: e.to_string(),
        })?;
        if s.type_ != STATEMENT_V1 && s.type_ != STATEMENT_V01 {
            return Err(Error::Invalid {
                field: "_type".into(),
                reason: format!("not an in-toto statement type: {:?}", s.type_),
            });
        }
        Ok(s)
    }

    /// Whether some subject carries `sha256` digest `hex_digest` (case-insensitive hex).
    pub fn has_subject_sha256(&self, hex_digest: &str) -> bool {
        self.subject.iter().any(|s| {
            s.digest
                .get("sha256")
                .is_some_and(|d| d.eq_ignore_ascii_case(hex_digest))
        })
    }
}
