//! Child processes of the binary under test: killed when dropped, started with a bounded
//! wait for what they announce, and a `chainseal stack serve` that is ready to serve.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a child may take to come up.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A child process, killed and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin args…` and waits (bounded) until its stderr has shown each of `markers`
/// in order; returns the rest of each marker's line, trimmed.
pub fn start_announcing(bin: &str, args: &[&str], markers: &[&str]) -> (Proc, Vec<String>) {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {bin} {args:?}: {e}"));
    let stderr = child.stderr.take().expect("piped stderr");
    let pid = child.id();
    let proc = Proc(child);
    let markers: Vec<String> = markers.iter().map(|m| m.to_string()).collect();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // Shown when a test fails: what the child said is how to tell why.
            eprintln!("[child {pid}] {line}");
            if let Some(m) = markers.get(found.len())
                && let Some(i) = line.find(m.as_str())
            {
                found.push(line[i + m.len()..].trim().to_owned());
                if found.len() == markers.len() {
                    let _ = tx.send(found.clone());
                }
            }
        }
    });
    let found = rx
        .recv_timeout(START_TIMEOUT)
        .unwrap_or_else(|_| panic!("{args:?} did not announce what it serves"));
    (proc, found)
}

/// Starts `bin args…` and returns it with the `http://…` URL it says it listens on.
pub fn start_listening(bin: &str, args: &[&str]) -> (Proc, String) {
    let (p, mut found) = start_announcing(bin, args, &["listening on "]);
    (p, found.remove(0))
}

/// Starts `bin log serve` on a free loopback port with `storage` and `origin`, plus
/// `extra` flags; returns it with its URL.
pub fn start_log(bin: &str, storage: &Path, origin: &str, extra: &[&str]) -> (Proc, String) {
    let storage = storage.to_str().expect("a UTF-8 storage path");
    let mut args = vec![
        "log",
        "serve",
        "--storage",
        storage,
        "--listen",
        "127.0.0.1:0",
        "--origin",
        origin,
    ];
    args.extend_from_slice(extra);
    start_listening(bin, &args)
}

/// Starts `bin stack serve --dir DIR` and waits (bounded) until it has written its trust
/// files and its log, witness and authority answer requests.
pub fn start_stack(bin: &str, dir: &Path) -> Proc {
    start_stack_with(bin, dir, &[])
}

/// [`start_stack`] with `extra` arguments to `stack serve`.
pub fn start_stack_with(bin: &str, dir: &Path, extra: &[&str]) -> Proc {
    let child = Command::new(bin)
        .args(["stack", "serve", "--dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning chainseal stack serve");
    let proc = Proc(child);
    let deadline = Instant::now() + START_TIMEOUT;
    let wait = |done: &dyn Fn() -> bool| {
        while !done() {
            assert!(
                Instant::now() < deadline,
                "the stack did not come up in 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let files = ["client_trust_config.json", "stack.json"];
    wait(&|| files.iter().all(|f| dir.join(f).exists()));
    let ports: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("stack.json")).expect("stack.json"))
            .expect("stack.json is JSON");
    for svc in ["log", "witness", "authority"] {
        let port = ports[svc]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("a port in stack.json");
        wait(&|| answers_http(port));
    }
    proc
}

/// Whether a server on loopback `port` answers an HTTP request (and has closed the
/// connection): its listener is bound (a restarted stack's files already exist) and its
/// serving loop runs, so the probe no longer takes one of its connection slots.
fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = Vec::new();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .and_then(|()| s.read_to_end(&mut answer))
        .is_ok()
        && answer.starts_with(b"HTTP/1.1 ")
}

/// Runs `bin log load` against `url` (`entries` entries from `concurrency` writers, giving
/// up after `deadline` seconds) and returns its JSON report; panics if it prints none.
pub fn log_load(
    bin: &str,
    url: &str,
    entries: usize,
    concurrency: usize,
    deadline: u64,
) -> serde_json::Value {
    let out = Command::new(bin)
        .args(["log", "load", "--url", url, "--json"])
        .args(["--entries", &entries.to_string()])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--deadline", &deadline.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("running {bin} log load: {e}"));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "log load printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
