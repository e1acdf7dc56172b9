//! `chainseal log …` (owned by the log-server work; placeholder).

use std::process::ExitCode;

use clap::Subcommand;

use crate::log_client_cmd;

/// Transparency log subcommands.
#[derive(Subcommand)]
pub enum LogCommand {
    /// Serve a transparency log (C2SP tlog-tiles read API, Rekor v2 write API).
    Serve,
    /// Print the log's C2SP verifier key.
    Vkey,
    /// Monitor a log: verify its checkpoint and tiles, and consistency with the last one seen.
    Verify(log_client_cmd::LogVerifyArgs),
    /// Load-generate valid signed entries against a log.
    Load(log_client_cmd::LogLoadArgs),
}

/// Run a log subcommand.
pub fn run(cmd: LogCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LogCommand::Serve | LogCommand::Vkey => anyhow::bail!("not implemented yet"),
        LogCommand::Verify(args) => log_client_cmd::run_verify(args),
        LogCommand::Load(args) => log_client_cmd::run_load(args),
    }
}
