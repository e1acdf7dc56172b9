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

/// Integrated entries are deleted from `log.redb`, but redb only reuses their pages; the
/// store gives the space back when it opens again (the issue: 75 MB of entries left a
/// 480 MB file). Positive control: entries not yet integrated survive the compaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sequencer_database_shrinks_after_its_entries_are_integrated() {
    use chainseal_log_server::storage::Storage as _;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.redb");
    let len = || std::fs::metadata(&db).unwrap().len();
    let store = FsStorage::open(dir.path()).unwrap();
    // 40 batches of 64 entries of 16 KiB: 40 MiB sequenced.
    for b in 0..40u32 {
        let batch = (0..64u32)
            .map(|i| {
                let mut body = vec![0u8; 16 * 1024];
                body[..8].copy_from_slice(&((u64::from(b) << 32) | u64::from(i)).to_be_bytes());
                (chainseal_tlog::merkle::leaf_hash(&body), Arc::new(body))
            })
            .collect();
        store.sequence(batch).await.unwrap();
    }
    let full = len();
    assert!(
        full > 40 << 20,
        "the entries are in the file ({full} bytes)"
    );
    // (Measured: 40 MiB of entries make a 151 MB file, 84 MB after integration, 0.5 MB
    // once compacted.)
    // Integrate all but the last 10 entries (tiles are not needed for the sequencer).
    let lease = store.lease(4096).await.unwrap().unwrap();
    assert_eq!(lease.entries.len(), 2560);
    store.commit(lease, 2550).await.unwrap();
    drop(store);
    let before = len();
    assert!(
        before > full / 4,
        "without compaction most of the space stays in the file ({before} of {full} bytes)"
    );

    let store = FsStorage::open(dir.path()).unwrap();
    let compacted = len();
    assert!(
        compacted < full / 8,
        "after reopening, log.redb is {compacted} bytes (was {full})"
    );
    let rest = store.lease(4096).await.unwrap().unwrap();
    assert_eq!((rest.integrated, rest.entries.len()), (2550, 10));
    assert_eq!(&rest.entries[9][..8], &((39u64 << 32) | 63).to_be_bytes());
}

/// A disk that fills up while the sequencer database must grow: the write is refused
/// and, once there is space again, the same open store sequences and integrates without a
/// restart (redb refuses every later transaction after one failed I/O until the database
/// is reopened). Positive control: a batch before the disk fills. Root only (a tmpfs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_a_batch_and_the_same_store_recovers_once_there_is_space() {
    use chainseal_log_server::storage::Storage as _;
    use std::sync::Arc;

    let Some(disk) = chainseal_testkit::disk::SmallDisk::mount("8m") else {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    };
    let batch = |tag: u8, n: usize| {
        (0..n)
            .map(|i| {
                let mut body = vec![tag; 16 * 1024];
                body[..8].copy_from_slice(&(i as u64).to_be_bytes());
                (chainseal_tlog::merkle::leaf_hash(&body), Arc::new(body))
            })
            .collect::<Vec<_>>()
    };
    let store = FsStorage::open(&disk.path().join("log")).unwrap();
    assert_eq!(store.sequence(batch(1, 4)).await.unwrap(), vec![0, 1, 2, 3]);

    disk.fill("filler");
    // 64 entries of 16 KiB cannot fit in the pages the file already has.
    let refused = store.sequence(batch(2, 64)).await;
    assert!(refused.is_err(), "a batch on a full disk: {refused:?}");

    disk.free("filler");
    let mut again = Err(String::new());
    for _ in 0..20 {
        again = store.sequence(batch(3, 4)).await.map_err(|e| e.to_string());
        if again.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        again,
        Ok(vec![4, 5, 6, 7]),
        "the store did not recover once there was space"
    );
    let lease = store.lease(100).await.unwrap().unwrap();
    assert_eq!((lease.integrated, lease.entries.len()), (0, 8));
    assert_eq!(lease.entries[4][8], 3, "the refused batch left no entry");
    store.commit(lease, 8).await.unwrap();
    assert_eq!(store.sizes().unwrap(), (8, 8));
}
