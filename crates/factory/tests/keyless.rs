//! Keyless factory runs against an in-process stack: every attestation is certified for
//! the factory's SPIFFE ID and logged, and the gate before publish catches the attacks
//! of the CNCF compromise catalog that happen outside the sandbox.

mod common;

use std::path::{Path, PathBuf};

use chainseal_authority::stack::{self, RunningStack, StackConfig};
use chainseal_factory::attestor::{BuildClaims, TokenSource};
use chainseal_factory::{
    Attestor, Error, Hooks, KeySigner, KeylessAttestor, RunOptions, RunReport,
};
use chainseal_sign::{IdentityToken, SigningSetup, now_unix};

const ID: &str = "spiffe://chainseal.local/factory/hello";

struct Stack {
    dir: tempfile::TempDir,
    running: Option<RunningStack>,
    rt: tokio::runtime::Runtime,
}

impl Stack {
    fn start() -> Stack {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let running = rt
            .block_on(stack::start(&StackConfig {
                dir: dir.path().to_path_buf(),
                listen_base: 0,
                issuers: Vec::new(),
            }))
            .unwrap();
        Stack {
            dir,
            running: Some(running),
            rt,
        }
    }

    fn setup(&self) -> SigningSetup {
        let json = std::fs::read(self.dir.path().join("client_trust_config.json")).unwrap();
        SigningSetup::from_client_trust_config(&json, now_unix()).unwrap()
    }

    /// Tokens from the stack's issuer for `subjects[i]` on the i-th request (the last one
    /// repeated).
    fn tokens(&self, subjects: &[&str]) -> TokenSource {
        let dir = self.dir.path().to_path_buf();
        let subjects: Vec<String> = subjects.iter().map(|s| s.to_string()).collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        Box::new(move |claims: &BuildClaims| {
            let i = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let s = &subjects[i.min(subjects.len() - 1)];
            let t = stack::workload_token_with_claims(&dir, s, 600, &claims.to_json())
                .map_err(|e| e.to_string())?;
            IdentityToken::new(t).map_err(|e| e.to_string())
        })
    }

    fn attestor(&self, subject: &str) -> KeylessAttestor {
        KeylessAttestor::new(self.setup(), self.tokens(&[subject])).unwrap()
    }

    /// The stack's OIDC issuer (its development issuer's URL).
    fn issuer(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("authority/url"))
            .unwrap()
            .trim()
            .to_string()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt.block_on(r.stop());
        }
    }
}

/// The example project (with its gated pipeline) copied into `dir/hello`, `edit`
/// applied to the pipeline's text; returns the pipeline file.
fn example(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let ex =
        std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello"))
            .unwrap();
    let copy = dir.join("hello");
    if !copy.exists() {
        common::copy_dir(&ex, &copy);
    }
    let text = std::fs::read_to_string(ex.join("pipeline.yaml")).unwrap();
    assert!(text.contains("\ngate:"), "the example pipeline has a gate");
    let p = copy.join("hello.yaml");
    std::fs::write(&p, edit(text)).unwrap();
    p
}

fn run(
    s: &Stack,
    attestor: &KeylessAttestor,
    pipeline: PathBuf,
    out: &Path,
    publish: &Path,
    hooks: Option<&dyn Hooks>,
) -> Result<RunReport, Error> {
    chainseal_factory::run(&RunOptions {
        pipeline,
        out_dir: out.to_path_buf(),
        trust_domain: "chainseal.local".into(),
        attestor,
        secrets: Vec::new(),
        protected: vec![s.dir.path().to_path_buf()],
        issuer: Some(s.issuer()),
        publish_dir: Some(publish.to_path_buf()),
        hooks,
        fetch: Default::default(),
        progress: None,
    })
}

fn gate_check(r: Result<RunReport, Error>) -> (String, String) {
    match r {
        Err(Error::Gate { check, reason }) => (check, reason),
        other => panic!("expected the gate to refuse the run, got {other:?}"),
    }
}

/// Run the example on a fresh stack with `hooks` playing the attacker; returns the gate's
/// `(check, reason)` after asserting nothing was published.
fn attacked(hooks: &dyn Hooks) -> (String, String) {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let publish = t.path().join("pub");
    let r = run(
        &s,
        &s.attestor(ID),
        example(t.path(), |t| t),
        &t.path().join("out"),
        &publish,
        Some(hooks),
    );
    let refused = gate_check(r);
    assert!(!publish.exists(), "nothing may be published");
    refused
}

#[test]
fn honest_run_passes_the_gate_at_slsa_l3_and_publishes_logged_attestations() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let a = s.attestor(ID);
    let publish = t.path().join("pub");
    let r = run(
        &s,
        &a,
        example(t.path(), |t| t),
        &t.path().join("out"),
        &publish,
        None,
    )
    .expect("honest run");
    let g = r.gate.expect("the example has a gate");
    assert_eq!(g.slsa_level, 3);
    assert_eq!(g.identity, ID);
    assert_eq!(r.signer_identity.as_deref(), Some(ID));
    // source + 4 steps, each logged at its own index, and the provenance after them.
    let mut idx: Vec<i64> = r.steps.iter().map(|s| s.log_index.unwrap()).collect();
    idx.push(r.provenance_log_index.unwrap());
    let n = idx.len();
    idx.sort_unstable();
    idx.dedup();
    assert_eq!(idx.len(), n, "distinct log entries");
    // Published: the artifact with its provenance bundle and every link + bundle.
    let art = std::fs::read(publish.join("artifacts/hello.tar.gz")).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&art));
    assert_eq!(r.subjects, vec![("hello.tar.gz".to_string(), sha)]);
    assert!(publish.join("provenance.sigstore.json").is_file());
    let links: Vec<_> = std::fs::read_dir(publish.join("links"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for step in ["source", "fetch-source", "fetch-deps", "build", "package"] {
        for ext in [".link", ".sigstore.json"] {
            assert!(
                links
                    .iter()
                    .any(|l| l.starts_with(&format!("{step}.")) && l.ends_with(ext)),
                "{step}{ext} published: {links:?}"
            );
        }
    }
}

/// Swaps the artifact after the build (publishing-infrastructure compromise).
struct SwapArtifact;
impl Hooks for SwapArtifact {
    fn before_gate(&self, out: &Path) {
        std::fs::write(out.join("artifacts/hello.tar.gz"), b"trojan").unwrap();
    }
}

#[test]
fn artifact_swapped_after_the_build_is_caught_by_the_provenance_check_and_not_published() {
    let (check, reason) = attacked(&SwapArtifact);
    assert_eq!(check, "provenance");
    assert!(
        reason.contains("hello.tar.gz") && reason.contains("subject"),
        "{reason}"
    );
}

/// Rewrites the fetched source between fetch-source and build (SolarWinds' SUNSPOT).
struct SourceImplant;
impl Hooks for SourceImplant {
    fn before_step(&self, step: &str, ws: &Path) {
        if step == "build" {
            let f = ws.join("fetch-source/hello.c");
            let mut src = std::fs::read_to_string(&f).unwrap();
            src.push_str("\nint backdoor(void) { return 1; }\n");
            std::fs::write(&f, src).unwrap();
        }
    }
}

#[test]
fn source_changed_outside_the_pipeline_is_caught_by_the_layout_and_not_published() {
    let (check, reason) = attacked(&SourceImplant);
    assert_eq!(check, "in-toto layout");
    assert!(
        reason.contains("build") && reason.contains("fetch-source/hello.c"),
        "{reason}"
    );
}

/// Replaces the build link with a re-signed-looking copy of another step's envelope.
struct SwapLink;
impl Hooks for SwapLink {
    fn before_gate(&self, out: &Path) {
        let dir = out.join("links");
        let find = |step: &str| {
            std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    n.starts_with(&format!("{step}.")) && n.ends_with(".link")
                })
                .unwrap()
        };
        std::fs::copy(find("package"), find("build")).unwrap();
    }
}

#[test]
fn link_file_that_is_not_the_logged_envelope_is_caught() {
    let (check, reason) = attacked(&SwapLink);
    assert_eq!(check, "link bundle");
    assert!(reason.contains("build."), "{reason}");
}

#[test]
fn identity_the_gate_does_not_allow_is_refused() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let publish = t.path().join("pub");
    let p = example(t.path(), |t| {
        t.replace(
            "identities: [spiffe://chainseal.local/factory/hello]",
            "identities: [spiffe://chainseal.local/factory/other]",
        )
    });
    let (check, _) = gate_check(run(
        &s,
        &s.attestor(ID),
        p,
        &t.path().join("out"),
        &publish,
        None,
    ));
    assert_eq!(check, "provenance");
    assert!(!publish.exists());
}

#[test]
fn certificate_for_another_pipeline_is_refused_before_any_step_runs() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let a = s.attestor("spiffe://chainseal.local/factory/other");
    let out = t.path().join("out");
    let r = run(
        &s,
        &a,
        example(t.path(), |t| t),
        &out,
        &t.path().join("pub"),
        None,
    );
    assert!(
        matches!(&r, Err(Error::Signing { reason, .. }) if reason.contains("factory/other")),
        "{r:?}"
    );
    assert!(!out.exists(), "refused before creating the output folder");
}

#[test]
fn gated_pipeline_with_a_local_key_is_refused_before_any_step_runs() {
    let f = common::Fixture::new(&[]);
    let signer: KeySigner = f.signer();
    let t = tempfile::tempdir().unwrap();
    let r = chainseal_factory::run(&RunOptions {
        pipeline: example(t.path(), |t| t),
        out_dir: t.path().join("out"),
        trust_domain: "chainseal.local".into(),
        attestor: &signer,
        secrets: vec![f.key_path.clone()],
        protected: Vec::new(),
        issuer: None,
        publish_dir: None,
        hooks: None,
        fetch: Default::default(),
        progress: None,
    });
    assert!(
        matches!(&r, Err(Error::Gate { check, .. }) if check == "configuration"),
        "{r:?}"
    );
}

#[test]
fn publish_folder_that_is_not_empty_is_refused_before_any_step_runs() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let publish = t.path().join("pub");
    std::fs::create_dir_all(&publish).unwrap();
    std::fs::write(publish.join("keep.txt"), b"mine").unwrap();
    let r = run(
        &s,
        &s.attestor(ID),
        example(t.path(), |t| t),
        &t.path().join("out"),
        &publish,
        None,
    );
    assert!(matches!(&r, Err(Error::Publish { .. })), "{r:?}");
    assert_eq!(std::fs::read(publish.join("keep.txt")).unwrap(), b"mine");
}

#[test]
fn recording_refuses_an_envelope_whose_signature_was_altered_after_signing() {
    let s = Stack::start();
    let a = s.attestor(ID);
    a.begin(ID, &BuildClaims::default()).unwrap();
    let stmt = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}}],"predicateType":"https://example.com/p","predicate":{}}"#;
    let env = a.sign(stmt, "test").unwrap();
    let rec = a
        .record(&env, "test")
        .expect("positive control: the signed envelope is logged");
    assert!(rec.bundle.is_some() && rec.log_index.is_some());
    let mut bad = env.clone();
    bad.signatures[0].sig[8] ^= 1;
    assert!(
        a.record(&bad, "test").is_err(),
        "an altered signature must not be logged"
    );
    let mut other = env;
    other.payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"y","digest":{"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}}],"predicateType":"https://example.com/p","predicate":{}}"#.to_vec();
    assert!(
        a.record(&other, "test").is_err(),
        "a payload the signature does not cover must not be logged"
    );
}

#[test]
fn a_run_outliving_its_certificate_renews_the_key_and_still_passes_the_gate() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    // A margin longer than the certificate's life: every signature needs a new key, as
    // in a run that lasts several certificate lifetimes.
    let a = KeylessAttestor::with_renewal_margin(
        s.setup(),
        s.tokens(&[ID]),
        std::time::Duration::from_secs(3600),
    )
    .unwrap();
    let publish = t.path().join("pub");
    let r = run(
        &s,
        &a,
        example(t.path(), |t| t),
        &t.path().join("out"),
        &publish,
        None,
    )
    .expect("a run with renewed keys passes the gate");
    // The first certificate plus one per link and one for the provenance.
    assert_eq!(a.keys_used(), 1 + r.steps.len() + 1);
    let kids: std::collections::BTreeSet<String> = r
        .steps
        .iter()
        .map(|s| {
            let n = s.link.file_name().unwrap().to_string_lossy().into_owned();
            n.rsplit('.').nth(1).unwrap().to_string()
        })
        .collect();
    assert_eq!(kids.len(), r.steps.len(), "each link names its own key");
    assert_eq!(r.gate.unwrap().slsa_level, 3);
    assert!(publish.join("artifacts/hello.tar.gz").is_file());
}

#[test]
fn a_renewed_certificate_for_another_identity_stops_the_run() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let a = KeylessAttestor::with_renewal_margin(
        s.setup(),
        s.tokens(&[ID, "spiffe://chainseal.local/factory/other"]),
        std::time::Duration::from_secs(3600),
    )
    .unwrap();
    let publish = t.path().join("pub");
    let r = run(
        &s,
        &a,
        example(t.path(), |t| t),
        &t.path().join("out"),
        &publish,
        None,
    );
    assert!(
        matches!(&r, Err(Error::Signing { reason, .. }) if reason.contains("factory/other") && reason.contains(ID)),
        "{r:?}"
    );
    assert!(!publish.exists());
}

/// Writes a trojan over the artifact in the output folder after the gate passed
/// (the gate-to-publish race).
struct SwapAfterGate;
impl Hooks for SwapAfterGate {
    fn after_gate(&self, out: &Path) {
        std::fs::write(out.join("artifacts/hello.tar.gz"), b"trojan").unwrap();
        std::fs::write(out.join("artifacts/extra.sh"), b"rm -rf /").unwrap();
    }
}

#[test]
fn a_file_swapped_after_the_gate_is_not_published() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let publish = t.path().join("pub");
    let r = run(
        &s,
        &s.attestor(ID),
        example(t.path(), |t| t),
        &t.path().join("out"),
        &publish,
        Some(&SwapAfterGate),
    )
    .expect("the run passed its gate before the swap");
    let published = std::fs::read(publish.join("artifacts/hello.tar.gz")).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&published));
    assert_eq!(r.subjects, vec![("hello.tar.gz".to_string(), sha)]);
    assert_ne!(published, b"trojan");
    assert!(!publish.join("artifacts/extra.sh").exists());
    // Positive control: the swap did happen in the output folder.
    assert_eq!(
        std::fs::read(t.path().join("out/artifacts/hello.tar.gz")).unwrap(),
        b"trojan"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

#[test]
fn a_substituted_pipeline_with_the_honest_name_fails_the_check_against_the_honest_pipeline() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let honest = example(t.path(), |t| t);
    let honest_bytes = std::fs::read(&honest).unwrap();
    let evil_dir = tempfile::tempdir().unwrap();
    let evil = example(evil_dir.path(), |t| {
        t.replace(
            "mkdir -p /tmp/pkg",
            "echo BACKDOORED >&2; mkdir -p /tmp/pkg",
        )
    });
    let publish = evil_dir.path().join("pub");
    // The substituted pipeline runs under the honest identity and passes its own gate…
    run(
        &s,
        &s.attestor(ID),
        evil.clone(),
        &evil_dir.path().join("out"),
        &publish,
        None,
    )
    .expect("the substituted pipeline runs");
    let root = std::fs::read(s.dir.path().join("trusted_root.json")).unwrap();
    let issuer = s.issuer();
    let check = |pipeline: &Path| {
        let bytes = std::fs::read(pipeline).unwrap();
        let p = chainseal_factory::Pipeline::from_file(pipeline).unwrap();
        let source = format!("{}", evil.parent().unwrap().display());
        chainseal_factory::gate::check(&chainseal_factory::gate::GateInput {
            pipeline: &p,
            pipeline_sha256: &sha256_hex(&bytes),
            gate: p.gate.as_ref().unwrap(),
            out_dir: &publish,
            trusted_root: &root,
            issuer: &issuer,
            source_uri: &source,
        })
    };
    // …so a consumer who names the pipeline it trusts must refuse it.
    let _ = honest_bytes;
    match check(&honest) {
        Err(Error::Gate { check, reason }) => {
            // verify-provenance's own pipeline rule refuses it first, inside the
            // provenance check.
            assert_eq!(check, "provenance");
            assert!(
                reason.contains("built from another pipeline file"),
                "{reason}"
            );
        }
        other => panic!("expected the pipeline check to fail, got {other:?}"),
    }
    // Positive control: against the pipeline that really ran, every check passes.
    check(&evil).expect("the folder verifies against its own pipeline");
}

#[test]
fn the_run_certificate_binds_the_pipeline_the_source_and_the_run() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let pipeline = example(t.path(), |t| t);
    let r = run(
        &s,
        &s.attestor(ID),
        pipeline.clone(),
        &t.path().join("out"),
        &t.path().join("pub"),
        None,
    )
    .expect("honest run");
    let bundle = std::fs::read(t.path().join("pub/provenance.sigstore.json")).unwrap();
    let bundle = chainseal_model::bundle::Bundle::from_json(&bundle).unwrap();
    let leaf =
        chainseal_crypto::x509::Certificate::from_der(bundle.key_material.leaf().unwrap()).unwrap();
    let ext = leaf.fulcio_identity().unwrap();
    let want_digest = format!("sha256:{}", sha256_hex(&std::fs::read(&pipeline).unwrap()));
    assert_eq!(
        ext.build_config_digest.as_deref(),
        Some(want_digest.as_str())
    );
    let abs = std::fs::canonicalize(&pipeline).unwrap();
    assert_eq!(
        ext.build_config_uri,
        Some(format!("file://{}", abs.display()))
    );
    let src = std::fs::canonicalize(pipeline.parent().unwrap()).unwrap();
    assert_eq!(
        ext.source_repository_uri,
        Some(format!("file://{}", src.display()))
    );
    assert_eq!(ext.build_signer_uri.as_deref(), Some(ID));
    assert_eq!(
        ext.run_invocation_uri,
        Some(format!("urn:uuid:{}", r.invocation_id))
    );
    assert!(
        ext.source_repository_digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:") && d.len() == 71),
        "{ext:?}"
    );
}

#[test]
fn a_token_without_the_build_claims_is_refused_before_any_step_runs() {
    let s = Stack::start();
    let t = tempfile::tempdir().unwrap();
    let dir = s.dir.path().to_path_buf();
    // An external token that names the right workload but binds no build.
    let bare: TokenSource = Box::new(move |_claims: &BuildClaims| {
        let tok = stack::workload_token(&dir, ID, 600).map_err(|e| e.to_string())?;
        IdentityToken::new(tok).map_err(|e| e.to_string())
    });
    let a = KeylessAttestor::new(s.setup(), bare).unwrap();
    let out = t.path().join("out");
    let r = run(
        &s,
        &a,
        example(t.path(), |t| t),
        &out,
        &t.path().join("pub"),
        None,
    );
    assert!(
        matches!(&r, Err(Error::Signing { reason, .. }) if reason.contains("does not bind this build")),
        "{r:?}"
    );
    assert!(!out.exists(), "refused before any step ran");
}

#[test]
fn a_source_folder_holding_the_stack_is_refused() {
    let s = Stack::start();
    let project_dir = tempfile::tempdir().unwrap();
    let project = project_dir.path();
    let p = example(project, |t| t);
    // The natural set-up: a stack folder inside the project, whose `source: {path: .}`
    // would pack the authority's keys into the build.
    let inner = p.parent().unwrap().join("stack");
    std::fs::create_dir_all(&inner).unwrap();
    let t = tempfile::tempdir().unwrap();
    let r = chainseal_factory::run(&RunOptions {
        pipeline: p.clone(),
        out_dir: t.path().join("out"),
        trust_domain: "chainseal.local".into(),
        attestor: &s.attestor(ID),
        secrets: Vec::new(),
        protected: vec![inner.clone()],
        issuer: Some(s.issuer()),
        publish_dir: None,
        hooks: None,
        fetch: Default::default(),
        progress: None,
    });
    assert!(
        matches!(&r, Err(Error::Source { reason }) if reason.contains("overlaps")),
        "{r:?}"
    );
    // Positive control: the same project with the stack kept elsewhere runs.
    std::fs::remove_dir_all(&inner).unwrap();
    let r = chainseal_factory::run(&RunOptions {
        pipeline: p,
        out_dir: t.path().join("out2"),
        trust_domain: "chainseal.local".into(),
        attestor: &s.attestor(ID),
        secrets: Vec::new(),
        protected: vec![s.dir.path().to_path_buf()],
        issuer: Some(s.issuer()),
        publish_dir: None,
        hooks: None,
        fetch: Default::default(),
        progress: None,
    });
    r.expect("a project without the factory's state builds");
}
