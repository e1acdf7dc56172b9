//! `chainseal factory run` on the shipped example, offline with an ephemeral key (the
//! keyless, gated runs are in `factory_interop.rs`).

use std::path::Path;
use std::process::Command;

fn chainseal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainseal"))
}

/// The example project copied into `dir/hello` with its pipeline minus the gate (a
/// source must lie inside the pipeline's folder).
fn ungated_example(dir: &Path) -> std::path::PathBuf {
    let ex =
        std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello"))
            .unwrap();
    let copy = dir.join("hello");
    copy_dir(&ex, &copy);
    let text = std::fs::read_to_string(ex.join("pipeline.yaml")).unwrap();
    let text = text.split("\ngate:").next().unwrap().to_string();
    let p = copy.join("hello.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

use chainseal_testkit::copy_dir;

#[test]
fn gated_example_with_a_local_key_exits_1_naming_the_gate() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/pipeline.yaml");
    let o = chainseal()
        .args(["factory", "run"])
        .arg(&pipeline)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("gate") && err.contains("keyless"), "{err}");
    assert!(!out.exists(), "refused before anything was written");
}

#[test]
fn factory_run_builds_the_example_and_writes_links_and_provenance() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let pipeline = ungated_example(t.path());
    let o = chainseal()
        .args(["factory", "run"])
        .arg(&pipeline)
        .arg("--out")
        .arg(&out)
        .args(["--trust-domain", "example.org"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("spiffe://example.org/factory/hello"),
        "{stdout}"
    );
    assert!(out.join("artifacts/hello.tar.gz").is_file());
    assert!(out.join("provenance.intoto.jsonl").is_file());
    assert!(out.join("factory.pub.pem").is_file());
    // The observer's source link and one per step; no bundles without a log.
    let links: Vec<String> = std::fs::read_dir(out.join("links"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(links.len(), 5, "{links:?}");
    assert!(links.iter().all(|l| l.ends_with(".link")), "{links:?}");
}

#[test]
fn factory_run_fails_with_exit_1_naming_the_bad_field() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("p.yaml");
    std::fs::write(
        &p,
        "name: x\nsource: {path: .}\nsteps: [{name: a, command: [true], netwrk: true}]\n",
    )
    .unwrap();
    let o = chainseal()
        .args(["factory", "run"])
        .arg(&p)
        .arg("--out")
        .arg(t.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("netwrk"));
}
