//! The log's Merkle tree, held as tiles: appending leaves produces the tile and entry-bundle
//! files to write, and the same tiles answer root, inclusion and consistency queries.
//!
//! Only the right edge (the rightmost, partial tile of each level and the partial entry
//! bundle) is needed to append; older tiles are loaded on demand for proofs and evicted.
//! Each cached tile is kept as a small [`MemoryTree`] so that any subtree hash inside it
//! is a lookup, not a recomputation.

use std::collections::HashMap;

use chainseal_tlog::merkle::{self, Hash, HashSource, MemoryTree};
use chainseal_tlog::tile::{self, TILE_WIDTH, Tile, TileKind};

use crate::error::{Error, Result};

/// Level-0 tiles kept in the cache behind the right edge.
const KEEP_LEVEL0_TILES: u64 = 64;

/// A file the integrator must write: tile or entry bundle path, and its bytes.
pub type Write = (String, Vec<u8>);

/// The tree as tiles, plus the entries of the partial entry bundle.
#[derive(Debug, Default)]
pub struct TileTree {
    size: u64,
    tiles: HashMap<(u8, u64), MemoryTree>,
    bundle: Vec<Vec<u8>>,
}

fn tile_err(reason: String) -> Error {
    Error::Corrupt(reason)
}

impl TileTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Forgets everything (before reloading the right edge at another size).
    pub fn reset(&mut self, size: u64) {
        self.size = size;
        self.tiles.clear();
        self.bundle.clear();
    }

    /// The tiles (and entry bundle) that must be loaded to append to a tree of `size`:
    /// the partial tile of each level and the partial bundle.
    pub fn right_edge(size: u64) -> Vec<Tile> {
        let mut out = Vec::new();
        for level in 0..=tile::MAX_TILE_LEVEL {
            let (full, partial) = tile::level_tiles(size, level);
            if full == 0 && partial == 0 {
                break;
            }
            if partial > 0 {
                out.push(Tile {
                    kind: TileKind::Hashes(level),
                    index: full,
                    width: partial,
                });
            }
        }
        let (full, partial) = tile::level_tiles(size, 0);
        if partial > 0 {
            out.push(Tile {
                kind: TileKind::Entries,
                index: full,
                width: partial,
            });
        }
        out
    }

    /// Inserts a tile (hash tile or entry bundle) read from storage.
    pub fn insert(&mut self, t: &Tile, data: &[u8]) -> Result<()> {
        match t.kind {
            TileKind::Hashes(level) => {
                let hashes = tile::parse_hash_tile_for(t, data)?;
                self.tiles
                    .insert((level, t.index), MemoryTree::from_leaf_hashes(hashes));
            }
            TileKind::Entries => {
                let entries = tile::parse_entry_bundle(data)?;
                if entries.len() != usize::from(t.width) {
                    return Err(tile_err(format!(
                        "{}: {} entries, expected {}",
                        t.path(),
                        entries.len(),
                        t.width
                    )));
                }
                self.bundle = entries.into_iter().map(<[u8]>::to_vec).collect();
            }
            TileKind::Data => return Err(tile_err("data tiles are not used".into())),
        }
        Ok(())
    }

    /// Appends entries; returns the files to write (full tiles as soon as they fill,
    /// then the partial tiles and bundle at the new size).
    pub fn append(&mut self, entries: &[Vec<u8>]) -> Result<Vec<Write>> {
        let mut writes = Vec::new();
        let mut dirty: Vec<(u8, u64)> = Vec::new();
        for e in entries {
            let index = self.size;
            self.bundle.push(e.clone());
            if self.bundle.len() as u64 == TILE_WIDTH {
                let b = Tile {
                    kind: TileKind::Entries,
                    index: index / TILE_WIDTH,
                    width: TILE_WIDTH as u16,
                };
                writes.push((b.path(), tile::encode_entry_bundle(&self.bundle)?));
                self.bundle.clear();
            }
            let mut h = merkle::leaf_hash(e);
            let mut level = 0u8;
            let mut pos = index; // position of h within its level
            loop {
                let key = (level, pos / TILE_WIDTH);
                let t = self.tiles.entry(key).or_default();
                if t.size() != pos % TILE_WIDTH {
                    return Err(tile_err(format!(
                        "tile {level}/{} holds {} hashes, expected {}",
                        key.1,
                        t.size(),
                        pos % TILE_WIDTH
                    )));
                }
                t.push_leaf_hash(h);
                if !dirty.contains(&key) {
                    dirty.push(key);
                }
                if t.size() < TILE_WIDTH {
                    break;
                }
                // The tile filled: write it now and feed its root to the level above.
                h = t.subtree_hash(8, 0)?;
                let hashes: Vec<Hash> = (0..TILE_WIDTH)
                    .map(|i| t.subtree_hash(0, i))
                    .collect::<chainseal_tlog::Result<_>>()?;
                writes.push((
                    Tile::full(level, key.1).path(),
                    tile::encode_hash_tile(&hashes),
                ));
                dirty.retain(|d| *d != key);
                level = level
                    .checked_add(1)
                    .filter(|l| *l <= tile::MAX_TILE_LEVEL)
                    .ok_or_else(|| tile_err("tree too large".into()))?;
                pos /= TILE_WIDTH;
            }
            self.size += 1;
        }
        for key in dirty {
            if let Some(t) = self.tiles.get(&key) {
                let w = t.size();
                let hashes: Vec<Hash> = (0..w)
                    .map(|i| t.subtree_hash(0, i))
                    .collect::<chainseal_tlog::Result<_>>()?;
                let tl = Tile {
                    kind: TileKind::Hashes(key.0),
                    index: key.1,
                    width: w as u16,
                };
                writes.push((tl.path(), tile::encode_hash_tile(&hashes)));
            }
        }
        if !self.bundle.is_empty() && !entries.is_empty() {
            let b = Tile {
                kind: TileKind::Entries,
                index: self.size / TILE_WIDTH,
                width: self.bundle.len() as u16,
            };
            writes.push((b.path(), tile::encode_entry_bundle(&self.bundle)?));
        }
        self.evict();
        Ok(writes)
    }

    fn evict(&mut self) {
        let right0 = self.size / TILE_WIDTH;
        self.tiles
            .retain(|(l, i), _| *l > 0 || i.saturating_add(KEEP_LEVEL0_TILES) > right0);
    }

    /// The hash tiles (at their width for the current size) that must be in the cache to
    /// compute proofs touching leaf indices `points` in a tree of `size` leaves.
    pub fn missing(&self, points: &[u64], size: u64) -> Vec<Tile> {
        let mut out: Vec<Tile> = Vec::new();
        if size == 0 {
            return out;
        }
        for level in 0..=tile::MAX_TILE_LEVEL {
            let shift = u32::from(level) * 8;
            if shift >= 64 || (size >> shift) == 0 {
                break;
            }
            let right = ((size >> shift) - 1) / TILE_WIDTH;
            let mut wanted: Vec<u64> = points
                .iter()
                .map(|p| (p >> shift) / TILE_WIDTH)
                .filter(|t| *t <= right)
                .collect();
            wanted.push(right);
            for t in wanted {
                if self.tiles.contains_key(&(level, t)) {
                    continue;
                }
                if let Some(tl) = tile::tile_at_size(level, t, self.size)
                    && !out.contains(&tl)
                {
                    out.push(tl);
                }
            }
        }
        out
    }

    /// The root of the tree at `size` (`size <= self.size()`; needed tiles loaded).
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        Ok(merkle::tree_hash(size, self)?)
    }

    /// Inclusion proof of `index` in the tree of `size`.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        Ok(merkle::inclusion_proof(index, size, self)?)
    }

    /// Consistency proof from `size1` to `size2`.
    pub fn consistency(&self, size1: u64, size2: u64) -> Result<Vec<Hash>> {
        Ok(merkle::consistency_proof(size1, size2, self)?)
    }
}

impl HashSource for TileTree {
    fn subtree_hash(&self, level: u8, index: u64) -> chainseal_tlog::Result<Hash> {
        let missing = chainseal_tlog::Error::MissingHash { level, index };
        let (tl, r) = (level / 8, level % 8);
        // Position of the subtree's first hash within tile level `tl`.
        let start = index.checked_shl(u32::from(r)).ok_or(missing.clone())?;
        let end = index
            .checked_add(1)
            .and_then(|e| e.checked_shl(u32::from(level)))
            .ok_or(missing.clone())?;
        if end > self.size {
            return Err(missing);
        }
        let t = self.tiles.get(&(tl, start / TILE_WIDTH)).ok_or(missing)?;
        t.subtree_hash(r, (start % TILE_WIDTH) >> r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainseal_tlog::tile::TileHashSource;

    fn entries(range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
        range.map(|i| format!("entry {i}").into_bytes()).collect()
    }

    #[test]
    fn roots_and_proofs_match_an_independent_tree() {
        let mut t = TileTree::new();
        let mut reference = MemoryTree::new();
        let all = entries(0..70_000);
        for chunk in all.chunks(997) {
            t.append(chunk).unwrap();
        }
        for e in &all {
            reference.push_entry(e);
        }
        assert_eq!(t.root_at(70_000).unwrap(), reference.root());
        for (i, n) in [(69_999u64, 70_000u64), (65_535, 70_000), (3, 70_000)] {
            if !t.missing(&[i], n).is_empty() {
                continue; // evicted level-0 tile; covered by the storage tests
            }
            let p = t.inclusion(i, n).unwrap();
            merkle::verify_inclusion(
                i,
                n,
                &merkle::leaf_hash(&all[i as usize]),
                &p,
                &reference.root(),
            )
            .unwrap();
        }
        let p = t.consistency(69_000, 70_000).unwrap();
        let old = merkle::tree_hash(69_000, &reference).unwrap();
        merkle::verify_consistency(69_000, 70_000, &p, &old, &reference.root()).unwrap();
    }

    #[test]
    fn written_tiles_recompute_the_root() {
        let mut t = TileTree::new();
        let all = entries(0..1000);
        let mut files: HashMap<String, Vec<u8>> = HashMap::new();
        for chunk in all.chunks(300) {
            for (p, b) in t.append(chunk).unwrap() {
                files.insert(p, b);
            }
        }
        let mut src = TileHashSource::new();
        for tl in tile::tiles_for_size(1000) {
            src.insert_path(&tl.path(), &files[&tl.path()]).unwrap();
        }
        assert_eq!(
            merkle::tree_hash(1000, &src).unwrap(),
            t.root_at(1000).unwrap()
        );
        let bundle = &files["tile/entries/003.p/232"];
        assert_eq!(tile::parse_entry_bundle(bundle).unwrap()[0], b"entry 768");
    }

    #[test]
    fn a_tile_that_does_not_continue_the_tree_is_rejected() {
        let mut t = TileTree::new();
        t.append(&entries(0..10)).unwrap();
        let mut u = TileTree::new();
        u.reset(10);
        // No right edge loaded: appending must fail, not silently fork.
        assert!(u.append(&entries(10..11)).is_err());
    }
}
