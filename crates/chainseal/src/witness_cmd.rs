//! `chainseal witness …`: a C2SP tlog-witness (crates/witness).

use std::path::PathBuf;
use std::process::ExitCode;

use chainseal_witness::WitnessConfig;
use clap::{Args, Subcommand};

/// Witness subcommands.
#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Serve a C2SP tlog-witness: POST /add-checkpoint, GET /checkpoint/<hex sha256(origin)>.
    #[command(after_help = "Example:
  chainseal witness serve --state /var/lib/witness --listen 127.0.0.1:8100 \\
      --name witness.example/w1 --log 'log.example/prod+1234abcd+AQ…'")]
    Serve(ServeArgs),
    /// Print the witness's cosignature/v1 verifier key.
    #[command(after_help = "Example:
  chainseal log serve --storage ./log --origin log.example.com/prod \\
      --witness \"$(chainseal witness vkey --state ./witness)@http://127.0.0.1:8081\"")]
    Vkey(VkeyArgs),
}

/// Arguments of `chainseal witness serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// State directory: the latest cosigned checkpoint per log, and the generated key.
    #[arg(long)]
    state: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8100")]
    listen: String,
    /// Witness key name, e.g. witness.example/w1 (required to generate the key).
    #[arg(long)]
    name: Option<String>,
    /// A cosignature/v1 private key file (PRIVATE+KEY+<name>+<id>+<base64>) to use
    /// instead of <state>/witness.key.
    #[arg(long)]
    key: Option<PathBuf>,
    /// A trusted log's verifier key (its name is the log's origin); repeatable.
    #[arg(long = "log", required = true, value_name = "VKEY")]
    logs: Vec<String>,
    /// Connection, time and load limits of the HTTP server.
    #[command(flatten)]
    limits: crate::log_cmd::ServerLimitsArgs,
}

/// Arguments of `chainseal witness vkey`.
#[derive(Args, Debug)]
pub struct VkeyArgs {
    /// The witness state directory.
    #[arg(long)]
    state: PathBuf,
    /// The key file, if not <state>/witness.key.
    #[arg(long)]
    key: Option<PathBuf>,
}

/// Run a witness subcommand.
pub fn run(cmd: WitnessCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WitnessCommand::Serve(args) => {
            let limits = args.limits.limits()?;
            let cfg = WitnessConfig {
                state_dir: args.state,
                name: args.name,
                key_file: args.key,
                logs: args.logs,
            };
            chainseal_witness::http::serve_blocking(&cfg, &args.listen, limits, |addr, w| {
                eprintln!("chainseal witness: listening on http://{addr}");
                eprintln!("chainseal witness: vkey {}", w.vkey());
            })?;
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Vkey(args) => {
            println!(
                "{}",
                chainseal_witness::read_vkey(&args.state, args.key.as_deref())?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
