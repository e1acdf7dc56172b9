//! `chainseal witness serve|vkey` through the binary, over a real socket: the key file,
//! and the protocol's refusal of a rollback (409 with the size, 400 for old > new).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chainseal_tlog::keys::Ed25519Signer;
use chainseal_tlog::{Checkpoint, Note};

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `chainseal <args>`; returns it and the URL and vkey it announces (bounded wait).
fn start(args: &[&str]) -> (Proc, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let proc = Proc(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut url = None;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on http://") {
                url = Some(line[i + "listening on ".len()..].trim().to_owned());
            } else if let (Some(u), Some(i)) = (&url, line.find("vkey ")) {
                let _ = tx.send((u.clone(), line[i + 5..].trim().to_owned()));
            }
        }
    });
    let (url, vkey) = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{args:?} did not start listening"));
    (proc, url, vkey)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn witness_vkey_without_a_key_fails_and_then_matches_the_served_key() {
    let dir = tempfile::tempdir().unwrap();
    let wstate = dir.path().join("w");
    let out = Command::new(BIN)
        .args(["witness", "vkey", "--state", s(&wstate)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = Ed25519Signer::generate("cli.chainseal.test/log").unwrap();
    let (_w, _url, announced) = start(&[
        "witness",
        "serve",
        "--state",
        s(&wstate),
        "--listen",
        "127.0.0.1:0",
        "--name",
        "cli.chainseal.test/w",
        "--log",
        &log.to_vkey(),
    ]);
    let out = Command::new(BIN)
        .args(["witness", "vkey", "--state", s(&wstate)])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), announced);
    assert!(announced.starts_with("cli.chainseal.test/w+"));
}

#[test]
fn witness_serve_refuses_rollback_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let origin = "e2e.chainseal.test/rollback";
    let log_key = Ed25519Signer::generate(origin).unwrap();
    let wstate = dir.path().join("w");
    let (_w, wurl, _) = start(&[
        "witness",
        "serve",
        "--state",
        s(&wstate),
        "--listen",
        "127.0.0.1:0",
        "--name",
        "e2e.chainseal.test/w2",
        "--log",
        &log_key.to_vkey(),
    ]);
    let cp = |size: u64| {
        let mut n = Note::new(
            Checkpoint {
                origin: origin.into(),
                size,
                root_hash: [size as u8; 32],
                extensions: vec![],
            }
            .to_text(),
        )
        .unwrap();
        n.sign(&log_key).unwrap();
        n.to_bytes()
    };
    let post = |body: Vec<u8>| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = reqwest::Client::new()
                .post(format!("{wurl}/add-checkpoint"))
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            (status, ct, r.bytes().await.unwrap().to_vec())
        })
    };
    let mut first = b"old 0\n\n".to_vec();
    first.extend(cp(5));
    assert_eq!(post(first.clone()).0, 200);
    // Replaying "old 0" now conflicts: 409, body "5\n", text/x.tlog.size.
    let (status, ct, body) = post(first);
    assert_eq!(
        (status, ct.as_deref(), body.as_slice()),
        (409, Some("text/x.tlog.size"), &b"5\n"[..])
    );
    // Old size above the new size: 400.
    let mut back = b"old 5\n\n".to_vec();
    back.extend(cp(3));
    assert_eq!(post(back).0, 400);

    // The key file is private, and `witness vkey` prints the key the server announced.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(wstate.join("witness.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
