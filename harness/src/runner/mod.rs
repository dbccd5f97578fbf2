//! Run the claims suite (not built yet).

use std::process::ExitCode;

/// Options of this command.
#[derive(Debug, clap::Args)]
pub struct RunArgs {}

/// Runs the command.
pub fn run(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
