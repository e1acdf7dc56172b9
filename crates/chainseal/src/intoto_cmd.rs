//! `chainseal intoto …`: record supply-chain steps as signed in-toto links, sign layouts,
//! and verify a supply chain against a layout. Flags follow in-toto 3.1.0's CLI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chainseal_intoto::record::RecordOptions;
use chainseal_intoto::run::{self, LinkFormat, RunOptions};
use chainseal_intoto::{Format, InspectionDir, Key, Metadata, SigningKey, VerifyOptions};
use clap::{Args, Subcommand};

/// in-toto subcommands.
#[derive(Subcommand)]
pub enum IntotoCommand {
    /// Verify a supply chain against a signed layout (Metablock or DSSE).
    #[command(after_help = "Examples:
  chainseal intoto verify --layout root.layout --verification-keys alice.pub
  chainseal intoto verify -l root.layout -k alice.pub --link-dir links/ \\
      --substitution-parameters VERSION=1.2.3

Exit status: 0 when the chain verifies, 1 when it does not (one line on stderr says
which step, rule and artifacts failed), 2 on usage errors.")]
    Verify(VerifyArgs),
    /// Record materials, run a command, record products, and write a signed link.
    #[command(after_help = "Examples:
  chainseal intoto run --step-name package --signing-key bob.pem \\
      --materials src/ --products app.tar.gz -- tar czf app.tar.gz src
  chainseal intoto run -n review -k carl.pem -m doc.pdf --no-command --use-dsse

Writes <step>.<keyid[:8]>.link (Metablock by default; DSSE with --use-dsse; an
attestation-framework Statement with the link/v0.3 predicate with --attestation).")]
    Run(RunArgs),
    /// Record a step in two parts, for work that is not one command.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Sign (or with --verify, check the signatures of) a link or layout file.
    #[command(after_help = "Examples:
  chainseal intoto sign -f root.layout -k alice.pem
  chainseal intoto sign -f layout.json -k alice.pem --use-dsse -o root.layout
  chainseal intoto sign -f root.layout -k alice.pub --verify

An unsigned payload ({\"_type\": \"layout\", …}) is wrapped in a Metablock, or in DSSE
with --use-dsse; an existing Metablock or DSSE file keeps its format.")]
    Sign(SignArgs),
    /// Print keys in the securesystemslib JSON form a layout's \"keys\" holds.
    #[command(after_help = "Example:
  chainseal intoto key alice.pub bob.pem   # {\"<keyid>\": {\"keytype\": …}, …}")]
    Key {
        /// Public (PEM or securesystemslib JSON) or private key files.
        #[arg(required = true)]
        keys: Vec<PathBuf>,
    },
}

/// `record start` / `record stop`.
#[derive(Subcommand)]
pub enum RecordCommand {
    /// Record materials into a signed preliminary link `.<step>.<keyid8>.link-unfinished`.
    #[command(after_help = "Example:
  chainseal intoto record start -n edit -k alice.pem -m README.md")]
    Start(RecordStartArgs),
    /// Record products and write the final `<step>.<keyid8>.link`.
    #[command(after_help = "Example:
  chainseal intoto record stop -n edit -k alice.pem -p README.md")]
    Stop(RecordStopArgs),
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The signed root layout.
    #[arg(short = 'l', long)]
    layout: PathBuf,
    /// Public keys (PEM or securesystemslib JSON); each must have signed the layout.
    #[arg(short = 'k', long = "verification-keys", alias = "layout-keys", num_args = 1.., required = true)]
    verification_keys: Vec<PathBuf>,
    /// Directory holding the link files.
    #[arg(long, default_value = ".")]
    link_dir: PathBuf,
    /// Seconds each inspection may run.
    #[arg(long = "inspection-timeout", default_value_t = 10)]
    inspection_timeout: u64,
    /// KEY=VALUE parameters substituted into the layout's rules and commands.
    #[arg(long = "substitution-parameters", num_args = 1.., value_name = "KEY=VALUE")]
    parameters: Vec<String>,
    /// Run inspections in the current folder (like the reference) instead of a temporary
    /// copy of it.
    #[arg(long)]
    inspect_in_place: bool,
    /// Print warnings (command mismatches, ignored link files).
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Args, Clone)]
struct ArtifactArgs {
    /// Gitignore-style patterns of artifacts not to record (replace the default
    /// `*.link*`, `.git`, `*.pyc`, `*~`).
    #[arg(long, num_args = 1.., value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Base path the artifact paths are relative to.
    #[arg(long)]
    base_path: Option<PathBuf>,
    /// Prefixes to strip from recorded artifact names.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    lstrip_paths: Vec<String>,
    /// Hash files with CRLF and CR line endings replaced by LF.
    #[arg(long)]
    normalize_line_endings: bool,
}

impl ArtifactArgs {
    fn options(&self) -> RecordOptions {
        RecordOptions {
            exclude: (!self.exclude.is_empty()).then(|| self.exclude.clone()),
            base_path: self.base_path.clone(),
            follow_symlink_dirs: true,
            normalize_line_endings: self.normalize_line_endings,
            lstrip_paths: self.lstrip_paths.clone(),
        }
    }
}

#[derive(Args)]
pub struct RunArgs {
    /// Name of the step (must match the layout).
    #[arg(short = 'n', long)]
    step_name: String,
    /// Private key (PEM PKCS#8/PKCS#1/SEC1, or securesystemslib JSON Ed25519).
    #[arg(short = 'k', long = "signing-key", alias = "key")]
    signing_key: PathBuf,
    /// Files or directories to record before the command.
    #[arg(short, long, num_args = 1..)]
    materials: Vec<String>,
    /// Files or directories to record after the command.
    #[arg(short, long, num_args = 1..)]
    products: Vec<String>,
    /// Record the command's stdout and stderr in the link.
    #[arg(short = 's', long)]
    record_streams: bool,
    /// Write the link without running a command.
    #[arg(short = 'x', long)]
    no_command: bool,
    #[command(flatten)]
    artifacts: ArtifactArgs,
    /// Directory to write the link to.
    #[arg(short = 'd', long)]
    metadata_directory: Option<PathBuf>,
    /// Write a DSSE envelope instead of a Metablock.
    #[arg(long)]
    use_dsse: bool,
    /// Write an attestation-framework Statement (link/v0.3 predicate) in DSSE.
    #[arg(long, conflicts_with = "use_dsse")]
    attestation: bool,
    /// Seconds the command may run (the reference's default is 10).
    #[arg(long, default_value_t = 10)]
    run_timeout: u64,
    /// The command and its arguments, after `--`.
    #[arg(last = true)]
    command: Vec<String>,
}

#[derive(Args)]
pub struct RecordStartArgs {
    /// Name of the step.
    #[arg(short = 'n', long)]
    step_name: String,
    /// Private key.
    #[arg(short = 'k', long = "signing-key", alias = "key")]
    signing_key: PathBuf,
    /// Files or directories to record as materials.
    #[arg(short, long, num_args = 1..)]
    materials: Vec<String>,
    #[command(flatten)]
    artifacts: ArtifactArgs,
    /// Write a DSSE envelope instead of a Metablock.
    #[arg(long)]
    use_dsse: bool,
    /// Write an attestation-framework Statement (link/v0.3 predicate) in DSSE.
    #[arg(long, conflicts_with = "use_dsse")]
    attestation: bool,
}

#[derive(Args)]
pub struct RecordStopArgs {
    /// Name of the step.
    #[arg(short = 'n', long)]
    step_name: String,
    /// Private key (the one used for `record start`).
    #[arg(short = 'k', long = "signing-key", alias = "key")]
    signing_key: PathBuf,
    /// Files or directories to record as products.
    #[arg(short, long, num_args = 1..)]
    products: Vec<String>,
    #[command(flatten)]
    artifacts: ArtifactArgs,
    /// Directory to write the link to.
    #[arg(short = 'd', long)]
    metadata_directory: Option<PathBuf>,
}

#[derive(Args)]
pub struct SignArgs {
    /// The link or layout file.
    #[arg(short = 'f', long)]
    file: PathBuf,
    /// Private keys to sign with (public keys with --verify).
    #[arg(short = 'k', long, num_args = 1.., required = true)]
    key: Vec<PathBuf>,
    /// Output path (default: layouts are overwritten, links go to <step>.<keyid8>.link).
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Keep existing signatures.
    #[arg(short = 'a', long)]
    append: bool,
    /// Check that every given public key has signed the file instead of signing.
    #[arg(long)]
    verify: bool,
    /// Wrap an unsigned payload in DSSE instead of a Metablock.
    #[arg(long)]
    use_dsse: bool,
}

/// Run an in-toto subcommand.
pub fn run(cmd: IntotoCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IntotoCommand::Verify(a) => verify(a),
        IntotoCommand::Run(a) => run_cmd(a),
        IntotoCommand::Record(RecordCommand::Start(a)) => record_start(a),
        IntotoCommand::Record(RecordCommand::Stop(a)) => record_stop(a),
        IntotoCommand::Sign(a) => sign(a),
        IntotoCommand::Key { keys } => key_json(&keys),
    }
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut keys = Vec::new();
    for p in &a.verification_keys {
        keys.push(Key::from_file(p)?);
    }
    let mut params = BTreeMap::new();
    for kv in &a.parameters {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("substitution parameter '{kv}' is not KEY=VALUE"))?;
        params.insert(k.to_string(), v.to_string());
    }
    let cwd = PathBuf::from(".");
    let opts = VerifyOptions {
        link_dir: a.link_dir.clone(),
        parameters: (!a.parameters.is_empty()).then_some(params),
        inspection_dir: if a.inspect_in_place {
            InspectionDir::InPlace(cwd)
        } else {
            InspectionDir::CopyOf(cwd)
        },
        inspection_timeout: Duration::from_secs(a.inspection_timeout),
        ..VerifyOptions::default()
    };
    match chainseal_intoto::verify_layout_file(&a.layout, &keys, &opts) {
        Ok(report) => {
            if a.verbose {
                for w in &report.warnings {
                    eprintln!("warning: {w}");
                }
            }
            eprintln!("in-toto verification passed: {}", a.layout.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("in-toto verification failed: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn format_of(use_dsse: bool, attestation: bool) -> LinkFormat {
    if attestation {
        LinkFormat::Statement
    } else if use_dsse {
        LinkFormat::Dsse
    } else {
        LinkFormat::Metablock
    }
}

fn run_cmd(a: RunArgs) -> anyhow::Result<ExitCode> {
    if a.command.is_empty() && !a.no_command {
        bail!("no command given: pass it after `--`, or use --no-command");
    }
    if !a.command.is_empty() && a.no_command {
        bail!("--no-command conflicts with a command after `--`");
    }
    let key = SigningKey::from_file(&a.signing_key)?;
    let opts = RunOptions {
        step_name: a.step_name,
        materials: a.materials,
        products: a.products,
        command: a.command,
        record_streams: a.record_streams,
        record: a.artifacts.options(),
        timeout: Some(Duration::from_secs(a.run_timeout)),
    };
    let path = run::run_and_write(
        &opts,
        &key,
        format_of(a.use_dsse, a.attestation),
        a.metadata_directory.as_deref(),
    )?;
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn record_start(a: RecordStartArgs) -> anyhow::Result<ExitCode> {
    let key = SigningKey::from_file(&a.signing_key)?;
    let path = run::record_start(
        &a.step_name,
        &a.materials,
        &a.artifacts.options(),
        &key,
        format_of(a.use_dsse, a.attestation),
        None,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn record_stop(a: RecordStopArgs) -> anyhow::Result<ExitCode> {
    let key = SigningKey::from_file(&a.signing_key)?;
    let path = run::record_stop(
        &a.step_name,
        &a.products,
        &a.artifacts.options(),
        &key,
        None,
        a.metadata_directory.as_deref(),
    )?;
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn load_for_signing(path: &Path, use_dsse: bool) -> anyhow::Result<Metadata> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    if v.get("_type").is_some() && v.get("signed").is_none() && v.get("payload").is_none() {
        let format = if use_dsse {
            Format::Dsse
        } else {
            Format::Metablock
        };
        return Ok(Metadata::new(v, format)?);
    }
    Ok(Metadata::from_json(&bytes, &path.display().to_string())?)
}

fn sign(a: SignArgs) -> anyhow::Result<ExitCode> {
    let mut md = load_for_signing(&a.file, a.use_dsse)?;
    if a.verify {
        for p in &a.key {
            let k = Key::from_file(p)?;
            if let Err(e) = md.verify(&k) {
                eprintln!("signature verification failed: {}: {e}", p.display());
                return Ok(ExitCode::from(1));
            }
        }
        eprintln!("signatures verified: {}", a.file.display());
        return Ok(ExitCode::SUCCESS);
    }
    if !a.append {
        md.clear_signatures();
    }
    let mut last_keyid = String::new();
    for p in &a.key {
        let k = SigningKey::from_file(p)?;
        md.sign(&k)?;
        last_keyid = k.public().keyid();
    }
    let out = match (&a.output, md.payload_type()) {
        (Some(o), _) => o.clone(),
        (None, "layout") => a.file.clone(),
        (None, _) => {
            let link =
                chainseal_intoto::Link::from_value(md.payload(), &a.file.display().to_string())?;
            a.file
                .parent()
                .unwrap_or(Path::new("."))
                .join(run::link_filename(&link.name, &last_keyid))
        }
    };
    run::write_file(&out, &md.to_json())?;
    eprintln!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn key_json(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut out = serde_json::Map::new();
    for p in paths {
        let key = match Key::from_file(p) {
            Ok(k) => k,
            Err(pub_err) => match SigningKey::from_file(p) {
                Ok(sk) => sk.public().clone(),
                Err(_) => return Err(pub_err.into()),
            },
        };
        out.insert(key.keyid(), key.to_json_with_keyid());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Object(out))?
    );
    Ok(ExitCode::SUCCESS)
}
