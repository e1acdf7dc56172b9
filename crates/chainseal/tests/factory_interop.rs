//! What `chainseal factory run` produces, checked by verifiers that did not produce it:
//! sigstore-python 4.5.1 and securesystemslib (in `<repo>/.venv`, from
//! scripts/setup-python-peers.sh), openssl, and chainseal's own consumer-side commands
//! (`verify-provenance`, `verify-blob-attestation`, `intoto verify`) fed with expected
//! values computed here (digests with sha2, the run key from the certificate with openssl,
//! key ids with securesystemslib, an in-toto layout written by hand). Every positive has a
//! negative beside it. A missing peer tool FAILS the test, it never skips.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use chainseal_testkit::process::{Proc, start_stack};

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");
const BUILDER: &str = "spiffe://chainseal.local/factory/hello";
const OTHER: &str = "spiffe://chainseal.local/factory/other";
const SLSA: &str = "https://slsa.dev/provenance/v1";
const LINK: &str = "https://in-toto.io/attestation/link/v0.3";
/// The example's data flow: each step and the steps whose products it reads.
const FLOW: [(&str, &[&str]); 5] = [
    ("source", &[]),
    ("fetch-source", &["source"]),
    ("fetch-deps", &["source"]),
    ("build", &["fetch-source", "fetch-deps"]),
    ("package", &["build"]),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn example_dir() -> PathBuf {
    repo().join("examples/hello")
}

fn venv(tool: &str) -> PathBuf {
    let p = repo().join(".venv/bin").join(tool);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-python-peers.sh (sigstore 4.5.1, in-toto 3.1.0)",
        p.display()
    );
    p
}

fn cs() -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("SIGSTORE_ID_TOKEN");
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running a command")
}

/// `chainseal ARG…`, each argument anything `Command::arg` takes.
macro_rules! chainseal {
    ($($a:expr),* $(,)?) => {{
        let mut c = cs();
        $(c.arg($a);)*
        run(&mut c)
    }};
}

fn text(out: &Output) -> String {
    let (o, e) = (&out.stdout, &out.stderr);
    let (o, e) = (String::from_utf8_lossy(o), String::from_utf8_lossy(e));
    format!("exit {:?}\nstdout: {o}\nstderr: {e}", out.status.code())
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a refusal (nonzero exit).
fn refused(out: Output, what: &str) {
    assert!(
        !out.status.success(),
        "{what} was accepted:\n{}",
        text(&out)
    );
}

/// Asserts a refusal with exit status 1 (the documented "did not verify").
fn exit1(out: Output, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}:\n{}", text(&out));
}

/// The factory's source tree digest of `dir`, computed by Python: SHA-256 of the RFC 8785
/// JSON (for ASCII names: sorted keys, no spaces) of `[{"name": "source/<rel>", "sha256"}]`
/// in name order.
fn python_tree_digest(dir: &Path) -> String {
    let script = r#"
import hashlib, json, os, sys
root = sys.argv[1]
entries = []
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        entries.append({"name": "source/" + rel, "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()})
entries.sort(key=lambda e: e["name"].encode())
print(hashlib.sha256(json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()).hexdigest())
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .output()
        .expect("python3 must be installed");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

fn b64(s: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().unwrap())
        .unwrap()
}

/// The issuer URL of a stack folder (live or stopped), from its stack.json.
fn issuer_of(dir: &Path) -> String {
    let port = &read_json(&dir.join("stack.json"))["authority"];
    format!(
        "http://127.0.0.1:{}",
        port.as_u64().expect("authority port")
    )
}

/// A running stack plus scratch space. `_stack` is declared first so the child is
/// killed before the temporary folder goes.
struct Env {
    _stack: Proc,
    stack: PathBuf,
    issuer: String,
    tmp: tempfile::TempDir,
}

impl Env {
    fn start() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let stack = tmp.path().join("stack");
        let guard = start_stack(BIN, &stack);
        let issuer = issuer_of(&stack);
        Env {
            _stack: guard,
            stack,
            issuer,
            tmp,
        }
    }

    /// `chainseal factory run PIPELINE --stack … --out NAME/out --publish NAME/pub`.
    fn factory(&self, pipeline: &Path, name: &str) -> (Output, PathBuf, PathBuf) {
        let base = self.tmp.path().join(name);
        let (out, publish) = (base.join("out"), base.join("pub"));
        let o = chainseal! {
            "factory", "run", pipeline, "--stack", &self.stack, "--out", &out, "--publish", &publish
        };
        (o, out, publish)
    }

    /// One honest run of examples/hello; returns its output folder.
    fn honest_run(&self) -> PathBuf {
        let (o, out, _) = self.factory(&example_dir().join("pipeline.yaml"), "run");
        ok(o, "chainseal factory run examples/hello");
        out
    }
}

/// The link files of a run, by step name; asserts there is exactly one per expected step.
fn links(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "link"))
        .map(|p| {
            let step = p.file_name().unwrap().to_str().unwrap();
            (step.split('.').next().unwrap().to_owned(), p)
        })
        .collect();
    v.sort();
    let steps: BTreeSet<&str> = v.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        steps,
        FLOW.iter().map(|(s, _)| *s).collect(),
        "links in {}",
        dir.display()
    );
    v
}

fn payload(envelope: &Value) -> Value {
    serde_json::from_slice(&b64(&envelope["payload"])).unwrap()
}

fn subject_digest(statement: &Value, name: &str) -> String {
    let subjects = statement["subject"].as_array().unwrap();
    let s = subjects.iter().find(|s| s["name"] == name);
    let s = s.unwrap_or_else(|| panic!("no subject {name} in {statement}"));
    s["digest"]["sha256"].as_str().unwrap().to_owned()
}

fn py_verify(trust: &Path, bundle: &Path, identity: &str, issuer: &str, file: &Path) -> Output {
    run(Command::new(venv("sigstore"))
        .arg("--trust-config")
        .arg(trust)
        .args(["verify", "identity", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
        .arg(file))
}

/// A copy of `path` with one byte appended: the same name, another digest.
fn swapped(path: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(path.file_name().unwrap());
    let mut bytes = std::fs::read(path).unwrap();
    bytes.push(b'\n');
    std::fs::write(&p, bytes).unwrap();
    p
}

/// securesystemslib's key object and key id for a PEM public key: (keyid, key).
fn sslib_key(pem: &Path) -> (String, Value) {
    const PY: &str = "import sys, json\n\
        from securesystemslib.signer import SSlibKey\n\
        from cryptography.hazmat.primitives.serialization import load_pem_public_key\n\
        k = SSlibKey.from_crypto(load_pem_public_key(open(sys.argv[1], 'rb').read()))\n\
        print(json.dumps([k.keyid, k.to_dict()]))";
    let out = ok(
        run(Command::new(venv("python")).args(["-c", PY]).arg(pem)),
        "securesystemslib key id",
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    (v[0].as_str().unwrap().to_owned(), v[1].clone())
}

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    ok(out, &format!("openssl {args:?}"))
}

/// The factory's run key, taken from the leaf certificate of a provenance bundle with
/// openssl, written to `dir/NAME.pub`; returns securesystemslib's (keyid, key).
fn run_key(bundle: &Path, dir: &Path, name: &str) -> (String, Value) {
    let cert = &read_json(bundle)["verificationMaterial"]["certificate"]["rawBytes"];
    let der = format!("{name}.der");
    std::fs::write(dir.join(&der), b64(cert)).unwrap();
    let pem = openssl(
        &["x509", "-inform", "DER", "-in", &der, "-pubkey", "-noout"],
        dir,
    );
    let path = dir.join(format!("{name}.pub"));
    std::fs::write(&path, pem).unwrap();
    sslib_key(&path)
}

/// A fresh key from openssl: writes dir/NAME.pem and dir/NAME.pub.
fn openssl_key(dir: &Path, name: &str, alg: &[&str]) -> PathBuf {
    let (pem, public) = (format!("{name}.pem"), format!("{name}.pub"));
    let mut a = vec!["genpkey"];
    a.extend(alg);
    a.extend(["-out", &pem]);
    openssl(&a, dir);
    openssl(&["pkey", "-in", &pem, "-pubout", "-out", &public], dir);
    dir.join(public)
}

/// The example's layout, written here from FLOW (not taken from the factory): every step
/// signed by `key`; materials MATCH the products of the steps read, then DISALLOW *;
/// products CREATE <step>/*, then DISALLOW *. Signed by dir/owner.pem via `intoto sign`.
fn signed_layout(
    dir: &Path,
    name: &str,
    key: &(String, Value),
    flow: &[(&str, &[&str])],
) -> PathBuf {
    let (kid, keyobj) = key;
    let steps: Vec<Value> = flow
        .iter()
        .map(|(step, reads)| {
            let mut mats: Vec<Value> = reads
                .iter()
                .map(|r| json!(["MATCH", format!("{r}/*"), "WITH", "PRODUCTS", "FROM", r]))
                .collect();
            mats.push(json!(["DISALLOW", "*"]));
            json!({"_type": "step", "name": step, "threshold": 1, "pubkeys": [kid],
                   "expected_command": [], "expected_materials": mats,
                   "expected_products": [["CREATE", format!("{step}/*")], ["DISALLOW", "*"]]})
        })
        .collect();
    let layout = json!({"_type": "layout", "expires": "2099-01-01T00:00:00Z", "readme": "",
                        "keys": {kid.as_str(): keyobj}, "steps": steps, "inspect": []});
    let unsigned = dir.join(format!("{name}.json"));
    write_json(&unsigned, &layout);
    let signed = dir.join(format!("{name}.layout"));
    ok(
        chainseal! {
            "intoto", "sign", "-f", &unsigned, "-k", dir.join("owner.pem"), "-o", &signed
        },
        "chainseal intoto sign",
    );
    signed
}

fn intoto_verify(layout: &Path, owner_pub: &Path, link_dir: &Path) -> Output {
    chainseal! {
        "intoto", "verify", "--layout", layout, "--layout-keys", owner_pub, "--link-dir", link_dir
    }
}

#[test]
fn factory_provenance_verifies_at_slsa_l3_only_for_its_builder_source_artifact_and_root() {
    let env = Env::start();
    let out = env.honest_run();
    let art = out.join("artifacts/hello.tar.gz");
    let (src, root) = (example_dir(), env.stack.join("trusted_root.json"));
    let verify = |builder: &str, source_uri: &Path, root: Option<&Path>, artifact: &Path| {
        let mut c = cs();
        c.arg("verify-provenance")
            .arg("--provenance-path")
            .arg(out.join("provenance.sigstore.json"))
            .arg("--source-uri")
            .arg(source_uri)
            .args(["--builder-id", builder, "--json"])
            .args(["--certificate-oidc-issuer", &env.issuer])
            .arg("--pipeline")
            .arg(example_dir().join("pipeline.yaml"));
        if let Some(r) = root {
            c.arg("--trusted-root").arg(r);
        }
        run(c.arg(artifact))
    };
    let report = ok(
        verify(BUILDER, &src, Some(&root), &art),
        "verify-provenance",
    );
    let report: Value = serde_json::from_str(&report).unwrap();
    let v = &report["verified"][0];
    assert_eq!(v["slsaBuildLevel"], 3, "{report}");
    assert_eq!(v["builderKind"], "factory", "{report}");
    assert_eq!(v["builderId"], BUILDER, "{report}");
    assert_eq!(v["sha256"], sha256_hex(&art), "{report}");

    exit1(
        verify(OTHER, &src, Some(&root), &art),
        "another --builder-id",
    );
    let elsewhere = repo().join("examples");
    exit1(
        verify(BUILDER, &elsewhere, Some(&root), &art),
        "another --source-uri",
    );
    let fake = swapped(&art, &env.tmp.path().join("swap"));
    exit1(
        verify(BUILDER, &src, Some(&root), &fake),
        "a swapped artifact",
    );
    exit1(verify(BUILDER, &src, None, &art), "the public-good root");
}

#[test]
fn provenance_and_every_link_bundle_verify_as_typed_attestations_only_for_the_factory_identity() {
    let env = Env::start();
    let out = env.honest_run();
    let art = out.join("artifacts/hello.tar.gz");
    let root = env.stack.join("trusted_root.json");
    let verify = |bundle: &Path, identity: &str, issuer: &str, ty: &str, artifact: &str| {
        chainseal! {
            "verify-blob-attestation", "--bundle", bundle, "--trusted-root", &root,
            "--certificate-identity", identity, "--certificate-oidc-issuer", issuer,
            "--type", ty, artifact
        }
    };
    let iss = env.issuer.as_str();
    let prov = out.join("provenance.sigstore.json");
    let a = art.to_str().unwrap();
    ok(
        verify(&prov, BUILDER, iss, SLSA, a),
        "provenance attestation",
    );
    refused(verify(&prov, OTHER, iss, SLSA, a), "another identity");
    let google = "https://accounts.google.com";
    refused(verify(&prov, BUILDER, google, SLSA, a), "another issuer");
    refused(verify(&prov, BUILDER, iss, LINK, a), "provenance as a link");

    // Digests expected from the files themselves, not from anything chainseal wrote.
    let art_digest = sha256_hex(&art);
    let hello_c = sha256_hex(&example_dir().join("hello.c"));
    let nothing = format!("sha256:{}", "11".repeat(32));
    for (step, link) in links(&out.join("links")) {
        let envelope = read_json(&link);
        let bundle = link.with_extension("sigstore.json");
        // The logged bundle carries the payload and signature the in-toto verifier reads.
        let logged = &read_json(&bundle)["dsseEnvelope"];
        for k in ["/payload", "/payloadType", "/signatures/0/sig"] {
            assert_eq!(logged.pointer(k), envelope.pointer(k), "{step}{k}");
        }
        let st = payload(&envelope);
        assert_eq!(st["predicateType"], LINK, "{step}");
        match step.as_str() {
            "package" => assert_eq!(subject_digest(&st, "package/hello.tar.gz"), art_digest),
            "source" => assert_eq!(subject_digest(&st, "source/hello.c"), hello_c),
            _ => {}
        }
        let digest = st["subject"][0]["digest"]["sha256"].as_str().unwrap();
        let subject = format!("sha256:{digest}");
        let what = |w: &str| format!("{step} link {w}");
        ok(verify(&bundle, BUILDER, iss, LINK, &subject), &what(""));
        refused(
            verify(&bundle, BUILDER, iss, SLSA, &subject),
            &what("as SLSA"),
        );
        refused(verify(&bundle, OTHER, iss, LINK, &subject), &what(OTHER));
        refused(
            verify(&bundle, BUILDER, google, LINK, &subject),
            &what(google),
        );
        refused(
            verify(&bundle, BUILDER, iss, LINK, &nothing),
            &what("no such subject"),
        );
    }
}

#[test]
fn factory_bundles_pass_sigstore_python_and_a_swapped_artifact_or_other_identity_does_not() {
    let env = Env::start();
    let out = env.honest_run();
    let art = out.join("artifacts/hello.tar.gz");
    let fake = swapped(&art, &env.tmp.path().join("swap"));
    let trust = env.stack.join("client_trust_config.json");
    let links = links(&out.join("links"));
    let package = &links.iter().find(|(s, _)| s == "package").unwrap().1;
    let iss = &env.issuer;
    for bundle in [
        out.join("provenance.sigstore.json"),
        package.with_extension("sigstore.json"),
    ] {
        let what = |w: &str| format!("sigstore verify {}{w}", bundle.display());
        ok(py_verify(&trust, &bundle, BUILDER, iss, &art), &what(""));
        refused(
            py_verify(&trust, &bundle, BUILDER, iss, &fake),
            &what(" (swapped)"),
        );
        refused(py_verify(&trust, &bundle, OTHER, iss, &art), &what(OTHER));
    }
}

#[test]
fn hand_written_layout_for_the_certified_run_key_passes_and_tampered_links_or_other_keys_do_not() {
    let env = Env::start();
    let out = env.honest_run();
    let dir = env.tmp.path().join("intoto");
    std::fs::create_dir(&dir).unwrap();
    let owner_pub = openssl_key(&dir, "owner", &["-algorithm", "ed25519"]);
    let func = run_key(&out.join("provenance.sigstore.json"), &dir, "factory");
    let link_dir = out.join("links");
    // The certified key signed the links (key ids agree with securesystemslib's).
    for (step, link) in links(&link_dir) {
        let kid = &read_json(&link)["signatures"][0]["keyid"];
        assert_eq!(kid, func.0.as_str(), "{step}");
    }
    let layout = signed_layout(&dir, "root", &func, &FLOW);
    ok(
        intoto_verify(&layout, &owner_pub, &link_dir),
        "intoto verify",
    );

    // A link whose signed payload was changed: build claims another binary.
    let tampered = dir.join("tampered-links");
    std::fs::create_dir(&tampered).unwrap();
    for (step, link) in links(&link_dir) {
        let mut envelope = read_json(&link);
        if step == "build" {
            let mut st = payload(&envelope);
            st["subject"][0]["digest"]["sha256"] = json!("11".repeat(32));
            let bytes = serde_json::to_vec(&st).unwrap();
            envelope["payload"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        write_json(&tampered.join(link.file_name().unwrap()), &envelope);
    }
    exit1(
        intoto_verify(&layout, &owner_pub, &tampered),
        "a modified build link",
    );

    // A layout naming another functionary.
    let p256 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let other = sslib_key(&openssl_key(&dir, "other", &p256));
    let wrong = signed_layout(&dir, "other-functionary", &other, &FLOW);
    exit1(
        intoto_verify(&wrong, &owner_pub, &link_dir),
        "another functionary",
    );
    // The right layout checked against a key that did not sign it.
    let other_pub = dir.join("other.pub");
    exit1(
        intoto_verify(&layout, &other_pub, &link_dir),
        "another layout key",
    );
    // The rules are evaluated: package claiming to read fetch-source instead of build fails.
    let mut rewired = FLOW.to_vec();
    rewired[4] = ("package", &["fetch-source"]);
    let rewired = signed_layout(&dir, "rewired", &func, &rewired);
    exit1(
        intoto_verify(&rewired, &owner_pub, &link_dir),
        "a miswired layout",
    );
}

#[test]
fn demo_catches_both_attacks_and_peers_confirm_only_the_honest_build_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let stdout = ok(chainseal! { "demo", "--dir", &demo }, "chainseal demo");
    for check in ["provenance", "in-toto layout"] {
        let line = format!("CAUGHT by the gate, check '{check}'");
        assert!(stdout.contains(&line), "no {line:?} in:\n{stdout}");
    }
    let registry = demo.join("registry");
    let published = registry.join("hello/artifacts/hello.tar.gz");
    assert!(published.is_file(), "{} missing", published.display());
    for attack in ["hello-swapped", "hello-implant"] {
        assert!(!registry.join(attack).exists(), "{attack} was published");
    }

    // Peers, after the demo's in-process stack is gone (offline verification).
    let stack = demo.join("stack");
    let (trust, iss) = (stack.join("client_trust_config.json"), issuer_of(&stack));
    let prov = registry.join("hello/provenance.sigstore.json");
    ok(
        py_verify(&trust, &prov, BUILDER, &iss, &published),
        "sigstore verify (published)",
    );
    let run_dir = |tag: &str| {
        let mut runs = std::fs::read_dir(demo.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path());
        runs.find(|p| p.file_name().unwrap().to_string_lossy().contains(tag))
            .unwrap_or_else(|| panic!("no run named *{tag}* under {}", demo.display()))
    };
    let swap = run_dir("swap");
    let (bundle, art) = (
        swap.join("provenance.sigstore.json"),
        swap.join("artifacts/hello.tar.gz"),
    );
    refused(
        py_verify(&trust, &bundle, BUILDER, &iss, &art),
        "sigstore verify (swapped)",
    );

    // The implant is caught by a layout written here too, which the honest run passes.
    let dir = tmp.path().join("intoto");
    std::fs::create_dir(&dir).unwrap();
    let owner_pub = openssl_key(&dir, "owner", &["-algorithm", "ed25519"]);
    for tag in ["honest", "implant"] {
        let rd = run_dir(tag);
        let key = run_key(&rd.join("provenance.sigstore.json"), &dir, tag);
        let layout = signed_layout(&dir, tag, &key, &FLOW);
        let o = intoto_verify(&layout, &owner_pub, &rd.join("links"));
        match tag {
            "honest" => _ = ok(o, "in-toto verify of the honest demo run"),
            _ => exit1(o, "in-toto verify of the implanted demo run"),
        }
    }
}

#[test]
fn gate_for_another_identity_refuses_to_publish_and_the_right_identity_publishes() {
    let env = Env::start();
    let original = std::fs::read_to_string(example_dir().join("pipeline.yaml")).unwrap();
    let (dot, gate) = ("source:\n  path: .\n", format!("identities: [{BUILDER}]"));
    assert!(
        original.contains(dot) && original.contains(&gate),
        "example changed shape"
    );
    // A source lies inside its pipeline's folder: both pipelines sit beside a copy.
    let honest = original.clone();
    let other = honest.replace(&gate, &format!("identities: [{OTHER}]"));
    let dir = env.tmp.path().join("pipelines");
    chainseal_testkit::copy_dir(&example_dir(), &dir);
    std::fs::write(dir.join("honest.yaml"), honest).unwrap();
    std::fs::write(dir.join("other.yaml"), other).unwrap();

    let (o, _, publish) = env.factory(&dir.join("honest.yaml"), "honest");
    ok(o, "factory run with the right gate identity");
    let art = publish.join("artifacts/hello.tar.gz");
    assert!(art.is_file(), "{} not published", art.display());

    let (o, out, publish) = env.factory(&dir.join("other.yaml"), "other");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    exit1(o, "factory run whose gate names another identity");
    assert!(
        err.contains("gate") && err.contains("provenance") && err.contains(OTHER),
        "{err}"
    );
    assert!(!publish.exists(), "{} was created", publish.display());
    // The build itself ran; only publishing was refused.
    assert!(out.join("artifacts/hello.tar.gz").is_file());
}

#[test]
fn oidc_token_for_the_factory_spiffe_id_signs_and_a_token_for_another_subject_is_refused() {
    // What a cluster does: the workload gets a token for its SPIFFE ID from its identity
    // provider (here `chainseal authority token`, the stack's development issuer) and
    // hands it to the factory with the client trust config.
    let env = Env::start();
    let authority = env.stack.join("authority");
    let trust = env.stack.join("client_trust_config.json");
    let pipeline = example_dir().join("pipeline.yaml");
    // The CI's token binds the build it starts: the pipeline file's digest, the source
    // folder and its tree digest (RFC 8785 JSON of name/sha256 pairs), computed here by
    // Python, not by chainseal.
    let tree = python_tree_digest(&example_dir());
    let claims = [
        format!("build_config_digest=sha256:{}", sha256_hex(&pipeline)),
        format!("source_repository_uri=file://{}", example_dir().display()),
        format!("source_repository_digest=sha256:{tree}"),
    ];
    let token = |subject: &str| {
        let mut c = cs();
        c.args(["authority", "token", "--dir"])
            .arg(&authority)
            .args(["--subject", subject]);
        for cl in &claims {
            c.args(["--claim", cl]);
        }
        ok(run(&mut c), "chainseal authority token")
            .trim()
            .to_string()
    };
    // A token that names the workload but binds no build is refused before any step.
    let bare = ok(
        chainseal! {"authority", "token", "--dir", &authority, "--subject", BUILDER},
        "chainseal authority token",
    );
    let base = env.tmp.path().join("bare-token-run");
    let o = chainseal! {
        "factory", "run", &pipeline, "--trust-config", &trust,
        "--identity-token", bare.trim(), "--certificate-oidc-issuer", &env.issuer,
        "--out", base.join("out"), "--publish", base.join("pub")
    };
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    exit1(o, "factory run with a token that binds no build");
    assert!(err.contains("does not bind this build"), "{err}");
    assert!(!base.join("out").exists());
    let base = env.tmp.path().join("token-run");
    let (out, publish) = (base.join("out"), base.join("pub"));
    ok(
        chainseal! {
            "factory", "run", &pipeline, "--trust-config", &trust,
            "--identity-token", token(BUILDER), "--certificate-oidc-issuer", &env.issuer,
            "--out", &out, "--publish", &publish
        },
        "factory run with a token for its SPIFFE ID",
    );
    let bundle = publish.join("provenance.sigstore.json");
    let cert = b64(&read_json(&bundle)["verificationMaterial"]["certificate"]["rawBytes"]);
    let der = base.join("leaf.der");
    std::fs::write(&der, cert).unwrap();
    let san = openssl(
        &[
            "x509",
            "-inform",
            "DER",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            der.to_str().unwrap(),
        ],
        &base,
    );
    assert!(san.contains(&format!("URI:{BUILDER}")), "{san}");

    // The same from a token file (re-read whenever the run needs a new certificate).
    let base = env.tmp.path().join("token-file-run");
    std::fs::create_dir_all(&base).unwrap();
    let token_file = base.join("svid.jwt");
    std::fs::write(&token_file, token(BUILDER)).unwrap();
    let publish = base.join("pub");
    ok(
        chainseal! {
            "factory", "run", &pipeline, "--trust-config", &trust,
            "--identity-token-file", &token_file, "--certificate-oidc-issuer", &env.issuer,
            "--out", base.join("out"), "--publish", &publish
        },
        "factory run with a token file for its SPIFFE ID",
    );
    assert!(publish.join("provenance.sigstore.json").is_file());

    let base = env.tmp.path().join("other-token-run");
    let (out, publish) = (base.join("out"), base.join("pub"));
    let o = chainseal! {
        "factory", "run", &pipeline, "--trust-config", &trust,
        "--identity-token", token(OTHER), "--certificate-oidc-issuer", &env.issuer,
        "--out", &out, "--publish", &publish
    };
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    exit1(o, "factory run with a token for another subject");
    assert!(err.contains(OTHER) && err.contains(BUILDER), "{err}");
    assert!(!out.exists() && !publish.exists());
}

#[test]
fn factory_verify_accepts_the_published_folder_and_refuses_a_swap_or_another_source() {
    let env = Env::start();
    let pipeline = example_dir().join("pipeline.yaml");
    let (o, _, publish) = env.factory(&pipeline, "published");
    ok(o, "factory run");
    let root = env.stack.join("trusted_root.json");
    let verify = |dir: &Path, source: &Path| {
        chainseal! {
            "factory", "verify", dir, "--pipeline", &pipeline, "--trusted-root", &root,
            "--source-uri", source, "--certificate-oidc-issuer", &env.issuer, "--json"
        }
    };
    let out = ok(
        verify(&publish, &example_dir()),
        "factory verify of the published folder",
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["slsaBuildLevel"], 3);
    assert_eq!(v["identity"], BUILDER);
    assert_eq!(
        v["artifacts"][0]["sha256"],
        sha256_hex(&publish.join("artifacts/hello.tar.gz"))
    );
    // Another source directory: refused by the provenance check.
    let o = verify(&publish, Path::new("/somewhere/else"));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    exit1(o, "factory verify with another source");
    assert!(
        err.contains("provenance") && err.contains("source"),
        "{err}"
    );
    // The artifact swapped in the registry after publication.
    std::fs::write(publish.join("artifacts/hello.tar.gz"), b"trojan").unwrap();
    let o = verify(&publish, &example_dir());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    exit1(o, "factory verify of a swapped artifact");
    assert!(
        err.contains("provenance") && err.contains("hello.tar.gz"),
        "{err}"
    );
}
