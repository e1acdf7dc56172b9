//! The `chainseal` command line.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod authority_cmd;
mod bench_cmd;
mod bench_factory;
mod demo_cmd;
mod factory_cmd;
mod intoto_cmd;
mod log_client_cmd;
mod log_cmd;
mod provenance_cmd;
mod sign_cmd;
mod verify_cmd;
mod witness_cmd;

/// Secure a software supply chain end to end: sign, log, attest and verify.
#[derive(Parser)]
#[command(name = "chainseal", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr (servers log each start, refusal and failure; `RUST_LOG`
    /// sets the level, e.g. `RUST_LOG=debug` for every request).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logs to stderr: `RUST_LOG` if set, else `info` for servers and `warn` for the rest
/// (whose output is their report).
fn init_logging(format: LogFormat, server: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if server { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => b.try_init(),
        LogFormat::Json => b.json().try_init(),
    };
}

impl Command {
    /// Whether the command runs a long-lived server (its logs are its output).
    fn is_server(&self) -> bool {
        matches!(
            self,
            Command::Log(log_cmd::LogCommand::Serve(_))
                | Command::Witness(witness_cmd::WitnessCommand::Serve(_))
                | Command::Authority(authority_cmd::AuthorityCommand::Serve(_))
                | Command::Stack(authority_cmd::StackCommand::Serve(_))
        )
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole system offline: embedded stack, the example build through the
    /// factory, end-to-end verification, and two supply-chain attacks being caught.
    #[command(after_help = "Examples:
  chainseal demo
  chainseal demo --dir /tmp/demo    # keep everything in a folder of your choice

Exit status: 0 when the honest build verifies and both attacks are caught, 1 otherwise.")]
    Demo(demo_cmd::DemoArgs),
    /// Verify a signature bundle over a blob, offline.
    #[command(after_help = "Examples:
  chainseal verify-blob --bundle a.txt.sigstore.json \\
      --certificate-identity you@example.com --certificate-oidc-issuer https://accounts.google.com a.txt
  chainseal verify-blob --bundle b.sigstore.json --key cosign.pub --json sha256:9f86d08…
  chainseal verify-blob --bundle a.sigstore.json --trusted-root trusted_root.json \\
      --certificate-identity-regexp '^https://github\\.com/org/repo/\\.github/workflows/[^@]+@refs/tags/v.*$' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com a.txt

Regular expressions are unanchored, as in cosign: anchor them with ^…$.")]
    VerifyBlob {
        #[command(flatten)]
        args: verify_cmd::VerifyArgs,
        /// The artifact: a file path, or sha256:<hex> of it.
        artifact: String,
    },
    /// Verify an attestation bundle (in-toto statement in DSSE) whose subject is the blob.
    #[command(after_help = "Example:
  chainseal verify-blob-attestation --bundle prov.sigstore.json --type https://slsa.dev/provenance/v1 \\
      --certificate-identity-regexp '^https://github.com/org/' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com app.tar.gz")]
    VerifyBlobAttestation {
        #[command(flatten)]
        args: verify_cmd::VerifyArgs,
        /// Required predicate type of the statement.
        #[arg(long = "type", value_name = "URI")]
        predicate_type: Option<String>,
        /// The artifact: a file path, or sha256:<hex> of it.
        artifact: String,
    },
    /// The sigstore-conformance client protocol.
    #[command(subcommand)]
    Conformance(ConformanceCommand),
    /// in-toto: record supply-chain steps and verify layouts.
    #[command(subcommand)]
    Intoto(intoto_cmd::IntotoCommand),
    /// Generate a signing key pair (encrypted private key, PEM public key).
    #[command(after_help = "Examples:
  chainseal generate-key-pair                       # cosign.key (encrypted) + cosign.pub
  chainseal generate-key-pair --kind ed25519 --output-key-prefix release

The password comes from CHAINSEAL_PASSWORD or COSIGN_PASSWORD, else a prompt (twice).
An existing key is never replaced unless --force is given.")]
    GenerateKeyPair(sign_cmd::GenerateKeyPairArgs),
    /// Sign a blob into a Sigstore bundle (with --key, or keyless with --identity-token).
    #[command(after_help = "Examples:
  chainseal sign-blob --key cosign.key --bundle app.tar.gz.sigstore.json app.tar.gz
  chainseal sign-blob --identity-token \"$(cat token.jwt)\" \\
      --trust-config stack/client_trust_config.json --bundle app.tar.gz.sigstore.json app.tar.gz

The password of --key comes from CHAINSEAL_PASSWORD or COSIGN_PASSWORD, else a prompt.
A bundle that would not verify is never written.")]
    SignBlob(sign_cmd::SignBlobArgs),
    /// Attest a blob: an in-toto statement in DSSE, in a Sigstore bundle.
    #[command(after_help = "Example:
  chainseal attest-blob --key cosign.key --predicate provenance.json \\
      --type https://slsa.dev/provenance/v1 --bundle app.tar.gz.intoto.sigstore.json app.tar.gz")]
    AttestBlob(sign_cmd::AttestBlobArgs),
    /// CA (Fulcio API), TSA and development OIDC issuer.
    #[command(subcommand)]
    Authority(authority_cmd::AuthorityCommand),
    /// Log, witness and authority in one process on loopback.
    #[command(subcommand)]
    Stack(authority_cmd::StackCommand),
    /// Verify SLSA provenance for artifacts, offline (slsa-verifier's flags).
    #[command(after_help = "Examples:
  chainseal verify-provenance --provenance-path app.intoto.jsonl \\
      --source-uri github.com/org/repo --source-tag v1.2.3 app.tar.gz
  chainseal verify-provenance --provenance-path out/provenance.sigstore.json \\
      --builder-id <factory builder id> --source-uri <source> \\
      --pipeline pipeline.yaml --certificate-oidc-issuer https://stack.local --json app.tar.gz

Exit status: 0 when every artifact verifies, 1 otherwise (the failed check is named).")]
    VerifyProvenance(provenance_cmd::VerifyProvenanceArgs),
    /// Run a pipeline in the secure software factory (sandboxed steps, signed links, SLSA provenance).
    #[command(subcommand)]
    Factory(factory_cmd::FactoryCommand),
    /// Transparency log: serve, monitor, load-test.
    #[command(subcommand)]
    Log(log_cmd::LogCommand),
    /// Transparency log witness (C2SP tlog-witness).
    #[command(subcommand)]
    Witness(witness_cmd::WitnessCommand),
    /// Measure chainseal's own speed.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Bundles verified per second in one process.
    #[command(after_help = "Example:
  chainseal bench verify --threads 2 --seconds 5 --bundle b.sigstore.json \\
      --certificate-identity you@example.com --certificate-oidc-issuer https://accounts.google.com a.txt")]
    Verify(bench_cmd::BenchVerifyArgs),
    /// The factory's own overhead per step (signing, logging and the gate included),
    /// against an in-process stack.
    #[command(after_help = "Example:
  chainseal bench factory --steps 16 --runs 5")]
    Factory(bench_factory::BenchFactoryArgs),
}

#[derive(Subcommand)]
enum ConformanceCommand {
    /// Verify a bundle (exit 0 = valid); one line on stderr names the failed check.
    VerifyBundle {
        /// Use the staging instance (its root is not embedded: give --trusted-root).
        #[arg(long)]
        staging: bool,
        #[command(flatten)]
        args: verify_cmd::VerifyArgs,
        /// The artifact path or sha256:<hex>.
        artifact: String,
    },
    /// Sign a bundle per the conformance protocol.
    SignBundle(sign_cmd::ConformanceSignArgs),
}

/// `verify-blob` and `verify-blob-attestation` parsed on their own: building the whole
/// command tree costs more than the verification's signatures (hundreds of arguments,
/// help texts and their allocations), and these are the commands run once per artifact
/// in pipelines and admission checks. Only a successful parse is used; `--help`, a
/// usage error or anything else goes through the full parser, so messages stay the same.
#[derive(Parser)]
#[command(
    name = "chainseal",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct FastVerify {
    #[command(subcommand)]
    command: FastVerifyCommand,
}

#[derive(Subcommand)]
enum FastVerifyCommand {
    VerifyBlob {
        #[command(flatten)]
        args: verify_cmd::VerifyArgs,
        artifact: String,
    },
    VerifyBlobAttestation {
        #[command(flatten)]
        args: verify_cmd::VerifyArgs,
        #[arg(long = "type", value_name = "URI")]
        predicate_type: Option<String>,
        artifact: String,
    },
}

fn fast_verify() -> Option<anyhow::Result<ExitCode>> {
    let first = std::env::args_os().nth(1)?;
    if first != "verify-blob" && first != "verify-blob-attestation" {
        return None;
    }
    if std::env::args_os().any(|a| a == "-h" || a == "--help") {
        return None;
    }
    Some(match FastVerify::try_parse().ok()?.command {
        FastVerifyCommand::VerifyBlob { args, artifact } => {
            verify_cmd::run(&args, &artifact, Some(false), None)
        }
        FastVerifyCommand::VerifyBlobAttestation {
            args,
            predicate_type,
            artifact,
        } => verify_cmd::run(&args, &artifact, Some(true), predicate_type.as_deref()),
    })
}

fn main() -> ExitCode {
    if let Some(result) = fast_verify() {
        return finish(result);
    }
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.command.is_server());
    let result = match cli.command {
        Command::VerifyBlob { args, artifact } => {
            verify_cmd::run(&args, &artifact, Some(false), None)
        }
        Command::VerifyBlobAttestation {
            args,
            predicate_type,
            artifact,
        } => verify_cmd::run(&args, &artifact, Some(true), predicate_type.as_deref()),
        Command::Conformance(ConformanceCommand::VerifyBundle {
            staging,
            args,
            artifact,
        }) => {
            if staging && args.trusted_root.is_none() {
                Err(anyhow::anyhow!(
                    "--staging needs --trusted-root: only the production root is embedded"
                ))
            } else {
                verify_cmd::run(&args, &artifact, None, None)
            }
        }
        Command::Conformance(ConformanceCommand::SignBundle(args)) => {
            sign_cmd::conformance_sign(args)
        }
        Command::Demo(args) => demo_cmd::run(args),
        Command::GenerateKeyPair(args) => sign_cmd::generate_key_pair(args),
        Command::SignBlob(args) => sign_cmd::sign_blob(args),
        Command::AttestBlob(args) => sign_cmd::attest_blob(args),
        Command::Authority(cmd) => authority_cmd::run(cmd),
        Command::Stack(cmd) => authority_cmd::run_stack(cmd),
        Command::Intoto(cmd) => intoto_cmd::run(cmd),
        Command::VerifyProvenance(args) => provenance_cmd::run(args),
        Command::Factory(cmd) => factory_cmd::run(cmd),
        Command::Log(cmd) => log_cmd::run(cmd),
        Command::Witness(cmd) => witness_cmd::run(cmd),
        Command::Bench(BenchCommand::Verify(args)) => bench_cmd::run(&args),
        Command::Bench(BenchCommand::Factory(args)) => bench_factory::run(&args),
    };
    finish(result)
}

fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Every command a user runs (a leaf of the tree) shows at least one example in its
    /// `--help`; conformance commands are driven by test harnesses, not people.
    #[test]
    fn every_command_shows_an_example_in_its_help() {
        fn leaves(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
            for sub in cmd.get_subcommands() {
                leaves(sub, format!("{path} {}", sub.get_name()), out);
            }
            if cmd.get_subcommands().next().is_none() {
                out.push((path, cmd.clone()));
            }
        }
        let mut all = Vec::new();
        leaves(&super::Cli::command(), "chainseal".into(), &mut all);
        assert!(all.len() > 20, "only {} commands found", all.len());
        let missing: Vec<&str> = all
            .iter()
            .filter(|(path, _)| !path.starts_with("chainseal conformance"))
            .filter(|(_, c)| {
                !c.get_after_help()
                    .is_some_and(|h| h.to_string().contains("chainseal "))
            })
            .map(|(path, _)| path.as_str())
            .collect();
        assert!(missing.is_empty(), "no example in the help of: {missing:?}");
    }
}
