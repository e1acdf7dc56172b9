//! `chainseal factory run` end to end on the shipped example.
//! Ignored until main.rs wires `Factory(factory_cmd::FactoryCommand)`; run with
//! `cargo test -p chainseal --test factory_cli -- --include-ignored`.

use std::path::Path;
use std::process::Command;

fn chainseal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainseal"))
}

#[test]
fn factory_run_builds_the_example_and_writes_links_and_provenance() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/pipeline.yaml");
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
    assert_eq!(std::fs::read_dir(out.join("links")).unwrap().count(), 4);
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
