//! `claimbench bench URL`: one ad-hoc load run, like wrk or oha.

use std::process::ExitCode;

/// Options of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

/// Runs the command.
pub fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
