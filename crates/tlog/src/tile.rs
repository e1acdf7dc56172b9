//! C2SP tlog-tiles: tile paths, which tiles exist for a tree size, the hash-tile and
//! entry-bundle codecs, computing tiles from leaf hashes, and a [`HashSource`] over tiles
//! so a monitor can recompute a checkpoint's root (and proofs) from tiles alone.
//!
//! Tile *n* at level *l* holds the hashes of the complete subtrees of height `8·l` with
//! indices `n·256 .. n·256+255` (level 0 = leaf hashes). Partial tiles (`.p/<W>`, W in
//! 1..=255) hold the first W of them.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::merkle::{Hash, HashSource, node_hash};

/// Hashes (or entries) per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tile height in tree levels.
pub const TILE_HEIGHT: u8 = 8;
/// Highest tile level allowed in paths.
pub const MAX_TILE_LEVEL: u8 = 63;
/// Largest entry an entry bundle can carry (uint16 length prefix).
pub const MAX_ENTRY_LEN: usize = 65_535;

/// What a tile path points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileKind {
    /// A hash tile at the given tile level: `tile/<L>/<N>`.
    Hashes(u8),
    /// An entry bundle: `tile/entries/<N>`.
    Entries,
    /// A static-ct-api data tile (TileLeaf records): `tile/data/<N>`.
    Data,
}

/// One tile (or entry bundle / data tile) of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tile {
    /// What kind of tile.
    pub kind: TileKind,
    /// Tile index N.
    pub index: u64,
    /// Number of hashes/entries: 256 for a full tile, 1..=255 for a partial one.
    pub width: u16,
}

/// Encodes a tile index as zero-padded 3-digit groups, all but the last prefixed `x`:
/// 1234067 → `x001/x234/067`, 5 → `005`.
pub fn encode_index(n: u64) -> String {
    let mut groups = Vec::new();
    let mut n = n;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 == groups.len() {
            out.push_str(&format!("{g:03}"));
        } else {
            out.push_str(&format!("x{g:03}/"));
        }
    }
    out
}

fn path_err(path: &str, reason: &'static str) -> Error {
    Error::TilePath {
        path: path.chars().take(200).collect(),
        reason,
    }
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl Tile {
    /// A full hash tile.
    pub fn full(level: u8, index: u64) -> Self {
        Tile {
            kind: TileKind::Hashes(level),
            index,
            width: TILE_WIDTH as u16,
        }
    }

    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The path relative to the log prefix, e.g. `tile/0/x001/x234/067.p/5`.
    pub fn path(&self) -> String {
        let kind = match self.kind {
            TileKind::Hashes(l) => l.to_string(),
            TileKind::Entries => "entries".to_owned(),
            TileKind::Data => "data".to_owned(),
        };
        let mut p = format!("tile/{kind}/{}", encode_index(self.index));
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parses a tile path (relative to the log prefix). Only canonical encodings are
    /// accepted: the result's [`Tile::path`] equals the input.
    pub fn parse_path(path: &str) -> Result<Self> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| path_err(path, "does not start with tile/"))?;
        let (kind, rest) = rest
            .split_once('/')
            .ok_or_else(|| path_err(path, "missing tile index"))?;
        let kind = match kind {
            "entries" => TileKind::Entries,
            "data" => TileKind::Data,
            l => {
                let level = crate::checkpoint::parse_decimal(l)
                    .filter(|&l| l <= u64::from(MAX_TILE_LEVEL))
                    .ok_or_else(|| path_err(path, "bad tile level"))?;
                TileKind::Hashes(level as u8)
            }
        };
        let (idx, width) = match rest.split_once(".p/") {
            Some((idx, w)) => {
                let w = crate::checkpoint::parse_decimal(w)
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or_else(|| path_err(path, "partial width must be 1..255"))?;
                (idx, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let groups: Vec<&str> = idx.split('/').collect();
        let Some((last, leading)) = groups.split_last() else {
            return Err(path_err(path, "missing tile index"));
        };
        let mut n: u64 = 0;
        for g in leading {
            let v = g
                .strip_prefix('x')
                .and_then(three_digits)
                .ok_or_else(|| path_err(path, "bad index group"))?;
            n = n
                .checked_mul(1000)
                .and_then(|n| n.checked_add(v))
                .ok_or_else(|| path_err(path, "index overflows"))?;
        }
        let v = three_digits(last).ok_or_else(|| path_err(path, "bad index group"))?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(v))
            .ok_or_else(|| path_err(path, "index overflows"))?;
        let t = Tile {
            kind,
            index: n,
            width,
        };
        if t.path() != path {
            return Err(path_err(path, "non-canonical tile path"));
        }
        Ok(t)
    }
}

fn pow256(level: u8) -> Option<u64> {
    1u64.checked_shl(u32::from(level) * u32::from(TILE_HEIGHT))
        .filter(|_| u32::from(level) * 8 < 64)
}

/// For tree `size` and tile `level`: (number of full tiles, width of the partial tile, 0
/// if none).
pub fn level_tiles(size: u64, level: u8) -> (u64, u16) {
    match pow256(level) {
        Some(p) => {
            let hashes = size / p;
            (hashes / TILE_WIDTH, (hashes % TILE_WIDTH) as u16)
        }
        None => (0, 0),
    }
}

/// Every hash tile a log of `size` serves (full tiles, plus one partial per level where
/// the width is non-zero), level by level. Beware: linear in `size / 256`.
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    for level in 0..=MAX_TILE_LEVEL {
        let (full, partial) = level_tiles(size, level);
        if full == 0 && partial == 0 {
            break;
        }
        out.extend((0..full).map(|i| Tile::full(level, i)));
        if partial > 0 {
            out.push(Tile {
                kind: TileKind::Hashes(level),
                index: full,
                width: partial,
            });
        }
    }
    out
}

/// The entry bundles a log of `size` serves (same widths as level-0 tiles).
pub fn entry_bundles_for_size(size: u64) -> Vec<Tile> {
    let (full, partial) = level_tiles(size, 0);
    let mut out: Vec<Tile> = (0..full)
        .map(|i| Tile {
            kind: TileKind::Entries,
            index: i,
            width: TILE_WIDTH as u16,
        })
        .collect();
    if partial > 0 {
        out.push(Tile {
            kind: TileKind::Entries,
            index: full,
            width: partial,
        });
    }
    out
}

/// The tile at `level`/`index` as it should be for a tree of `size`: full, partial, or
/// `None` if it does not exist at that size.
pub fn tile_at_size(level: u8, index: u64, size: u64) -> Option<Tile> {
    let (full, partial) = level_tiles(size, level);
    if index < full {
        Some(Tile::full(level, index))
    } else if index == full && partial > 0 {
        Some(Tile {
            kind: TileKind::Hashes(level),
            index,
            width: partial,
        })
    } else {
        None
    }
}

/// Decodes a hash tile: concatenated 32-byte hashes, 1..=256 of them.
pub fn parse_hash_tile(data: &[u8]) -> Result<Vec<Hash>> {
    if data.is_empty() || !data.len().is_multiple_of(32) || data.len() as u64 > TILE_WIDTH * 32 {
        return Err(Error::tile(format!(
            "hash tile must be 1..=256 32-byte hashes, got {} bytes",
            data.len()
        )));
    }
    Ok(data
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Decodes a hash tile and checks it has exactly the width `tile` says.
pub fn parse_hash_tile_for(tile: &Tile, data: &[u8]) -> Result<Vec<Hash>> {
    let h = parse_hash_tile(data)?;
    if h.len() != usize::from(tile.width) {
        return Err(Error::tile(format!(
            "{}: expected {} hashes, got {}",
            tile.path(),
            tile.width,
            h.len()
        )));
    }
    Ok(h)
}

/// Encodes a hash tile.
pub fn encode_hash_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// Decodes an entry bundle: a sequence of `uint16 BE length || entry` (1..=256 entries).
pub fn parse_entry_bundle(data: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(Error::tile("entry bundle: truncated length prefix"));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(Error::tile(format!(
                "entry bundle: entry {} claims {len} bytes, {} left",
                out.len(),
                tail.len()
            )));
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        if out.len() as u64 > TILE_WIDTH {
            return Err(Error::tile("entry bundle: more than 256 entries"));
        }
        rest = tail;
    }
    if out.is_empty() {
        return Err(Error::tile("entry bundle: empty"));
    }
    Ok(out)
}

/// Encodes an entry bundle (1..=256 entries, each at most 65,535 bytes).
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>> {
    if entries.is_empty() || entries.len() as u64 > TILE_WIDTH {
        return Err(Error::tile(format!(
            "entry bundle must hold 1..=256 entries, got {}",
            entries.len()
        )));
    }
    let mut out = Vec::new();
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len())
            .map_err(|_| Error::tile(format!("entry of {} bytes exceeds 65,535", e.len())))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Root of a perfect tree over `hashes` (length must be a power of two, ≥ 1).
fn perfect_root(hashes: &[Hash]) -> Option<Hash> {
    if hashes.is_empty() || !hashes.len().is_power_of_two() {
        return None;
    }
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    level.first().copied()
}

/// Computes every hash tile of the tree whose leaf hashes are `leaves` (full tiles and the
/// partial tile of each level), with their contents.
pub fn compute_tiles(leaves: &[Hash]) -> Vec<(Tile, Vec<Hash>)> {
    let mut out = Vec::new();
    let mut hashes: Vec<Hash> = leaves.to_vec();
    let mut level: u8 = 0;
    while !hashes.is_empty() && level <= MAX_TILE_LEVEL {
        let mut next = Vec::new();
        for (i, chunk) in hashes.chunks(TILE_WIDTH as usize).enumerate() {
            out.push((
                Tile {
                    kind: TileKind::Hashes(level),
                    index: i as u64,
                    width: chunk.len() as u16,
                },
                chunk.to_vec(),
            ));
            if chunk.len() as u64 == TILE_WIDTH
                && let Some(r) = perfect_root(chunk)
            {
                next.push(r);
            }
        }
        hashes = next;
        level += 1;
    }
    out
}

/// The contents of hash tile `tile` read from any [`HashSource`] (e.g. a log server's
/// node storage).
pub fn tile_from_source(tile: &Tile, src: &dyn HashSource) -> Result<Vec<Hash>> {
    let TileKind::Hashes(level) = tile.kind else {
        return Err(Error::tile("not a hash tile"));
    };
    let h = level
        .checked_mul(TILE_HEIGHT)
        .filter(|h| *h < 64)
        .ok_or_else(|| Error::tile("tile level too high"))?;
    (0..u64::from(tile.width))
        .map(|i| {
            let n = tile
                .index
                .checked_mul(TILE_WIDTH)
                .and_then(|n| n.checked_add(i))
                .ok_or_else(|| Error::tile("tile index overflows"))?;
            src.subtree_hash(h, n)
        })
        .collect()
}

/// A [`HashSource`] backed by hash tiles. Subtree hashes are computed from the tile at
/// the subtree's level when present, otherwise from the tiles below it.
#[derive(Debug, Clone, Default)]
pub struct TileHashSource {
    tiles: BTreeMap<(u8, u64), Vec<Hash>>,
}

impl TileHashSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a decoded hash tile. If a tile with the same coordinates is already held, the
    /// two must agree on their common prefix (else error: the log served inconsistent
    /// tiles); the wider one is kept.
    pub fn insert(&mut self, level: u8, index: u64, hashes: Vec<Hash>) -> Result<()> {
        if level > MAX_TILE_LEVEL || hashes.is_empty() || hashes.len() as u64 > TILE_WIDTH {
            return Err(Error::tile("invalid tile level or width"));
        }
        match self.tiles.get(&(level, index)) {
            Some(old) => {
                let n = old.len().min(hashes.len());
                if old[..n] != hashes[..n] {
                    return Err(Error::tile(format!(
                        "conflicting contents for tile {}",
                        Tile {
                            kind: TileKind::Hashes(level),
                            index,
                            width: hashes.len() as u16
                        }
                        .path()
                    )));
                }
                if hashes.len() > old.len() {
                    self.tiles.insert((level, index), hashes);
                }
            }
            None => {
                self.tiles.insert((level, index), hashes);
            }
        }
        Ok(())
    }

    /// Decodes and adds a hash tile given its path and bytes.
    pub fn insert_path(&mut self, path: &str, data: &[u8]) -> Result<()> {
        let t = Tile::parse_path(path)?;
        let TileKind::Hashes(level) = t.kind else {
            return Err(Error::tile("not a hash tile path"));
        };
        let h = parse_hash_tile_for(&t, data)?;
        self.insert(level, t.index, h)
    }

    fn direct(&self, level: u8, index: u64) -> Option<Hash> {
        let tl = level / TILE_HEIGHT;
        let r = level % TILE_HEIGHT;
        let start = index
            .checked_shl(u32::from(r))
            .filter(|s| s >> r == index)?;
        let tile = self.tiles.get(&(tl, start / TILE_WIDTH))?;
        let off = (start % TILE_WIDTH) as usize;
        let slice = tile.get(off..off.checked_add(1usize << r)?)?;
        perfect_root(slice)
    }
}

impl HashSource for TileHashSource {
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash> {
        if level >= 64 {
            return Err(Error::MissingHash { level, index });
        }
        if let Some(h) = self.direct(level, index) {
            return Ok(h);
        }
        if level == 0 {
            return Err(Error::MissingHash { level, index });
        }
        let left = index
            .checked_mul(2)
            .ok_or(Error::MissingHash { level, index })?;
        let l = self.subtree_hash(level - 1, left)?;
        let r = self.subtree_hash(level - 1, left + 1)?;
        Ok(node_hash(&l, &r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding_matches_spec() {
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(
            Tile::parse_path("tile/0/x001/x234/067.p/5").unwrap(),
            Tile {
                kind: TileKind::Hashes(0),
                index: 1234067,
                width: 5
            }
        );
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
        assert_eq!(
            Tile::parse_path("tile/entries/x018/x446/x744/x073/x709/x551/615")
                .unwrap()
                .index,
            u64::MAX
        );
    }

    #[test]
    fn rejects_malformed_tile_paths() {
        for p in [
            "tile/0/5",
            "tile/0/0005",
            "tile/0/x000/005",
            "tile/00/005",
            "tile/64/005",
            "tile/0/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/05",
            "tile/0/005/",
            "tile/0/x005",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tiles/0/005",
            "tile/foo/005",
            "tile/0/",
            "tile/0/00a",
        ] {
            assert!(Tile::parse_path(p).is_err(), "{p}");
        }
    }

    #[test]
    fn tile_widths_match_spec_examples() {
        // s=70,000 → 273 full L0 + L0 .p/112, 1 full L1 + L1 .p/17, L2 .p/1.
        assert_eq!(level_tiles(70_000, 0), (273, 112));
        assert_eq!(level_tiles(70_000, 1), (1, 17));
        assert_eq!(level_tiles(70_000, 2), (0, 1));
        assert_eq!(level_tiles(70_000, 3), (0, 0));
        let t = tiles_for_size(256);
        assert_eq!(
            t.iter().map(Tile::path).collect::<Vec<_>>(),
            vec!["tile/0/000", "tile/1/000.p/1"]
        );
    }
}
