//! `chainseal factory run PIPELINE`: run a pipeline with every step in a fresh namespace
//! sandbox, writing artifacts, one signed in-toto link per step and signed SLSA provenance
//! v1 to an output folder; keyless runs log every attestation and gate the publish.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_factory::{Attestor, KeySigner, KeylessAttestor, Pipeline, RunOptions, RunReport};
use chainseal_intoto::SigningKey;
use chainseal_sign::{IdentityToken, SigningSetup, now_unix};
use clap::{Args, Subcommand};

/// Factory subcommands.
#[derive(Subcommand)]
pub enum FactoryCommand {
    /// Run a pipeline file in the factory.
    #[command(after_help = "Examples:
  chainseal stack serve --dir stack/ &
  chainseal factory run examples/hello/pipeline.yaml --stack stack/ --out out/ --publish dist/
  chainseal factory run pipeline.yaml --trust-config trust.json --identity-token \"$SVID\"
  chainseal factory run pipeline.yaml --key factory.pem --out out/    # offline, no gate

Pipeline file (YAML, strict: unknown fields are errors):
  name: hello                         # identity spiffe://<trust-domain>/factory/hello
  source: {path: .}                   # a folder inside the pipeline's folder, or
  # source: {git: ., revision: main}  # the committed tree at a branch, tag or commit
  steps:
    - name: build
      command: [gcc, -o, /out/hello, source/hello.c]   # or script: \"…\" (sh -eu -c)
      inputs: [source/*.c]            # read-only: source/… or <earlier step>/…
      outputs: [hello]                # must exist in /out afterwards
      network: false                  # true: the observer fetches the pins first
      pins: [{uri: https://…/dep.tgz, sha256: <64 hex>}]
      timeout: 600
  gate: {slsa-level: 3, identities: [spiffe://chainseal.local/factory/hello]}
Every step runs unprivileged in empty namespaces (no network, read-only inputs and
system folders, limits on memory, processes and output size). The source may not
overlap the stack, a key or the output; private keys in it are refused.

Keyless runs (--stack, or --trust-config with a token whose subject is the factory's
SPIFFE ID spiffe://<trust-domain>/factory/<pipeline> and which carries the build
claims) certify one ephemeral key for the run, bind the pipeline's digest, the source
and the run into its certificate, and log and timestamp every link and the
provenance. The pipeline's gate then verifies a private copy of the output before
--publish renames exactly that copy into place. Writes OUT/artifacts/,
OUT/links/<step>.<kid8>.link (+ .sigstore.json), OUT/provenance.intoto.jsonl
(+ OUT/provenance.sigstore.json). Without a credential an ephemeral key signs and its
public key is written to OUT/factory.pub.pem.
Exit status: 0 on success, 1 when a step, the gate or publishing fails.")]
    Run(RunArgs),
    /// Verify a run's output or published folder against the pipeline's gate, as a
    /// consumer (or an admission controller) would before deploying it.
    #[command(after_help = "Example:
  chainseal factory verify dist/ --pipeline examples/hello/pipeline.yaml \\
      --trusted-root stack/trusted_root.json --source-uri examples/hello \\
      --certificate-oidc-issuer \"$(cat stack/authority/url)\"

Runs the gate's checks on the folder's files: provenance for every artifact (allowed
identities, SLSA level, source), every link bundle, and the in-toto layout generated from
the pipeline. Exit status: 0 when every check passes, 1 naming the failed check.")]
    Verify(VerifyArgs),
}

/// `factory verify` arguments.
#[derive(Args)]
pub struct VerifyArgs {
    /// The folder: `artifacts/`, `links/`, `provenance.sigstore.json`.
    dir: PathBuf,
    /// The pipeline file whose gate and steps define what must hold.
    #[arg(long)]
    pipeline: PathBuf,
    /// The trusted root of the authority and log that signed the run.
    #[arg(long)]
    trusted_root: PathBuf,
    /// The expected source (repository URL, or a directory, relative paths allowed).
    #[arg(long)]
    source_uri: String,
    /// The OIDC issuer the factory's certificates must name (the stack's:
    /// `$(cat stack/authority/url)`); never taken from the certificate.
    #[arg(long)]
    certificate_oidc_issuer: String,
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
}

/// `factory run` arguments.
#[derive(Args)]
pub struct RunArgs {
    /// The pipeline file (YAML).
    pipeline: PathBuf,
    /// Output folder (created; must be empty).
    #[arg(long, default_value = "factory-out")]
    out: PathBuf,
    /// Publish the artifacts and attestations here once the gate passes (new or empty).
    #[arg(long)]
    publish: Option<PathBuf>,
    /// Sign with this private key (PEM), offline: no certificate, no log, no gate.
    #[arg(long, conflicts_with_all = ["stack", "trust_config"])]
    key: Option<PathBuf>,
    /// Sign keyless against a running `chainseal stack` in this folder: its development
    /// issuer vouches for the factory's SPIFFE ID.
    #[arg(long, conflicts_with = "trust_config")]
    stack: Option<PathBuf>,
    /// Sign keyless with this client trust config (trusted root + signing config) and an
    /// OIDC token whose subject is the factory's SPIFFE ID (--identity-token[-file]).
    #[arg(long)]
    trust_config: Option<PathBuf>,
    /// The OIDC token (good for runs shorter than one certificate, 10 minutes).
    #[arg(
        long,
        requires = "trust_config",
        conflicts_with = "identity_token_file"
    )]
    identity_token: Option<String>,
    /// A file holding the OIDC token, re-read whenever the run needs a new certificate
    /// (e.g. a SPIFFE JWT-SVID file that the workload API keeps fresh).
    #[arg(long, requires = "trust_config")]
    identity_token_file: Option<PathBuf>,
    /// The OIDC issuer the gate requires of the run's certificates, with --trust-config
    /// (default: the one issuer its signing config names; with --stack, the stack's).
    #[arg(long, conflicts_with = "stack")]
    certificate_oidc_issuer: Option<String>,
    /// Let the observer fetch pinned dependencies from loopback or private-range
    /// addresses (an internal mirror). Off: only public addresses are fetched from.
    #[arg(long)]
    fetch_allow_private: bool,
    /// SPIFFE trust domain of the builder id spiffe://<D>/factory/<pipeline>.
    #[arg(long = "trust-domain", default_value = "chainseal.local")]
    trust_domain: String,
    /// Print the run report as JSON.
    #[arg(long)]
    json: bool,
}

/// Dispatch a factory subcommand.
pub fn run(cmd: FactoryCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FactoryCommand::Run(a) => run_pipeline(a),
        FactoryCommand::Verify(a) => verify_folder(a),
    }
}

/// The factory's SPIFFE ID for `pipeline`.
pub fn builder_id(trust_domain: &str, pipeline: &Path) -> anyhow::Result<String> {
    let p = Pipeline::from_file(pipeline)?;
    Ok(chainseal_factory::factory::builder_id(
        trust_domain,
        &p.name,
    ))
}

/// The OIDC issuer of the stack in `stack_dir` (its development issuer's URL).
pub fn stack_issuer(stack_dir: &Path) -> anyhow::Result<String> {
    let f = stack_dir.join("authority").join("url");
    let url = std::fs::read_to_string(&f).with_context(|| {
        format!(
            "reading {} (is `chainseal stack serve --dir {}` running?)",
            f.display(),
            stack_dir.display()
        )
    })?;
    Ok(url.trim().to_string())
}

/// A keyless attestor for `builder_id` against the stack in `stack_dir`: its development
/// issuer mints the workload's token (the role SPIRE plays in a cluster).
pub fn stack_attestor(stack_dir: &Path, builder_id: &str) -> anyhow::Result<KeylessAttestor> {
    let ctc = stack_dir.join("client_trust_config.json");
    let json = std::fs::read(&ctc).with_context(|| {
        format!(
            "reading {} (is `chainseal stack serve --dir {}` running?)",
            ctc.display(),
            stack_dir.display()
        )
    })?;
    let setup = SigningSetup::from_client_trust_config(&json, now_unix())?;
    let (dir, id) = (stack_dir.to_path_buf(), builder_id.to_string());
    Ok(KeylessAttestor::new(
        setup,
        Box::new(move |claims| {
            let t = chainseal_authority::stack::workload_token_with_claims(
                &dir,
                &id,
                600,
                &claims.to_json(),
            )
            .map_err(|e| e.to_string())?;
            IdentityToken::new(t).map_err(|e| e.to_string())
        }),
    )?)
}

fn run_pipeline(a: RunArgs) -> anyhow::Result<ExitCode> {
    let mut secrets = Vec::new();
    let mut protected = Vec::new();
    let mut issuer = a.certificate_oidc_issuer.clone();
    let mut ephemeral = false;
    let attestor: Box<dyn Attestor> = if let Some(k) = &a.key {
        secrets.push(k.clone());
        Box::new(KeySigner::from_file(k).with_context(|| format!("reading key {}", k.display()))?)
    } else if let Some(stack) = &a.stack {
        let id = builder_id(&a.trust_domain, &a.pipeline)?;
        protected.push(stack.clone());
        issuer = Some(stack_issuer(stack)?);
        Box::new(stack_attestor(stack, &id)?)
    } else if let Some(tc) = &a.trust_config {
        let json = std::fs::read(tc).with_context(|| format!("reading {}", tc.display()))?;
        let setup = SigningSetup::from_client_trust_config(&json, now_unix())?;
        if issuer.is_none() {
            issuer = trust_config_issuer(&json);
        }
        let tokens: chainseal_factory::attestor::TokenSource =
            match (&a.identity_token, &a.identity_token_file) {
                (Some(t), _) => {
                    let t = IdentityToken::new(t.clone())?;
                    Box::new(move |_| Ok(t.clone()))
                }
                (None, Some(f)) => {
                    // A bearer token: as secret as a key.
                    secrets.push(f.clone());
                    let f = f.clone();
                    Box::new(move |_| {
                        let t = std::fs::read_to_string(&f)
                            .map_err(|e| format!("reading {}: {e}", f.display()))?;
                        IdentityToken::new(t).map_err(|e| e.to_string())
                    })
                }
                (None, None) => {
                    anyhow::bail!("--trust-config needs --identity-token or --identity-token-file")
                }
            };
        Box::new(KeylessAttestor::new(setup, tokens)?)
    } else {
        ephemeral = true;
        let pk = PrivateKey::generate(KeyKind::EcdsaP256).context("generating a key")?;
        Box::new(KeySigner::new(SigningKey::from_private(pk)?))
    };
    let opts = RunOptions {
        pipeline: a.pipeline.clone(),
        out_dir: a.out.clone(),
        trust_domain: a.trust_domain.clone(),
        attestor: attestor.as_ref(),
        secrets,
        protected,
        issuer,
        publish_dir: a.publish.clone(),
        hooks: None,
        fetch: chainseal_factory::fetch::FetchPolicy {
            allow_private: a.fetch_allow_private,
            ..Default::default()
        },
        progress: Some(&StderrProgress),
    };
    let report = match chainseal_factory::run(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chainseal factory: {e}");
            if let (Some(stack), chainseal_factory::Error::Signing { .. }) = (&a.stack, &e) {
                eprintln!(
                    "hint: the stack's CA, TSA or log did not answer; is `chainseal stack serve --dir {}` running?",
                    stack.display()
                );
            }
            return Ok(ExitCode::from(1));
        }
    };
    if ephemeral {
        let pem = attestor
            .public_key()
            .context("the ephemeral key")?
            .public_key()
            .to_pem()?;
        std::fs::write(a.out.join("factory.pub.pem"), pem)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_folder(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let pipeline_bytes =
        std::fs::read(&a.pipeline).with_context(|| format!("reading {}", a.pipeline.display()))?;
    let p = Pipeline::from_file(&a.pipeline)?;
    let gate = p.gate.as_ref().with_context(|| {
        format!(
            "{} has no gate: nothing says what must hold",
            a.pipeline.display()
        )
    })?;
    let root = std::fs::read(&a.trusted_root)
        .with_context(|| format!("reading {}", a.trusted_root.display()))?;
    let source_uri = local_source_uri(&a.source_uri);
    let pipeline_sha256 = chainseal_factory::observer::sha256_hex(&pipeline_bytes);
    let input = chainseal_factory::gate::GateInput {
        pipeline: &p,
        pipeline_sha256: &pipeline_sha256,
        gate,
        out_dir: &a.dir,
        trusted_root: &root,
        issuer: &a.certificate_oidc_issuer,
        source_uri: &source_uri,
    };
    match chainseal_factory::gate::check(&input) {
        Ok(g) => {
            if a.json {
                let v = serde_json::json!({
                    "verified": true, "identity": g.identity, "issuer": g.issuer,
                    "slsaBuildLevel": g.slsa_level, "checks": g.checks,
                    "artifacts": g.artifacts.iter().map(|(n, d)| serde_json::json!({"name": n, "sha256": d})).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (n, d) in &g.artifacts {
                    println!("verified  {n}  sha256:{d}");
                }
                for c in &g.checks {
                    println!("  ✓ {c}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("chainseal factory verify: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The OIDC issuer a client trust config names: its signing config's one `oidcUrls`
/// entry (the stack writes its development issuer there). `None` when it names none or
/// several (then `--certificate-oidc-issuer` must say which).
fn trust_config_issuer(json: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    match v.pointer("/signingConfig/oidcUrls")?.as_array()?.as_slice() {
        [one] => one.get("url")?.as_str().map(str::to_string),
        _ => None,
    }
}

/// One line per step on stderr while a run goes (stdout stays the report, or JSON).
struct StderrProgress;

impl chainseal_factory::Progress for StderrProgress {
    fn step_started(&self, step: &str, index: usize, total: usize) {
        eprintln!("[{index}/{total}] {step} …");
    }
    fn step_finished(&self, step: &str, took: std::time::Duration, ok: bool) {
        let what = if ok { "done" } else { "FAILED" };
        eprintln!("      {step} {what} in {:.1} s", took.as_secs_f64());
    }
    fn step_output(&self, _step: &str, bytes: &[u8]) {
        use std::io::Write;
        let _ = std::io::stderr().write_all(bytes);
    }
    fn attesting(&self) {
        eprintln!("      waiting for the transparency log, then the gate …");
    }
}

/// `--source-uri` as given, or, when it names an existing local folder (relative paths
/// allowed), that folder's absolute path.
pub fn local_source_uri(given: &str) -> String {
    if given.contains("://") {
        return given.to_string();
    }
    match std::fs::canonicalize(given) {
        Ok(p) if p.is_dir() => p.display().to_string(),
        _ => given.to_string(),
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The run report as JSON (for scripts).
pub fn report_json(r: &RunReport) -> serde_json::Value {
    serde_json::json!({
        "builderId": r.builder_id,
        "signerIdentity": r.signer_identity,
        "invocationId": r.invocation_id,
        "steps": r.steps.iter().map(|s| serde_json::json!({
            "name": s.name,
            "stepMs": ms(s.step_time),
            "observerMs": ms(s.observer_time),
            "link": s.link,
            "logIndex": s.log_index,
        })).collect::<Vec<_>>(),
        "artifacts": r.subjects.iter().map(|(n, d)| serde_json::json!({"name": n, "sha256": d})).collect::<Vec<_>>(),
        "provenance": r.provenance,
        "provenanceBundle": r.provenance_bundle,
        "provenanceLogIndex": r.provenance_log_index,
        "attestWaitMs": ms(r.attest_wait),
        "gate": r.gate.as_ref().map(|g| serde_json::json!({
            "identity": g.identity, "issuer": g.issuer, "slsaBuildLevel": g.slsa_level,
            "checks": g.checks,
        })),
        "published": r.published,
    })
}

/// The run report for people.
pub fn print_report(r: &RunReport) {
    println!("builder     {}", r.builder_id);
    if let Some(id) = &r.signer_identity {
        println!("signed by   {id} (short-lived certificate)");
    }
    println!("invocation  {}", r.invocation_id);
    for (i, s) in r.steps.iter().enumerate() {
        let log = s.log_index.map_or(String::new(), |i| format!("  log #{i}"));
        if i == 0 && s.step_time.is_zero() {
            // The observer's own retrieval of the source: no sandbox.
            println!(
                "step {:<14} {:>8} by the observer {:>6.2} ms{log}",
                s.name,
                "fetched",
                ms(s.observer_time),
            );
            continue;
        }
        println!(
            "step {:<14} {:>8.1} ms sandboxed {:>6.2} ms observer{log}",
            s.name,
            ms(s.step_time),
            ms(s.observer_time),
        );
    }
    for (name, sha) in &r.subjects {
        println!("artifact    {name}  sha256:{sha}");
    }
    let log = r
        .provenance_log_index
        .map_or(String::new(), |i| format!("  log #{i}"));
    println!(
        "provenance  {}{log}",
        r.provenance_bundle
            .as_ref()
            .unwrap_or(&r.provenance)
            .display()
    );
    if let Some(g) = &r.gate {
        println!(
            "gate        passed: SLSA Build L{}, identity {}",
            g.slsa_level, g.identity
        );
        for c in &g.checks {
            println!("            ✓ {c}");
        }
    }
    if let Some(p) = &r.published {
        println!("published   {}", p.display());
    }
}
