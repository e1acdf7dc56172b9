//! What a verified bundle must prove about its signer.

use chainseal_crypto::keys::PublicKey;
use regex::Regex;

use crate::error::{Check, Error};

/// Matches a string exactly or by regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// The value must equal this string.
    Exact(String),
    /// The value must match this expression. As in cosign, the expression is not
    /// implicitly anchored: write `^…$` to match the whole value.
    Regex(Regex),
}

impl Matcher {
    /// Compile a regular-expression matcher.
    pub fn regex(expr: &str) -> Result<Self, Error> {
        Regex::new(expr).map(Matcher::Regex).map_err(|e| {
            Error::new(
                Check::Identity,
                format!("invalid regular expression {expr:?}: {e}"),
            )
        })
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Policy {
    /// A Fulcio certificate whose SAN matches `identity` and whose OIDC issuer extension
    /// matches `issuer`.
    Identity {
        /// SAN matcher (email, URI or other name).
        identity: Matcher,
        /// OIDC issuer matcher.
        issuer: Matcher,
    },
    /// A managed key: the bundle must carry a public-key hint and verify with this key.
    Key(PublicKey),
}
