//! chainseal-log-server: a transparency log built the way Tessera and Sunlight build
//! theirs.
//!
//! - **Read API**: C2SP tlog-tiles (`/checkpoint`, `/tile/<L>/<N>[.p/<W>]`,
//!   `/tile/entries/<N>[.p/<W>]`), served from immutable storage objects, at the root and
//!   under `/api/v2/`.
//! - **Write API**: Rekor v2 `POST /api/v2/log/entries` (hashedrekord and DSSE v0.0.2):
//!   the signature is verified, the canonical body is sequenced in a durable batch, and
//!   the answer is a `TransparencyLogEntry` with an inclusion proof against a published,
//!   signed (and optionally witnessed) checkpoint.
//! - **Storage** behind one trait ([`storage::Storage`]): a directory + redb, or
//!   PostgreSQL + an object store for several front ends.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod entry;
mod error;
pub mod files;
pub mod http;
pub mod log;
pub mod metrics;
pub mod storage;
pub mod tree;
pub mod witness;

use std::path::Path;

use chainseal_tlog::keys::Ed25519Signer;

pub use error::{Error, Result};
pub use log::{Config, Log};
pub use tree::{Format, TileTree};

/// Name of the generated key file inside the storage directory.
pub const KEY_FILE: &str = "log.key";

fn write_secret(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Error::storage(format!("creating {}", path.display()), e))?;
    f.write_all(contents.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::storage(format!("writing {}", path.display()), e))
}

fn read_key(path: &Path) -> Result<Ed25519Signer> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("reading key {}: {e}", path.display())))?;
    Ed25519Signer::from_private_key(text.trim())
        .map_err(|e| Error::Config(format!("key {}: {e}", path.display())))
}

/// The log's signing key: `key_file` if given, else `<dir>/log.key`, generated (mode
/// 0600) on first start with `origin` as its name.
pub fn load_or_create_key(
    dir: &Path,
    origin: &str,
    key_file: Option<&Path>,
) -> Result<Ed25519Signer> {
    if let Some(k) = key_file {
        return read_key(k);
    }
    let path = dir.join(KEY_FILE);
    if path.exists() {
        return read_key(&path);
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::storage(format!("creating {}", dir.display()), e))?;
    let signer = Ed25519Signer::generate(origin)
        .map_err(|e| Error::Config(format!("generating a key for {origin:?}: {e}")))?;
    write_secret(&path, &format!("{}\n", signer.to_private_key()))?;
    Ok(signer)
}

/// The C2SP verifier key of the log whose key is kept in `dir`.
pub fn vkey(dir: &Path) -> Result<String> {
    Ok(read_key(&dir.join(KEY_FILE))?.to_vkey())
}

/// Serves `log` on `listener` until the future is dropped, under `chainseal_serve`'s
/// default limits (connections, header and request timeouts, load shedding).
pub async fn serve<S: storage::Storage>(
    log: Log<S>,
    listener: tokio::net::TcpListener,
) -> Result<()> {
    serve_with(log, listener, chainseal_serve::Limits::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with<S: storage::Storage>(
    log: Log<S>,
    listener: tokio::net::TcpListener,
    limits: chainseal_serve::Limits,
) -> Result<()> {
    chainseal_serve::serve(
        listener,
        http::router(log),
        limits,
        "log",
        std::future::pending(),
    )
    .await;
    Ok(())
}
