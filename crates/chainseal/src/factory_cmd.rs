//! `chainseal factory run PIPELINE`: run a pipeline with every step in a fresh namespace
//! sandbox, writing artifacts, one signed in-toto link per step and signed SLSA provenance
//! v1 to an output folder.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_factory::{KeySigner, RunOptions, Signer};
use chainseal_intoto::SigningKey;
use clap::{Args, Subcommand};

/// Factory subcommands.
#[derive(Subcommand)]
pub enum FactoryCommand {
    /// Run a pipeline file in the factory.
    #[command(after_help = "Examples:
  chainseal factory run examples/hello/pipeline.yaml --out out/ --key factory.pem
  chainseal factory run pipeline.yaml --trust-domain example.org

Writes OUT/artifacts/ (the last step's products), OUT/links/<step>.<kid8>.link (DSSE)
and OUT/provenance.intoto.jsonl (DSSE, SLSA provenance v1). Without --key an ephemeral
P-256 key signs the run and its public key is written to OUT/factory.pub.pem.
Exit status: 0 on success, 1 when a step or check fails.")]
    Run(RunArgs),
}

/// `factory run` arguments.
#[derive(Args)]
pub struct RunArgs {
    /// The pipeline file (YAML).
    pipeline: PathBuf,
    /// Output folder (created; must be empty).
    #[arg(long, default_value = "factory-out")]
    out: PathBuf,
    /// The factory's private key (PEM). Never visible to steps.
    #[arg(long)]
    key: Option<PathBuf>,
    /// SPIFFE trust domain of the builder id spiffe://<D>/factory/<pipeline>.
    #[arg(long = "trust-domain", default_value = "chainseal.local")]
    trust_domain: String,
}

/// Dispatch a factory subcommand.
pub fn run(cmd: FactoryCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FactoryCommand::Run(a) => run_pipeline(a),
    }
}

fn run_pipeline(a: RunArgs) -> anyhow::Result<ExitCode> {
    let (signer, secrets) = match &a.key {
        Some(k) => (
            KeySigner::from_file(k).with_context(|| format!("reading key {}", k.display()))?,
            vec![k.clone()],
        ),
        None => {
            let pk = PrivateKey::generate(KeyKind::EcdsaP256).context("generating a key")?;
            (KeySigner::new(SigningKey::from_private(pk)?), Vec::new())
        }
    };
    let opts = RunOptions {
        pipeline: a.pipeline.clone(),
        out_dir: a.out.clone(),
        trust_domain: a.trust_domain.clone(),
        signer: &signer,
        secrets,
    };
    let report = match chainseal_factory::run(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chainseal factory: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if a.key.is_none() {
        let pem = signer.public_key().public_key().to_pem()?;
        std::fs::write(a.out.join("factory.pub.pem"), pem)?;
    }
    println!("builder   {}", report.builder_id);
    println!("invocation {}", report.invocation_id);
    for s in &report.steps {
        println!(
            "step {:<16} {:>8.1} ms sandboxed, {:>6.2} ms observer  {}",
            s.name,
            s.step_time.as_secs_f64() * 1e3,
            s.observer_time.as_secs_f64() * 1e3,
            s.link.display()
        );
    }
    for (name, sha) in &report.subjects {
        println!("artifact  {name}  sha256:{sha}");
    }
    println!("provenance {}", report.provenance.display());
    Ok(ExitCode::SUCCESS)
}
