//! claimbench: a concurrency benchmark harness that checks performance claims
//! with real measurements.
//!
//! # Layout
//!
//! - [`cli`]: the command-line options (clap); parsed once, passed to [`run`].
//! - [`load`]: the load generator. Knows HTTP and time, nothing about targets
//!   or claims: takes a resolved [`load::LoadPlan`] and returns a
//!   [`results::LoadResult`]. Closed loop and open loop, one single-threaded
//!   runtime per generator thread, per-worker recorders merged once.
//! - [`bench`]: the `bench URL` command (like wrk or oha) on top of [`load`].
//! - [`downstream`]: the small delay server the targets call for `/io/downstream`.
//! - [`target`]: target manifests, setup, the process supervisor (start, pin,
//!   probe, sample `/proc`, stop) and the contract check. Knows processes,
//!   nothing about load.
//! - [`scenario`]: scenario, suite and claims files: raw serde types, then a
//!   resolved plan.
//! - [`runner`]: the `run` command: the suite loop over targets, scenarios,
//!   levels and repetitions.
//! - [`analysis`]: pure statistics (medians, bootstrap intervals) and claim
//!   verdicts; no I/O.
//! - [`report`]: charts (plotters, SVG + PNG), `summary.md`, `report.html`,
//!   `results.csv`, from results files alone; never measures.
//! - [`compare`]: the CI regression gate between two results.
//! - [`results`]: the versioned results schema, the HDR histogram layout and
//!   atomic file I/O: the contract between all of the above.
//! - [`sys`]: CPU lists and affinity, rlimits, `/proc` facts, host description.

pub mod analysis;
pub mod bench;
pub mod cli;
pub mod compare;
pub mod downstream;
pub mod interrupt;
pub mod load;
pub mod merge;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod shard;
pub mod sys;
pub mod target;
pub mod toml_pos;

use std::process::ExitCode;

pub use cli::Cli;

/// Exit code for a usage or input error (bad flag, unreadable file, bad target).
pub const EXIT_INPUT_ERROR: u8 = 2;
/// Exit code for a failed gate: a regression or a breached threshold.
pub const EXIT_GATE_FAILED: u8 = 1;

/// Runs one command line. `main` is a thin wrapper around this, and the
/// integration tests call it in-process.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        cli::Command::Bench(args) => bench::run(*args),
        cli::Command::Merge(args) => merge::run(args),
        cli::Command::Run(args) => runner::run(args),
        cli::Command::Report(args) => report::run(args),
        cli::Command::Compare(args) => compare::run(args),
        cli::Command::Targets(args) => target::cli::run(args),
        cli::Command::Downstream(args) => downstream::run(args),
    }
}
