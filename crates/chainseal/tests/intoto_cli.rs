//! `chainseal intoto …` command-line behaviour: exit codes, error messages that name the
//! failing step, rule and artifacts, and the attestation-framework link format.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use chainseal_crypto::keys::{KeyKind, PrivateKey};
use serde_json::{Value, json};

const DEMO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/intoto/intoto-demo-generated"
);

fn chainseal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainseal"))
}

fn copy_scenario(src: &Path) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), t.path().join(e.file_name())).unwrap();
    }
    t
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn verify_demo(format: &str, scenario: &str, key: &str) -> Output {
    let dir = copy_scenario(&Path::new(DEMO).join(format).join(scenario));
    chainseal()
        .current_dir(dir.path())
        .args([
            "intoto",
            "verify",
            "--layout",
            "root.layout",
            "--layout-keys",
            key,
        ])
        .output()
        .unwrap()
}

#[test]
fn demo_chain_passes_via_cli_in_both_formats() {
    for f in ["metablock", "dsse"] {
        let o = verify_demo(f, "good", "alice.pub");
        assert!(o.status.success(), "{f}: {}", stderr(&o));
    }
}

#[test]
fn tampered_source_fails_with_exit_1_naming_step_rule_and_artifact() {
    for f in ["metablock", "dsse"] {
        let o = verify_demo(f, "tampered-source", "alice.pub");
        assert_eq!(o.status.code(), Some(1), "{f}");
        let e = stderr(&o);
        assert!(
            e.contains("'package' expected_materials")
                && e.contains("DISALLOW *")
                && e.contains("demo-project/foo.py"),
            "{f}: {e}"
        );
    }
}

#[test]
fn rejects_layout_verified_with_untrusted_key_via_cli() {
    let o = verify_demo("metablock", "wrong-layout-key", "bob.pub");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("signature"), "{}", stderr(&o));
}

#[test]
fn run_requires_a_command_or_no_command() {
    let dir = tempfile::tempdir().unwrap();
    let k = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    fs::write(dir.path().join("k.pem"), k.to_pkcs8_pem().as_bytes()).unwrap();
    let o = chainseal()
        .current_dir(dir.path())
        .args(["intoto", "run", "-n", "s", "-k", "k.pem"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--no-command"), "{}", stderr(&o));
}

#[test]
fn record_stop_without_start_fails() {
    let dir = tempfile::tempdir().unwrap();
    let k = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    fs::write(dir.path().join("k.pem"), k.to_pkcs8_pem().as_bytes()).unwrap();
    let o = chainseal()
        .current_dir(dir.path())
        .args([
            "intoto", "record", "stop", "-n", "s", "-k", "k.pem", "-p", "x",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("link-unfinished"), "{}", stderr(&o));
}

/// A one-step chain written as attestation-framework Statements verifies; a Statement
/// whose subject digest was changed does not.
#[test]
fn attestation_statement_links_verify_and_tampered_subject_fails() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    for name in ["owner", "func"] {
        let k = PrivateKey::generate(KeyKind::EcdsaP384).unwrap();
        fs::write(
            dir.path().join(format!("{name}.pem")),
            k.to_pkcs8_pem().as_bytes(),
        )
        .unwrap();
        fs::write(
            dir.path().join(format!("{name}.pub")),
            k.public_key().to_pem().unwrap(),
        )
        .unwrap();
    }
    fs::write(work.join("in.txt"), b"input").unwrap();
    let o = chainseal()
        .current_dir(&work)
        .args(["intoto", "run", "-n", "copy", "--attestation", "-k"])
        .arg(dir.path().join("func.pem"))
        .args([
            "-m", "in.txt", "-p", "out.txt", "--", "cp", "in.txt", "out.txt",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let keys = chainseal()
        .args(["intoto", "key"])
        .arg(dir.path().join("func.pub"))
        .output()
        .unwrap();
    let keymap: Value = serde_json::from_slice(&keys.stdout).unwrap();
    let (kid, kobj) = keymap.as_object().unwrap().iter().next().unwrap();
    let layout = json!({"_type": "layout", "expires": "2099-01-01T00:00:00Z", "readme": "",
        "keys": {kid: kobj},
        "steps": [{"_type": "step", "name": "copy", "threshold": 1, "pubkeys": [kid],
                   "expected_command": ["cp", "in.txt", "out.txt"],
                   "expected_materials": [["REQUIRE", "in.txt"], ["ALLOW", "in.txt"], ["DISALLOW", "*"]],
                   "expected_products": [["CREATE", "out.txt"], ["ALLOW", "in.txt"], ["DISALLOW", "*"]]}],
        "inspect": []});
    fs::write(
        dir.path().join("layout.json"),
        serde_json::to_vec(&layout).unwrap(),
    )
    .unwrap();
    let o = chainseal()
        .args(["intoto", "sign", "-f"])
        .arg(dir.path().join("layout.json"))
        .arg("-k")
        .arg(dir.path().join("owner.pem"))
        .arg("-o")
        .arg(dir.path().join("root.layout"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let verify = || {
        chainseal()
            .current_dir(&work)
            .args(["intoto", "verify", "-l"])
            .arg(dir.path().join("root.layout"))
            .arg("-k")
            .arg(dir.path().join("owner.pub"))
            .output()
            .unwrap()
    };
    let o = verify();
    assert!(o.status.success(), "{}", stderr(&o));

    // Change the subject digest inside the signed Statement.
    let link = fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "link"))
        .unwrap();
    let mut env: Value = serde_json::from_slice(&fs::read(&link).unwrap()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut st: Value =
        serde_json::from_slice(&b64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(
        st["predicateType"],
        "https://in-toto.io/attestation/link/v0.3"
    );
    st["subject"][0]["digest"]["sha256"] = json!("11".repeat(32));
    env["payload"] = json!(b64.encode(serde_json::to_vec(&st).unwrap()));
    fs::write(&link, serde_json::to_vec(&env).unwrap()).unwrap();
    let o = verify();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("'copy'"), "{}", stderr(&o));
}
