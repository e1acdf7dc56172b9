//! End to end through the binary, over HTTP only: `log serve` with a `witness serve`
//! cosigning its checkpoints, `log load` appending signed entries, and `log verify`
//! checking signature, witness quorum, tiles, entry bundles and consistency; then a forged
//! fork in the monitor's state is refused.

use std::path::Path;
use std::process::{Command, Output};

use chainseal_tlog::keys::Ed25519Signer;
use chainseal_tlog::{Checkpoint, Note};

use chainseal_testkit::process::{Proc, start_listening};

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

fn start(args: &[&str]) -> (Proc, String) {
    start_listening(BIN, args)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn verify_args<'a>(url: &'a str, vkey: &'a str, state: &'a str, wvkey: &'a str) -> Vec<&'a str> {
    vec![
        "log",
        "verify",
        "--url",
        url,
        "--vkey",
        vkey,
        "--state",
        state,
        "--entries",
        "--witness-vkey",
        wvkey,
        "--witness-quorum",
        "1",
        "--json",
    ]
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn serve_witness_load_verify_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let origin = "e2e.chainseal.test/log";
    let log_key = Ed25519Signer::generate(origin).unwrap();
    let key_file = dir.path().join("log.key");
    std::fs::write(&key_file, log_key.to_private_key()).unwrap();
    let vkey = log_key.to_vkey();

    let wstate = dir.path().join("witness");
    let (_witness, wurl) = start(&[
        "witness",
        "serve",
        "--state",
        s(&wstate),
        "--listen",
        "127.0.0.1:0",
        "--name",
        "e2e.chainseal.test/w1",
        "--log",
        &vkey,
    ]);
    let wvkey_out = run(&["witness", "vkey", "--state", s(&wstate)]);
    assert!(wvkey_out.status.success());
    let wvkey = String::from_utf8(wvkey_out.stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert!(wvkey.starts_with("e2e.chainseal.test/w1+"));

    let witness_arg = format!("{wvkey}@{wurl}");
    let storage = dir.path().join("log");
    let (_log, url) = start(&[
        "log",
        "serve",
        "--storage",
        s(&storage),
        "--listen",
        "127.0.0.1:0",
        "--origin",
        origin,
        "--key",
        s(&key_file),
        "--witness",
        &witness_arg,
    ]);

    let load = json(&run(&[
        "log",
        "load",
        "--url",
        &url,
        "--entries",
        "400",
        "--concurrency",
        "32",
        "--deadline",
        "120",
        "--json",
    ]));
    assert_eq!(load["acknowledged"], 400, "{load}");
    assert_eq!(load["duplicateIndices"], 0);

    let state = dir.path().join("monitor.checkpoint");
    let v = json(&run(&verify_args(&url, &vkey, s(&state), &wvkey)));
    assert!(v["size"].as_u64().unwrap() >= 400, "{v}");
    assert_eq!(v["entriesChecked"], v["size"]);
    assert_eq!(v["witnesses"][0], "e2e.chainseal.test/w1");
    assert_eq!(v["continuity"], "first-seen");

    // More entries: the next run proves consistency with the stored checkpoint.
    json(&run(&[
        "log",
        "load",
        "--url",
        &url,
        "--entries",
        "300",
        "--concurrency",
        "32",
        "--json",
    ]));
    let v2 = json(&run(&verify_args(&url, &vkey, s(&state), &wvkey)));
    assert!(v2["size"].as_u64().unwrap() >= 700, "{v2}");
    assert_eq!(v2["continuity"], "extended");
    assert_eq!(v2["previous"]["size"], v["size"]);

    // A fork in the monitor's memory (validly signed by the log key, other root): refused,
    // and the error names both roots.
    let fake_root = [0x5au8; 32];
    let mut forged = Note::new(
        Checkpoint {
            origin: origin.into(),
            size: 10,
            root_hash: fake_root,
            extensions: vec![],
        }
        .to_text(),
    )
    .unwrap();
    forged.sign(&log_key).unwrap();
    std::fs::write(&state, forged.to_bytes()).unwrap();
    let out = run(&verify_args(&url, &vkey, s(&state), &wvkey));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fork") && err.contains(&hex::encode(fake_root)),
        "{err}"
    );
    assert!(
        err.contains(v2["root"].as_str().unwrap()) || err.contains("size"),
        "{err}"
    );
}
