//! chainseal-factory: the secure software factory's core.
//!
//! One job: run a declared [`pipeline`] with every step in a fresh Linux namespace
//! [`sandbox`], while the [`observer`] — outside the sandbox — hashes what each step
//! consumed and produced and builds an in-toto link per step and SLSA provenance v1 for
//! the outputs; the [`attestor`] (the only holder of the signing key) signs, timestamps and
//! logs them; the [`gate`] verifies the run from its files before anything is
//! [`publish`]ed.
//!
//! It never lets a step see the factory key, never gives any step a network, a
//! capability or a mount of its own (also when it runs as root), and never signs
//! anything a step wrote about itself: every attested field is computed by the observer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attestor;
mod error;
pub mod factory;
pub mod fetch;
pub mod gate;
pub mod layout;
pub mod observer;
pub mod pipeline;
pub mod publish;
pub mod sandbox;
mod workspace;

pub use attestor::{Attestor, KeySigner, KeylessAttestor, Recorded};
pub use error::Error;
pub use factory::{Hooks, Progress, RunOptions, RunReport, StepReport, run};
pub use gate::GateReport;
pub use pipeline::Pipeline;
