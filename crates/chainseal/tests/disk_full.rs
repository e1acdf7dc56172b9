//! `chainseal log serve` on a disk that fills up and then gets space again, as a black
//! box (root only: it mounts a small tmpfs, as CI can). While the disk is full, writes
//! are refused with an error and reads still work; no temporary is left behind; once
//! there is space again, writes succeed without a restart, and the log verifies.

use std::path::Path;
use std::process::{Command, Output};

use chainseal_testkit::process::start_listening;

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

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

struct Unmount(std::path::PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_refuses_writes_leaves_nothing_and_recovers_without_restart() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("disk");
    std::fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs");
    let _u = Unmount(mnt.clone());
    let storage = mnt.join("log");
    let (mut proc, url) = start_listening(
        BIN,
        &[
            "log",
            "serve",
            "--storage",
            storage.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "disk.chainseal.test/log",
        ],
    );
    // Positive control: writes succeed while there is space.
    assert_eq!(load(&url, 20, 30)["acknowledged"], 20);
    // Fill the disk (the filler is removed later), then write.
    let filler = mnt.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k", "count=1000"])
        .arg(format!("of={}", filler.display()))
        .output();
    let r = load(&url, 20, 5);
    assert!(
        r["acknowledged"].as_u64().unwrap() < 20,
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
    std::fs::remove_file(&filler).unwrap();
    let mut ok = 0;
    for _ in 0..20 {
        ok = load(&url, 10, 30)["acknowledged"].as_u64().unwrap();
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
