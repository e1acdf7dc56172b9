//! The embedded store leaves nothing half-written behind: temporaries a crash or a full
//! disk left are swept when the store opens, and real objects are never touched.

use std::time::{Duration, Instant};

use chainseal_log_server::storage::fs::{FsStorage, remove_leftovers};

#[test]
fn leftover_temporaries_are_swept_on_open_and_objects_kept() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = dir.path().join("tile/0/x001");
    std::fs::create_dir_all(&tiles).unwrap();
    let stale = [
        tiles.join(".tmp-4242-7"),
        dir.path().join(".tmp-1-0"),
        dir.path().join("tile/entries/.tmp-99-3"),
    ];
    std::fs::create_dir_all(dir.path().join("tile/entries")).unwrap();
    for s in &stale {
        std::fs::write(s, b"half a tile").unwrap();
    }
    // Positive controls: objects, including one whose name merely contains "tmp".
    let keep = [
        tiles.join("234"),
        dir.path().join("checkpoint"),
        tiles.join("tmp-notes"),
    ];
    for k in &keep {
        std::fs::write(k, b"object").unwrap();
    }
    let _store = FsStorage::open(dir.path()).unwrap();
    let t0 = Instant::now();
    while stale.iter().any(|s| s.exists()) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "leftovers were not swept"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for k in &keep {
        assert_eq!(
            std::fs::read(k).unwrap(),
            b"object",
            "{} was touched",
            k.display()
        );
    }
    // The sweep itself, run again, finds nothing more.
    assert_eq!(remove_leftovers(dir.path()), 0);
}
