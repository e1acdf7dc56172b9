//! Pure data types and codecs for chainseal: DSSE and PAE, in-toto statements, Sigstore
//! bundles and trusted roots, Rekor entry bodies, and canonical JSON.
//!
//! This crate performs no I/O and no cryptography: it decodes and encodes bytes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dsse;
mod error;

pub use error::Error;
