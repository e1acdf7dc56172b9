//! The monitor: verify a log's checkpoint (log signature, optional k-of-n witness
//! cosignatures), recompute its root from every tile the checkpoint justifies, optionally
//! check entry bundles against the level-0 tiles, and check that the tree extends the last
//! one this monitor verified (stored in a state file, written atomically).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chainseal_tlog::keys::parse_vkey;
use chainseal_tlog::merkle::{Hash, consistency_proof, leaf_hash, tree_hash, verify_consistency};
use chainseal_tlog::tile::{
    TILE_WIDTH, Tile, TileHashSource, TileKind, entry_bundles_for_size, parse_entry_bundle,
    parse_hash_tile_for, tiles_for_size,
};
use chainseal_tlog::{Checkpoint, Note, NoteVerifier};

use crate::client::LogClient;
use crate::error::{Error, Result};

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct MonitorConfig {
    /// The log's verifier key (vkey). Its name is the expected origin unless `origin` is set.
    pub log_vkey: String,
    /// Expected checkpoint origin, if it differs from the key name.
    pub origin: Option<String>,
    /// Trusted witness verifier keys (cosignature/v1 vkeys).
    pub witness_vkeys: Vec<String>,
    /// How many distinct trusted witnesses must have cosigned (0 = none required).
    pub witness_quorum: usize,
    /// Where the last verified checkpoint is kept (none: no consistency check).
    pub state_file: Option<PathBuf>,
    /// Also fetch every entry bundle and check its leaf hashes against the level-0 tiles.
    pub check_entries: bool,
    /// Parallel tile fetches (at least 1).
    pub concurrency: usize,
    /// Refuse to fetch more than this many tiles/bundles (0 = no bound).
    pub max_tiles: usize,
}

/// How the verified checkpoint relates to the previously stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// No state file, or no checkpoint stored yet.
    FirstSeen,
    /// Same size and root as before.
    Unchanged,
    /// A larger tree, with a verified consistency proof from the stored one.
    Extended,
}

/// The result of a successful verification.
#[derive(Debug, Clone)]
pub struct MonitorReport {
    /// The checkpoint's origin.
    pub origin: String,
    /// The verified tree size.
    pub size: u64,
    /// The verified root hash.
    pub root: Hash,
    /// Names of the trusted witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// Hash tiles fetched and cross-checked.
    pub tiles: usize,
    /// Entries whose leaf hash was checked against the level-0 tiles.
    pub entries_checked: u64,
    /// The previously stored (size, root), if any.
    pub previous: Option<(u64, Hash)>,
    /// How this checkpoint relates to the stored one.
    pub continuity: Continuity,
}

impl MonitorReport {
    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "origin": self.origin,
            "size": self.size,
            "root": hex::encode(self.root),
            "witnesses": self.witnesses,
            "tiles": self.tiles,
            "entriesChecked": self.entries_checked,
            "previous": self.previous.map(|(s, r)| serde_json::json!({"size": s, "root": hex::encode(r)})),
            "continuity": match self.continuity {
                Continuity::FirstSeen => "first-seen",
                Continuity::Unchanged => "unchanged",
                Continuity::Extended => "extended",
            },
        })
    }
}

type Verifier = Box<dyn NoteVerifier + Send + Sync>;

/// Decoded hash tiles by (level, index).
type TileMap = BTreeMap<(u8, u64), Vec<Hash>>;

fn cp_err(reason: impl std::fmt::Display) -> Error {
    Error::Checkpoint {
        reason: reason.to_string(),
    }
}

/// Parses and verifies a checkpoint note with the log key; returns it and its body.
fn open_checkpoint(bytes: &[u8], origin: &str, log: &Verifier) -> Result<(Note, Checkpoint)> {
    let (cp, note, _) =
        Checkpoint::open(bytes, origin, &[log.as_ref() as &dyn NoteVerifier]).map_err(cp_err)?;
    Ok((note, cp))
}

/// Fetches `tiles` with at most `concurrency` requests in flight.
async fn fetch_all(
    client: &LogClient,
    tiles: Vec<Tile>,
    concurrency: usize,
) -> Result<Vec<(Tile, Vec<u8>)>> {
    let mut set = tokio::task::JoinSet::new();
    let mut out = Vec::with_capacity(tiles.len());
    let mut pending = tiles.into_iter();
    let join_one = |r: std::result::Result<Result<(Tile, Vec<u8>)>, tokio::task::JoinError>| {
        r.map_err(|e| Error::Config {
            reason: format!("tile fetch task failed: {e}"),
        })?
    };
    loop {
        while set.len() < concurrency.max(1) {
            let Some(t) = pending.next() else { break };
            let c = client.clone();
            set.spawn(async move { c.tile(&t).await.map(|b| (t, b)) });
        }
        match set.join_next().await {
            Some(r) => out.push(join_one(r)?),
            None => break,
        }
    }
    Ok(out)
}

/// Decodes hash tiles, checks each full tile against its parent hash one level up, and
/// returns a hash source over them.
fn check_tiles(fetched: &[(Tile, Vec<u8>)]) -> Result<(TileHashSource, TileMap)> {
    let mut tiles: TileMap = BTreeMap::new();
    for (t, data) in fetched {
        let TileKind::Hashes(level) = t.kind else {
            continue;
        };
        let hashes = parse_hash_tile_for(t, data).map_err(|e| Error::Tile {
            path: t.path(),
            reason: e.to_string(),
        })?;
        tiles.insert((level, t.index), hashes);
    }
    for ((level, index), hashes) in &tiles {
        if hashes.len() as u64 != TILE_WIDTH {
            continue; // partial tiles never feed the level above
        }
        let path = Tile::full(*level, *index).path();
        let parent = level
            .checked_add(1)
            .and_then(|l| tiles.get(&(l, index / TILE_WIDTH)))
            .and_then(|p| p.get((index % TILE_WIDTH) as usize))
            .ok_or_else(|| Error::Tile {
                path: path.clone(),
                reason: "no parent hash in the tile above".into(),
            })?;
        if &subtree_root(hashes) != parent {
            return Err(Error::Tile {
                path,
                reason: "contents do not hash to the parent tile's entry".into(),
            });
        }
    }
    let mut src = TileHashSource::new();
    for ((level, index), hashes) in &tiles {
        src.insert(*level, *index, hashes.clone())
            .map_err(|e| Error::Tile {
                path: Tile::full(*level, *index).path(),
                reason: e.to_string(),
            })?;
    }
    Ok((src, tiles))
}

/// Merkle root of a full tile (256 hashes, a perfect subtree).
fn subtree_root(hashes: &[Hash]) -> Hash {
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| match p {
                [l, r] => chainseal_tlog::merkle::node_hash(l, r),
                [l] => *l,
                _ => [0u8; 32],
            })
            .collect();
    }
    level.first().copied().unwrap_or([0u8; 32])
}

fn check_entries(fetched: &[(Tile, Vec<u8>)], level0: &TileMap) -> Result<u64> {
    let mut checked = 0u64;
    for (t, data) in fetched {
        if t.kind != TileKind::Entries {
            continue;
        }
        let err = |reason: String| Error::Entries {
            path: t.path(),
            reason,
        };
        let entries = parse_entry_bundle(data).map_err(|e| err(e.to_string()))?;
        if entries.len() != usize::from(t.width) {
            return Err(err(format!(
                "{} entries, expected {}",
                entries.len(),
                t.width
            )));
        }
        let tile = level0
            .get(&(0, t.index))
            .ok_or_else(|| err("no level-0 tile for this bundle".into()))?;
        for (i, e) in entries.iter().enumerate() {
            if tile.get(i) != Some(&leaf_hash(e)) {
                return Err(err(format!(
                    "entry {i}: leaf hash differs from the level-0 tile"
                )));
            }
            checked += 1;
        }
    }
    Ok(checked)
}

fn state_err(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::State {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Reads the stored checkpoint; re-verifies its signature so a tampered state file is an
/// error, never a silent reset.
fn load_state(path: &Path, origin: &str, log: &Verifier) -> Result<Option<Checkpoint>> {
    match std::fs::read(path) {
        Ok(b) => open_checkpoint(&b, origin, log)
            .map(|(_, cp)| Some(cp))
            .map_err(|e| state_err(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(state_err(path, e)),
    }
}

/// Writes the checkpoint to `path` atomically (tmp → fsync → rename → fsync dir).
fn save_state(path: &Path, note: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(note)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    };
    write().map_err(|e| state_err(path, e))
}

/// Verifies the log at `client` as configured. On success the checkpoint is stored in
/// the state file (if any); on any failure the state is left untouched.
pub async fn verify_log(client: &LogClient, cfg: &MonitorConfig) -> Result<MonitorReport> {
    let log = parse_vkey(cfg.log_vkey.trim()).map_err(|e| Error::Config {
        reason: format!("log key: {e}"),
    })?;
    let origin = cfg.origin.clone().unwrap_or_else(|| log.name().to_owned());
    let witnesses = cfg
        .witness_vkeys
        .iter()
        .map(|v| {
            parse_vkey(v.trim()).map_err(|e| Error::Config {
                reason: format!("witness key {v:?}: {e}"),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if cfg.witness_quorum > witnesses.len() {
        return Err(Error::Config {
            reason: format!(
                "quorum {} exceeds the {} witness keys given",
                cfg.witness_quorum,
                witnesses.len()
            ),
        });
    }

    let bytes = client.checkpoint().await?;
    let (note, cp) = open_checkpoint(&bytes, &origin, &log)?;
    let witnessed = if witnesses.is_empty() {
        Vec::new()
    } else {
        let refs: Vec<&dyn NoteVerifier> = witnesses.iter().map(|w| w.as_ref() as _).collect();
        match note.verify(&refs) {
            Ok(v) => v.into_iter().map(|s| s.name).collect(),
            Err(chainseal_tlog::Error::NoteNoVerifiedSignature) => Vec::new(),
            Err(e) => return Err(cp_err(format!("witness cosignature: {e}"))),
        }
    };
    if witnessed.len() < cfg.witness_quorum {
        return Err(Error::Quorum {
            got: witnessed.len(),
            need: cfg.witness_quorum,
        });
    }

    // Only now, with a verified checkpoint, fetch the tiles it justifies.
    let mut wanted = tiles_for_size(cp.size);
    let hash_tiles = wanted.len();
    if cfg.check_entries {
        wanted.extend(entry_bundles_for_size(cp.size));
    }
    if cfg.max_tiles > 0 && wanted.len() > cfg.max_tiles {
        return Err(Error::Config {
            reason: format!(
                "size {} needs {} tiles, more than --max-tiles {}",
                cp.size,
                wanted.len(),
                cfg.max_tiles
            ),
        });
    }
    let fetched = fetch_all(client, wanted, cfg.concurrency).await?;
    let (src, tiles) = check_tiles(&fetched)?;
    let computed = tree_hash(cp.size, &src).map_err(|e| Error::Tile {
        path: "(tree)".into(),
        reason: e.to_string(),
    })?;
    if computed != cp.root_hash {
        return Err(Error::RootMismatch {
            size: cp.size,
            computed: hex::encode(computed),
            expected: hex::encode(cp.root_hash),
        });
    }
    let entries_checked = if cfg.check_entries {
        check_entries(&fetched, &tiles)?
    } else {
        0
    };

    let mut previous = None;
    let mut continuity = Continuity::FirstSeen;
    if let Some(path) = &cfg.state_file {
        if let Some(prev) = load_state(path, &origin, &log)? {
            previous = Some((prev.size, prev.root_hash));
            continuity = check_continuity(&prev, &cp, &src)?;
        }
        save_state(path, &bytes)?;
    }
    Ok(MonitorReport {
        origin,
        size: cp.size,
        root: cp.root_hash,
        witnesses: witnessed,
        tiles: hash_tiles,
        entries_checked,
        previous,
        continuity,
    })
}

/// Checks that `cp` extends `prev`, computing the consistency proof from the tiles and
/// verifying it with the `tlog` crate.
fn check_continuity(
    prev: &Checkpoint,
    cp: &Checkpoint,
    src: &TileHashSource,
) -> Result<Continuity> {
    let (prev_root, root) = (hex::encode(prev.root_hash), hex::encode(cp.root_hash));
    let fork = |reason: String| Error::Fork {
        prev_size: prev.size,
        prev_root: prev_root.clone(),
        size: cp.size,
        root: root.clone(),
        reason,
    };
    if prev.size > cp.size {
        return Err(Error::Rollback {
            prev_size: prev.size,
            prev_root: prev_root.clone(),
            size: cp.size,
            root: root.clone(),
        });
    }
    if prev.size == cp.size {
        return if prev.root_hash == cp.root_hash {
            Ok(Continuity::Unchanged)
        } else {
            Err(fork("same size, different root".into()))
        };
    }
    if prev.size == 0 {
        return Ok(Continuity::Extended);
    }
    let proof = consistency_proof(prev.size, cp.size, src).map_err(|e| fork(e.to_string()))?;
    verify_consistency(prev.size, cp.size, &proof, &prev.root_hash, &cp.root_hash)
        .map_err(|e| fork(e.to_string()))?;
    Ok(Continuity::Extended)
}
