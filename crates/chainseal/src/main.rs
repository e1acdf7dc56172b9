//! The `chainseal` command line.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod intoto_cmd;

/// Secure a software supply chain end to end: sign, log, attest and verify.
#[derive(Parser)]
#[command(name = "chainseal", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// in-toto: record supply-chain steps and verify layouts.
    #[command(subcommand)]
    Intoto(intoto_cmd::IntotoCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Intoto(cmd) => intoto_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
