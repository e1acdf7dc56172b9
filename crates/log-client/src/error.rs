//! The one error type of `chainseal-log-client`.

use std::path::PathBuf;

/// Everything that can go wrong talking to, verifying or loading a log. Each variant
/// names what failed and carries the URL, path, sizes or roots involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL or option is unusable.
    #[error("configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The HTTP request failed (connect, TLS, timeout, body read).
    #[error("GET/POST {url}: {source}")]
    Http {
        /// The URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an unexpected status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (for the reason).
        body: String,
    },
    /// A response body exceeded the bound for that resource.
    #[error("{url}: response exceeds {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The bound.
        limit: usize,
    },
    /// The checkpoint is malformed, has the wrong origin, or is not signed by the log key.
    #[error("checkpoint: {reason}")]
    Checkpoint {
        /// What failed.
        reason: String,
    },
    /// Fewer trusted witnesses cosigned the checkpoint than the quorum requires.
    #[error("witness quorum not met: {got} of the required {need} trusted cosignatures")]
    Quorum {
        /// Valid cosignatures from distinct trusted witnesses.
        got: usize,
        /// The quorum.
        need: usize,
    },
    /// A tile is malformed, has the wrong width, or disagrees with the tile above it.
    #[error("tile {path}: {reason}")]
    Tile {
        /// The tile path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The root recomputed from the tiles is not the checkpoint's root.
    #[error(
        "tiles do not match the checkpoint: size {size}: computed root {computed}, checkpoint root {expected}"
    )]
    RootMismatch {
        /// The tree size.
        size: u64,
        /// Hex root computed from the tiles.
        computed: String,
        /// Hex root in the checkpoint.
        expected: String,
    },
    /// An entry bundle's leaf hashes disagree with the level-0 tile.
    #[error("entry bundle {path}: {reason}")]
    Entries {
        /// The bundle path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The log now shows a smaller tree than one it showed before.
    #[error(
        "rollback: log was at size {prev_size} (root {prev_root}), now shows size {size} (root {root})"
    )]
    Rollback {
        /// Previously verified size.
        prev_size: u64,
        /// Previously verified root (hex).
        prev_root: String,
        /// Current size.
        size: u64,
        /// Current root (hex).
        root: String,
    },
    /// The current tree does not extend the previously verified one: a fork.
    #[error(
        "fork: size {prev_size} root {prev_root} is not a prefix of size {size} root {root}: {reason}"
    )]
    Fork {
        /// Previously verified size.
        prev_size: u64,
        /// Previously verified root (hex).
        prev_root: String,
        /// Current size.
        size: u64,
        /// Current root (hex).
        root: String,
        /// Which check failed.
        reason: String,
    },
    /// Reading or writing the monitor state failed.
    #[error("state {}: {reason}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Building signed load requests failed.
    #[error("load generator: {reason}")]
    Load {
        /// What failed.
        reason: String,
    },
}

/// Shorthand for `Result<T, chainseal_log_client::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
