//! SLSA provenance verification with slsa-verifier's semantics, offline, and
//! Verification Summary Attestations.
//!
//! [`verify_provenance`] reads a provenance file (Sigstore bundle or `.intoto.jsonl`),
//! verifies the signature, certificate chain and transparency-log entry with
//! `chainseal_verify`, then checks — against the *verified certificate*, never the
//! provenance's own claims of identity — that the signer is a trusted builder, that the
//! source repository, tag and branch are the expected ones, and that the artifact is a
//! subject. Two kinds of builder are verified: GitHub Actions builders
//! (slsa-github-generator, BYOB delegators, named reusable workflows) and chainseal's own
//! secure software factory (certificate SAN `spiffe://<td>/factory/<pipeline>`, named
//! exactly by `--builder-id`). [`vsa`] emits and verifies `verification_summary/v1`
//! attestations.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binding;
pub mod builder;
mod error;
pub mod input;
pub mod slsa;
mod verify;
pub mod versioned_tag;
pub mod vsa;

pub use builder::{BuilderKind, VerifiedBuilder};
pub use error::{Check, Error};
pub use slsa::{PROVENANCE_V1, PROVENANCE_V02, Provenance, ProvenanceV1, ProvenanceV02};
pub use verify::{Options, Verified, verify_provenance};
