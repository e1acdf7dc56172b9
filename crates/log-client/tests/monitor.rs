//! The monitor against real logs served over HTTP: Tessera's testdata log (a third-party
//! log, read in place) and a synthetic multi-level log; tampering, forks and rollbacks.

mod common;

use std::time::Duration;

use chainseal_log_client::monitor::{Continuity, MonitorConfig, verify_log};
use chainseal_log_client::{Error, LogClient};
use chainseal_tlog::keys::Ed25519Signer;
use chainseal_tlog::merkle::{MemoryTree, leaf_hash};
use chainseal_tlog::tile::{compute_tiles, encode_entry_bundle, encode_hash_tile};
use chainseal_tlog::{Checkpoint, Note};
use common::*;

fn client(url: &str) -> LogClient {
    LogClient::new(url, Duration::from_secs(10)).unwrap()
}

fn cfg(vkey: String) -> MonitorConfig {
    MonitorConfig {
        log_vkey: vkey,
        concurrency: 4,
        check_entries: true,
        ..MonitorConfig::default()
    }
}

fn tessera_checkpoint(size: u64) -> Vec<u8> {
    std::fs::read(tessera_dir().join(format!("checkpoint.{size}"))).unwrap()
}

fn body_of(note: &[u8]) -> Checkpoint {
    Checkpoint::parse(Note::parse(note).unwrap().text()).unwrap()
}

/// A checkpoint for the Tessera origin signed by its real key.
fn forged(size: u64, root: [u8; 32]) -> Vec<u8> {
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

#[tokio::test]
async fn verifies_the_tessera_log_from_its_tiles_and_entry_bundles() {
    let (url, _) = static_server(Some(tessera_dir())).await;
    let r = verify_log(&client(&url), &cfg(tessera_vkey()))
        .await
        .unwrap();
    let expected = body_of(&std::fs::read(tessera_dir().join("checkpoint")).unwrap());
    assert_eq!((r.size, r.root), (expected.size, expected.root_hash));
    assert_eq!(r.entries_checked, expected.size);
    assert_eq!(r.continuity, Continuity::FirstSeen);
}

#[tokio::test]
async fn detects_a_tampered_tile() {
    let (url, files) = static_server(Some(tessera_dir())).await;
    let mut tile = std::fs::read(tessera_dir().join("tile/0/000.p/15")).unwrap();
    tile[100] ^= 1;
    files.set("tile/0/000.p/15", Some(tile));
    let e = verify_log(&client(&url), &cfg(tessera_vkey()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RootMismatch { size: 15, .. }), "{e}");
}

#[tokio::test]
async fn detects_a_tampered_entry_bundle() {
    let (url, files) = static_server(Some(tessera_dir())).await;
    let mut bundle = std::fs::read(tessera_dir().join("tile/entries/000.p/15")).unwrap();
    let last = bundle.len() - 1;
    bundle[last] ^= 1;
    files.set("tile/entries/000.p/15", Some(bundle));
    let e = verify_log(&client(&url), &cfg(tessera_vkey()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Entries { .. }), "{e}");
}

#[tokio::test]
async fn rejects_a_checkpoint_not_signed_by_the_log_key() {
    let (url, files) = static_server(Some(tessera_dir())).await;
    let impostor = Ed25519Signer::generate("example.com/log/testdata").unwrap();
    let mut n = Note::new(body_of(&tessera_checkpoint(15)).to_text()).unwrap();
    n.sign(&impostor).unwrap();
    files.set("checkpoint", Some(n.to_bytes()));
    let e = verify_log(&client(&url), &cfg(tessera_vkey()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Checkpoint { .. }), "{e}");
}

#[tokio::test]
async fn extends_stored_state_with_a_verified_consistency_proof() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::write(&state, tessera_checkpoint(8)).unwrap();
    let (url, _) = static_server(Some(tessera_dir())).await;
    let mut c = cfg(tessera_vkey());
    c.state_file = Some(state.clone());
    let r = verify_log(&client(&url), &c).await.unwrap();
    assert_eq!(r.continuity, Continuity::Extended);
    assert_eq!(r.previous.unwrap().0, 8);
    assert_eq!(body_of(&std::fs::read(&state).unwrap()).size, 15);
    // Second run: unchanged.
    let r = verify_log(&client(&url), &c).await.unwrap();
    assert_eq!(r.continuity, Continuity::Unchanged);
}

#[tokio::test]
async fn detects_a_fork_against_stored_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (url, _) = static_server(Some(tessera_dir())).await;
    let mut c = cfg(tessera_vkey());
    c.state_file = Some(state.clone());

    // The monitor once saw a forked log (entry 3 replaced) at size 10, validly signed.
    let mut entries = tessera_entries();
    entries[3] = "forked".into();
    let fork = MemoryTree::from_leaf_hashes(entries[..10].iter().map(|e| leaf_hash(e.as_bytes())));
    let stored = forged(10, fork.root());
    std::fs::write(&state, &stored).unwrap();
    let e = verify_log(&client(&url), &c).await.unwrap_err();
    match &e {
        Error::Fork {
            prev_size: 10,
            prev_root,
            size: 15,
            root,
            ..
        } => {
            assert_eq!(prev_root, &hex::encode(fork.root()));
            assert_eq!(
                root,
                &hex::encode(body_of(&tessera_checkpoint(15)).root_hash)
            );
        }
        other => panic!("expected a fork, got {other}"),
    }
    assert_eq!(
        std::fs::read(&state).unwrap(),
        stored,
        "state untouched on failure"
    );

    // Same size, different root.
    std::fs::write(&state, forged(15, [3u8; 32])).unwrap();
    let e = verify_log(&client(&url), &c).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Fork {
                prev_size: 15,
                size: 15,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn detects_a_rollback_against_stored_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::write(&state, tessera_checkpoint(15)).unwrap();
    let (url, files) = static_server(Some(tessera_dir())).await;
    files.set("checkpoint", Some(tessera_checkpoint(12)));
    let mut c = cfg(tessera_vkey());
    c.state_file = Some(state);
    let e = verify_log(&client(&url), &c).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Rollback {
                prev_size: 15,
                size: 12,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn tampered_state_file_is_an_error_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut bad = tessera_checkpoint(8);
    bad[30] ^= 1;
    std::fs::write(&state, &bad).unwrap();
    let (url, _) = static_server(Some(tessera_dir())).await;
    let mut c = cfg(tessera_vkey());
    c.state_file = Some(state);
    let e = verify_log(&client(&url), &c).await.unwrap_err();
    assert!(matches!(e, Error::State { .. }), "{e}");
}

#[tokio::test]
async fn enforces_the_witness_quorum() {
    let (url, files) = static_server(Some(tessera_dir())).await;
    let mut w1 = Ed25519Signer::generate_cosigner("witness.test/w1").unwrap();
    let w2 = Ed25519Signer::generate_cosigner("witness.test/w2").unwrap();
    w1.set_timestamp(1_700_000_000).unwrap();
    let mut note = Note::parse(&tessera_checkpoint(15)).unwrap();
    note.sign(&w1).unwrap();
    files.set("checkpoint", Some(note.to_bytes()));

    let mut c = cfg(tessera_vkey());
    c.witness_vkeys = vec![w1.to_vkey(), w2.to_vkey()];
    c.witness_quorum = 1;
    let r = verify_log(&client(&url), &c).await.unwrap();
    assert_eq!(r.witnesses, vec!["witness.test/w1".to_owned()]);
    c.witness_quorum = 2;
    let e = verify_log(&client(&url), &c).await.unwrap_err();
    assert!(matches!(e, Error::Quorum { got: 1, need: 2 }), "{e}");
}

/// A synthetic log of `n` entries signed by a fresh key, served from memory only:
/// full tiles at level 0, level 1 above them, partial tiles, entry bundles.
async fn synthetic(n: usize) -> (String, std::sync::Arc<Files>, String) {
    let key = Ed25519Signer::generate("example.test/synthetic").unwrap();
    let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e)).collect();
    let tree = MemoryTree::from_leaf_hashes(leaves.iter().copied());
    let (url, files) = static_server(None).await;
    for (t, hashes) in compute_tiles(&leaves) {
        files.set(&t.path(), Some(encode_hash_tile(&hashes)));
    }
    for (i, chunk) in entries.chunks(256).enumerate() {
        let t = chainseal_tlog::tile::Tile {
            kind: chainseal_tlog::tile::TileKind::Entries,
            index: i as u64,
            width: chunk.len() as u16,
        };
        files.set(&t.path(), Some(encode_entry_bundle(chunk).unwrap()));
    }
    let cp = Checkpoint {
        origin: "example.test/synthetic".into(),
        size: n as u64,
        root_hash: tree.root(),
        extensions: vec![],
    };
    let mut note = Note::new(cp.to_text()).unwrap();
    note.sign(&key).unwrap();
    files.set("checkpoint", Some(note.to_bytes()));
    (url, files, key.to_vkey())
}

#[tokio::test]
async fn verifies_a_multi_level_log_and_falls_back_to_full_tiles() {
    let (url, files, vkey) = synthetic(600).await;
    let r = verify_log(&client(&url), &cfg(vkey.clone())).await.unwrap();
    assert_eq!((r.size, r.entries_checked), (600, 600));
    // 2 full L0 tiles + L0 .p/88 + L1 .p/2.
    assert_eq!(r.tiles, 4);

    // A log may drop a partial tile once the full one exists: read the full one instead.
    // Here the "full" tile is served at the full path and the partial path is gone.
    let (url2, files2, vkey2) = synthetic(512).await;
    let l1 = files2
        .overrides
        .lock()
        .unwrap()
        .get("tile/1/000.p/2")
        .cloned()
        .flatten()
        .unwrap();
    let mut full_l1 = l1.clone();
    full_l1.extend(vec![0u8; 8192 - l1.len()]);
    files2.set("tile/1/000.p/2", None);
    files2.set("tile/1/000", Some(full_l1));
    verify_log(&client(&url2), &cfg(vkey2)).await.unwrap();
    drop(files);
}

#[tokio::test]
async fn detects_a_full_tile_that_disagrees_with_the_tile_above() {
    let (url, files, vkey) = synthetic(600).await;
    let mut t = files
        .overrides
        .lock()
        .unwrap()
        .get("tile/0/000")
        .cloned()
        .flatten()
        .unwrap();
    t[0] ^= 1;
    files.set("tile/0/000", Some(t));
    let mut c = cfg(vkey);
    c.check_entries = false;
    let e = verify_log(&client(&url), &c).await.unwrap_err();
    match e {
        Error::Tile { path, .. } => assert_eq!(path, "tile/0/000"),
        other => panic!("expected a tile error, got {other}"),
    }
}

#[tokio::test]
async fn refuses_more_tiles_than_the_bound() {
    let (url, _files, vkey) = synthetic(600).await;
    let mut c = cfg(vkey);
    c.max_tiles = 3;
    let e = verify_log(&client(&url), &c).await.unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
}
