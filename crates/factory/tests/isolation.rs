//! Isolation properties of the step sandbox: no network, no writes outside `/out`, no
//! view of the factory key (attacks on the sandbox itself are in `hardening.rs`, the
//! observer's fetching of pins in `fetch.rs`).

mod common;

use std::net::TcpListener;
use std::time::Duration;

use chainseal_factory::Error;
use common::Fixture;

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn build_step_cannot_connect_to_a_host_loopback_server() {
    let f = Fixture::new(&[("a.txt", "a")]);
    let (l, port) = listener();
    l.set_nonblocking(true).unwrap();
    let r = f.run(&format!(
        "  - name: build\n    command: [bash, -c, 'exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected']\n"
    ));
    match r {
        Err(Error::StepFailed { step, .. }) => assert_eq!(step, "build"),
        other => panic!("expected the connection to fail, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        l.accept().is_err(),
        "the server saw a connection from the sandbox"
    );
}

#[test]
fn step_cannot_write_to_its_inputs_or_the_workspace() {
    let f = Fixture::new(&[("a.txt", "original")]);
    for target in [
        "source/a.txt",
        "source/new.txt",
        "/workspace/x",
        "/usr/x",
        "/etc/x",
    ] {
        let r = f.run(&format!(
            "  - name: build\n    inputs: [source/a.txt]\n    command: [sh, -c, 'echo evil > {target}']\n"
        ));
        assert!(
            matches!(r, Err(Error::StepFailed { .. })),
            "write to {target} succeeded: {r:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(f.path().join("src/a.txt")).unwrap(),
        "original"
    );
}

#[test]
fn step_writes_to_tmp_do_not_reach_the_host() {
    let f = Fixture::new(&[("a.txt", "a")]);
    let marker = format!("/tmp/chainseal-factory-marker-{}", std::process::id());
    let _ = std::fs::remove_file(&marker);
    f.run(&format!(
        "  - name: build\n    command: [sh, -c, 'echo x > {marker} && test -s {marker} && touch /out/ok']\n"
    ))
    .unwrap();
    assert!(
        !std::path::Path::new(&marker).exists(),
        "marker leaked to the host /tmp"
    );
}

#[test]
fn step_cannot_see_the_factory_key() {
    let f = Fixture::new(&[("a.txt", "a")]);
    let key = f.key_path.display().to_string();
    let dir = f.key_dir.path().display().to_string();
    // Succeeds only if neither the key nor its folder is visible.
    f.run(&format!(
        "  - name: build\n    command: [sh, -c, 'test ! -e {key} && test ! -e {dir} && ! cat {key} && touch /out/ok']\n"
    ))
    .expect("the key must not be visible inside the step");
}

#[test]
fn key_directly_in_a_folder_the_sandbox_exposes_is_refused_before_running() {
    let f = Fixture::new(&[("a.txt", "a")]);
    let y = "name: t\nsource: {path: src}\nsteps:\n  - {name: b, command: [\"true\"]}\n";
    let p = f.path().join("pipeline.yaml");
    std::fs::write(&p, y).unwrap();
    let signer = f.signer();
    let r = chainseal_factory::run(&chainseal_factory::RunOptions {
        pipeline: p,
        out_dir: f.out(),
        trust_domain: "example.org".into(),
        attestor: &signer,
        secrets: vec![std::path::PathBuf::from("/usr/factory.pem")],
        protected: Vec::new(),
        issuer: None,
        publish_dir: None,
        hooks: None,
        fetch: Default::default(),
        progress: None,
    });
    assert!(matches!(r, Err(Error::SecretExposed { .. })), "{r:?}");
}

#[test]
fn step_sees_clean_env_own_pid_namespace_and_hostname() {
    let f = Fixture::new(&[("a.txt", "a")]);
    assert!(std::env::var("CARGO_PKG_NAME").is_ok() || std::env::var("PATH").is_ok());
    f.run(
        "  - name: build\n    command: [sh, -c, 'test -z \"${CARGO_PKG_NAME:-}\" && test $(env | wc -l) -le 8 && test \"$HOME\" = /tmp && test \"$(hostname)\" = chainseal-step && test $(ls /proc | grep -c \"^[0-9]\") -lt 10 && touch /out/ok']\n",
    )
    .expect("clean environment and own namespaces");
}
