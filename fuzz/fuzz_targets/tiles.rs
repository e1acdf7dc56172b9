//! tlog-tiles paths, hash tiles, entry bundles and Static-CT data tiles.
#![no_main]

use chainseal_tlog::static_ct::parse_data_tile;
use chainseal_tlog::tile::{Tile, encode_entry_bundle, encode_hash_tile, parse_entry_bundle, parse_hash_tile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data) {
        if let Ok(tile) = Tile::parse_path(path) {
            // A parsed path re-encodes to a path that parses to the same tile.
            let again = Tile::parse_path(&tile.path()).expect("re-encoded tile path must parse");
            assert_eq!(again, tile);
            let _ = tile.is_full();
        }
    }
    if let Ok(hashes) = parse_hash_tile(data) {
        assert_eq!(encode_hash_tile(&hashes), data, "hash tile round trip");
    }
    if let Ok(entries) = parse_entry_bundle(data) {
        let enc = encode_entry_bundle(&entries).expect("parsed entries re-encode");
        assert_eq!(enc, data, "entry bundle round trip");
    }
    if let Ok(leaves) = parse_data_tile(data) {
        for leaf in &leaves {
            let _ = leaf.leaf_hash();
        }
    }
});
