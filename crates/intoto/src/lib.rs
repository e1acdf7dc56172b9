//! chainseal-intoto: record in-toto links, sign layouts and links, and verify a supply
//! chain against a layout — in both envelope formats (classic Metablock over
//! securesystemslib canonical JSON, and DSSE), interoperable with the reference
//! implementation in-toto 3.1.0.
//!
//! - [`keys`]: RSA (PSS and PKCS#1 v1.5), Ed25519 and ECDSA P-256/P-384 keys in PEM and
//!   securesystemslib JSON forms; key IDs as the reference computes them, used only as
//!   hints.
//! - [`metadata`]: the two envelopes; the payload handed out is the one that was verified.
//! - [`models`]: layouts, steps, inspections, links, Statement v1 with `link/v0.3`.
//! - [`rules`]: artifact rules and their queue semantics.
//! - [`record`] and [`run`]: hashing artifacts and producing signed links.
//! - [`verify()`](fn@verify) (module [`mod@verify`]): the full verification algorithm,
//!   including sublayouts and inspections.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cjson;
mod error;
pub mod inspect;
pub mod keys;
pub mod metadata;
pub mod models;
pub mod record;
pub mod rules;
pub mod run;
pub mod verify;

pub use error::{ArtifactKind, Error};
pub use inspect::InspectionDir;
pub use keys::{Key, Scheme, SigningKey};
pub use metadata::{Format, Metadata};
pub use models::{Layout, Link};
pub use run::LinkFormat;
pub use verify::{Report, VerifyOptions, verify, verify_layout_file};
