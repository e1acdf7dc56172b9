//! Offline verification of Sigstore bundles.
//!
//! [`Verifier::verify`] checks, with no network access and no optional steps:
//! the bundle's structure, the signing certificate's path to a trusted Fulcio CA at every
//! verified signing time (hybrid model), its embedded SCTs, the identity policy, the
//! artifact or DSSE signature, every transparency-log entry (body matches the bundle,
//! signed entry timestamp, inclusion proof, signed checkpoint) and every RFC 3161
//! timestamp. It returns a [`Report`] of what was proven, or an [`Error`] naming the check
//! that failed.
//!
//! ```
//! use chainseal_verify::{Artifact, Check, Matcher, Policy, TrustMaterial, Verifier};
//!
//! // A real bundle from sigstore-conformance, signed by a GitHub Actions workflow through
//! // the public-good Fulcio and Rekor (read in place from the shared vectors).
//! let dir = concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../../../shared/vectors/sigstore/conformance-assets/bundle-verify"
//! );
//! let bundle = std::fs::read(format!("{dir}/happy-path-v0.3/bundle.sigstore.json"))?;
//! let artifact = std::fs::read(format!("{dir}/a.txt"))?;
//!
//! let verifier = Verifier::new(TrustMaterial::public_good()?);
//! let policy = Policy::identity(
//!     Matcher::regex("^https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/")?,
//!     Matcher::Exact("https://token.actions.githubusercontent.com".into()),
//! );
//! let report = verifier.verify_json(&bundle, Artifact::Bytes(&artifact), &policy)?;
//! assert_eq!(report.signer.kind, "certificate");
//! assert!(!report.tlog_entries.is_empty());
//!
//! // Another identity, or other bytes, is refused, naming the check that failed.
//! let other = Policy::identity(
//!     Matcher::Exact("someone@example.com".into()),
//!     Matcher::Exact("https://accounts.google.com".into()),
//! );
//! let refused = verifier.verify_json(&bundle, Artifact::Bytes(&artifact), &other);
//! assert_eq!(refused.unwrap_err().check, Check::Identity);
//! let swapped = verifier.verify_json(&bundle, Artifact::Bytes(b"other bytes"), &policy);
//! assert_eq!(swapped.unwrap_err().check, Check::Artifact);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod input;
mod policy;
mod report;
mod signer;
mod tlog_entry;
mod trust;
mod verifier;

pub use error::{Check, Error};
pub use policy::{
    ExtensionRequirement, FULCIO_EXTENSION_ARC, Matcher, Policy, check_extensions,
    fulcio_extension_label, fulcio_extension_name,
};
pub use report::{LogEntryReport, Report, SignerReport, TimestampReport};
pub use trust::{PUBLIC_GOOD_TRUSTED_ROOT, TrustMaterial, TrustedCa, TrustedLog, note_name};
pub use verifier::{Artifact, Verifier};
