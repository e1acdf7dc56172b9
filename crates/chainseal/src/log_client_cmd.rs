//! `chainseal log verify` and `chainseal log load` (owned by the log-client work; placeholder).

use std::process::ExitCode;

use clap::Args;

/// Arguments of `chainseal log verify`.
#[derive(Args, Debug)]
pub struct LogVerifyArgs {}

/// Arguments of `chainseal log load`.
#[derive(Args, Debug)]
pub struct LogLoadArgs {}

/// Run `log verify`.
pub fn run_verify(_args: LogVerifyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Run `log load`.
pub fn run_load(_args: LogLoadArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
