//! Third-party in-toto vectors (../shared/vectors/intoto): every one must give the result
//! its producer recorded.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_intoto::inspect::InspectionDir;
use chainseal_intoto::metadata::verify_dsse;
use chainseal_intoto::{Error, Format, Key, Metadata, SigningKey, VerifyOptions, verify};
use serde_json::{Value, json};

const V: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/intoto"
);

fn vec_path(rel: &str) -> PathBuf {
    Path::new(V).join(rel)
}

/// Copy the files of `src` (not subfolders) into a fresh temp dir.
fn copy_scenario(src: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
            let mut perm = fs::metadata(tmp.path().join(e.file_name()))
                .unwrap()
                .permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            fs::set_permissions(tmp.path().join(e.file_name()), perm).unwrap();
        }
    }
    tmp
}

fn opts(dir: &Path) -> VerifyOptions {
    VerifyOptions {
        link_dir: dir.to_path_buf(),
        inspection_dir: InspectionDir::CopyOf(dir.to_path_buf()),
        ..VerifyOptions::default()
    }
}

fn load(path: &Path) -> Metadata {
    Metadata::from_json(&fs::read(path).unwrap(), &path.display().to_string()).unwrap()
}

fn key(path: &Path) -> Key {
    Key::from_file(path).unwrap()
}

/// The reference's exception class, as our error kind.
fn same_error_class(reference: &str, ours: &Error) -> bool {
    match ours {
        Error::Rule { .. } => reference.contains("RuleVerificationError"),
        Error::LayoutExpired { .. } => reference.contains("LayoutExpiredError"),
        Error::LinkNotFound { .. } => reference.contains("LinkNotFoundError"),
        Error::SignatureVerification { .. } => reference.contains("SignatureVerificationError"),
        Error::Threshold { .. } => reference.contains("ThresholdVerificationError"),
        _ => false,
    }
}

fn demo_scenarios(format: &str) {
    let base = vec_path(&format!("intoto-demo-generated/{format}"));
    let results: Value =
        serde_json::from_slice(&fs::read(base.join("results.json")).unwrap()).unwrap();
    let results = results.as_object().unwrap();
    assert_eq!(results.len(), 8, "eight scenarios");
    for (scenario, r) in results {
        let dir = copy_scenario(&base.join(scenario));
        let k = key(&dir.path().join(r["key"].as_str().unwrap()));
        let layout = load(&dir.path().join("root.layout"));
        let got = verify(&layout, &[k], &opts(dir.path()));
        match (r["expected"].as_str().unwrap(), got) {
            ("PASS", Ok(_)) => {}
            ("FAIL", Err(e)) => {
                let reference = r["error"].as_str().unwrap();
                assert!(
                    same_error_class(reference, &e),
                    "{format}/{scenario}: reference said {reference:?}, we said {e}"
                );
                if let Error::Rule {
                    artifacts, rule, ..
                } = &e
                {
                    for a in artifacts {
                        assert!(
                            reference.contains(&format!("'{a}'")),
                            "{scenario}: {a} not in {reference}"
                        );
                    }
                    assert!(reference.contains(rule.as_str()), "{scenario}: rule {rule}");
                }
            }
            (exp, got) => panic!("{format}/{scenario}: expected {exp}, got {got:?}"),
        }
        // The scenario folder itself is never touched by the inspection.
        assert!(
            !dir.path().join("demo-project").exists(),
            "{scenario}: inspection ran in place"
        );
    }
}

#[test]
fn demo_chain_metablock_scenarios_match_reference_results() {
    demo_scenarios("metablock");
}

#[test]
fn demo_chain_dsse_scenarios_match_reference_results() {
    demo_scenarios("dsse");
}

#[test]
fn rejects_layout_signed_by_another_key_even_when_keyid_hint_matches() {
    // Re-label alice's signature with bob's key ID: the hint must not make bob's key pass.
    let base = vec_path("intoto-demo-generated/metablock/good");
    let mut v: Value =
        serde_json::from_slice(&fs::read(base.join("root.layout")).unwrap()).unwrap();
    let bob = key(&vec_path("intoto-demo-generated/keys/bob.pub"));
    v["signatures"][0]["keyid"] = json!(bob.keyid());
    let md = Metadata::from_json(&serde_json::to_vec(&v).unwrap(), "relabelled").unwrap();
    let dir = copy_scenario(&base);
    let err = verify(&md, &[bob], &opts(dir.path())).unwrap_err();
    assert!(matches!(err, Error::SignatureVerification { .. }), "{err}");
    // While alice's key still verifies it whatever the hint says.
    let alice = key(&base.join("alice.pub"));
    verify(&md, &[alice], &opts(dir.path())).unwrap();
}

#[test]
fn golang_layouts_pass_with_their_links_in_both_formats() {
    let src = vec_path("intoto-golang-upstream");
    for layout in ["demo.layout", "demo.dsse.layout", "dsse-only.root.layout"] {
        let dir = copy_scenario(&src);
        let alice = key(&dir.path().join("alice.pub"));
        let md = load(&dir.path().join(layout));
        verify(&md, &[alice], &opts(dir.path())).unwrap_or_else(|e| panic!("{layout}: {e}"));
    }
}

#[test]
fn golang_layouts_fail_with_wrong_key_or_tampered_tarball() {
    let src = vec_path("intoto-golang-upstream");
    let dir = copy_scenario(&src);
    let dan = key(&dir.path().join("dan.pub"));
    let md = load(&dir.path().join("demo.layout"));
    assert!(matches!(
        verify(&md, &[dan], &opts(dir.path())).unwrap_err(),
        Error::SignatureVerification { .. }
    ));
    let alice = key(&dir.path().join("alice.pub"));
    fs::write(dir.path().join("foo.tar.gz"), b"not the packaged tarball").unwrap();
    let err = verify(&md, &[alice], &opts(dir.path())).unwrap_err();
    assert!(
        matches!(err, Error::Rule { .. } | Error::Inspection { .. }),
        "{err}"
    );
}

#[test]
fn golang_unsigned_expired_superlayout_is_rejected() {
    let src = vec_path("intoto-golang-upstream");
    let dir = copy_scenario(&src);
    let alice = key(&dir.path().join("alice.pub"));
    let md = load(&dir.path().join("super.layout"));
    assert!(verify(&md, &[alice], &opts(dir.path())).is_err());
}

/// A superlayout signed at test time whose step is the Go sublayout (signed by alice).
fn superlayout_fixture() -> (tempfile::TempDir, Metadata, Key) {
    let src = vec_path("intoto-golang-upstream");
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub_layout.70ca5750");
    fs::create_dir(&sub).unwrap();
    fs::copy(
        src.join("sub_layout.70ca5750.link"),
        dir.path().join("sub_layout.70ca5750.link"),
    )
    .unwrap();
    fs::copy(src.join("foo.tar.gz"), dir.path().join("foo.tar.gz")).unwrap();
    for f in ["write-code.b7d643de.link", "package.d3ffd108.link"] {
        fs::copy(src.join(f), sub.join(f)).unwrap();
    }
    let alice = key(&src.join("alice.pub"));
    let owner = SigningKey::from_private(PrivateKey::generate(KeyKind::Ed25519).unwrap()).unwrap();
    let layout = json!({
        "_type": "layout", "expires": "2099-01-01T00:00:00Z", "readme": "",
        "keys": {alice.keyid(): alice.to_json_with_keyid()},
        "steps": [{"_type": "step", "name": "sub_layout", "threshold": 1,
                   "pubkeys": [alice.keyid()], "expected_command": [],
                   "expected_materials": [], "expected_products": [["MATCH", "foo.tar.gz", "WITH", "PRODUCTS", "FROM", "sub_layout"], ["ALLOW", "foo.py"], ["DISALLOW", "*"]]}],
        "inspect": []
    });
    let mut md = Metadata::new(layout, Format::Metablock).unwrap();
    md.sign(&owner).unwrap();
    let owner_pub = owner.public().clone();
    (dir, md, owner_pub)
}

#[test]
fn sublayout_verifies_recursively_and_yields_summary_link() {
    let (dir, md, owner) = superlayout_fixture();
    let report = verify(&md, &[owner], &opts(dir.path())).unwrap();
    assert_eq!(report.summary.name, "");
    assert!(report.summary.materials.is_empty());
}

#[test]
fn rejects_sublayout_whose_own_links_are_missing() {
    let (dir, md, owner) = superlayout_fixture();
    fs::remove_file(dir.path().join("sub_layout.70ca5750/package.d3ffd108.link")).unwrap();
    let err = verify(&md, &[owner], &opts(dir.path())).unwrap_err();
    match err {
        Error::Sublayout { step, source } => {
            assert_eq!(step, "sub_layout");
            assert!(matches!(*source, Error::LinkNotFound { .. }), "{source}");
        }
        e => panic!("unexpected {e}"),
    }
}

/// Sign the reference's unsigned layout template at test time (inspection adapted to the
/// system `tar`, as the reference test suite ships its own `scripts/tar`).
fn python_template(dsse: bool) -> (tempfile::TempDir, Metadata, Key) {
    let files = vec_path("intoto-python-upstream/demo_files");
    let sub = if dsse {
        "demo_dsse_files"
    } else {
        "demo_files"
    };
    let tdir = vec_path(&format!("intoto-python-upstream/{sub}"));
    let raw: Value =
        serde_json::from_slice(&fs::read(tdir.join("demo.layout.template")).unwrap()).unwrap();
    let mut layout = if dsse {
        let p = base64::engine::general_purpose::STANDARD
            .decode(raw["payload"].as_str().unwrap())
            .unwrap();
        serde_json::from_slice::<Value>(&p).unwrap()
    } else {
        raw["signed"].clone()
    };
    layout["expires"] = json!("2099-01-01T00:00:00Z");
    layout["inspect"][0]["run"] = json!(["tar", "xfz", "foo.tar.gz"]);
    let alice = SigningKey::from_file(&files.join("alice")).unwrap();
    let mut md = Metadata::new(
        layout,
        if dsse {
            Format::Dsse
        } else {
            Format::Metablock
        },
    )
    .unwrap();
    md.sign(&alice).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for f in ["write-code.776a00e2.link", "package.2f89b927.link"] {
        fs::copy(tdir.join(f), dir.path().join(f)).unwrap();
    }
    fs::copy(files.join("foo.tar.gz"), dir.path().join("foo.tar.gz")).unwrap();
    (dir, md, key(&files.join("alice.pub")))
}

#[test]
fn python_template_signed_at_test_time_verifies_in_both_formats() {
    for dsse in [false, true] {
        let (dir, md, alice) = python_template(dsse);
        verify(&md, &[alice], &opts(dir.path())).unwrap_or_else(|e| panic!("dsse={dsse}: {e}"));
    }
}

#[test]
fn rejects_python_template_chain_with_link_by_unauthorized_functionary() {
    for dsse in [false, true] {
        let (dir, md, alice) = python_template(dsse);
        // Swap carl's package link for one signed by alice (not authorised for the step).
        let p = dir.path().join("package.2f89b927.link");
        let orig = Metadata::from_json(&fs::read(&p).unwrap(), "package").unwrap();
        let mut forged = Metadata::new(orig.payload().clone(), orig.format()).unwrap();
        forged
            .sign(
                &SigningKey::from_file(&vec_path("intoto-python-upstream/demo_files/alice"))
                    .unwrap(),
            )
            .unwrap();
        fs::write(&p, forged.to_json()).unwrap();
        let err = verify(&md, &[alice], &opts(dir.path())).unwrap_err();
        assert!(matches!(err, Error::Threshold { .. }), "dsse={dsse}: {err}");
    }
}

#[test]
fn dsse_spec_vector_verifies_and_every_changed_byte_breaks_it() {
    let dir = vec_path("dsse-spec");
    let env =
        chainseal_model::dsse::Envelope::from_json(&fs::read(dir.join("envelope.json")).unwrap())
            .unwrap();
    let k = key(&dir.join("pub.pem"));
    verify_dsse(&env, &k).unwrap();
    for i in 0..env.payload.len() {
        let mut m = env.clone();
        m.payload[i] ^= 0x01;
        assert!(verify_dsse(&m, &k).is_err(), "payload byte {i}");
    }
    for i in 0..env.payload_type.len() {
        let mut m = env.clone();
        let mut t = m.payload_type.into_bytes();
        t[i] ^= 0x01;
        m.payload_type = String::from_utf8_lossy(&t).into_owned();
        assert!(verify_dsse(&m, &k).is_err(), "type byte {i}");
    }
    let mut m = env.clone();
    m.signatures[0].sig[5] ^= 0x80;
    assert!(verify_dsse(&m, &k).is_err());
}

#[test]
fn golang_key_files_sign_and_verify_or_are_rejected_cleanly() {
    let src = vec_path("intoto-golang-upstream");
    // RSA PKCS#1, Ed25519 PKCS#8, P-384 PKCS#8, P-521 PKCS#8: usable.
    for name in ["alice", "dan", "carol", "grace", "frank"] {
        let sk = SigningKey::from_file(&src.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let pk = key(&src.join(format!("{name}.pub")));
        assert!(sk.public().same_public_key(&pk), "{name}");
        let mut md =
            Metadata::new(json!({"_type": "link", "name": "x"}), Format::Metablock).unwrap();
        md.sign(&sk).unwrap();
        md.verify(&pk).unwrap();
        let other = key(&src.join(if name == "alice" {
            "dan.pub"
        } else {
            "alice.pub"
        }));
        assert!(
            md.verify(&other).is_err(),
            "{name} verified with another key"
        );
    }
    // secp256k1 and P-224 are not supported: an error, never a panic.
    for name in ["erin", "heidi"] {
        assert!(SigningKey::from_file(&src.join(name)).is_err(), "{name}");
        assert!(
            Key::from_file(&src.join(format!("{name}.pub"))).is_err(),
            "{name}.pub"
        );
    }
}
