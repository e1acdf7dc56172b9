//! The observer's attestations: links verify against an in-toto layout for the example
//! pipeline, the provenance DSSE verifies with the factory key, and its subjects are the
//! published artifacts' digests. Also measures the observer's per-step overhead.

mod common;

use std::path::Path;
use std::time::Duration;

use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_factory::{Attestor, KeySigner, RunOptions, RunReport};
use chainseal_intoto::{Format, InspectionDir, Metadata, SigningKey, VerifyOptions, verify};
use chainseal_model::dsse;
use chainseal_model::statement::Statement;
use serde_json::{Value, json};

fn run_example() -> (common::Fixture, RunReport) {
    let f = common::Fixture::new(&[]);
    let signer = f.signer();
    let r = chainseal_factory::run(&RunOptions {
        pipeline: f.example_without_gate(),
        out_dir: f.out(),
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
    .expect("example pipeline runs");
    (f, r)
}

fn layout(factory_key: &chainseal_intoto::Key) -> Value {
    let kid = factory_key.keyid();
    let step = |name: &str, mats: Value, prods: Value| {
        json!({"_type": "step", "name": name, "threshold": 1, "pubkeys": [kid],
               "expected_command": [], "expected_materials": mats, "expected_products": prods})
    };
    json!({
        "_type": "layout", "expires": "2099-01-01T00:00:00Z", "readme": "examples/hello",
        "keys": {kid.clone(): factory_key.to_json_with_keyid()},
        "steps": [
            step("fetch-source", json!([["ALLOW", "source/hello.c"], ["DISALLOW", "*"]]),
                 json!([["CREATE", "fetch-source/hello.c"], ["DISALLOW", "*"]])),
            step("fetch-deps", json!([["ALLOW", "source/vendor/greeting.h"], ["DISALLOW", "*"]]),
                 json!([["CREATE", "fetch-deps/greeting.h"], ["DISALLOW", "*"]])),
            step("build", json!([
                    ["MATCH", "fetch-source/*", "WITH", "PRODUCTS", "FROM", "fetch-source"],
                    ["MATCH", "fetch-deps/*", "WITH", "PRODUCTS", "FROM", "fetch-deps"],
                    ["DISALLOW", "*"]]),
                 json!([["CREATE", "build/hello"], ["DISALLOW", "*"]])),
            step("package", json!([
                    ["MATCH", "build/hello", "WITH", "PRODUCTS", "FROM", "build"],
                    ["DISALLOW", "*"]]),
                 json!([["CREATE", "package/hello.tar.gz"], ["DISALLOW", "*"]])),
        ],
        "inspect": []
    })
}

fn verify_links(link_dir: &Path, factory_key: &chainseal_intoto::Key) -> Result<(), String> {
    let owner = SigningKey::from_private(PrivateKey::generate(KeyKind::Ed25519).unwrap()).unwrap();
    let mut md = Metadata::new(layout(factory_key), Format::Metablock).unwrap();
    md.sign(&owner).unwrap();
    let opts = VerifyOptions {
        link_dir: link_dir.to_path_buf(),
        parameters: None,
        inspection_dir: InspectionDir::default(),
        inspection_timeout: Duration::from_secs(10),
        now: time::OffsetDateTime::now_utc(),
    };
    verify(&md, &[owner.public().clone()], &opts)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn example_links_verify_against_the_layout_and_tampered_link_fails() {
    let (f, r) = run_example();
    let key = f.signer().public_key().unwrap().clone();
    assert_eq!(r.steps.len(), 5, "the source link and four steps");
    verify_links(&f.out().join("links"), &key).expect("links verify");
    // Tamper: rewrite the build link's payload (signature no longer matches).
    let build = r.steps[3].link.clone();
    assert!(build.to_string_lossy().contains("build."));
    let text = std::fs::read_to_string(&build).unwrap();
    let mut env: Value = serde_json::from_str(&text).unwrap();
    env["payload"] = json!("eyJfdHlwZSI6ImxpbmsifQ==");
    std::fs::write(&build, env.to_string()).unwrap();
    assert!(verify_links(&f.out().join("links"), &key).is_err());
}

#[test]
fn provenance_verifies_with_the_factory_key_and_subjects_equal_artifacts() {
    let (f, r) = run_example();
    let line = std::fs::read(&r.provenance).unwrap();
    let env = dsse::Envelope::from_json(&line).unwrap();
    let key = f.signer().public_key().unwrap().clone();
    chainseal_intoto::metadata::verify_dsse(&env, &key).expect("provenance signature");
    // A different key does not verify it.
    let other = KeySigner::new(
        SigningKey::from_private(PrivateKey::generate(KeyKind::EcdsaP256).unwrap()).unwrap(),
    );
    assert!(chainseal_intoto::metadata::verify_dsse(&env, other.public_key().unwrap()).is_err());

    let st = Statement::from_json(&env.payload).unwrap();
    assert_eq!(st.predicate_type, "https://slsa.dev/provenance/v1");
    let art = f.out().join("artifacts/hello.tar.gz");
    let sha = chainseal_factory::observer::sha256_file(&art).unwrap();
    assert_eq!(st.subject.len(), 1);
    assert_eq!(st.subject[0].name, "hello.tar.gz");
    assert!(st.has_subject_sha256(&sha));
    let p = st.predicate.unwrap();
    assert_eq!(
        p["runDetails"]["builder"]["id"],
        "spiffe://example.org/factory/hello"
    );
    assert_eq!(
        p["buildDefinition"]["buildType"],
        "https://chainseal.dev/factory/v1"
    );
    let ext = &p["buildDefinition"]["externalParameters"];
    let pipeline_sha =
        chainseal_factory::observer::sha256_file(&f.path().join("hello/hello.yaml")).unwrap();
    assert_eq!(ext["pipeline"]["digest"]["sha256"], json!(pipeline_sha));
    assert!(
        ext["source"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("file://")
    );
    let deps = p["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    let pinned = deps
        .iter()
        .find(|d| d["uri"] == "https://example.invalid/greeting/1.0/greeting.h")
        .expect("pinned dependency listed");
    let vendored =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/vendor/greeting.h");
    assert_eq!(
        pinned["digest"]["sha256"],
        json!(chainseal_factory::observer::sha256_file(&vendored).unwrap())
    );
    assert!(deps.iter().any(|d| d["name"] == "source/hello.c"));
    let md = &p["runDetails"]["metadata"];
    assert_eq!(md["invocationId"], json!(r.invocation_id));
    assert!(md["startedOn"].as_str().unwrap() <= md["finishedOn"].as_str().unwrap());
    // A swapped artifact no longer matches the subject.
    std::fs::write(&art, b"swapped").unwrap();
    let sha2 = chainseal_factory::observer::sha256_file(&art).unwrap();
    assert!(
        !Statement::from_json(&env.payload)
            .unwrap()
            .has_subject_sha256(&sha2)
    );
}
