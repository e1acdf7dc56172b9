//! Pure data types and codecs for chainseal: DSSE and PAE, in-toto statements, Sigstore
//! bundles and trusted roots, Rekor entry bodies, and canonical JSON.
//!
//! This crate performs no I/O and no cryptography: it decodes and encodes bytes, and it
//! never re-serialises anything that is later hashed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bundle;
pub mod canonical;
pub mod dsse;
mod error;
pub mod pbjson;
pub mod rekor;
pub mod statement;
pub mod trust;

pub use error::Error;
