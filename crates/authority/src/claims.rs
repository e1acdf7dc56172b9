//! Build claims: token claims the CA copies into Fulcio's build extensions
//! (`1.3.6.1.4.1.57264.1.N`, DER UTF8String, non-critical), validated first.
//!
//! The table ([`BUILD_CLAIMS`]) is shared with the factory (which asks the development issuer
//! for a token carrying them) and the tests. Claims are honoured only for URI-SAN (SPIFFE)
//! identities; an email identity's certificate carries none of them.

use std::collections::BTreeMap;

use der::Encode as _;
use der::asn1::{ObjectIdentifier, Utf8StringRef};
use x509_cert::ext::Extension;

use crate::certs;
use crate::error::{Error, Result};

/// Fulcio's extension arc: `1.3.6.1.4.1.57264.1.N`.
pub const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1";

/// Build claim name (JWT) → last arc `N` of its Fulcio extension `1.3.6.1.4.1.57264.1.N`.
pub const BUILD_CLAIMS: [(&str, u32); 10] = [
    ("build_signer_uri", 9),
    ("build_signer_digest", 10),
    ("runner_environment", 11),
    ("source_repository_uri", 12),
    ("source_repository_digest", 13),
    ("source_repository_ref", 14),
    ("build_config_uri", 18),
    ("build_config_digest", 19),
    ("build_trigger", 20),
    ("run_invocation_uri", 21),
];

/// Longest accepted claim value, in bytes.
pub const MAX_CLAIM_BYTES: usize = 1024;

/// The arc of build claim `name`, if it is one.
pub fn build_claim_arc(name: &str) -> Option<u32> {
    BUILD_CLAIMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, arc)| *arc)
}

/// The OID `1.3.6.1.4.1.57264.1.<arc>`.
pub fn fulcio_oid(arc: u32) -> Result<ObjectIdentifier> {
    ObjectIdentifier::new(&format!("{FULCIO_ARC}.{arc}"))
        .map_err(|e| Error::Crypto(format!("OID {FULCIO_ARC}.{arc}: {e}")))
}

/// What a claim's value must look like.
#[derive(Clone, Copy)]
enum Kind {
    Uri,
    Digest,
    SourceDigest,
    Ref,
    Text,
}

fn kind(name: &str) -> Kind {
    match name {
        "build_signer_uri"
        | "source_repository_uri"
        | "build_config_uri"
        | "run_invocation_uri" => Kind::Uri,
        "build_signer_digest" | "build_config_digest" => Kind::Digest,
        "source_repository_digest" => Kind::SourceDigest,
        "source_repository_ref" => Kind::Ref,
        _ => Kind::Text,
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| is_lower_hex(h, 64))
}

/// Validates the value of build claim `name` (string, ≤ [`MAX_CLAIM_BYTES`], no control
/// characters, and the claim's own syntax: URIs parse with a scheme, digests are
/// `sha256:<64 lowercase hex>` (or a 40/64-hex git commit for `source_repository_digest`),
/// refs start with `refs/`). The error names the claim.
pub fn validate_build_claim(name: &str, value: &serde_json::Value) -> Result<String> {
    let bad = |why: &str| Error::BadRequest(format!("build claim {name:?}: {why}"));
    let s = value.as_str().ok_or_else(|| bad("must be a string"))?;
    if s.is_empty() {
        return Err(bad("is empty"));
    }
    if s.len() > MAX_CLAIM_BYTES {
        return Err(bad(&format!("longer than {MAX_CLAIM_BYTES} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(bad("contains a control character"));
    }
    match kind(name) {
        Kind::Uri => {
            if s.chars().any(char::is_whitespace) {
                return Err(bad("a URI has no whitespace"));
            }
            // `Url::parse` refuses relative references: a scheme is required.
            reqwest::Url::parse(s)
                .map_err(|e| bad(&format!("not an absolute URI with a scheme ({e})")))?;
        }
        Kind::Digest if !is_sha256_digest(s) => {
            return Err(bad("must be sha256:<64 lowercase hex>"));
        }
        Kind::SourceDigest
            if !(is_sha256_digest(s) || is_lower_hex(s, 40) || is_lower_hex(s, 64)) =>
        {
            return Err(bad(
                "must be a git commit (40 or 64 lowercase hex) or sha256:<64 lowercase hex>",
            ));
        }
        Kind::Ref
            if !s.starts_with("refs/") || s.len() == 5 || s.chars().any(char::is_whitespace) =>
        {
            return Err(bad("must be a full ref starting with refs/"));
        }
        _ => {}
    }
    Ok(s.to_owned())
}

/// Validated build claims, keyed by their Fulcio arc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildClaims(BTreeMap<u32, String>);

impl BuildClaims {
    /// No build claims.
    pub fn none() -> Self {
        Self::default()
    }

    /// The build claims present in a token's claim set, each validated
    /// ([`validate_build_claim`]); other claims are ignored. A malformed build claim is an
    /// error naming it.
    pub fn from_claims(claims: &serde_json::Map<String, serde_json::Value>) -> Result<Self> {
        let mut out = BTreeMap::new();
        for (name, arc) in BUILD_CLAIMS {
            if let Some(v) = claims.get(name) {
                out.insert(arc, validate_build_claim(name, v)?);
            }
        }
        Ok(Self(out))
    }

    /// The value for arc `N`, if present.
    pub fn get(&self, arc: u32) -> Option<&str> {
        self.0.get(&arc).map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (arc, value) pairs in arc order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.0.iter().map(|(a, v)| (*a, v.as_str()))
    }

    /// The certificate extensions: one non-critical `1.3.6.1.4.1.57264.1.N` per claim,
    /// value a DER UTF8String.
    pub fn extensions(&self) -> Result<Vec<Extension>> {
        self.iter()
            .map(|(arc, v)| certs::ext(fulcio_oid(arc)?, false, Utf8StringRef::new(v)?.to_der()?))
            .collect()
    }
}
