//! What may become a build's source: a folder inside the pipeline's folder that holds
//! none of the factory's state and no private key, with names that have one spelling;
//! and a tree digest that no two trees share.

mod common;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use chainseal_factory::{Error, RunOptions, observer};
use chainseal_intoto::models::Artifacts;

const STEP: &str = "  - {name: b, inputs: [source], command: [cp, -r, source, /out/]}\n";

fn run_protected(f: &common::Fixture, yaml: &str, protected: Vec<PathBuf>) -> Result<(), Error> {
    let p = f.path().join("pipeline.yaml");
    std::fs::write(&p, yaml).unwrap();
    let _ = std::fs::remove_dir_all(f.out());
    let signer = f.signer();
    chainseal_factory::run(&RunOptions {
        pipeline: p,
        out_dir: f.out(),
        trust_domain: "example.org".into(),
        attestor: &signer,
        secrets: vec![f.key_path.clone()],
        protected,
        issuer: None,
        publish_dir: None,
        hooks: None,
        fetch: Default::default(),
        progress: None,
    })
    .map(|_| ())
}

fn source_err(r: Result<(), Error>) -> String {
    match r {
        Err(Error::Source { reason }) => reason,
        other => panic!("expected the source to be refused, got {other:?}"),
    }
}

fn pipeline_err(r: Result<(), Error>) -> String {
    match r {
        Err(Error::Pipeline { reason, .. }) => reason,
        other => panic!("expected the pipeline to be refused, got {other:?}"),
    }
}

#[test]
fn a_source_overlapping_the_factory_state_is_refused_either_way_round() {
    let f = common::Fixture::new(&[("a.txt", "a"), ("state/ca.json", "{}")]);
    let y = format!("name: t\nsource: {{path: src}}\nsteps:\n{STEP}");
    // The factory's state inside the source folder.
    let reason = source_err(run_protected(&f, &y, vec![f.path().join("src/state")]));
    assert!(reason.contains("overlaps"), "{reason}");
    // The source folder inside the factory's state.
    let reason = source_err(run_protected(&f, &y, vec![f.path().to_path_buf()]));
    assert!(reason.contains("overlaps"), "{reason}");
    // Positive control: state kept elsewhere.
    let elsewhere = tempfile::tempdir().unwrap();
    run_protected(&f, &y, vec![elsewhere.path().to_path_buf()]).expect("no overlap");
}

#[test]
fn the_output_folder_and_the_key_file_are_always_protected() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    // The output folder inside the source folder.
    let p = f.path().join("pipeline.yaml");
    std::fs::write(
        &p,
        format!("name: t\nsource: {{path: src}}\nsteps:\n{STEP}"),
    )
    .unwrap();
    let signer = f.signer();
    let r = chainseal_factory::run(&RunOptions {
        pipeline: p,
        out_dir: f.path().join("src/out"),
        trust_domain: "example.org".into(),
        attestor: &signer,
        secrets: vec![f.key_path.clone()],
        protected: Vec::new(),
        issuer: None,
        publish_dir: None,
        hooks: None,
        fetch: Default::default(),
        progress: None,
    })
    .map(|_| ());
    assert!(source_err(r).contains("overlaps"));
    // The key file inside the source folder.
    let f = common::Fixture::new(&[("a.txt", "a")]);
    let key_in_src = f.path().join("src/factory.pem");
    std::fs::copy(&f.key_path, &key_in_src).unwrap();
    let p = f.path().join("pipeline.yaml");
    std::fs::write(
        &p,
        format!("name: t\nsource: {{path: src}}\nsteps:\n{STEP}"),
    )
    .unwrap();
    let signer = f.signer();
    let r = chainseal_factory::run(&RunOptions {
        pipeline: p,
        out_dir: f.out(),
        trust_domain: "example.org".into(),
        attestor: &signer,
        secrets: vec![key_in_src],
        protected: Vec::new(),
        issuer: None,
        publish_dir: None,
        hooks: None,
        fetch: Default::default(),
        progress: None,
    })
    .map(|_| ());
    assert!(source_err(r).contains("overlaps"));
}

#[test]
fn a_private_key_lying_in_the_source_folder_is_refused_naming_it() {
    let key =
        chainseal_crypto::keys::PrivateKey::generate(chainseal_crypto::keys::KeyKind::EcdsaP256)
            .unwrap()
            .to_pkcs8_pem();
    let f = common::Fixture::new(&[("a.txt", "a"), ("deploy/id.pem", key.as_str())]);
    let y = format!("name: t\nsource: {{path: src}}\nsteps:\n{STEP}");
    let reason = source_err(run_protected(&f, &y, Vec::new()));
    assert!(
        reason.contains("id.pem") && reason.contains("private key"),
        "{reason}"
    );
    // Positive control: a public key is fine.
    let f = common::Fixture::new(&[
        ("a.txt", "a"),
        ("deploy/id.pub", "-----BEGIN PUBLIC KEY-----\n"),
    ]);
    run_protected(&f, &y, Vec::new()).expect("a public key is not a secret");
}

#[test]
fn absolute_and_parent_source_paths_are_refused_before_anything_runs() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    for path in ["..", "../x", "/etc", "src/../..", "/"] {
        let y = format!("name: t\nsource: {{path: '{path}'}}\nsteps:\n{STEP}");
        let reason = pipeline_err(run_protected(&f, &y, Vec::new()));
        assert!(reason.contains("source.path"), "{path}: {reason}");
    }
    let y = format!("name: t\nsource: {{git: ../elsewhere, revision: main}}\nsteps:\n{STEP}");
    assert!(pipeline_err(run_protected(&f, &y, Vec::new())).contains("source.git"));
    // Positive control.
    let y = format!("name: t\nsource: {{path: ./src}}\nsteps:\n{STEP}");
    run_protected(&f, &y, Vec::new()).expect("a relative source inside the folder");
}

#[test]
fn a_symlink_that_leads_the_source_out_of_the_pipeline_folder_is_refused() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
    std::os::unix::fs::symlink(outside.path(), f.path().join("link")).unwrap();
    let y = format!("name: t\nsource: {{path: link}}\nsteps:\n{STEP}");
    let reason = source_err(run_protected(&f, &y, Vec::new()));
    assert!(reason.contains("outside the pipeline's folder"), "{reason}");
}

#[test]
fn names_with_control_characters_or_invalid_utf8_are_refused() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    let y = format!("name: t\nsource: {{path: src}}\nsteps:\n{STEP}");
    run_protected(&f, &y, Vec::new()).expect("positive control");
    std::fs::write(f.path().join("src/evil\nname"), "x").unwrap();
    let reason = source_err(run_protected(&f, &y, Vec::new()));
    assert!(reason.contains("control character"), "{reason}");
    std::fs::remove_file(f.path().join("src/evil\nname")).unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(f.path().join("src").join(bad), "x").unwrap();
    let reason = source_err(run_protected(&f, &y, Vec::new()));
    assert!(reason.contains("not valid UTF-8"), "{reason}");
}

#[test]
fn a_step_product_with_a_newline_in_its_name_fails_the_step() {
    let f = common::Fixture::new(&[("a.txt", "a")]);
    // printf makes the newline inside the sandbox.
    let r = f.run(
        r#"  - {name: b, command: [sh, -c, "touch \"$(printf '/out/x\\ny')\""]}
"#,
    );
    match r {
        Err(Error::Artifact { reason, .. }) => assert!(reason.contains("control"), "{reason}"),
        other => panic!("expected the product name to be refused, got {other:?}"),
    }
}

fn art(entries: &[(&str, &str)]) -> Artifacts {
    entries
        .iter()
        .map(|(n, d)| {
            (
                n.to_string(),
                BTreeMap::from([("sha256".to_string(), d.to_string())]),
            )
        })
        .collect()
}

#[test]
fn two_different_trees_never_share_a_tree_digest() {
    let (a, b) = ("aa".repeat(32), "bb".repeat(32));
    // The sha256sum-manifest collision: {a=A, b=B} against one file whose name carries
    // the separator and the second line.
    let honest = art(&[("a", &a), ("b", &b)]);
    let forged_name = format!("a\n{b}  b");
    let forged = art(&[(forged_name.as_str(), &a)]);
    let old = |t: &Artifacts| {
        let mut m = String::new();
        for (n, d) in t {
            m.push_str(&format!("{}  {n}\n", d["sha256"]));
        }
        m
    };
    // (the old encoding does not tell them apart…)
    assert_eq!(
        old(&honest).replace(&format!("{a}  a\n"), ""),
        format!("{b}  b\n")
    );
    assert_ne!(
        observer::tree_digest(&honest).unwrap(),
        observer::tree_digest(&forged).unwrap()
    );
    // Moving a file, splitting a name at '/', or swapping digests all change it.
    let variants = [
        art(&[("a", &a), ("b", &b)]),
        art(&[("a", &b), ("b", &a)]),
        art(&[("a/b", &a)]),
        art(&[("a", &a)]),
        art(&[("ab", &a)]),
        art(&[("a", &a), ("b", &b), ("c", &a)]),
        art(&[]),
    ];
    let digests: std::collections::BTreeSet<String> = variants
        .iter()
        .map(|t| observer::tree_digest(t).unwrap())
        .collect();
    assert_eq!(digests.len(), variants.len());
    // Positive control: the same tree, built in another order, has the same digest.
    assert_eq!(
        observer::tree_digest(&art(&[("b", &b), ("a", &a)])).unwrap(),
        observer::tree_digest(&honest).unwrap()
    );
}
