//! The CT log's folder (`D/ct-<n>/log/`), laid out as its static-ct-api monitoring prefix:
//!
//! ```text
//! origin                  the log's name (checkpoint origin), fixed on first open
//! checkpoint              the latest signed checkpoint (RFC 6962 note signature, 0x05)
//! tile/<L>/<N>[.p/<W>]    hash tiles
//! tile/data/<N>[.p/<W>]   data tiles: TileLeaf records
//! issuer/<hex SHA-256>    every certificate a TileLeaf's chain refers to (DER)
//! ```
//!
//! Loading trusts nothing it reads: the checkpoint must verify under the log's own key and
//! origin, the right-edge tiles must give exactly the checkpoint's root, and each record of
//! the partial data tile must match its leaf hash, name issuers that are present and hash
//! to their fingerprint, and carry a precertificate its issuer signed. Any failure is an
//! error naming the file: the log never silently restarts from zero (its SCTs promise that
//! the entries are there).

use std::collections::HashSet;
use std::path::Path;

use chainseal_crypto::keys::{PrivateKey, sha256};
use chainseal_crypto::x509::Certificate;
use chainseal_log_server::TileTree;
use chainseal_log_server::tree::Format;
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::merkle::{self, Hash};
use chainseal_tlog::pkix::Rfc6962Verifier;
use chainseal_tlog::static_ct::parse_data_tile;
use chainseal_tlog::tile::{Tile, TileKind};

use crate::error::{Error, Result};

/// The file holding the origin.
pub(super) const ORIGIN: &str = "origin";
/// The file holding the checkpoint.
pub(super) const CHECKPOINT: &str = "checkpoint";

/// The in-memory side of the log: the right edge of the tree and what was last published.
#[derive(Debug, Default)]
pub(super) struct State {
    /// The tree (static-ct-api format), right edge loaded.
    pub tree: TileTree,
    /// Its root.
    pub root: Hash,
    /// The checkpoint bytes as last loaded or written (empty for an in-memory log).
    pub checkpoint: Vec<u8>,
    /// The latest timestamp published (entries and checkpoints): never goes back.
    pub last_ms: u64,
    /// An append is in memory but not (known to be) durable: reload before the next one.
    pub dirty: bool,
    /// Issuer fingerprints known to be stored under `issuer/`.
    pub issuers: HashSet<Hash>,
}

impl State {
    /// An empty tree.
    pub fn empty() -> Self {
        Self {
            tree: TileTree::static_ct(),
            root: merkle::empty_root(),
            ..Self::default()
        }
    }
}

pub(super) fn issuer_path(fp: &Hash) -> String {
    format!("issuer/{}", hex::encode(fp))
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Config(format!("CT log: {}: {reason}", path.display()))
}

/// Reads `path`; `None` if it does not exist.
fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
    }
}

/// The stored origin of the log in `dir`, `None` if there is none yet. Refuses an
/// origin file that is not a valid name, and a log that has a checkpoint or tiles but no
/// origin file.
pub(super) fn read_origin(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(ORIGIN);
    match read_opt(&path)? {
        Some(b) => {
            let s = String::from_utf8(b).map_err(|_| corrupt(&path, "not UTF-8"))?;
            let name = s.strip_suffix('\n').unwrap_or(&s);
            if !chainseal_tlog::note::is_valid_key_name(name) {
                return Err(corrupt(&path, format!("{name:?} is not a valid log name")));
            }
            Ok(Some(name.to_owned()))
        }
        None if dir.join(CHECKPOINT).exists() || dir.join("tile").exists() => Err(corrupt(
            &path,
            "missing, but the log has a checkpoint or tiles. To recover: restore it \
             from a backup; it holds the first line of the checkpoint file",
        )),
        None => Ok(None),
    }
}

/// Loads the log in `dir` named `origin` whose key is `key`. `None` when the folder holds
/// no checkpoint and no tiles (a new log).
pub(super) fn load(dir: &Path, origin: &str, key: &PrivateKey) -> Result<Option<State>> {
    let cp_path = dir.join(CHECKPOINT);
    let Some(bytes) = read_opt(&cp_path)? else {
        if dir.join("tile").exists() {
            return Err(Error::Config(format!(
                "CT log: {} holds tiles but {} is missing; refusing to start an empty log \
                 over them (SCTs already issued promise those entries). To recover: restore \
                 the checkpoint from a backup (the tiles are only trusted up to a checkpoint \
                 signed by the log's key); or, to abandon this log, move {} away and start \
                 again (issued SCTs stay valid but can no longer be audited)",
                dir.display(),
                cp_path.display(),
                dir.display()
            )));
        }
        return Ok(None);
    };
    let verifier = Rfc6962Verifier::new(origin, key.public_key())
        .map_err(|e| corrupt(&dir.join(ORIGIN), e))?;
    let (cp, _note, verified) = Checkpoint::open(&bytes, origin, &[&verifier]).map_err(|e| {
        corrupt(
            &cp_path,
            format!("does not verify as log {origin:?} under the log's key: {e}"),
        )
    })?;
    let last_ms = verified.first().and_then(|v| v.timestamp).unwrap_or(0);
    let mut tree = TileTree::static_ct();
    tree.reset(cp.size);
    let edge = TileTree::right_edge_for(Format::StaticCt, cp.size);
    let mut issuers = HashSet::new();
    for t in &edge {
        let path = dir.join(t.path());
        let data = read_opt(&path)?.ok_or_else(|| {
            corrupt(
                &path,
                format!(
                    "missing (checkpoint {} has size {})",
                    cp_path.display(),
                    cp.size
                ),
            )
        })?;
        tree.insert(t, &data).map_err(|e| corrupt(&path, e))?;
        if t.kind == TileKind::Data {
            check_data_tile(dir, t, &data, &mut issuers)?;
        }
    }
    tree.check_bundle().map_err(|e| corrupt(dir, e))?;
    let root = tree.root_at(cp.size).map_err(|e| corrupt(dir, e))?;
    if root != cp.root_hash {
        let files: Vec<String> = edge.iter().map(Tile::path).collect();
        return Err(corrupt(
            &cp_path,
            format!(
                "its root {} is not the root {} of the right-edge tiles ({}) at size {}: a \
                 tile or the checkpoint is corrupt; refusing to append to a forked tree",
                hex::encode(cp.root_hash),
                hex::encode(root),
                files.join(", "),
                cp.size
            ),
        ));
    }
    Ok(Some(State {
        tree,
        root,
        checkpoint: bytes,
        last_ms,
        dirty: false,
        issuers,
    }))
}

/// The parts of a data tile the Merkle tree does not cover: each record's precertificate
/// must be signed by the first certificate of its chain, and every chain fingerprint must
/// name a stored issuer that hashes to it.
fn check_data_tile(dir: &Path, t: &Tile, data: &[u8], known: &mut HashSet<Hash>) -> Result<()> {
    let path = dir.join(t.path());
    let leaves = parse_data_tile(data).map_err(|e| corrupt(&path, e))?;
    for (i, leaf) in leaves.iter().enumerate() {
        let bad = |reason: String| corrupt(&path, format!("entry {i}: {reason}"));
        let Some(precert) = leaf.pre_certificate else {
            return Err(bad("not a precertificate entry".into()));
        };
        let mut chain = Vec::with_capacity(leaf.chain.len());
        for fp in &leaf.chain {
            let ipath = dir.join(issuer_path(fp));
            let der = read_opt(&ipath)?.ok_or_else(|| {
                bad(format!(
                    "its chain names issuer {} which is missing",
                    ipath.display()
                ))
            })?;
            if sha256(&der) != *fp {
                return Err(corrupt(&ipath, "does not hash to its file name"));
            }
            known.insert(*fp);
            chain.push(der);
        }
        let issuer = chain
            .first()
            .ok_or_else(|| bad("empty chain".into()))
            .and_then(|der| Certificate::from_der(der).map_err(|e| bad(format!("issuer: {e}"))))?;
        Certificate::from_der(precert)
            .and_then(|c| c.verify_signed_by(&issuer))
            .map_err(|e| bad(format!("precertificate: {e}")))?;
    }
    Ok(())
}
