//! `chainseal intoto …` subcommands (owned by the in-toto work; placeholder).

use std::process::ExitCode;

use clap::Subcommand;

/// in-toto subcommands.
#[derive(Subcommand)]
pub enum IntotoCommand {
    /// Verify a supply chain against a layout.
    Verify,
}

/// Run an in-toto subcommand.
pub fn run(cmd: IntotoCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IntotoCommand::Verify => anyhow::bail!("not implemented yet"),
    }
}
