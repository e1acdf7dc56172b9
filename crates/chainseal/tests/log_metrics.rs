//! `/metrics` of `chainseal log serve`, read by Prometheus's own parser (the Python
//! `prometheus_client` in `.venv`, installed by `scripts/setup-python-peers.sh`; the test
//! fails without it): every counter agrees with what a load run and a bad request did.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chainseal_testkit::process::{log_load, start_log};

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

fn python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        p.exists(),
        "{} missing: run scripts/setup-python-peers.sh",
        p.display()
    );
    p
}

fn http(addr: &str, req: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `{sample name + labels: value}` as Prometheus's parser reads `text`.
fn parse(text: &str) -> serde_json::Value {
    let script = "import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families\nout = {}\nfor fam in text_string_to_metric_families(sys.stdin.read()):\n    for s in fam.samples:\n        key = s.name + ''.join('{%s=%s}' % kv for kv in sorted(s.labels.items()))\n        out[key] = s.value\nprint(json.dumps(out))\n";
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("log");
    let (_p, url) = start_log(BIN, &storage, "metrics.chainseal.test/log", &[]);
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let r = log_load(BIN, &url, 20, 4, 60);
    assert_eq!(r["acknowledged"], 20, "{r}");
    let bad = http(
        &addr,
        "POST /api/v2/log/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\nnot json",
    );
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let resp = http(
        &addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4")
    );
    let text = resp.split("\r\n\r\n").nth(1).unwrap();
    let m = parse(text);
    let v = |k: &str| {
        m[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {m}"))
    };
    assert_eq!(v("chainseal_log_submitted_total"), 21.0);
    assert_eq!(v("chainseal_log_rejected_total"), 1.0);
    assert_eq!(v("chainseal_log_failed_total"), 0.0);
    assert_eq!(v("chainseal_log_batch_entries_total"), 20.0);
    assert!(v("chainseal_log_batches_total") >= 1.0);
    assert!(v("chainseal_log_checkpoints_total") >= 1.0);
    assert_eq!(v("chainseal_log_ack_seconds_count"), 20.0);
    assert_eq!(v("chainseal_log_ack_seconds_bucket{le=+Inf}"), 20.0);
    assert!(v("chainseal_log_ack_seconds_sum") > 0.0);
    assert_eq!(v("chainseal_log_queue_depth"), 0.0);
    assert_eq!(v("chainseal_log_waiting_writers"), 0.0);
}
