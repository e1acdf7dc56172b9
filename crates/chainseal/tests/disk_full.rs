//! `chainseal log serve` on a disk that fills up and then gets space again, as a black
//! box (root only: it mounts a small tmpfs, as CI can). While the disk is full, writes
//! are refused with an error and reads still work; no temporary is left behind; once
//! there is space again, writes succeed without a restart, and the log verifies.

use std::path::Path;
use std::process::{Command, Output};

use chainseal_testkit::process::start_log;

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn load(url: &str, n: usize, deadline: u64) -> serde_json::Value {
    chainseal_testkit::process::log_load(BIN, url, n, 8, deadline)
}

fn tmp_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().starts_with(".tmp-") {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_full_disk_refuses_writes_leaves_nothing_and_recovers_without_restart() {
    let Some(disk) = chainseal_testkit::disk::SmallDisk::mount("3m") else {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    };
    let storage = disk.path().join("log");
    let (mut proc, url) = start_log(BIN, &storage, "disk.chainseal.test/log", &[]);
    // Positive control: writes succeed while there is space.
    assert_eq!(load(&url, 20, 30)["acknowledged"], 20);
    // Fill the disk to the last byte (the filler is removed later), then write.
    disk.fill("filler");
    // 64 writers at once: more than the pages integrated entries freed in log.redb, so
    // the sequencer's database must grow too, not only the tiles.
    let r = chainseal_testkit::process::log_load(BIN, &url, 64, 64, 5);
    eprintln!("on a full disk: {r}");
    assert!(
        r["acknowledged"].as_u64().unwrap() < 64,
        "writes on a full disk: {r}"
    );
    assert!(
        matches!(proc.0.try_wait(), Ok(None)),
        "the log died on a full disk"
    );
    assert_eq!(
        tmp_files(&storage),
        Vec::<String>::new(),
        "temporaries left behind"
    );
    // Space again: writes succeed without a restart.
    disk.free("filler");
    let mut ok = 0;
    for _ in 0..20 {
        let r = load(&url, 10, 30);
        eprintln!("after space came back: {r}");
        ok = r["acknowledged"].as_u64().unwrap();
        if ok == 10 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(ok, 10, "the log did not recover once there was space");
    let vkey =
        String::from_utf8(run(&["log", "vkey", "--storage", storage.to_str().unwrap()]).stdout)
            .unwrap();
    let v = run(&[
        "log",
        "verify",
        "--url",
        &url,
        "--vkey",
        vkey.trim(),
        "--entries",
        "--json",
    ]);
    assert!(
        v.status.success(),
        "log verify: {}",
        String::from_utf8_lossy(&v.stderr)
    );
}
