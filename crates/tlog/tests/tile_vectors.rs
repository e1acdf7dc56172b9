//! Tiles written by real logs: the Tessera testdata log (tlog-tiles + entry bundles +
//! Ed25519 checkpoints) and Sunlight (static-ct-api data tiles, a witness mirror).

mod common;

use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::{CosignatureV1Verifier, Ed25519Verifier};
use chainseal_tlog::merkle::{self, Hash, MemoryTree, inclusion_proof, leaf_hash, tree_hash};
use chainseal_tlog::note::{Note, open};
use chainseal_tlog::static_ct::parse_data_tile;
use chainseal_tlog::tile::{
    Tile, TileHashSource, TileKind, compute_tiles, parse_entry_bundle, parse_hash_tile,
    tile_at_size,
};
use common::*;
use sha2::Digest;

const TESSERA: &str = "tessera-testdata-log/testdata/log";

fn tessera_key() -> Ed25519Verifier {
    let v = json("signed-note/vectors.json");
    Ed25519Verifier::from_vkey(v["tessera_testdata_log_keys"]["vkey"].as_str().unwrap()).unwrap()
}

fn tessera_checkpoints() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(vectors().join(TESSERA)).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("checkpoint") {
            out.push((name, std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    assert!(out.len() >= 16, "found {} tessera checkpoints", out.len());
    out
}

fn tessera_tiles_for(size: u64) -> TileHashSource {
    let mut src = TileHashSource::new();
    if let Some(t) = tile_at_size(0, 0, size) {
        let path = t.path();
        src.insert_path(&path, &read(&format!("{TESSERA}/{path}")))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    src
}

#[test]
fn every_tessera_checkpoint_verifies_with_its_ed25519_key() {
    let k = tessera_key();
    for (name, bytes) in tessera_checkpoints() {
        let (cp, _, verified) = Checkpoint::open(&bytes, "example.com/log/testdata", &[&k])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.len(), 1, "{name}");
        if let Some(n) = name.strip_prefix("checkpoint.") {
            assert_eq!(cp.size, n.parse::<u64>().unwrap(), "{name}");
        }
    }
}

#[test]
fn rejects_tessera_checkpoint_with_flipped_signature_or_root() {
    let k = tessera_key();
    for (name, bytes) in tessera_checkpoints() {
        let note = Note::parse(&bytes).unwrap();
        let mut sig = note.signatures()[0].clone();
        sig.signature[63] ^= 0x01;
        let mut bad = Note::new(note.text()).unwrap();
        bad.add_signature(sig).unwrap();
        assert!(
            open(&bad.to_bytes(), &[&k]).is_err(),
            "{name}: flipped signature"
        );

        let mut cp = Checkpoint::parse(note.text()).unwrap();
        cp.root_hash[31] ^= 0x01;
        let mut bad = Note::new(cp.to_text()).unwrap();
        bad.add_signature(note.signatures()[0].clone()).unwrap();
        assert!(
            open(&bad.to_bytes(), &[&k]).is_err(),
            "{name}: flipped root"
        );
    }
}

#[test]
fn tessera_roots_recompute_from_tiles() {
    let k = tessera_key();
    for (name, bytes) in tessera_checkpoints() {
        let (cp, _, _) = Checkpoint::open(&bytes, "example.com/log/testdata", &[&k]).unwrap();
        let src = tessera_tiles_for(cp.size);
        assert_eq!(tree_hash(cp.size, &src).unwrap(), cp.root_hash, "{name}");
    }
}

#[test]
fn rejects_checkpoint_with_wrong_root() {
    // A signed checkpoint whose root does not match the tiles is detected by a monitor.
    let k = tessera_key();
    let (cp, _, _) = Checkpoint::open(
        &read(&format!("{TESSERA}/checkpoint.15")),
        "example.com/log/testdata",
        &[&k],
    )
    .unwrap();
    let tile = tile_at_size(0, 0, cp.size).unwrap();
    let mut data = read(&format!("{TESSERA}/{}", tile.path()));
    data[5 * 32] ^= 0x01; // corrupt leaf 5
    let mut src = TileHashSource::new();
    src.insert_path(&tile.path(), &data).unwrap();
    assert_ne!(tree_hash(cp.size, &src).unwrap(), cp.root_hash);
    // and a tile of the wrong width for its path is rejected
    let mut src = TileHashSource::new();
    assert!(
        src.insert_path(&tile.path(), &data[..data.len() - 32])
            .is_err()
    );
    // conflicting tiles for the same coordinates are rejected
    let good = read(&format!("{TESSERA}/{}", tile.path()));
    let mut src = TileHashSource::new();
    src.insert_path(&tile.path(), &good).unwrap();
    assert!(src.insert_path(&tile.path(), &data).is_err());
}

#[test]
fn tessera_entry_bundle_leaf_hashes_equal_level0_tiles() {
    let v = json("signed-note/vectors.json");
    let entries: Vec<String> = v["tessera_testdata_log_keys"]["entries_in_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();
    for size in 1..=15u64 {
        let bundle_tile = Tile {
            kind: TileKind::Entries,
            index: 0,
            width: size as u16,
        };
        let bundle = read(&format!("{TESSERA}/{}", bundle_tile.path()));
        let parsed = parse_entry_bundle(&bundle).unwrap();
        assert_eq!(parsed.len() as u64, size);
        for (i, e) in parsed.iter().enumerate() {
            assert_eq!(*e, entries[i].as_bytes(), "size {size} entry {i}");
        }
        let tile = parse_hash_tile(&read(&format!(
            "{TESSERA}/{}",
            tile_at_size(0, 0, size).unwrap().path()
        )))
        .unwrap();
        let leaves: Vec<Hash> = parsed.iter().map(|e| leaf_hash(e)).collect();
        assert_eq!(leaves, tile, "size {size}");
        // computing tiles from the leaves reproduces the served tile
        let computed = compute_tiles(&leaves);
        assert_eq!(computed.len(), 1);
        assert_eq!(computed[0].1, tile);
    }
}

#[test]
fn tessera_inclusion_proofs_from_tiles_verify_against_checkpoints() {
    let k = tessera_key();
    let (cp, _, _) = Checkpoint::open(
        &read(&format!("{TESSERA}/checkpoint")),
        "example.com/log/testdata",
        &[&k],
    )
    .unwrap();
    let src = tessera_tiles_for(cp.size);
    for i in 0..cp.size {
        let leaf = src.subtree_hash_checked(i);
        let proof = inclusion_proof(i, cp.size, &src).unwrap();
        merkle::verify_inclusion(i, cp.size, &leaf, &proof, &cp.root_hash).unwrap();
    }
}

trait LeafOf {
    fn subtree_hash_checked(&self, i: u64) -> Hash;
}
impl LeafOf for TileHashSource {
    fn subtree_hash_checked(&self, i: u64) -> Hash {
        use chainseal_tlog::merkle::HashSource;
        self.subtree_hash(0, i).unwrap()
    }
}

// --- Sunlight ---------------------------------------------------------------------

const NAVIGLI: &str = "sunlight/testdata/navigli2025h2/tile";

#[test]
fn sunlight_data_tile_leaf_hashes_equal_level0_tiles() {
    let mut all_leaves = Vec::new();
    for path in ["000", "001", "002", "003", "003.p/10"] {
        let data = read(&format!("{NAVIGLI}/data/{path}"));
        let leaves: Vec<Hash> = parse_data_tile(&data)
            .unwrap_or_else(|e| panic!("data/{path}: {e}"))
            .iter()
            .map(|l| l.leaf_hash())
            .collect();
        let tile = parse_hash_tile(&read(&format!("{NAVIGLI}/0/{path}"))).unwrap();
        assert_eq!(leaves.len(), tile.len(), "{path}");
        assert_eq!(leaves, tile, "{path}");
        if !path.contains(".p") {
            all_leaves.extend(leaves);
        }
    }
    // the level-0 tiles alone determine the root of the 1024-entry tree
    let mut src = TileHashSource::new();
    for path in ["000", "001", "002", "003"] {
        src.insert_path(
            &format!("tile/0/{path}"),
            &read(&format!("{NAVIGLI}/0/{path}")),
        )
        .unwrap();
    }
    let mem = MemoryTree::from_leaf_hashes(all_leaves);
    assert_eq!(tree_hash(1024, &src).unwrap(), mem.root());
    assert_eq!(
        tree_hash(1000, &src).unwrap(),
        tree_hash(1000, &mem).unwrap()
    );
}

#[test]
fn rejects_truncated_or_corrupted_data_tiles() {
    let data = read(&format!("{NAVIGLI}/data/003.p/10"));
    for cut in [1, 7, 100, data.len() - 1] {
        assert!(parse_data_tile(&data[..cut]).is_err(), "cut {cut}");
    }
    let mut bad = data.clone();
    bad[9] = 7; // entry_type 7 is unknown
    assert!(parse_data_tile(&bad).is_err());
    // flip a byte inside the first record's TimestampedEntry (its issuer key hash)
    let mut flipped = data.clone();
    flipped[20] ^= 0x01;
    let tile = parse_hash_tile(&read(&format!("{NAVIGLI}/0/003.p/10"))).unwrap();
    let leaves = parse_data_tile(&flipped).unwrap();
    let hashes: Vec<Hash> = leaves.iter().map(|l| l.leaf_hash()).collect();
    assert_ne!(hashes[0], tile[0]);
    assert_eq!(hashes[1..], tile[1..]);
}

const SKY: &str = "sunlight/cmd/skylight/testdata";

fn sky_vkey(which: &str) -> CosignatureV1Verifier {
    let v = json("signed-note/vectors.json");
    CosignatureV1Verifier::from_vkey(v["skylight_cosignature_v1"][which].as_str().unwrap()).unwrap()
}

fn origin_dir(origin: &str) -> String {
    hex::encode(sha2::Sha256::digest(origin.as_bytes()))
}

#[test]
fn sunlight_mirror_tiles_recompute_the_mirror_checkpoint_root() {
    let mirror = sky_vkey("mirror_vkey");
    let dir = format!(
        "{SKY}/witness/mirror/{}",
        origin_dir("rome2026h1.example.org")
    );
    let (cp, _, verified) = Checkpoint::open(
        &read(&format!("{dir}/checkpoint")),
        "rome2026h1.example.org",
        &[&mirror],
    )
    .unwrap();
    assert_eq!(verified[0].name, "mirror.example.org");
    assert!(verified[0].timestamp.is_some());
    let mut src = TileHashSource::new();
    for t in chainseal_tlog::tile::tiles_for_size(cp.size) {
        let path = t.path();
        src.insert_path(&path, &read(&format!("{dir}/{path}")))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    assert_eq!(tree_hash(cp.size, &src).unwrap(), cp.root_hash);
    // a level-1 tile that disagrees with the level-0 tiles changes the root
    let mut l1 = read(&format!("{dir}/tile/1/000.p/1"));
    l1[0] ^= 1;
    let mut bad = TileHashSource::new();
    for t in chainseal_tlog::tile::tiles_for_size(cp.size) {
        let path = t.path();
        let data = if path == "tile/1/000.p/1" {
            l1.clone()
        } else {
            read(&format!("{dir}/{path}"))
        };
        bad.insert_path(&path, &data).unwrap();
    }
    assert_ne!(tree_hash(cp.size, &bad).unwrap(), cp.root_hash);
}

#[test]
fn sunlight_witness_cosignatures_verify() {
    let witness = sky_vkey("witness_vkey");
    let dir = format!("{SKY}/witness/{}", origin_dir("rome2026h1.example.org"));
    let (_, _, verified) = Checkpoint::open(
        &read(&format!("{dir}/checkpoint")),
        "rome2026h1.example.org",
        &[&witness],
    )
    .unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].name, "witness.example.org");

    let witness2 = sky_vkey("witness2_vkey");
    let dir2 = format!("{SKY}/witness2/{}", origin_dir("milan2026h1.example.org"));
    let (_, _, verified) = Checkpoint::open(
        &read(&format!("{dir2}/checkpoint")),
        "milan2026h1.example.org",
        &[&witness2],
    )
    .unwrap();
    assert_eq!(verified[0].name, "witness2.example.org");
}

#[test]
fn rejects_cosignature_over_a_different_checkpoint() {
    // witness2's cosignature is over the milan checkpoint; moved onto the rome checkpoint
    // (same size and root, different origin) it must fail.
    let witness2 = sky_vkey("witness2_vkey");
    let milan = Note::parse(&read(&format!(
        "{SKY}/witness2/{}/checkpoint",
        origin_dir("milan2026h1.example.org")
    )))
    .unwrap();
    let rome_text = milan.text().replace("milan", "rome");
    let mut moved = Note::new(rome_text).unwrap();
    moved.add_signature(milan.signatures()[0].clone()).unwrap();
    assert!(moved.verify(&[&witness2]).is_err());
    // a flipped cosignature byte fails
    let mut sig = milan.signatures()[0].clone();
    sig.signature[20] ^= 1;
    let mut flipped = Note::new(milan.text()).unwrap();
    flipped.add_signature(sig).unwrap();
    assert!(flipped.verify(&[&witness2]).is_err());
}

#[test]
fn decoy_checkpoints_are_not_notes() {
    for p in [
        format!("{SKY}/witness/checkpoint"),
        format!("{SKY}/witness/mirror/checkpoint"),
    ] {
        assert!(Note::parse(&read(&p)).is_err(), "{p}");
    }
}
