//! The log's Merkle tree, held as tiles: appending leaves produces the tile and entry-bundle
//! files to write, and the same tiles answer root, inclusion and consistency queries.
//!
//! Only the right edge (the rightmost, partial tile of each level and the partial entry
//! bundle) is needed to append; older tiles are loaded on demand for proofs and evicted.
//! Each cached tile is kept as a small [`MemoryTree`] so that any subtree hash inside it
//! is a lookup, not a recomputation.
//!
//! Two formats share the hash tiles and differ in how entries are published:
//! [`Format::TlogTiles`] (C2SP tlog-tiles: entry bundles `tile/entries/<N>`, leaf hash of
//! the entry) and [`Format::StaticCt`] (C2SP static-ct-api: data tiles `tile/data/<N>`,
//! a concatenation of `TileLeaf` records whose leaf hash is
//! `leaf_hash(0x00 0x00 || TimestampedEntry)`).

use std::collections::HashMap;

use chainseal_tlog::merkle::{self, Hash, HashSource, MemoryTree};
use chainseal_tlog::static_ct::parse_data_tile;
use chainseal_tlog::tile::{self, TILE_WIDTH, Tile, TileKind};

use crate::error::{Error, Result};

/// Level-0 tiles kept in the cache behind the right edge.
const KEEP_LEVEL0_TILES: u64 = 64;

/// A file the integrator must write: tile or entry bundle path, and its bytes.
pub type Write = (String, Vec<u8>);

/// How entries are published next to the hash tiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// C2SP tlog-tiles: entry bundles (`uint16 length || entry`), leaf = the entry.
    #[default]
    TlogTiles,
    /// C2SP static-ct-api: data tiles of concatenated `TileLeaf` records, leaf =
    /// `0x00 0x00 || TimestampedEntry`.
    StaticCt,
}

impl Format {
    /// The kind of tile entries are published in.
    pub fn bundle_kind(self) -> TileKind {
        match self {
            Format::TlogTiles => TileKind::Entries,
            Format::StaticCt => TileKind::Data,
        }
    }

    /// The leaf hash of one entry (tlog-tiles) or `TileLeaf` record (static-ct-api,
    /// which must parse as exactly one record).
    pub fn leaf_hash(self, entry: &[u8]) -> Result<Hash> {
        match self {
            Format::TlogTiles => Ok(merkle::leaf_hash(entry)),
            Format::StaticCt => match parse_data_tile(entry)?.as_slice() {
                [leaf] => Ok(leaf.leaf_hash()),
                more => Err(tile_err(format!(
                    "a data tile record must be one TileLeaf, got {}",
                    more.len()
                ))),
            },
        }
    }

    fn encode_bundle(self, records: &[Vec<u8>]) -> Result<Vec<u8>> {
        match self {
            Format::TlogTiles => Ok(tile::encode_entry_bundle(records)?),
            Format::StaticCt => Ok(records.concat()),
        }
    }

    /// Splits a bundle or data tile into its records (what [`TileTree::append`] takes).
    fn decode_bundle(self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(match self {
            Format::TlogTiles => tile::parse_entry_bundle(data)?
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect(),
            Format::StaticCt => parse_data_tile(data)?
                .into_iter()
                .map(|l| l.record.to_vec())
                .collect(),
        })
    }
}

/// The tree as tiles, plus the entries of the partial entry bundle (or data tile).
#[derive(Debug, Default)]
pub struct TileTree {
    format: Format,
    size: u64,
    tiles: HashMap<(u8, u64), MemoryTree>,
    bundle: Vec<Vec<u8>>,
}

fn tile_err(reason: String) -> Error {
    Error::Corrupt(reason)
}

impl TileTree {
    /// An empty tree publishing tlog-tiles entry bundles.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tree publishing static-ct-api data tiles: [`TileTree::append`] takes
    /// `TileLeaf` records.
    pub fn static_ct() -> Self {
        Self {
            format: Format::StaticCt,
            ..Self::default()
        }
    }

    /// The format entries are published in.
    pub fn format(&self) -> Format {
        self.format
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

    /// The tiles (and entry bundle) that must be loaded to append to a tlog-tiles tree of
    /// `size`: the partial tile of each level and the partial bundle.
    pub fn right_edge(size: u64) -> Vec<Tile> {
        Self::right_edge_for(Format::TlogTiles, size)
    }

    /// [`TileTree::right_edge`] for a tree in `format` (the partial bundle is a data tile
    /// for static-ct-api).
    pub fn right_edge_for(format: Format, size: u64) -> Vec<Tile> {
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
                kind: format.bundle_kind(),
                index: full,
                width: partial,
            });
        }
        out
    }

    /// Inserts a tile (hash tile, or the entry bundle / data tile of the tree's format)
    /// read from storage.
    pub fn insert(&mut self, t: &Tile, data: &[u8]) -> Result<()> {
        match t.kind {
            TileKind::Hashes(level) => {
                let hashes = tile::parse_hash_tile_for(t, data)?;
                self.tiles
                    .insert((level, t.index), MemoryTree::from_leaf_hashes(hashes));
            }
            k if k == self.format.bundle_kind() => {
                let entries = self.format.decode_bundle(data)?;
                if entries.len() != usize::from(t.width) {
                    return Err(tile_err(format!(
                        "{}: {} entries, expected {}",
                        t.path(),
                        entries.len(),
                        t.width
                    )));
                }
                self.bundle = entries;
            }
            TileKind::Data => return Err(tile_err("data tiles are not used".into())),
            TileKind::Entries => {
                return Err(tile_err(
                    "entry bundles are not used: this log has data tiles".into(),
                ));
            }
        }
        Ok(())
    }

    /// Checks the loaded partial bundle (or data tile) against the loaded level-0 hash
    /// tile: the leaf hash of each of its records must be the hash at its position. Hash
    /// tiles are checked by the root they give; this catches a bundle that does not match
    /// them. Nothing to check when the tree has no partial bundle.
    pub fn check_bundle(&self) -> Result<()> {
        let (index, width) = tile::level_tiles(self.size, 0);
        if width == 0 {
            return Ok(());
        }
        let b = Tile {
            kind: self.format.bundle_kind(),
            index,
            width,
        };
        if self.bundle.len() != usize::from(width) {
            return Err(tile_err(format!(
                "{}: {} entries loaded, expected {width}",
                b.path(),
                self.bundle.len()
            )));
        }
        let t = self
            .tiles
            .get(&(0, index))
            .ok_or_else(|| tile_err(format!("{}: level-0 tile {index} is not loaded", b.path())))?;
        for (i, record) in self.bundle.iter().enumerate() {
            if self.format.leaf_hash(record)? != t.subtree_hash(0, i as u64)? {
                return Err(tile_err(format!(
                    "{}: entry {i} does not match its hash in {}",
                    b.path(),
                    Tile {
                        kind: TileKind::Hashes(0),
                        index,
                        width
                    }
                    .path()
                )));
            }
        }
        Ok(())
    }

    /// Appends entries (tlog-tiles) or `TileLeaf` records (static-ct-api); returns the
    /// files to write (full tiles as soon as they fill, then the partial tiles and bundle
    /// at the new size).
    pub fn append(&mut self, entries: &[Vec<u8>]) -> Result<Vec<Write>> {
        let leaves = entries
            .iter()
            .map(|e| Ok((self.format.leaf_hash(e)?, e.clone())))
            .collect::<Result<Vec<_>>>()?;
        self.append_leaves(leaves)
    }

    /// Appends records with their leaf hashes (computed by the caller's format).
    fn append_leaves(&mut self, leaves: Vec<(Hash, Vec<u8>)>) -> Result<Vec<Write>> {
        let mut writes = Vec::new();
        let mut dirty: Vec<(u8, u64)> = Vec::new();
        let bundle_kind = self.format.bundle_kind();
        let appended = !leaves.is_empty();
        for (leaf, record) in leaves {
            let index = self.size;
            self.bundle.push(record);
            if self.bundle.len() as u64 == TILE_WIDTH {
                let b = Tile {
                    kind: bundle_kind,
                    index: index / TILE_WIDTH,
                    width: TILE_WIDTH as u16,
                };
                writes.push((b.path(), self.format.encode_bundle(&self.bundle)?));
                self.bundle.clear();
            }
            let mut h = leaf;
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
        if !self.bundle.is_empty() && appended {
            let b = Tile {
                kind: bundle_kind,
                index: self.size / TILE_WIDTH,
                width: self.bundle.len() as u16,
            };
            writes.push((b.path(), self.format.encode_bundle(&self.bundle)?));
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

    /// A precertificate `TileLeaf` record for entry `i` (timestamp, TBS and chain vary).
    fn record(i: u32) -> Vec<u8> {
        let tbs = format!("tbs {i}").into_bytes();
        let mut te = (1_700_000_000_000u64 + u64::from(i)).to_be_bytes().to_vec();
        te.extend_from_slice(&1u16.to_be_bytes());
        te.extend_from_slice(&[7; 32]);
        te.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
        te.extend_from_slice(&tbs);
        let ext = chainseal_tlog::static_ct::leaf_index_extensions(u64::from(i)).unwrap();
        te.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        te.extend_from_slice(&ext);
        let precert = format!("precert {i}").into_bytes();
        chainseal_tlog::static_ct::encode_precert_tile_leaf(&te, &precert, &[[i as u8; 32]])
            .unwrap()
    }

    fn data_tiles(size: u64) -> Vec<Tile> {
        tile::entry_bundles_for_size(size)
            .into_iter()
            .map(|t| Tile {
                kind: TileKind::Data,
                ..t
            })
            .collect()
    }

    fn collect(t: &mut TileTree, batches: &[Vec<Vec<u8>>]) -> HashMap<String, Vec<u8>> {
        let mut files = HashMap::new();
        for b in batches {
            for (p, bytes) in t.append(b).unwrap() {
                // A path, once written, never changes content.
                if let Some(old) = files.insert(p.clone(), bytes.clone()) {
                    assert_eq!(old, bytes, "{p} rewritten with other bytes");
                }
            }
        }
        files
    }

    #[test]
    fn a_static_ct_tree_gives_the_same_tiles_in_batches_as_at_once() {
        let all: Vec<Vec<u8>> = (0..600).map(record).collect();
        let mut one = TileTree::static_ct();
        let at_once = collect(&mut one, std::slice::from_ref(&all));
        let mut many = TileTree::static_ct();
        let batches: Vec<Vec<Vec<u8>>> = [0..7, 7..257, 257..258, 258..512, 512..600]
            .into_iter()
            .map(|r| all[r].to_vec())
            .collect();
        let in_batches = collect(&mut many, &batches);
        let served: Vec<Tile> = tile::tiles_for_size(600)
            .into_iter()
            .chain(data_tiles(600))
            .collect();
        assert!(served.iter().any(|t| t.path() == "tile/data/002.p/88"));
        for t in &served {
            assert_eq!(at_once[&t.path()], in_batches[&t.path()], "{}", t.path());
        }
        assert!(!in_batches.keys().any(|p| p.starts_with("tile/entries/")));
        assert_eq!(one.root_at(600).unwrap(), many.root_at(600).unwrap());
    }

    #[test]
    fn static_ct_data_tiles_parse_and_their_leaf_hashes_give_the_root() {
        let all: Vec<Vec<u8>> = (0..600).map(record).collect();
        let mut t = TileTree::static_ct();
        let files = collect(&mut t, &[all[..300].to_vec(), all[300..].to_vec()]);
        let mut leaves = Vec::new();
        for d in data_tiles(600) {
            let parsed = chainseal_tlog::static_ct::parse_data_tile(&files[&d.path()]).unwrap();
            assert_eq!(parsed.len(), usize::from(d.width));
            for l in parsed {
                assert_eq!(l.record, &all[leaves.len()][..]);
                leaves.push(l.leaf_hash());
            }
        }
        assert_eq!(leaves.len(), 600);
        let root = MemoryTree::from_leaf_hashes(leaves).root();
        assert_eq!(t.root_at(600).unwrap(), root);
        // The hash tiles give the same root, and the leaf is not leaf_hash(record).
        let mut src = TileHashSource::new();
        for tl in tile::tiles_for_size(600) {
            src.insert_path(&tl.path(), &files[&tl.path()]).unwrap();
        }
        assert_eq!(merkle::tree_hash(600, &src).unwrap(), root);
        assert_ne!(src.subtree_hash(0, 0).unwrap(), merkle::leaf_hash(&all[0]));
    }

    #[test]
    fn a_static_ct_tree_reloaded_from_its_right_edge_continues_and_checks_its_data_tile() {
        let all: Vec<Vec<u8>> = (0..400).map(record).collect();
        let mut t = TileTree::static_ct();
        let files = collect(&mut t, &[all[..300].to_vec()]);
        let edge = TileTree::right_edge_for(Format::StaticCt, 300);
        assert!(edge.iter().any(|e| e.path() == "tile/data/001.p/44"));
        let mut u = TileTree::static_ct();
        u.reset(300);
        for e in &edge {
            u.insert(e, &files[&e.path()]).unwrap();
        }
        u.check_bundle().unwrap();
        assert_eq!(
            u.append(&all[300..]).unwrap(),
            t.append(&all[300..]).unwrap()
        );
        // A data tile whose records do not match the level-0 tile is caught (the chain
        // fingerprints and the precertificate are not under the leaf hash: the CT log
        // checks those itself).
        let mut bad = files["tile/data/001.p/44"].clone();
        bad[5] ^= 1; // the first record's timestamp
        let mut v = TileTree::static_ct();
        v.reset(300);
        for e in &edge {
            let data = if e.kind == TileKind::Data {
                &bad
            } else {
                &files[&e.path()]
            };
            v.insert(e, data).unwrap();
        }
        let err = v.check_bundle().unwrap_err().to_string();
        assert!(
            err.contains("tile/data/001.p/44") && err.contains("entry 0"),
            "{err}"
        );
        // Entry bundles are refused in a static-ct tree, records that are not one TileLeaf too.
        assert!(
            v.insert(
                &Tile {
                    kind: TileKind::Entries,
                    index: 1,
                    width: 44
                },
                &[0, 1, 0]
            )
            .is_err()
        );
        assert!(TileTree::static_ct().append(&[b"junk".to_vec()]).is_err());
        assert!(
            TileTree::static_ct()
                .append(&[[record(1), record(2)].concat()])
                .is_err()
        );
    }
}
