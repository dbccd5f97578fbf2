//! Compare two results (not built yet).

use std::process::ExitCode;

/// Options of this command.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {}

/// Runs the command.
pub fn run(_args: CompareArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
