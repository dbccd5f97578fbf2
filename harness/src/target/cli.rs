//! `claimbench targets ...` (not built yet).

use std::process::ExitCode;

/// Options of `targets`.
#[derive(Debug, clap::Args)]
pub struct TargetsArgs {}

/// Runs the command.
pub fn run(_args: TargetsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
