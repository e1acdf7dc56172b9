//! `chainseal witness serve|vkey` through the binary, over a real socket: the key file,
//! and the protocol's refusal of a rollback (409 with the size, 400 for old > new).

use std::path::Path;
use std::process::Command;

use chainseal_tlog::keys::Ed25519Signer;
use chainseal_tlog::{Checkpoint, Note};

use chainseal_testkit::process::{Proc, start_announcing};

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

/// Starts `chainseal <args>`; returns it and the URL and vkey it announces (bounded wait).
fn start(args: &[&str]) -> (Proc, String, String) {
    let (p, mut found) = start_announcing(BIN, args, &["listening on ", "vkey "]);
    let vkey = found.pop().unwrap();
    (p, found.pop().unwrap(), vkey)
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
