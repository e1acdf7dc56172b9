//! `chainseal demo`: the whole system on one machine, offline.
//!
//! 1. starts the embedded stack in-process (transparency log, witness, CA + CT log, TSA,
//!    development OIDC issuer), storing its state in a local folder;
//! 2. builds the example project (shipped in the repository, embedded in the binary)
//!    through the factory: isolated steps, a link per step, SLSA provenance, all signed
//!    with a short-lived certificate for `spiffe://chainseal.local/factory/hello` and
//!    logged; the gate verifies the run and the artifacts are published;
//! 3. verifies the published artifact again as a consumer would (`verify-provenance`);
//! 4. replays two attacks from the CNCF compromise catalog and shows the check that
//!    catches each: an artifact swapped after the build (publishing infrastructure
//!    compromise) and a source change that did not go through the pipeline (SolarWinds-
//!    style build tampering).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chainseal_authority::stack::{self, StackConfig};
use chainseal_crypto::keys::sha256;
use chainseal_factory::{Error as FactoryError, Hooks, RunOptions};
use chainseal_provenance::{Options, verify_provenance};
use chainseal_verify::{TrustMaterial, Verifier};
use clap::Args;

use crate::factory_cmd::{builder_id, print_report, stack_attestor, stack_issuer};

const PIPELINE: &str = include_str!("../../../examples/hello/pipeline.yaml");
const HELLO_C: &str = include_str!("../../../examples/hello/hello.c");
const GREETING_H: &str = include_str!("../../../examples/hello/vendor/greeting.h");
const TRUST_DOMAIN: &str = "chainseal.local";

/// `chainseal demo` arguments.
#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the stack's state, the example project, the runs and the published
    /// artifacts (created; must be new or empty). Default: a new folder under the system
    /// temporary directory, kept for inspection.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Plays a build-host implant: rewrites the fetched source between the step that
/// retrieved it and the build.
struct SourceImplant;

impl Hooks for SourceImplant {
    fn before_step(&self, step: &str, workspace: &Path) {
        if step == "build" {
            let f = workspace.join("fetch-source/hello.c");
            if let Ok(mut src) = std::fs::read_to_string(&f) {
                src.push_str("\n/* implant */ int backdoor(void) { return 42; }\n");
                let _ = std::fs::write(&f, src);
            }
        }
    }
}

/// Plays a compromised publishing host: swaps the built artifact before publication.
struct ArtifactSwap;

impl Hooks for ArtifactSwap {
    fn before_gate(&self, out_dir: &Path) {
        let _ = std::fs::write(
            out_dir.join("artifacts/hello.tar.gz"),
            b"a trojaned hello.tar.gz built elsewhere\n",
        );
    }
}

fn fresh_dir(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("chainseal-demo-")
            .tempdir()
            .context("creating a demo folder")?
            .keep(),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} is not empty; give a new folder with --dir",
            dir.display()
        );
    }
    std::fs::canonicalize(&dir).with_context(|| format!("resolving {}", dir.display()))
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let o = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=chainseal demo",
            "-c",
            "user.email=demo@chainseal.local",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .context("running git")?;
    anyhow::ensure!(
        o.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr).trim()
    );
    Ok(())
}

/// Write the example project. With git on the machine it becomes a repository and the
/// pipeline takes its source from branch `main` (the commit is recorded in the
/// provenance); without git, from the folder itself. Returns the pipeline path and
/// whether the source is git.
fn write_project(dir: &Path) -> anyhow::Result<(PathBuf, bool)> {
    std::fs::create_dir_all(dir.join("vendor"))?;
    std::fs::write(dir.join("hello.c"), HELLO_C)?;
    std::fs::write(dir.join("vendor/greeting.h"), GREETING_H)?;
    let p = dir.join("pipeline.yaml");
    let git_ok = std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !git_ok {
        std::fs::write(&p, PIPELINE)?;
        return Ok((p, false));
    }
    let text = PIPELINE.replace("source:\n  path: .", "source:\n  git: .\n  revision: main");
    anyhow::ensure!(
        text != PIPELINE,
        "the example pipeline's source is not `path: .`"
    );
    std::fs::write(&p, text)?;
    git(dir, &["init", "-q"])?;
    git(dir, &["add", "-A"])?;
    git(dir, &["commit", "-q", "-m", "hello 1.0"])?;
    Ok((p, true))
}

/// Run one attack; `Ok(true)` when the gate caught it and nothing was published.
fn attack(
    title: &str,
    stack_dir: &Path,
    pipeline: &Path,
    out: PathBuf,
    publish: PathBuf,
    hooks: &dyn Hooks,
) -> anyhow::Result<bool> {
    println!("\n== {title}");
    let id = builder_id(TRUST_DOMAIN, pipeline)?;
    let attestor = stack_attestor(stack_dir, &id)?;
    let r = chainseal_factory::run(&RunOptions {
        pipeline: pipeline.to_path_buf(),
        out_dir: out,
        trust_domain: TRUST_DOMAIN.into(),
        attestor: &attestor,
        secrets: Vec::new(),
        protected: vec![stack_dir.to_path_buf()],
        issuer: Some(stack_issuer(stack_dir)?),
        publish_dir: Some(publish.clone()),
        hooks: Some(hooks),
        fetch: Default::default(),
        progress: None,
    });
    match r {
        Err(FactoryError::Gate { check, reason }) => {
            println!("   CAUGHT by the gate, check '{check}':");
            println!("     {reason}");
            if publish.exists() {
                println!(
                    "   but {} exists: something was published!",
                    publish.display()
                );
                return Ok(false);
            }
            println!("   publish stopped: {} was not created", publish.display());
            Ok(true)
        }
        Err(e) => Err(anyhow::anyhow!(
            "the attack run failed before the gate: {e}"
        )),
        Ok(_) => {
            println!("   NOT CAUGHT: the tampered run was published");
            Ok(false)
        }
    }
}

/// Run the demo.
pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = fresh_dir(a.dir)?;
    let (pipeline, from_git) = write_project(&dir.join("hello"))?;
    let stack_dir = dir.join("stack");
    println!("chainseal demo in {}", dir.display());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let running = rt.block_on(stack::start(&StackConfig {
        dir: stack_dir.clone(),
        listen_base: 0,
        issuers: Vec::new(),
    }))?;
    println!(
        "\n== 1. Embedded stack (in-process, state in {})",
        stack_dir.display()
    );
    println!("   transparency log {}", running.log_url);
    println!("   witness          {}", running.witness_url);
    println!("   CA, TSA, OIDC    {}", running.authority_url);
    println!(
        "   dev OIDC issuer  {} (on in the demo's stack only: it mints tokens for any subject)",
        running.dev_issuer_url
    );

    println!("\n== 2. Build examples/hello through the factory");
    let id = builder_id(TRUST_DOMAIN, &pipeline)?;
    let attestor = stack_attestor(&stack_dir, &id)?;
    let published = dir.join("registry/hello");
    let report = chainseal_factory::run(&RunOptions {
        pipeline: pipeline.clone(),
        out_dir: dir.join("runs/1-honest"),
        trust_domain: TRUST_DOMAIN.into(),
        attestor: &attestor,
        secrets: Vec::new(),
        protected: vec![stack_dir.clone()],
        issuer: Some(stack_issuer(&stack_dir)?),
        publish_dir: Some(published.clone()),
        hooks: None,
        fetch: Default::default(),
        progress: None,
    })
    .context("the honest run failed")?;
    print_report(&report);

    println!("\n== 3. Verify the published artifact as a consumer (verify-provenance)");
    let trusted_root = std::fs::read(stack_dir.join("trusted_root.json"))?;
    let verifier = Verifier::new(TrustMaterial::from_json(&trusted_root)?);
    let prov = std::fs::read(published.join("provenance.sigstore.json"))?;
    let source = format!("{}", pipeline.parent().unwrap_or(&dir).display());
    let branch = from_git.then(|| "main".to_string());
    // What a consumer pins: the stack's issuer and the pipeline file it trusts.
    let issuer = stack_issuer(&stack_dir)?;
    let pipeline_sha256 = hex::encode(sha256(
        &std::fs::read(&pipeline).with_context(|| format!("reading {}", pipeline.display()))?,
    ));
    for (name, _) in &report.subjects {
        let bytes = std::fs::read(published.join("artifacts").join(name))?;
        let v = verify_provenance(
            &verifier,
            &prov,
            sha256(&bytes),
            &Options {
                source_uri: source.clone(),
                builder_id: Some(id.clone()),
                source_branch: branch.clone(),
                certificate_oidc_issuer: Some(issuer.clone()),
                pipeline_sha256: Some(pipeline_sha256.clone()),
                ..Options::default()
            },
        )
        .with_context(|| format!("verifying the published {name}"))?;
        println!(
            "   {name}: verified, builder {} (SLSA Build L{}), source {}{}, signed {}",
            v.builder.id,
            v.builder.slsa_build_level(),
            v.source_uri,
            v.source_ref
                .as_deref()
                .map_or(String::new(), |r| format!(" at {r}")),
            v.report
                .tlog_entries
                .first()
                .and_then(|e| e.log_index)
                .map_or(String::new(), |i| format!("and logged at index {i}"))
        );
    }

    let caught_swap = attack(
        "4. Attack: artifact swapped after the build (publishing infrastructure compromise)",
        &stack_dir,
        &pipeline,
        dir.join("runs/2-artifact-swap"),
        dir.join("registry/hello-swapped"),
        &ArtifactSwap,
    )?;
    let caught_implant = attack(
        "5. Attack: source changed outside the pipeline during the build (SolarWinds-style)",
        &stack_dir,
        &pipeline,
        dir.join("runs/3-source-implant"),
        dir.join("registry/hello-implant"),
        &SourceImplant,
    )?;
    rt.block_on(running.stop());

    println!();
    if caught_swap && caught_implant {
        println!(
            "Both attacks caught; only the honest build was published ({}).",
            published.display()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("An attack was NOT caught.");
        Ok(ExitCode::from(1))
    }
}
