//! chainseal-log-client: the client side of a C2SP tlog-tiles transparency log.
//!
//! - [`client::LogClient`]: async HTTP (reqwest + rustls) reads of `checkpoint`, hash
//!   tiles and entry bundles, each with a size bound, and the Rekor v2 write call.
//! - [`monitor`]: `chainseal log verify` — checkpoint signature (and k-of-n witness
//!   cosignatures), root recomputed from every tile, optional entry-bundle check, and
//!   consistency with the last verified checkpoint (fork and rollback detection).
//! - [`load`]: `chainseal log load` — distinct, valid, signed Rekor v2 hashedrekord
//!   requests, pre-generated, sent with bounded concurrency and a deadline.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
mod error;
pub mod load;
pub mod monitor;

pub use client::LogClient;
pub use error::{Error, Result};

/// A multi-threaded Tokio runtime for callers that are not async (the command line).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config {
            reason: format!("cannot start the async runtime: {e}"),
        })
}
