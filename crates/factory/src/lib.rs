//! chainseal-factory: the secure software factory's core.
//!
//! One job: run a declared [`pipeline`] with every step in a fresh Linux namespace
//! [`sandbox`], while the [`observer`] — outside the sandbox, the only holder of the
//! factory key — hashes what each step consumed and produced, writes a signed in-toto link
//! per step, and at the end signs SLSA provenance v1 for the outputs.
//!
//! It never lets a step see the factory key, never gives a build step the network, and
//! never signs anything a step wrote about itself: every attested field is computed by the
//! observer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod factory;
pub mod observer;
pub mod pipeline;
pub mod sandbox;

pub use error::Error;
pub use factory::{RunOptions, RunReport, StepReport, run};
pub use observer::{KeySigner, Signer};
pub use pipeline::Pipeline;
