//! Reading untrusted input files with a size cap, so that a huge (or endless) bundle or
//! trusted root cannot exhaust memory before verification even starts.

use std::io::Read as _;
use std::path::Path;

use crate::error::{Check, Error};

/// The largest bundle file accepted (16 MiB; real bundles are a few KiB to a few MiB).
pub const MAX_BUNDLE_BYTES: u64 = 16 << 20;
/// The largest trusted root (or client trust config) accepted (4 MiB).
pub const MAX_TRUSTED_ROOT_BYTES: u64 = 4 << 20;

/// Read the whole file at `path`, refusing it with [`Check::BundleFormat`] if it is longer
/// than `max` bytes (checked while reading, so a growing file or FIFO is capped too).
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    let file = std::fs::File::open(path).map_err(|e| {
        Error::new(
            Check::BundleFormat,
            format!("reading {}: {e}", path.display()),
        )
    })?;
    let mut buf = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| {
            Error::new(
                Check::BundleFormat,
                format!("reading {}: {e}", path.display()),
            )
        })?;
    if buf.len() as u64 > max {
        return Err(Error::new(
            Check::BundleFormat,
            format!(
                "{} is larger than the {max}-byte limit for this input",
                path.display()
            ),
        ));
    }
    Ok(buf)
}
