//! chainseal-witness: a C2SP tlog-witness (c2sp.org/tlog-witness).
//!
//! A log submits `POST /add-checkpoint` with the size the witness last cosigned, a
//! consistency proof from that size, and its new signed checkpoint. The witness verifies
//! the checkpoint against the log keys it trusts, checks the proof against its own record
//! of that log, persists the new (size, root) durably, and answers with a `cosignature/v1`
//! line. It therefore never cosigns two inconsistent views of a log: no rollback (the old
//! size must equal its record, else 409) and no split view (same size with another root,
//! or a bigger tree that does not extend the recorded one, is 422).
//!
//! [`Witness`] holds the decision procedure without HTTP; [`http`] serves it with axum.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod http;
pub mod store;
mod witness;

pub use error::{Error, Result};
pub use witness::{Witness, WitnessConfig, read_vkey};
