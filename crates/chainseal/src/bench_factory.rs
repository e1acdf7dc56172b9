//! `chainseal bench factory`: the factory's own overhead per step, against an
//! in-process stack (keyless signing, logging and the gate included).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chainseal_authority::stack::{self, StackConfig};
use chainseal_factory::RunOptions;
use clap::Args;

use crate::factory_cmd::stack_attestor;

/// Arguments of `chainseal bench factory`.
#[derive(Args, Debug)]
pub struct BenchFactoryArgs {
    /// Steps per pipeline (each copies its predecessor's output: trivial work).
    #[arg(long, default_value_t = 16)]
    steps: usize,
    /// Pipeline runs measured.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn write_pipeline(dir: &Path, steps: usize) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("src/input.txt"), b"benchmark input\n")?;
    let mut y = String::from("name: bench\nsource: {path: src}\nsteps:\n");
    let mut prev = "source/input.txt".to_string();
    for i in 0..steps {
        y.push_str(&format!(
            "  - name: s{i}\n    inputs: [{prev}]\n    command: [cp, {prev}, /out/f]\n    outputs: [f]\n"
        ));
        prev = format!("s{i}/f");
    }
    y.push_str("gate:\n  slsa-level: 3\n  identities: [spiffe://chainseal.local/factory/bench]\n");
    let p = dir.join("pipeline.yaml");
    std::fs::write(&p, y)?;
    Ok(p)
}

/// Run the benchmark and print JSON figures.
pub fn run(args: &BenchFactoryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.steps > 0 && args.runs > 0,
        "--steps and --runs must be > 0"
    );
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stack_dir = tmp.path().join("stack");
    let running = rt.block_on(stack::start(&StackConfig {
        dir: stack_dir.clone(),
        listen_base: 0,
        issuers: Vec::new(),
    }))?;
    let pipeline = write_pipeline(&tmp.path().join("project"), args.steps)?;
    let id = "spiffe://chainseal.local/factory/bench";
    let (mut observer, mut sandboxed, mut overhead, mut waits, mut walls) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..args.runs {
        let t0 = Instant::now();
        let attestor = stack_attestor(&stack_dir, id)?;
        let r = chainseal_factory::run(&RunOptions {
            pipeline: pipeline.clone(),
            out_dir: tmp.path().join(format!("out{i}")),
            trust_domain: "chainseal.local".into(),
            attestor: &attestor,
            secrets: Vec::new(),
            protected: vec![stack_dir.clone()],
            issuer: Some(crate::factory_cmd::stack_issuer(&stack_dir)?),
            publish_dir: Some(tmp.path().join(format!("pub{i}"))),
            hooks: None,
            fetch: Default::default(),
            progress: None,
        })?;
        let wall = t0.elapsed().as_secs_f64() * 1e3;
        let steps: Vec<_> = r.steps.iter().filter(|s| s.name != "source").collect();
        let work: f64 = steps.iter().map(|s| s.step_time.as_secs_f64() * 1e3).sum();
        observer.extend(steps.iter().map(|s| s.observer_time.as_secs_f64() * 1e3));
        sandboxed.extend(steps.iter().map(|s| s.step_time.as_secs_f64() * 1e3));
        overhead.push((wall - work) / args.steps as f64);
        waits.push(r.attest_wait.as_secs_f64() * 1e3);
        walls.push(wall);
    }
    rt.block_on(running.stop());
    let out = serde_json::json!({
        "steps": args.steps,
        "runs": args.runs,
        "medianObserverMsPerStep": median(observer),
        "medianFactoryOverheadMsPerStep": median(overhead),
        "medianSandboxedStepMs": median(sandboxed),
        "medianAttestWaitMsPerRun": median(waits),
        "medianRunWallMs": median(walls),
        "notes": "observer = hashing + link building + hand-off on the critical path; factory overhead = (run wall time − Σ sandboxed step time) / steps, i.e. certificate, source retrieval, hashing, signing, timestamping, logging (waiting for a checkpoint), the gate and publishing, amortised per step; sandboxed = namespace creation + the step's own (trivial) work",
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}
