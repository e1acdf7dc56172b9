//! chainseal-tlog: RFC 6962/9162 Merkle math, inclusion and consistency proofs, C2SP signed
//! notes, checkpoints, cosignatures, and tlog-tiles paths and codecs.
//!
//! This crate is pure: it never touches the disk, the network or the clock. Callers fetch
//! bytes and pass them in; every parser returns an [`Error`] instead of panicking.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checkpoint;
mod error;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod pkix;
pub mod static_ct;
pub mod subtree;
pub mod tile;
pub mod witness_protocol;

pub use checkpoint::Checkpoint;
pub use error::{Error, Result};
pub use merkle::Hash;
pub use note::{Note, NoteSigner, NoteVerifier, VerifiedSignature};
