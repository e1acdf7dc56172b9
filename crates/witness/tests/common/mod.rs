//! Shared helpers: the Tessera testdata log (a third-party log: real checkpoints, tiles
//! and its key), read in place from the shared vectors, never copied.
#![allow(dead_code, unused_imports)]

use chainseal_tlog::merkle::{Hash, consistency_proof};
use chainseal_tlog::tile::{TileHashSource, tile_at_size};
use chainseal_tlog::witness_protocol::AddCheckpointRequest;
use chainseal_tlog::{Checkpoint, Note};
use chainseal_witness::{Witness, WitnessConfig};

pub use chainseal_testkit::tessera::{tessera_dir, tessera_entries, tessera_signer, tessera_vkey};

/// `checkpoint.<size>` of the Tessera log, verbatim.
pub fn checkpoint(size: u64) -> Vec<u8> {
    std::fs::read(tessera_dir().join(format!("checkpoint.{size}"))).unwrap()
}

/// Root hash of `checkpoint.<size>`.
pub fn root(size: u64) -> Hash {
    let n = Note::parse(&checkpoint(size)).unwrap();
    Checkpoint::parse(n.text()).unwrap().root_hash
}

/// A consistency proof from `old` to `new` computed from the log's tiles at `new`.
pub fn proof(old: u64, new: u64) -> Vec<Hash> {
    let mut src = TileHashSource::new();
    let t = tile_at_size(0, 0, new).unwrap();
    let data = std::fs::read(tessera_dir().join(t.path())).unwrap();
    src.insert_path(&t.path(), &data).unwrap();
    consistency_proof(old, new, &src).unwrap()
}

/// An add-checkpoint body.
pub fn body(old: u64, proof: Vec<Hash>, checkpoint: Vec<u8>) -> Vec<u8> {
    AddCheckpointRequest {
        old_size: old,
        proof,
        checkpoint,
    }
    .encode()
    .unwrap()
}

/// A checkpoint for the Tessera origin at `size` with `root`, signed by its real key.
pub fn forged(size: u64, root: Hash) -> Vec<u8> {
    let cp = Checkpoint {
        origin: "example.com/log/testdata".into(),
        size,
        root_hash: root,
        extensions: vec![],
    };
    let mut n = Note::new(cp.to_text()).unwrap();
    n.sign(&tessera_signer()).unwrap();
    n.to_bytes()
}

/// A witness over a state dir, trusting the Tessera log.
pub fn witness(dir: &std::path::Path) -> Witness {
    Witness::open(&WitnessConfig {
        state_dir: dir.to_owned(),
        name: Some("witness.test/w1".into()),
        key_file: None,
        logs: vec![tessera_vkey()],
    })
    .unwrap()
}
