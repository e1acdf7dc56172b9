//! The log while its witnesses fail, as a black box: a witness that accepts connections
//! and never answers must not delay checkpoints another witness cosigns, and a log
//! whose witness is down must still start and serve reads.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use chainseal_testkit::process::{Proc, start_listening};
use chainseal_tlog::keys::Ed25519Signer;

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");
const ORIGIN: &str = "outage.chainseal.test/log";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A witness on a fresh port; returns it and its `<vkey>@<url>`.
fn witness(dir: &Path, name: &str, log_vkey: &str) -> (Proc, String) {
    let state = dir.join(name.replace('/', "_"));
    let (p, url) = start_listening(
        BIN,
        &[
            "witness",
            "serve",
            "--state",
            s(&state),
            "--listen",
            "127.0.0.1:0",
            "--name",
            name,
            "--log",
            log_vkey,
        ],
    );
    let out = run(&["witness", "vkey", "--state", s(&state)]);
    assert!(out.status.success());
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    (p, format!("{vkey}@{url}"))
}

/// A "witness" that accepts connections and never answers (kept open while it lives).
fn hung_witness(vkey: &str) -> (TcpListener, String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let l2 = l.try_clone().unwrap();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l2.incoming().take(64) {
            match c {
                Ok(c) => held.push(c),
                Err(_) => break,
            }
        }
    });
    (l, format!("{vkey}@{url}"), h)
}

fn log(dir: &Path, key: &Path, witnesses: &[&str], quorum: usize) -> (Proc, String) {
    let storage = dir.join("log");
    let q = quorum.to_string();
    let mut args = vec![
        "log",
        "serve",
        "--storage",
        s(&storage),
        "--listen",
        "127.0.0.1:0",
        "--origin",
        ORIGIN,
        "--key",
        s(key),
        "--witness-quorum",
        &q,
    ];
    for w in witnesses {
        args.push("--witness");
        args.push(w);
    }
    start_listening(BIN, &args)
}

/// `log load` of `n` entries from 4 writers; its JSON report.
fn load(url: &str, n: usize, deadline: u64) -> serde_json::Value {
    chainseal_testkit::process::log_load(BIN, url, n, 4, deadline)
}

fn log_key(dir: &Path) -> (std::path::PathBuf, String) {
    let k = Ed25519Signer::generate(ORIGIN).unwrap();
    let path = dir.join("log.key");
    std::fs::write(&path, k.to_private_key()).unwrap();
    (path, k.to_vkey())
}

#[test]
fn a_hung_witness_does_not_delay_checkpoints_the_quorum_can_cosign() {
    let dir = tempfile::tempdir().unwrap();
    let (key, vkey) = log_key(dir.path());
    let (_w1, w1) = witness(dir.path(), "outage.chainseal.test/w1", &vkey);
    // The hung witness has a well-formed key of its own; it just never answers.
    let (_w2proc, w2real) = witness(dir.path(), "outage.chainseal.test/w2", &vkey);
    let w2_vkey = w2real.split('@').next().unwrap().to_owned();
    drop(_w2proc);
    let (_hold, hung, _t) = hung_witness(&w2_vkey);
    // Asked first, the hung witness would hold every checkpoint for its 10 s timeout.
    let (_log, url) = log(dir.path(), &key, &[&hung, &w1], 1);
    let r = load(&url, 12, 60);
    assert_eq!(r["acknowledged"], 12, "{r}");
    let p50 = r["p50Ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no p50Ms in {r}"));
    assert!(
        p50 < 3000.0,
        "p50 acknowledgement {p50} ms: the hung witness held the checkpoint"
    );
}

#[test]
fn a_log_whose_witness_is_down_still_starts_and_serves_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (key, vkey) = log_key(dir.path());
    let (w1proc, w1) = witness(dir.path(), "outage.chainseal.test/w1", &vkey);
    let (logproc, url) = log(dir.path(), &key, &[&w1], 1);
    // Positive control: with the witness up, entries are acknowledged.
    assert_eq!(load(&url, 3, 60)["acknowledged"], 3);
    // The witness goes down; a new entry is sequenced but cannot be published.
    drop(w1proc);
    let r = load(&url, 1, 3);
    assert_eq!(r["acknowledged"], 0, "{r}");
    drop(logproc);
    std::thread::sleep(Duration::from_millis(200));
    // Restarted with the witness still down, the log starts and serves its last
    // checkpoint (the three entries).
    let (_log, url) = log(dir.path(), &key, &[&w1], 1);
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    let size: u64 = body.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(size, 3, "{body}");
}
