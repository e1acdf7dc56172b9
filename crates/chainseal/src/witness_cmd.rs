//! `chainseal witness …` (owned by the witness work; placeholder).

use std::process::ExitCode;

use clap::Subcommand;

/// Witness subcommands.
#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Serve a C2SP tlog-witness.
    Serve,
}

/// Run a witness subcommand.
pub fn run(cmd: WitnessCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WitnessCommand::Serve => anyhow::bail!("not implemented yet"),
    }
}
