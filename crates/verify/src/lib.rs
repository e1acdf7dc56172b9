//! Offline verification of Sigstore bundles.
//!
//! [`Verifier::verify`] checks, with no network access and no optional steps:
//! the bundle's structure, the signing certificate's path to a trusted Fulcio CA at every
//! verified signing time (hybrid model), its embedded SCTs, the identity policy, the
//! artifact or DSSE signature, every transparency-log entry (body matches the bundle,
//! signed entry timestamp, inclusion proof, signed checkpoint) and every RFC 3161
//! timestamp. It returns a [`Report`] of what was proven, or an [`Error`] naming the check
//! that failed.
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
