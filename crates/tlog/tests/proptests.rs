//! Property tests: generated proofs verify, any single mutation fails, codecs round-trip,
//! and parsers never panic on arbitrary input.

use std::sync::OnceLock;

use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::merkle::{
    Hash, MemoryTree, consistency_proof, inclusion_proof, leaf_hash, root_from_inclusion_proof,
    tree_hash, verify_consistency, verify_inclusion,
};
use chainseal_tlog::note::Note;
use chainseal_tlog::static_ct::parse_data_tile;
use chainseal_tlog::tile::{
    Tile, TileHashSource, TileKind, compute_tiles, encode_entry_bundle, parse_entry_bundle,
    tile_from_source, tiles_for_size,
};
use proptest::prelude::*;

const BIG: u64 = 70_000;

fn big_tree() -> &'static MemoryTree {
    static T: OnceLock<MemoryTree> = OnceLock::new();
    T.get_or_init(|| MemoryTree::from_leaf_hashes((0..BIG).map(|i| leaf_hash(&i.to_be_bytes()))))
}

fn naive_root(leaves: &[Hash]) -> Hash {
    // Direct RFC 6962 recursion, independent of the code under test.
    match leaves.len() {
        0 => chainseal_tlog::merkle::empty_root(),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            chainseal_tlog::merkle::node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1u64..3000).prop_flat_map(|size| (Just(size), 0..size))
}

fn sizes() -> impl Strategy<Value = (u64, u64)> {
    (1u64..3000).prop_flat_map(|size2| (1..=size2, Just(size2)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn tree_hash_matches_naive_recursion(size in 0u64..600) {
        let t = big_tree();
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        prop_assert_eq!(tree_hash(size, t).unwrap(), naive_root(&leaves));
    }

    #[test]
    fn generated_inclusion_proofs_verify((size, index) in size_and_index()) {
        let t = big_tree();
        let root = tree_hash(size, t).unwrap();
        let leaf = leaf_hash(&index.to_be_bytes());
        let proof = inclusion_proof(index, size, t).unwrap();
        prop_assert_eq!(root_from_inclusion_proof(index, size, &leaf, &proof).unwrap(), root);
        verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
    }

    #[test]
    fn any_single_mutation_of_an_inclusion_proof_fails(
        (size, index) in size_and_index(), pick in any::<prop::sample::Index>(), bit in 0usize..256
    ) {
        let t = big_tree();
        let root = tree_hash(size, t).unwrap();
        let leaf = leaf_hash(&index.to_be_bytes());
        let proof = inclusion_proof(index, size, t).unwrap();
        if !proof.is_empty() {
            let j = pick.index(proof.len());
            let mut bad = proof.clone();
            bad[j][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
            let mut short = proof.clone();
            short.remove(j);
            prop_assert!(verify_inclusion(index, size, &leaf, &short, &root).is_err());
        }
        let mut long = proof.clone();
        long.push(root);
        prop_assert!(verify_inclusion(index, size, &leaf, &long, &root).is_err());
        let mut bad_leaf = leaf;
        bad_leaf[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify_inclusion(index, size, &bad_leaf, &proof, &root).is_err());
        let mut bad_root = root;
        bad_root[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify_inclusion(index, size, &leaf, &proof, &bad_root).is_err());
    }

    #[test]
    fn generated_consistency_proofs_verify_and_mutations_fail(
        (size1, size2) in sizes(), pick in any::<prop::sample::Index>(), bit in 0usize..256
    ) {
        let t = big_tree();
        let r1 = tree_hash(size1, t).unwrap();
        let r2 = tree_hash(size2, t).unwrap();
        let proof = consistency_proof(size1, size2, t).unwrap();
        verify_consistency(size1, size2, &proof, &r1, &r2).unwrap();
        if !proof.is_empty() {
            let j = pick.index(proof.len());
            let mut bad = proof.clone();
            bad[j][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_consistency(size1, size2, &bad, &r1, &r2).is_err());
            let mut short = proof.clone();
            short.remove(j);
            prop_assert!(verify_consistency(size1, size2, &short, &r1, &r2).is_err());
        }
        let mut long = proof.clone();
        long.push(r1);
        prop_assert!(verify_consistency(size1, size2, &long, &r1, &r2).is_err());
        let mut b1 = r1;
        b1[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify_consistency(size1, size2, &proof, &b1, &r2).is_err());
        let mut b2 = r2;
        b2[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify_consistency(size1, size2, &proof, &r1, &b2).is_err());
    }

    #[test]
    fn tile_paths_round_trip(level in 0u8..64, index in any::<u64>(), width in 1u16..=256, kind in 0u8..3) {
        let kind = match kind { 0 => TileKind::Hashes(level), 1 => TileKind::Entries, _ => TileKind::Data };
        let t = Tile { kind, index, width };
        prop_assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
    }

    #[test]
    fn entry_bundles_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..40)) {
        let enc = encode_entry_bundle(&entries).unwrap();
        let dec = parse_entry_bundle(&enc).unwrap();
        prop_assert_eq!(dec.len(), entries.len());
        for (a, b) in dec.iter().zip(&entries) { prop_assert_eq!(*a, b.as_slice()); }
    }

    #[test]
    fn checkpoints_round_trip(origin in "[a-z./]{1,30}", size in any::<u64>(), root in any::<[u8; 32]>(),
                              ext in prop::collection::vec("[ -~]{1,20}", 0..3)) {
        let c = Checkpoint { origin, size, root_hash: root, extensions: ext };
        prop_assert_eq!(Checkpoint::parse(&c.to_text()).unwrap(), c);
    }

    #[test]
    fn parsers_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Note::parse(&data);
        let _ = parse_entry_bundle(&data);
        let _ = parse_data_tile(&data);
        let _ = chainseal_tlog::tile::parse_hash_tile(&data);
        if let Ok(s) = std::str::from_utf8(&data) {
            let _ = Checkpoint::parse(s);
            let _ = Tile::parse_path(s);
            let _ = chainseal_tlog::keys::parse_vkey(s);
            let _ = chainseal_tlog::keys::Ed25519Signer::from_private_key(s);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn roots_and_proofs_recompute_from_tiles(size in 1u64..BIG, index_seed in any::<u64>()) {
        let t = big_tree();
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let computed = compute_tiles(&leaves);
        let expected = tiles_for_size(size);
        prop_assert_eq!(computed.iter().map(|(t, _)| *t).collect::<Vec<_>>(), expected.clone());
        let mut src = TileHashSource::new();
        for (tile, hashes) in &computed {
            prop_assert_eq!(&tile_from_source(tile, t).unwrap(), hashes);
            let TileKind::Hashes(level) = tile.kind else { unreachable!() };
            src.insert(level, tile.index, hashes.clone()).unwrap();
        }
        let root = tree_hash(size, t).unwrap();
        prop_assert_eq!(tree_hash(size, &src).unwrap(), root);
        let index = index_seed % size;
        let proof = inclusion_proof(index, size, &src).unwrap();
        verify_inclusion(index, size, &leaves[index as usize], &proof, &root).unwrap();
    }
}
