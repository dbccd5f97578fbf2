//! Redraw charts and reports (not built yet).

use std::process::ExitCode;

/// Options of this command.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {}

/// Runs the command.
pub fn run(_args: ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
