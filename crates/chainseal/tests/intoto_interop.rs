//! Interoperability with the reference in-toto 3.1.0 (installed in `<repo>/.venv` by
//! `scripts/setup-python-peers.sh`), both ways, with RSA, Ed25519 and ECDSA keys:
//! - a chain recorded by `chainseal intoto run`/`record` with a layout signed by chainseal
//!   passes `in-toto-verify`, and its tampered variants fail there and in chainseal;
//! - a chain recorded by `in-toto-run` with a layout signed by `in-toto-sign` passes
//!   `chainseal intoto verify`, and its tampered variants fail in both.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chainseal_crypto::keys::{KeyKind, PrivateKey};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv_tool(name: &str) -> PathBuf {
    let p = repo_root().join(".venv/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-python-peers.sh to install the in-toto reference",
        p.display()
    );
    p
}

fn chainseal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainseal"))
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fails(out: Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} unexpectedly passed:\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const KINDS: [(&str, KeyKind); 3] = [
    ("rsa", KeyKind::Rsa { bits: 3072 }),
    ("ed25519", KeyKind::Ed25519),
    ("ecdsa", KeyKind::EcdsaP256),
];

/// Write `<name>.pem` (PKCS#8) and `<name>.pub` (SPKI PEM) into `dir`.
fn write_key(dir: &Path, name: &str, kind: KeyKind) {
    let k = PrivateKey::generate(kind).unwrap();
    fs::write(dir.join(format!("{name}.pem")), k.to_pkcs8_pem().as_bytes()).unwrap();
    fs::write(
        dir.join(format!("{name}.pub")),
        k.public_key().to_pem().unwrap(),
    )
    .unwrap();
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

/// The layout both directions use, with the functionary's key object.
fn layout_json(func_keyid: &str, func_key: &Value) -> Value {
    json!({
        "_type": "layout",
        "expires": "2099-01-01T00:00:00Z",
        "readme": "interop",
        "keys": {func_keyid: func_key},
        "steps": [
            {"_type": "step", "name": "create", "threshold": 1, "pubkeys": [func_keyid],
             "expected_command": [], "expected_materials": [],
             "expected_products": [["CREATE", "foo.py"], ["DISALLOW", "*"]]},
            {"_type": "step", "name": "package", "threshold": 1, "pubkeys": [func_keyid],
             "expected_command": ["tar", "czf", "foo.tar.gz", "foo.py"],
             "expected_materials": [["MATCH", "foo.py", "WITH", "PRODUCTS", "FROM", "create"], ["DISALLOW", "*"]],
             "expected_products": [["CREATE", "foo.tar.gz"], ["ALLOW", "foo.py"], ["DISALLOW", "*"]]}
        ],
        "inspect": [
            {"_type": "inspection", "name": "untar", "run": ["tar", "xzf", "foo.tar.gz"],
             "expected_materials": [["MATCH", "foo.tar.gz", "WITH", "PRODUCTS", "FROM", "package"],
                                    ["MATCH", "foo.py", "WITH", "PRODUCTS", "FROM", "create"],
                                    ["DISALLOW", "*"]],
             "expected_products": [["MATCH", "foo.py", "WITH", "PRODUCTS", "FROM", "create"],
                                   ["ALLOW", "foo.tar.gz"], ["DISALLOW", "*"]]}
        ]
    })
}

/// Run a verifier in a fresh copy of `work` (inspections write there).
fn verify_with(tool: &str, keys: &Path, work: &Path) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    copy_dir(work, scratch.path());
    let layout = keys.join("root.layout");
    let owner = keys.join("owner.pub");
    if tool == "chainseal" {
        chainseal()
            .current_dir(scratch.path())
            .args(["intoto", "verify", "--layout"])
            .arg(&layout)
            .arg("--verification-keys")
            .arg(&owner)
            .output()
            .unwrap()
    } else {
        Command::new(venv_tool("in-toto-verify"))
            .current_dir(scratch.path())
            .arg("--layout")
            .arg(&layout)
            .arg("--verification-keys")
            .arg(&owner)
            .output()
            .unwrap()
    }
}

fn link_file(work: &Path, step: &str) -> PathBuf {
    fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with(&format!("{step}.")) && n.ends_with(".link")
        })
        .unwrap_or_else(|| panic!("no link for {step}"))
}

/// Flip a product digest inside the signed part of a link, keeping its signature.
fn tamper_link_payload(path: &Path) {
    let v: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    let bumped = |link: &mut Value| {
        let products = link["products"].as_object_mut().unwrap();
        for (_, d) in products.iter_mut() {
            d["sha256"] = json!("00".repeat(32));
        }
    };
    let out = if v.get("payload").is_some() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut payload: Value =
            serde_json::from_slice(&b64.decode(v["payload"].as_str().unwrap()).unwrap()).unwrap();
        bumped(&mut payload);
        let mut v = v.clone();
        v["payload"] = json!(b64.encode(serde_json::to_vec(&payload).unwrap()));
        v
    } else {
        let mut v = v.clone();
        bumped(&mut v["signed"]);
        v
    };
    fs::write(path, serde_json::to_vec_pretty(&out).unwrap()).unwrap();
}

/// Both verifiers must reject both tampered variants of `work`.
fn assert_tampered_variants_fail(keys: &Path, work: &Path, label: &str) {
    // 1. The packaged artifact is replaced after the chain was recorded.
    let t = tempfile::tempdir().unwrap();
    copy_dir(work, t.path());
    fs::write(t.path().join("foo.tar.gz"), b"evil").unwrap();
    for tool in ["chainseal", "in-toto"] {
        fails(
            verify_with(tool, keys, t.path()),
            &format!("{label}: {tool} with replaced tarball"),
        );
    }
    // 2. A link's signed payload is modified.
    let t = tempfile::tempdir().unwrap();
    copy_dir(work, t.path());
    tamper_link_payload(&link_file(t.path(), "create"));
    for tool in ["chainseal", "in-toto"] {
        fails(
            verify_with(tool, keys, t.path()),
            &format!("{label}: {tool} with modified link"),
        );
    }
}

#[test]
fn chain_recorded_and_layout_signed_by_chainseal_passes_reference_in_toto_verify() {
    for (label, kind) in KINDS {
        for dsse in [false, true] {
            let label = format!("{label} dsse={dsse}");
            let keys = tempfile::tempdir().unwrap();
            let work = tempfile::tempdir().unwrap();
            write_key(keys.path(), "owner", kind);
            write_key(keys.path(), "func", kind);
            let func = keys.path().join("func.pem");
            let dsse_flag: &[&str] = if dsse { &["--use-dsse"] } else { &[] };
            // Step 1 with record start/stop, step 2 with run.
            ok(
                chainseal()
                    .current_dir(work.path())
                    .args(["intoto", "record", "start", "-n", "create", "--signing-key"])
                    .arg(&func)
                    .args(dsse_flag)
                    .output()
                    .unwrap(),
                "record start",
            );
            fs::write(work.path().join("foo.py"), b"print('hello')\n").unwrap();
            ok(
                chainseal()
                    .current_dir(work.path())
                    .args(["intoto", "record", "stop", "-n", "create", "--signing-key"])
                    .arg(&func)
                    .args(["-p", "foo.py"])
                    .output()
                    .unwrap(),
                "record stop",
            );
            ok(
                chainseal()
                    .current_dir(work.path())
                    .args(["intoto", "run", "-n", "package", "--key"])
                    .arg(&func)
                    .args(["-m", "foo.py", "-p", "foo.tar.gz"])
                    .args(dsse_flag)
                    .args(["--", "tar", "czf", "foo.tar.gz", "foo.py"])
                    .output()
                    .unwrap(),
                "run package",
            );
            // Layout: key objects from `chainseal intoto key`, signed by `chainseal intoto sign`.
            let key_out = ok(
                chainseal()
                    .args(["intoto", "key"])
                    .arg(keys.path().join("func.pub"))
                    .output()
                    .unwrap(),
                "key",
            );
            let keymap: Value = serde_json::from_slice(&key_out.stdout).unwrap();
            let (kid, kobj) = keymap.as_object().unwrap().iter().next().unwrap();
            fs::write(
                keys.path().join("layout.json"),
                serde_json::to_vec(&layout_json(kid, kobj)).unwrap(),
            )
            .unwrap();
            ok(
                chainseal()
                    .args(["intoto", "sign", "-f"])
                    .arg(keys.path().join("layout.json"))
                    .arg("-k")
                    .arg(keys.path().join("owner.pem"))
                    .args(dsse_flag)
                    .arg("-o")
                    .arg(keys.path().join("root.layout"))
                    .output()
                    .unwrap(),
                "sign layout",
            );

            ok(
                verify_with("in-toto", keys.path(), work.path()),
                &format!("{label}: in-toto-verify of chainseal chain"),
            );
            ok(
                verify_with("chainseal", keys.path(), work.path()),
                &format!("{label}: chainseal verify of chainseal chain"),
            );
            assert_tampered_variants_fail(keys.path(), work.path(), &label);
        }
    }
}

const PY_KEY_OBJECT: &str = "import json,sys
from in_toto.models._signer import load_public_key_from_file
k = load_public_key_from_file(sys.argv[1])
print(json.dumps(k))";

#[test]
fn chain_recorded_and_layout_signed_by_reference_passes_chainseal_verify() {
    let python = venv_tool("python");
    for (label, kind) in KINDS {
        for dsse in [false, true] {
            let label = format!("{label} dsse={dsse}");
            let keys = tempfile::tempdir().unwrap();
            let work = tempfile::tempdir().unwrap();
            write_key(keys.path(), "owner", kind);
            write_key(keys.path(), "func", kind);
            let func = keys.path().join("func.pem");
            let dsse_flag: &[&str] = if dsse { &["--use-dsse"] } else { &[] };
            ok(
                Command::new(venv_tool("in-toto-run"))
                    .current_dir(work.path())
                    .args(["-n", "create", "--signing-key"])
                    .arg(&func)
                    .args(["-p", "foo.py"])
                    .args(dsse_flag)
                    .args(["--", "sh", "-c", "echo 'print(1)' > foo.py"])
                    .output()
                    .unwrap(),
                "in-toto-run create",
            );
            ok(
                Command::new(venv_tool("in-toto-run"))
                    .current_dir(work.path())
                    .args(["-n", "package", "--signing-key"])
                    .arg(&func)
                    .args(["-m", "foo.py", "-p", "foo.tar.gz"])
                    .args(dsse_flag)
                    .args(["--", "tar", "czf", "foo.tar.gz", "foo.py"])
                    .output()
                    .unwrap(),
                "in-toto-run package",
            );
            // Layout: key object computed by the reference, signed by in-toto-sign.
            let kout = ok(
                Command::new(&python)
                    .args(["-c", PY_KEY_OBJECT])
                    .arg(keys.path().join("func.pub"))
                    .output()
                    .unwrap(),
                "py key",
            );
            let kobj: Value = serde_json::from_slice(&kout.stdout).unwrap();
            let kid = kobj["keyid"].as_str().unwrap().to_string();
            let layout = layout_json(&kid, &kobj);
            let unsigned = if dsse {
                use base64::Engine as _;
                json!({"payload": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&layout).unwrap()),
                       "payloadType": "application/vnd.in-toto+json", "signatures": []})
            } else {
                json!({"signed": layout, "signatures": []})
            };
            fs::write(
                keys.path().join("root.layout"),
                serde_json::to_vec(&unsigned).unwrap(),
            )
            .unwrap();
            ok(
                Command::new(venv_tool("in-toto-sign"))
                    .arg("-f")
                    .arg(keys.path().join("root.layout"))
                    .arg("-k")
                    .arg(keys.path().join("owner.pem"))
                    .output()
                    .unwrap(),
                "in-toto-sign",
            );

            ok(
                verify_with("in-toto", keys.path(), work.path()),
                &format!("{label}: in-toto-verify of reference chain"),
            );
            ok(
                verify_with("chainseal", keys.path(), work.path()),
                &format!("{label}: chainseal verify of reference chain"),
            );
            assert_tampered_variants_fail(keys.path(), work.path(), &label);
        }
    }
}

#[test]
fn reference_in_toto_sign_accepts_chainseal_link_signatures() {
    let keys = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    for (label, kind) in KINDS {
        write_key(keys.path(), label, kind);
        fs::write(work.path().join("a.txt"), label).unwrap();
        ok(
            chainseal()
                .current_dir(work.path())
                .args(["intoto", "run", "-n", label, "-k"])
                .arg(keys.path().join(format!("{label}.pem")))
                .args(["-p", "a.txt", "--no-command"])
                .output()
                .unwrap(),
            "run",
        );
        let link = link_file(work.path(), label);
        ok(
            Command::new(venv_tool("in-toto-sign"))
                .args(["--verify", "-f"])
                .arg(&link)
                .arg("-k")
                .arg(keys.path().join(format!("{label}.pub")))
                .output()
                .unwrap(),
            &format!("{label}: in-toto-sign --verify"),
        );
        // And a different key is refused by the reference too.
        let other = if label == "rsa" { "ed25519" } else { "rsa" };
        if keys.path().join(format!("{other}.pub")).exists() {
            fails(
                Command::new(venv_tool("in-toto-sign"))
                    .args(["--verify", "-f"])
                    .arg(&link)
                    .arg("-k")
                    .arg(keys.path().join(format!("{other}.pub")))
                    .output()
                    .unwrap(),
                "wrong key",
            );
        }
    }
}

/// Canonical JSON edge cases (in-toto-golang's `canonical-test.link`: control characters,
/// U+FFFF, escapes, booleans, null) encode exactly as securesystemslib does.
#[test]
fn canonical_json_of_edge_case_link_equals_securesystemslib_encoding() {
    let src =
        repo_root().join("../shared/vectors/intoto/intoto-golang-upstream/canonical-test.link");
    let v: Value = serde_json::from_slice(&fs::read(&src).unwrap()).unwrap();
    let ours = chainseal_intoto::cjson::canonical_json(&v["signed"]).unwrap();
    let script = "import json,sys
from securesystemslib.formats import encode_canonical
d = json.load(open(sys.argv[1]))
sys.stdout.buffer.write(encode_canonical(d['signed']).encode('utf-8'))";
    let out = ok(
        Command::new(venv_tool("python"))
            .args(["-c", script])
            .arg(&src)
            .output()
            .unwrap(),
        "encode_canonical",
    );
    assert_eq!(ours, out.stdout);
}
