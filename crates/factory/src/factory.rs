//! A factory run: materialise the source, run each step in its sandbox under the
//! observer, attest every step and the provenance, check the gate, then publish.
//!
//! Output directory layout:
//! ```text
//! OUT/artifacts/…                          the last step's products (provenance subjects)
//! OUT/links/<step>.<kid8>.link             DSSE in-toto link (Statement v1, link/v0.3)
//! OUT/links/<step>.<kid8>.sigstore.json    its Sigstore bundle (keyless runs)
//! OUT/provenance.intoto.jsonl              DSSE SLSA provenance v1 (one line)
//! OUT/provenance.sigstore.json             its Sigstore bundle (keyless runs)
//! ```
//! `source` is a link too: the observer's own retrieval of the source tree.
//!
//! Attestations are signed, timestamped and logged in background threads while the next
//! step runs, so logging latency is paid once per run, not once per step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use chainseal_intoto::Link;
use chainseal_intoto::models::Artifacts;
use chainseal_intoto::run::link_filename;
use chainseal_model::statement::ResourceDescriptor;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;
use crate::attestor::{Attestor, BuildClaims, Recorded};
use crate::fetch::FetchPolicy;
use crate::gate::{self, GateInput, GateReport, PROVENANCE_BUNDLE};
use crate::layout::SOURCE_STEP;
use crate::observer;
use crate::pipeline::{Pipeline, SOURCE_DIR};
use crate::publish;
use crate::sandbox::{self, SandboxSpec};
use crate::workspace::{check_pins, fetch_source, resolve_inputs};

/// Fault injection: lets demonstrations and tests play a compromised host at the two
/// moments an attacker outside the sandbox could act. Production runs pass `None`.
pub trait Hooks: Sync {
    /// Called before step `step` starts, with the run's workspace folder.
    fn before_step(&self, _step: &str, _workspace: &Path) {}
    /// Called after the provenance is written and before the gate, with the output folder.
    fn before_gate(&self, _out_dir: &Path) {}
    /// Called after the gate passed and before publishing, with the output folder.
    fn after_gate(&self, _out_dir: &Path) {}
}

/// Told how a run goes, for people watching it (the CLI prints a line per step).
pub trait Progress: Sync {
    /// Step `index` of `total` (1-based; the observer's source retrieval is not counted)
    /// is about to run.
    fn step_started(&self, _step: &str, _index: usize, _total: usize) {}
    /// The step ended after `took`; `ok` is whether it succeeded.
    fn step_finished(&self, _step: &str, _took: Duration, _ok: bool) {}
    /// The running step wrote `bytes` to its stdout or stderr (also captured for its
    /// link's byproducts and the error on failure).
    fn step_output(&self, _step: &str, _bytes: &[u8]) {}
    /// All steps ran; the run waits for the log, then the gate.
    fn attesting(&self) {}
}

/// Options of one run.
pub struct RunOptions<'a> {
    /// The pipeline file.
    pub pipeline: PathBuf,
    /// Where artifacts, links and provenance are written (created; must be empty).
    pub out_dir: PathBuf,
    /// SPIFFE trust domain of the builder id.
    pub trust_domain: String,
    /// Who signs (and logs) the attestations.
    pub attestor: &'a dyn Attestor,
    /// Host paths steps must never see (key files).
    pub secrets: Vec<PathBuf>,
    /// The factory's own state (the stack and authority folders, key files): a source
    /// folder that is, contains or lies inside one of them is refused. The output and
    /// publish folders and `secrets` are always protected too.
    pub protected: Vec<PathBuf>,
    /// The OIDC issuer the gate requires of the run's certificates (configured, never read
    /// from a certificate). `None` only for runs without a gate.
    pub issuer: Option<String>,
    /// Where to publish the artifacts and their attestations once the gate passes
    /// (created; must be new or empty). `None`: the run stops after the gate.
    pub publish_dir: Option<PathBuf>,
    /// Fault injection (see [`Hooks`]).
    pub hooks: Option<&'a dyn Hooks>,
    /// How the observer fetches the pins of `network: true` steps.
    pub fetch: FetchPolicy,
    /// Where progress is reported (`None`: silent).
    pub progress: Option<&'a dyn Progress>,
}

/// What one step did and cost.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Step name (`source` for the observer's retrieval).
    pub name: String,
    /// Wall time of the sandboxed command (including sandbox setup).
    pub step_time: Duration,
    /// Observer time on the run's critical path: hashing materials and products, pin
    /// checks, building the link and handing it to the attestor.
    pub observer_time: Duration,
    /// The link file written.
    pub link: PathBuf,
    /// Its transparency-log index, for keyless runs.
    pub log_index: Option<i64>,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Per-step reports, in order (`source` first).
    pub steps: Vec<StepReport>,
    /// The provenance file (DSSE line).
    pub provenance: PathBuf,
    /// The provenance's Sigstore bundle, for keyless runs.
    pub provenance_bundle: Option<PathBuf>,
    /// The provenance's transparency-log index, for keyless runs.
    pub provenance_log_index: Option<i64>,
    /// `(artifact name, sha256)` — the provenance subjects.
    pub subjects: Vec<(String, String)>,
    /// The builder id.
    pub builder_id: String,
    /// The certificate identity that signed, for keyless runs.
    pub signer_identity: Option<String>,
    /// Invocation id.
    pub invocation_id: String,
    /// Time spent after the last step waiting for attestations to be signed and logged.
    pub attest_wait: Duration,
    /// The gate's findings, when the pipeline has a gate.
    pub gate: Option<GateReport>,
    /// Where the artifacts were published.
    pub published: Option<PathBuf>,
}

/// The factory's workload identity for a pipeline: `spiffe://<trust-domain>/factory/<name>`,
/// the builder id of its provenance and the URI SAN of its certificates.
pub fn builder_id(trust_domain: &str, pipeline: &str) -> String {
    format!("spiffe://{trust_domain}/factory/{pipeline}")
}

/// What a run's certificate binds.
struct BuildFacts<'a> {
    builder_id: &'a str,
    pipeline_path: &'a Path,
    pipeline_sha256: &'a str,
    source: &'a crate::workspace::SourceInfo,
    tree_digest: &'a str,
    invocation: &'a str,
}

/// The run's build claims (Fulcio's extension meanings, crate README).
fn build_claims(f: &BuildFacts<'_>) -> Result<BuildClaims, Error> {
    let path = f.pipeline_path.to_str().ok_or_else(|| {
        Error::pipeline(
            f.pipeline_path.display().to_string(),
            "the pipeline file's path is not UTF-8",
        )
    })?;
    let config_digest = format!("sha256:{}", f.pipeline_sha256);
    let mut c = std::collections::BTreeMap::new();
    c.insert("build_signer_uri".to_string(), f.builder_id.to_string());
    c.insert("build_signer_digest".into(), config_digest.clone());
    c.insert("runner_environment".into(), "chainseal-factory".into());
    c.insert("source_repository_uri".into(), f.source.repo_uri.clone());
    c.insert(
        "source_repository_digest".into(),
        match &f.source.commit {
            Some(commit) => commit.clone(),
            None => format!("sha256:{}", f.tree_digest),
        },
    );
    if let Some(r) = &f.source.git_ref {
        c.insert("source_repository_ref".into(), r.clone());
    }
    c.insert("build_config_uri".into(), format!("file://{path}"));
    c.insert("build_config_digest".into(), config_digest);
    c.insert("build_trigger".into(), "manual".into());
    c.insert(
        "run_invocation_uri".into(),
        format!("urn:uuid:{}", f.invocation),
    );
    Ok(BuildClaims(c))
}

/// The output folder must not exist yet or be empty.
fn check_empty_out(out: &Path) -> Result<(), Error> {
    match std::fs::read_dir(out) {
        Ok(mut d) => match d.next() {
            None => Ok(()),
            Some(_) => Err(Error::Artifact {
                step: "(factory)".into(),
                reason: format!(
                    "output folder {} is not empty; give a new folder with --out, or remove it first",
                    out.display()
                ),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(out, e)),
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::now_utc())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn invocation_id() -> String {
    let mut b = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    if random.is_err() {
        let seed = format!("{:?}{}", OffsetDateTime::now_utc(), std::process::id());
        b.copy_from_slice(&observer::sha256_hex(seed.as_bytes()).as_bytes()[..16]);
    }
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// A signed attestation being recorded in the background.
struct Pending<'s> {
    what: String,
    handle: ScopedJoinHandle<'s, Result<Recorded, Error>>,
}

/// The run's state that the step loop fills in.
struct Observed<'s> {
    reports: Vec<StepReport>,
    resolved: Vec<ResourceDescriptor>,
    consumed_source: Artifacts,
    last_products: Artifacts,
    steps_json: Vec<serde_json::Value>,
    /// `(link file name, its bytes)` in step order.
    links: Vec<(String, Vec<u8>)>,
    pending: Vec<Pending<'s>>,
}

/// Sign `link` now (fast), write its file, and record it in the background.
fn attest_link<'s, 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    attestor: &'e dyn Attestor,
    link: &Link,
    links_dir: &Path,
    o: &mut Observed<'s>,
) -> Result<(), Error> {
    let what = format!("link {}", link.name);
    let env = attestor.sign(&observer::link_statement(link)?, &what)?;
    // Named by the key that signed it (a long run may renew its key).
    let kid = env
        .signatures
        .first()
        .and_then(|s| s.keyid.clone())
        .unwrap_or_else(|| attestor.key_id());
    let name = link_filename(&link.name, &kid);
    let bytes = env.to_json();
    write(&links_dir.join(&name), &bytes)?;
    o.links.push((name, bytes));
    let w = what.clone();
    let handle = scope.spawn(move || attestor.record(&env, &w));
    o.pending.push(Pending { what, handle });
    Ok(())
}

/// Run the steps of `p` in `ws`, recording each link in the background.
fn run_steps<'s, 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    p: &Pipeline,
    ws: &Path,
    opts: &RunOptions<'e>,
    links_dir: &Path,
    source_link: Link,
) -> Result<Observed<'s>, Error> {
    let mut o = Observed {
        reports: Vec::new(),
        resolved: Vec::new(),
        consumed_source: Artifacts::new(),
        last_products: Artifacts::new(),
        steps_json: Vec::new(),
        links: Vec::new(),
        pending: Vec::new(),
    };
    attest_link(scope, opts.attestor, &source_link, links_dir, &mut o)?;
    {
        let total = p.steps.len();
        for (i, step) in p.steps.iter().enumerate() {
            if let Some(h) = opts.hooks {
                h.before_step(&step.name, ws);
            }
            if let Some(pr) = opts.progress {
                pr.step_started(&step.name, i + 1, total);
            }
            let t0 = Instant::now();
            let inputs = resolve_inputs(step, ws)?;
            let mut materials = Artifacts::new();
            for (host, rel) in &inputs {
                materials.extend(observer::hash_files(&observer::list_files(
                    host, rel, &step.name,
                )?)?);
            }
            for (name, d) in &materials {
                if name.starts_with(&format!("{SOURCE_DIR}/")) {
                    o.consumed_source.insert(name.clone(), d.clone());
                }
            }
            let step_out = ws.join(&step.name);
            std::fs::create_dir(&step_out).map_err(|e| Error::io(&step_out, e))?;
            if step.network {
                // The step gets no network; the observer fetches its pins for it.
                crate::fetch::fetch_pins(step, &step_out, &opts.fetch)?;
            }
            let argv = step.argv();
            let spec = SandboxSpec {
                step: step.name.clone(),
                argv: argv.clone(),
                inputs,
                out_dir: step_out.clone(),
                timeout_secs: step.timeout_secs(),
                limits: step_limits(step),
                secrets: opts.secrets.clone(),
            };
            let t1 = Instant::now();
            let mut sink = |bytes: &[u8]| {
                if let Some(pr) = opts.progress {
                    pr.step_output(&step.name, bytes);
                }
            };
            let outcome = sandbox::run(&spec, &mut sink);
            let t2 = Instant::now();
            if let Some(pr) = opts.progress {
                let ok = outcome.as_ref().is_ok_and(|o| o.success);
                pr.step_finished(&step.name, t2 - t1, ok);
            }
            let outcome = outcome?;
            if !outcome.success {
                return Err(Error::StepFailed {
                    step: step.name.clone(),
                    status: outcome.reason,
                    stderr_tail: observer::tail(&outcome.stderr, 2000),
                });
            }
            let products =
                observer::hash_files(&observer::list_files(&step_out, &step.name, &step.name)?)?;
            if products.is_empty() {
                return Err(Error::Artifact {
                    step: step.name.clone(),
                    reason: "the step produced no file in /out; every step must produce at least one (its link names its products as subjects)".into(),
                });
            }
            for out in &step.outputs {
                let out = out.trim_start_matches("./").trim_end_matches('/');
                let want = format!("{}/{out}", step.name);
                if !products
                    .keys()
                    .any(|k| *k == want || k.starts_with(&format!("{want}/")))
                {
                    return Err(Error::Artifact {
                        step: step.name.clone(),
                        reason: format!("declared output '{out}' was not produced in /out"),
                    });
                }
            }
            check_pins(step, &products)?;
            for pin in &step.pins {
                o.resolved.push(ResourceDescriptor {
                    name: pin.file_name().to_string(),
                    uri: Some(pin.uri.clone()),
                    digest: BTreeMap::from([("sha256".to_string(), pin.sha256.clone())]),
                    ..ResourceDescriptor::default()
                });
            }
            let link = observer::step_link(
                &step.name,
                &argv,
                materials,
                products.clone(),
                &outcome,
                step.network,
            );
            attest_link(scope, opts.attestor, &link, links_dir, &mut o)?;
            o.steps_json.push(json!({
                "name": step.name,
                "command": argv,
                "network": step.network,
                "sandbox": observer::sandbox_description(step.network),
            }));
            o.last_products = products;
            o.reports.push(StepReport {
                name: step.name.clone(),
                step_time: t2 - t1,
                observer_time: (t1 - t0) + t2.elapsed(),
                link: PathBuf::new(),
                log_index: None,
            });
        }
    }
    Ok(o)
}

/// A step's limits: what its pipeline sets, the sandbox's defaults for the rest.
fn step_limits(step: &crate::pipeline::Step) -> sandbox::Limits {
    let d = sandbox::Limits::default();
    let l = &step.limits;
    sandbox::Limits {
        memory: l.memory.map_or(d.memory, |s| s.0),
        processes: l.processes.unwrap_or(d.processes),
        cpu_secs: l.cpu.unwrap_or(d.cpu_secs),
        out: l.out.map_or(d.out, |s| s.0),
        tmp: l.tmp.map_or(d.tmp, |s| s.0),
    }
}

/// Run the pipeline.
pub fn run(opts: &RunOptions<'_>) -> Result<RunReport, Error> {
    let started = now();
    let invocation = invocation_id();
    let pipeline_bytes = std::fs::read(&opts.pipeline).map_err(|e| Error::io(&opts.pipeline, e))?;
    let file = opts.pipeline.display().to_string();
    let text = String::from_utf8(pipeline_bytes.clone())
        .map_err(|_| Error::pipeline(&file, "not UTF-8"))?;
    let p = Pipeline::from_yaml(&text, &file)?;
    let base = opts
        .pipeline
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let builder_id = builder_id(&opts.trust_domain, &p.name);
    let attestor = opts.attestor;
    let gate_trust = match (&p.gate, attestor.trusted_root(), &opts.issuer) {
        (Some(_), None, _) => {
            return Err(Error::gate(
                "configuration",
                "the pipeline has a gate, which verifies certificate identities: sign keyless (--stack or --trust-config with an identity token), not with a local key",
            ));
        }
        (Some(_), Some(_), None) => {
            return Err(Error::gate(
                "configuration",
                "the pipeline has a gate, which pins the OIDC issuer of the run's certificates: configure the issuer (the stack's, or --certificate-oidc-issuer)",
            ));
        }
        (_, t, _) => t,
    };

    // The output folder must be new or empty (created only once the run is bound).
    let out = &opts.out_dir;
    check_empty_out(out)?;
    if let Some(pd) = &opts.publish_dir {
        publish::check_destination(pd)?;
    }
    let links_dir = out.join("links");
    let art_dir = out.join("artifacts");

    let ws_tmp = tempfile::Builder::new()
        .prefix("chainseal-factory-")
        .tempdir()
        .map_err(|e| Error::io("tempdir", e))?;
    let ws = std::fs::canonicalize(ws_tmp.path()).map_err(|e| Error::io(ws_tmp.path(), e))?;
    let src_dir = ws.join(SOURCE_DIR);
    std::fs::create_dir_all(&src_dir).map_err(|e| Error::io(&src_dir, e))?;
    let t_src = Instant::now();
    let mut protected = opts.protected.clone();
    protected.extend(opts.secrets.iter().cloned());
    protected.push(out.clone());
    protected.extend(opts.publish_dir.iter().cloned());
    let source = fetch_source(&p, base, &src_dir, &protected)?;
    let source_files = observer::list_files(&src_dir, SOURCE_DIR, "source")?;
    let source_artifacts = observer::hash_files(&source_files)?;
    let tree = observer::tree_digest(&source_artifacts)?;
    let mut source_digest = BTreeMap::from([("sha256".to_string(), tree.clone())]);
    if let Some(c) = &source.commit {
        source_digest.insert("gitCommit".into(), c.clone());
    }
    let source_uri = source.uri();
    let source_link = Link {
        name: SOURCE_STEP.to_string(),
        command: vec!["fetch".into(), source_uri.clone()],
        materials: Artifacts::new(),
        products: source_artifacts,
        byproducts: serde_json::Map::new(),
        environment: serde_json::Map::new(),
    };
    let src_time = t_src.elapsed();

    // Bind the run: the certificate names this pipeline file, this source and this run.
    let pipeline_abs =
        std::fs::canonicalize(&opts.pipeline).map_err(|e| Error::io(&opts.pipeline, e))?;
    let pipeline_sha = observer::sha256_hex(&pipeline_bytes);
    let claims = build_claims(&BuildFacts {
        builder_id: &builder_id,
        pipeline_path: &pipeline_abs,
        pipeline_sha256: &pipeline_sha,
        source: &source,
        tree_digest: &tree,
        invocation: &invocation,
    })?;
    attestor.begin(&builder_id, &claims)?;
    check_empty_out(out)?;
    for d in [&links_dir, &art_dir] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }

    let ctx = Ctx {
        p: &p,
        ws: &ws,
        opts,
        out,
        links_dir: &links_dir,
        art_dir: &art_dir,
        builder_id: &builder_id,
        invocation: &invocation,
        pipeline_bytes: &pipeline_bytes,
        source_uri: &source_uri,
        source_ref: source.git_ref.clone(),
        source_digest,
        started,
        src_time,
        gate_trust,
    };
    std::thread::scope(|scope| finish(scope, ctx, source_link))
}

/// What the second half of a run needs from the first.
struct Ctx<'a, 'e> {
    p: &'a Pipeline,
    ws: &'a Path,
    opts: &'a RunOptions<'e>,
    out: &'a Path,
    links_dir: &'a Path,
    art_dir: &'a Path,
    builder_id: &'a str,
    invocation: &'a str,
    pipeline_bytes: &'a [u8],
    source_uri: &'a str,
    source_ref: Option<String>,
    source_digest: BTreeMap<String, String>,
    started: OffsetDateTime,
    src_time: Duration,
    gate_trust: Option<&'e [u8]>,
}

/// Run the steps, publish the artifacts into the output folder, sign the provenance,
/// wait for every attestation to be logged, then gate and publish.
fn finish<'s, 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    c: Ctx<'_, 'e>,
    source_link: Link,
) -> Result<RunReport, Error> {
    let (p, opts, out) = (c.p, c.opts, c.out);
    let attestor = opts.attestor;
    let mut o = run_steps(scope, p, c.ws, opts, c.links_dir, source_link)?;
    o.reports.insert(
        0,
        StepReport {
            name: SOURCE_STEP.into(),
            step_time: Duration::ZERO,
            observer_time: c.src_time,
            link: PathBuf::new(),
            log_index: None,
        },
    );
    let mut resolved = vec![ResourceDescriptor {
        uri: Some(c.source_uri.to_string()),
        digest: c.source_digest.clone(),
        ..ResourceDescriptor::default()
    }];
    resolved.append(&mut o.resolved);
    let byproducts = o
        .links
        .iter()
        .map(|(name, bytes)| ResourceDescriptor {
            name: format!("links/{name}"),
            digest: BTreeMap::from([("sha256".to_string(), observer::sha256_hex(bytes))]),
            ..ResourceDescriptor::default()
        })
        .collect();

    // Publish the last step's products as the artifacts.
    let last = p.steps.last().map(|s| s.name.as_str()).unwrap_or("");
    let mut subjects = Vec::new();
    for (name, d) in &o.last_products {
        let rel = name.strip_prefix(&format!("{last}/")).unwrap_or(name);
        let dst = c.art_dir.join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::copy(c.ws.join(name), &dst).map_err(|e| Error::io(&dst, e))?;
        // Re-hash the copy: the subject is what actually lands in the output folder.
        let sha = observer::sha256_file(&dst)?;
        if Some(&sha) != d.get("sha256") {
            return Err(Error::Artifact {
                step: last.to_string(),
                reason: format!("artifact {rel} changed while being published"),
            });
        }
        subjects.push((rel.to_string(), sha));
    }
    for (name, d) in std::mem::take(&mut o.consumed_source) {
        resolved.push(ResourceDescriptor {
            name,
            digest: d,
            ..ResourceDescriptor::default()
        });
    }
    let pin = observer::ProvenanceInput {
        subjects: subjects.clone(),
        pipeline_name: p.name.clone(),
        pipeline_file: opts
            .pipeline
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        pipeline_sha256: observer::sha256_hex(c.pipeline_bytes),
        source_uri: c.source_uri.to_string(),
        source_ref: c.source_ref.clone(),
        source_digest: c.source_digest,
        resolved,
        builder_id: c.builder_id.to_string(),
        steps: std::mem::take(&mut o.steps_json),
        trust_domain: opts.trust_domain.clone(),
        invocation_id: c.invocation.to_string(),
        started_on: rfc3339(c.started),
        finished_on: rfc3339(now()),
        byproducts,
    };
    let st = observer::provenance_statement(&pin);
    let env = attestor.sign(&observer::statement_bytes(&st)?, "provenance")?;
    let mut line = serde_json::to_vec(
        &serde_json::from_slice::<serde_json::Value>(&env.to_json()).unwrap_or_default(),
    )
    .unwrap_or_default();
    line.push(b'\n');
    let provenance = out.join("provenance.intoto.jsonl");
    write(&provenance, &line)?;
    let prov_handle = scope.spawn(move || attestor.record(&env, "provenance"));

    // Wait for the log: links first (in step order), then the provenance.
    if let Some(pr) = opts.progress {
        pr.attesting();
    }
    let wait = Instant::now();
    for (i, pnd) in o.pending.drain(..).enumerate() {
        let rec = pnd.handle.join().map_err(|_| Error::Signing {
            what: pnd.what.clone(),
            reason: "the recording thread panicked".into(),
        })??;
        let (name, _) = &o.links[i];
        if let Some(b) = &rec.bundle {
            let stem = name.trim_end_matches(".link");
            write(&c.links_dir.join(format!("{stem}.sigstore.json")), b)?;
        }
        if let Some(r) = o.reports.get_mut(i) {
            r.link = c.links_dir.join(name);
            r.log_index = rec.log_index;
        }
    }
    let prov_rec = prov_handle.join().map_err(|_| Error::Signing {
        what: "provenance".into(),
        reason: "the recording thread panicked".into(),
    })??;
    let attest_wait = wait.elapsed();
    let provenance_bundle = match &prov_rec.bundle {
        Some(b) => {
            let path = out.join(PROVENANCE_BUNDLE);
            write(&path, b)?;
            Some(path)
        }
        None => None,
    };

    if let Some(h) = opts.hooks {
        h.before_gate(out);
    }
    // The gate verifies exactly what is published: a private staged copy when publishing,
    // which is then renamed into place; later writes to the output folder cannot reach it.
    let staged = match &opts.publish_dir {
        Some(pd) => Some(publish::stage(out, pd)?),
        None => None,
    };
    let checked: &Path = staged.as_ref().map_or(out, |s| s.path());
    let gate = match (&p.gate, c.gate_trust, &opts.issuer) {
        (Some(g), Some(trusted_root), Some(issuer)) => Some(gate::check(&GateInput {
            pipeline: p,
            pipeline_sha256: &observer::sha256_hex(c.pipeline_bytes),
            gate: g,
            out_dir: checked,
            trusted_root,
            issuer,
            source_uri: c.source_uri,
        })?),
        _ => None,
    };
    if let Some(h) = opts.hooks {
        h.after_gate(out);
    }
    let published = match (staged, &opts.publish_dir) {
        (Some(st), Some(pd)) => {
            st.commit()?;
            Some(pd.clone())
        }
        _ => None,
    };
    Ok(RunReport {
        steps: o.reports,
        provenance,
        provenance_bundle,
        provenance_log_index: prov_rec.log_index,
        subjects,
        builder_id: c.builder_id.to_string(),
        signer_identity: attestor.identity().map(str::to_string),
        invocation_id: c.invocation.to_string(),
        attest_wait,
        gate,
        published,
    })
}
