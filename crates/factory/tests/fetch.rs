//! Network steps: the step itself reaches nothing; the observer fetches its pins (public
//! addresses only, unless a private mirror is allowed), checks their digests and records
//! them in the provenance.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use chainseal_factory::fetch::FetchPolicy;
use chainseal_factory::{Error, RunOptions, RunReport};
use chainseal_model::dsse;
use chainseal_model::statement::Statement;

const DEP: &[u8] = b"#define GREETING \"hello from a pinned mirror\"\n";

/// A loopback HTTP server answering every request with `status` and `body` (and a
/// `Location` for redirects), until the test ends.
fn server(status: &'static str, body: &'static [u8]) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nLocation: http://127.0.0.1:1/elsewhere\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(body);
        }
    });
    port
}

fn sha(b: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b))
}

fn run(
    f: &common::Fixture,
    port: u16,
    pin_sha: &str,
    command: &str,
    allow_private: bool,
) -> Result<RunReport, Error> {
    let y = format!(
        "name: t\nsource: {{path: src}}\nsteps:\n  - name: deps\n    network: true\n    command: {command}\n    pins:\n      - {{uri: 'http://127.0.0.1:{port}/dl/greeting.h', sha256: {pin_sha}}}\n"
    );
    let p = f.path().join("pipeline.yaml");
    std::fs::write(&p, y).unwrap();
    let _ = std::fs::remove_dir_all(f.out());
    let signer = f.signer();
    chainseal_factory::run(&RunOptions {
        pipeline: p,
        out_dir: f.out(),
        trust_domain: "example.org".into(),
        attestor: &signer,
        secrets: vec![f.key_path.clone()],
        protected: Vec::<PathBuf>::new(),
        issuer: None,
        publish_dir: None,
        hooks: None,
        fetch: FetchPolicy {
            allow_private,
            ..FetchPolicy::default()
        },
        progress: None,
    })
}

#[test]
fn the_observer_fetches_a_pin_and_records_it_in_the_provenance() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    let port = server("200 OK", DEP);
    let r =
        run(&f, port, &sha(DEP), "[\"true\"]", true).expect("pinned fetch from an allowed mirror");
    let env = dsse::Envelope::from_json(&std::fs::read(&r.provenance).unwrap()).unwrap();
    let st = Statement::from_json(&env.payload).unwrap();
    let deps = st.predicate.unwrap()["buildDefinition"]["resolvedDependencies"].clone();
    let uri = format!("http://127.0.0.1:{port}/dl/greeting.h");
    let d = deps
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["uri"] == uri.as_str())
        .unwrap_or_else(|| panic!("{uri} in {deps}"))
        .clone();
    assert_eq!(d["digest"]["sha256"], sha(DEP));
    assert_eq!(
        std::fs::read(f.out().join("artifacts/greeting.h")).unwrap(),
        DEP
    );
}

#[test]
fn a_fetch_from_the_build_host_or_a_private_address_is_refused_by_default() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    let port = server("200 OK", DEP);
    match run(&f, port, &sha(DEP), "[\"true\"]", false) {
        Err(Error::Pin { reason, .. }) => {
            assert!(reason.contains("not a public address"), "{reason}")
        }
        other => panic!("expected the loopback fetch to be refused, got {other:?}"),
    }
}

#[test]
fn a_wrong_digest_or_a_redirect_fails_the_step_and_leaves_nothing() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    let port = server("200 OK", DEP);
    match run(&f, port, &"0".repeat(64), "[\"true\"]", true) {
        Err(Error::Pin { reason, .. }) => assert!(reason.contains("pinned"), "{reason}"),
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(!f.out().join("artifacts/greeting.h").exists());
    let port = server("302 Found", b"");
    match run(&f, port, &sha(DEP), "[\"true\"]", true) {
        Err(Error::Pin { reason, .. }) => assert!(reason.contains("redirects"), "{reason}"),
        other => panic!("expected the redirect to be refused, got {other:?}"),
    }
}

#[test]
fn a_network_step_itself_cannot_reach_a_server_on_the_host() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    let port = server("200 OK", DEP);
    // The observer reaches the server (positive control), the step does not.
    let cmd = format!("[bash, -c, 'exec 3<>/dev/tcp/127.0.0.1/{port}']");
    match run(&f, port, &sha(DEP), &cmd, true) {
        Err(Error::StepFailed { .. }) => {}
        other => panic!("the step must not connect to the host, got {other:?}"),
    }
}
