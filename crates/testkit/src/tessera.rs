//! The Tessera testdata log (a third-party log: real checkpoints, tiles and its keys),
//! read in place from the shared vectors, never copied.

use std::path::PathBuf;

use chainseal_tlog::keys::Ed25519Signer;

/// The Tessera testdata log directory.
pub fn tessera_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/tlog/tessera-testdata-log/testdata/log"
    ))
}

fn keys() -> serde_json::Value {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/tlog/signed-note/vectors.json"
    ));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["tessera_testdata_log_keys"].clone()
}

/// The Tessera log's vkey (origin `example.com/log/testdata`).
pub fn tessera_vkey() -> String {
    keys()["vkey"].as_str().unwrap().to_owned()
}

/// The Tessera log's signing key (shipped with its testdata), to forge forks.
pub fn tessera_signer() -> Ed25519Signer {
    Ed25519Signer::from_private_key(keys()["skey"].as_str().unwrap()).unwrap()
}

/// The Tessera log's entries, in order.
pub fn tessera_entries() -> Vec<String> {
    keys()["entries_in_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect()
}
