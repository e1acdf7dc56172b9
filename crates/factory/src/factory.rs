//! A factory run: materialise the source, run each step in its sandbox under the
//! observer, publish the last step's products as the artifacts, and sign the provenance.
//!
//! Output directory layout:
//! ```text
//! OUT/artifacts/…                 the last step's products (the provenance subjects)
//! OUT/links/<step>.<kid8>.link    one DSSE-signed in-toto link per step
//! OUT/provenance.intoto.jsonl     DSSE-signed SLSA provenance v1 (one line)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chainseal_intoto::models::Artifacts;
use chainseal_intoto::run::link_filename;
use chainseal_model::statement::ResourceDescriptor;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;
use crate::observer::{self, Signer};
use crate::pipeline::{Pipeline, SOURCE_DIR, Step};
use crate::sandbox::{self, SandboxSpec};

/// Options of one run.
pub struct RunOptions<'a> {
    /// The pipeline file.
    pub pipeline: PathBuf,
    /// Where artifacts, links and provenance are written (created; must be empty).
    pub out_dir: PathBuf,
    /// SPIFFE trust domain of the builder id.
    pub trust_domain: String,
    /// The factory's signer.
    pub signer: &'a dyn Signer,
    /// Host paths steps must never see (the key file).
    pub secrets: Vec<PathBuf>,
}

/// What one step did and cost.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Step name.
    pub name: String,
    /// Wall time of the sandboxed command (including sandbox setup).
    pub step_time: Duration,
    /// Observer time: hashing materials and products, pin checks, building, signing and
    /// writing the link.
    pub observer_time: Duration,
    /// The link file written.
    pub link: PathBuf,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Per-step reports, in order.
    pub steps: Vec<StepReport>,
    /// The provenance file.
    pub provenance: PathBuf,
    /// `(artifact name, sha256)` — the provenance subjects.
    pub subjects: Vec<(String, String)>,
    /// The builder id.
    pub builder_id: String,
    /// Invocation id.
    pub invocation_id: String,
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

/// Copy a source tree (regular files and folders only; `.git` skipped).
fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    for e in walkdir::WalkDir::new(from)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| Error::Source {
            reason: format!("reading {}: {e}", from.display()),
        })?;
        let rel = e.path().strip_prefix(from).unwrap_or(e.path());
        if rel
            .components()
            .next()
            .is_some_and(|c| c.as_os_str() == ".git")
        {
            continue;
        }
        let dst = to.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&dst).map_err(|err| Error::io(&dst, err))?;
        } else if ft.is_file() {
            std::fs::copy(e.path(), &dst).map_err(|err| Error::io(&dst, err))?;
        } else {
            return Err(Error::Source {
                reason: format!("{} is a symlink or special file", e.path().display()),
            });
        }
    }
    Ok(())
}

/// Materialise the source into `dst`; returns `(uri, extra digests)`.
fn fetch_source(
    p: &Pipeline,
    base: &Path,
    dst: &Path,
) -> Result<(String, BTreeMap<String, String>), Error> {
    if let Some(path) = &p.source.path {
        let src = base.join(path);
        let src = std::fs::canonicalize(&src).map_err(|e| Error::Source {
            reason: format!("source.path {}: {e}", src.display()),
        })?;
        copy_tree(&src, dst)?;
        return Ok((format!("file://{}", src.display()), BTreeMap::new()));
    }
    let (Some(repo), Some(rev)) = (&p.source.git, &p.source.revision) else {
        return Err(Error::Source {
            reason: "no source".into(),
        });
    };
    let git = |args: &[&str], cwd: &Path| -> Result<String, Error> {
        let o = std::process::Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| Error::Source {
                reason: format!("running git: {e}"),
            })?;
        if !o.status.success() {
            return Err(Error::Source {
                reason: format!(
                    "git {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            });
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let tmp = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    let clone = tmp.path().join("repo");
    let repo_arg = if Path::new(repo).exists() {
        base.join(repo).to_string_lossy().into_owned()
    } else {
        repo.clone()
    };
    git(
        &["clone", "--quiet", "--no-checkout", "--", &repo_arg, "repo"],
        tmp.path(),
    )?;
    git(&["checkout", "--quiet", "--detach", rev.as_str()], &clone)?;
    let commit = git(&["rev-parse", "HEAD"], &clone)?;
    copy_tree(&clone, dst)?;
    Ok((
        format!("git+{repo}@{rev}"),
        BTreeMap::from([("gitCommit".to_string(), commit)]),
    ))
}

/// Resolve a step's input patterns inside the workspace to `(host path, rel)` mounts.
fn resolve_inputs(step: &Step, ws: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for pat in &step.inputs {
        let pat = pat.trim_start_matches("./").trim_end_matches('/');
        let full = format!("{}/{}", glob::Pattern::escape(&ws.to_string_lossy()), pat);
        let matches = glob::glob(&full).map_err(|e| Error::Artifact {
            step: step.name.clone(),
            reason: format!("input '{pat}': bad pattern: {e}"),
        })?;
        let mut n = 0;
        for m in matches {
            let m = m.map_err(|e| Error::Artifact {
                step: step.name.clone(),
                reason: format!("input '{pat}': {e}"),
            })?;
            let rel = m
                .strip_prefix(ws)
                .unwrap_or(&m)
                .to_string_lossy()
                .into_owned();
            n += 1;
            if out
                .iter()
                .any(|(_, r)| rel.starts_with(&format!("{r}/")) || *r == rel)
            {
                continue;
            }
            out.retain(|(_, r)| !r.starts_with(&format!("{rel}/")));
            out.push((m, rel));
        }
        if n == 0 {
            return Err(Error::Artifact {
                step: step.name.clone(),
                reason: format!("input '{pat}' matched nothing in the workspace"),
            });
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Check a fetching step's products against its pins: every file must be pinned (by
/// file name and digest) and every pin must be present.
fn check_pins(step: &Step, products: &Artifacts) -> Result<(), Error> {
    if step.pins.is_empty() {
        return Ok(());
    }
    let prefix = format!("{}/", step.name);
    for (name, d) in products {
        let file = name.strip_prefix(&prefix).unwrap_or(name);
        let sha = d.get("sha256").map(String::as_str).unwrap_or("");
        match step.pins.iter().find(|p| p.file_name() == file) {
            None => {
                return Err(Error::Pin {
                    step: step.name.clone(),
                    reason: format!("fetched '{file}' (sha256 {sha}) which is not pinned"),
                });
            }
            Some(p) if p.sha256 != sha => {
                return Err(Error::Pin {
                    step: step.name.clone(),
                    reason: format!(
                        "'{file}' from {} has sha256 {sha}, pinned {}",
                        p.uri, p.sha256
                    ),
                });
            }
            Some(_) => {}
        }
    }
    for p in &step.pins {
        if !products.contains_key(&format!("{prefix}{}", p.file_name())) {
            return Err(Error::Pin {
                step: step.name.clone(),
                reason: format!("pinned '{}' ({}) was not fetched", p.file_name(), p.uri),
            });
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
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

    // The output folder must be new or empty, and must not hold the key.
    let out = &opts.out_dir;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    if std::fs::read_dir(out)
        .map_err(|e| Error::io(out, e))?
        .next()
        .is_some()
    {
        return Err(Error::Artifact {
            step: "(factory)".into(),
            reason: format!("output folder {} is not empty", out.display()),
        });
    }
    let links_dir = out.join("links");
    let art_dir = out.join("artifacts");
    for d in [&links_dir, &art_dir] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }

    let ws_tmp = tempfile::Builder::new()
        .prefix("chainseal-factory-")
        .tempdir()
        .map_err(|e| Error::io("tempdir", e))?;
    let ws = std::fs::canonicalize(ws_tmp.path()).map_err(|e| Error::io(ws_tmp.path(), e))?;
    let src_dir = ws.join(SOURCE_DIR);
    std::fs::create_dir_all(&src_dir).map_err(|e| Error::io(&src_dir, e))?;
    let (source_uri, mut source_digest) = fetch_source(&p, base, &src_dir)?;
    let source_files = observer::list_files(&src_dir, SOURCE_DIR, "source")?;
    let source_artifacts = observer::hash_files(&source_files)?;
    source_digest.insert("sha256".into(), observer::tree_digest(&source_artifacts));

    let mut reports = Vec::new();
    let mut resolved = vec![ResourceDescriptor {
        uri: Some(source_uri.clone()),
        digest: source_digest.clone(),
        ..ResourceDescriptor::default()
    }];
    let mut consumed_source = Artifacts::new();
    let mut last_products = Artifacts::new();
    let mut byproducts = Vec::new();
    let mut steps_json = Vec::new();
    for step in &p.steps {
        let t0 = Instant::now();
        let inputs = resolve_inputs(step, &ws)?;
        let mut materials = Artifacts::new();
        for (host, rel) in &inputs {
            materials.extend(observer::hash_files(&observer::list_files(
                host, rel, &step.name,
            )?)?);
        }
        for (name, d) in &materials {
            if name.starts_with(&format!("{SOURCE_DIR}/")) {
                consumed_source.insert(name.clone(), d.clone());
            }
        }
        let step_out = ws.join(&step.name);
        std::fs::create_dir(&step_out).map_err(|e| Error::io(&step_out, e))?;
        let argv = step.argv();
        let spec = SandboxSpec {
            step: step.name.clone(),
            argv: argv.clone(),
            inputs,
            out_dir: step_out.clone(),
            network: step.network,
            timeout_secs: step.timeout_secs(),
            secrets: opts.secrets.clone(),
        };
        let t1 = Instant::now();
        let outcome = sandbox::run(&spec)?;
        let t2 = Instant::now();
        if !outcome.success {
            return Err(Error::StepFailed {
                step: step.name.clone(),
                status: outcome.reason,
                stderr_tail: observer::tail(&outcome.stderr, 2000),
            });
        }
        let products =
            observer::hash_files(&observer::list_files(&step_out, &step.name, &step.name)?)?;
        for o in &step.outputs {
            let o = o.trim_start_matches("./").trim_end_matches('/');
            let want = format!("{}/{o}", step.name);
            if !products
                .keys()
                .any(|k| *k == want || k.starts_with(&format!("{want}/")))
            {
                return Err(Error::Artifact {
                    step: step.name.clone(),
                    reason: format!("declared output '{o}' was not produced in /out"),
                });
            }
        }
        check_pins(step, &products)?;
        for pin in &step.pins {
            resolved.push(ResourceDescriptor {
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
        let env = observer::sign_link(&link, opts.signer)?;
        let bytes = env.to_json();
        let link_name = link_filename(&step.name, &opts.signer.key_id());
        let link_path = links_dir.join(&link_name);
        write(&link_path, &bytes)?;
        byproducts.push(ResourceDescriptor {
            name: format!("links/{link_name}"),
            digest: BTreeMap::from([("sha256".to_string(), observer::sha256_hex(&bytes))]),
            ..ResourceDescriptor::default()
        });
        steps_json.push(json!({
            "name": step.name,
            "command": argv,
            "network": step.network,
            "sandbox": observer::sandbox_description(step.network),
        }));
        last_products = products;
        reports.push(StepReport {
            name: step.name.clone(),
            step_time: t2 - t1,
            observer_time: (t1 - t0) + t2.elapsed(),
            link: link_path,
        });
    }

    // Publish the last step's products as the artifacts.
    let last = p.steps.last().map(|s| s.name.as_str()).unwrap_or("");
    let mut subjects = Vec::new();
    for (name, d) in &last_products {
        let rel = name.strip_prefix(&format!("{last}/")).unwrap_or(name);
        let dst = art_dir.join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::copy(ws.join(name), &dst).map_err(|e| Error::io(&dst, e))?;
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
    for (name, d) in consumed_source {
        resolved.push(ResourceDescriptor {
            name,
            digest: d,
            ..ResourceDescriptor::default()
        });
    }
    let builder_id = format!("spiffe://{}/factory/{}", opts.trust_domain, p.name);
    let pin = observer::ProvenanceInput {
        subjects: subjects.clone(),
        pipeline_name: p.name.clone(),
        pipeline_file: opts
            .pipeline
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        pipeline_sha256: observer::sha256_hex(&pipeline_bytes),
        source_uri,
        source_digest,
        resolved,
        builder_id: builder_id.clone(),
        steps: steps_json,
        trust_domain: opts.trust_domain.clone(),
        invocation_id: invocation.clone(),
        started_on: rfc3339(started),
        finished_on: rfc3339(now()),
        byproducts,
    };
    let st = observer::provenance_statement(&pin);
    let env = observer::sign_provenance(&st, opts.signer)?;
    let mut line = serde_json::to_vec(
        &serde_json::from_slice::<serde_json::Value>(&env.to_json()).unwrap_or_default(),
    )
    .unwrap_or_default();
    line.push(b'\n');
    let provenance = out.join("provenance.intoto.jsonl");
    write(&provenance, &line)?;
    Ok(RunReport {
        steps: reports,
        provenance,
        subjects,
        builder_id,
        invocation_id: invocation,
    })
}
