//! `chainseal authority …` and `chainseal stack …` (owned by the authority work; placeholder).

use std::process::ExitCode;

use clap::Subcommand;

/// Authority subcommands: CA, TSA and development OIDC issuer.
#[derive(Subcommand)]
pub enum AuthorityCommand {
    /// Serve the CA (Fulcio v2 API), TSA (RFC 3161) and development OIDC issuer.
    Serve,
}

/// `chainseal stack` subcommands.
#[derive(Subcommand)]
pub enum StackCommand {
    /// Run log, witness and authority in one process on loopback.
    Serve,
}

/// Run an authority subcommand.
pub fn run(cmd: AuthorityCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuthorityCommand::Serve => anyhow::bail!("not implemented yet"),
    }
}

/// Run a stack subcommand.
pub fn run_stack(cmd: StackCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StackCommand::Serve => anyhow::bail!("not implemented yet"),
    }
}
