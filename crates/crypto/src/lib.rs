//! Keys, signatures, X.509 path validation, Certificate Transparency SCTs and RFC 3161
//! timestamps for chainseal.
//!
//! Every verification function here either returns `Ok` after *all* of its checks passed,
//! or an [`Error`] naming the check that failed. There is no lenient mode.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod keys;
pub mod rfc3161;
pub mod sct;
pub mod x509;

pub use error::Error;
