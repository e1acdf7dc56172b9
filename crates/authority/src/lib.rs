//! chainseal-authority: the issuing side of keyless signing.
//!
//! - [`ca`]: a Fulcio v2-compatible certificate authority issuing 10-minute code-signing
//!   certificates with an embedded SCT from chainseal's own CT log ([`ct`]), carrying the
//!   token's validated build claims ([`claims`]) as Fulcio extensions.
//! - [`oidc`]: OIDC identity-token verification (discovery + cached JWKS) and a
//!   development issuer.
//! - [`tsa`]: an RFC 3161 time-stamping authority.
//! - [`http`]: the REST API serving all three; [`stack`]: log + witness + authority in one
//!   process, writing the trust files clients point at.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod certs;
mod error;

pub use claims::BUILD_CLAIMS;
pub use error::{Error, Result};

/// Seconds since the Unix epoch (0 before it, `i64::MAX` past its range).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
pub mod ca;
pub mod claims;
pub mod ct;
pub mod http;
pub mod oidc;
pub mod stack;
pub mod store;
pub mod trustroot;
pub mod tsa;
