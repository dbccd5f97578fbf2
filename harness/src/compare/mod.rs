//! `claimbench compare BASELINE CURRENT`: the CI regression gate.
//!
//! Owns the command and its rules; reads results files only through
//! [`crate::results::io`] and uses [`crate::analysis::stats`] for medians and
//! intervals. It never measures and never changes a results file.
//!
//! The flow: read both files → pair their measurements by (target, scenario,
//! level) ([`matching`]) → per pair and metric, a ratio of medians with a
//! bootstrap interval and a change ([`evaluate`], rules in [`gate`]) →
//! terminal table, Markdown, JSON ([`render`]) → exit code 0 (nothing
//! regressed), 1 (something regressed) or 2 (usage or input error, via `Err`;
//! or too few repetitions to gate, unless `--allow-ungated`).
//! The rules are spelled out in `docs/compare.md` and in [`gate`].

pub mod evaluate;
pub mod gate;
pub mod matching;
pub mod render;
pub mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::results::io;
pub use evaluate::compare;
pub use gate::{Change, MaxRegression, Metric};
use matching::Input;
pub use report::{CompareError, CompareReport, Settings};

/// The default bootstrap seed: fixed, so the same two files always give the
/// same outcome.
pub const DEFAULT_SEED: u64 = 0x5eed_c0de;

/// Options of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline: a results file or a run directory (from `bench` or `run`).
    /// Several, comma-separated, are merged as repetitions (e.g. three `bench`
    /// runs, or runs interleaved with the current side's).
    #[arg(value_name = "BASELINE", value_parser = parse_paths)]
    pub baseline: Paths,
    /// The run to check against the baseline: a results file or a run
    /// directory; several, comma-separated, are merged.
    #[arg(value_name = "CURRENT", value_parser = parse_paths)]
    pub current: Paths,
    /// Largest tolerated slowdown, percent: a throughput drop or a latency rise
    /// beyond it (for the whole confidence interval) is a regression. One
    /// value for every metric (`5`) or per metric (`throughput=5,p99=15`);
    /// defaults: throughput=5, p50=15, p90=20, p99=25, p99.9=40
    /// (BENCHMARKS.md, "compare").
    #[arg(
        long,
        value_name = "PCT|METRIC=PCT,..",
        value_parser = MaxRegression::parse,
        allow_negative_numbers = true
    )]
    pub max_regression: Option<MaxRegression>,
    /// Largest tolerated rise in error rate, percentage points (median over
    /// repetitions, current minus baseline).
    #[arg(
        long,
        value_name = "PP",
        allow_negative_numbers = true,
        default_value_t = 1.0
    )]
    pub max_error_increase: f64,
    /// Confidence that the whole gate holds at once: each of the k gated
    /// tests (measurement x gated metric) gets an interval at
    /// 1 - (1 - LEVEL)/k (Bonferroni), so an unchanged build fails with
    /// probability at most 1 - LEVEL over the whole suite.
    #[arg(long, value_name = "LEVEL", default_value_t = 0.95)]
    pub confidence: f64,
    /// The metrics that decide the gate (all are shown). p99.9 is not gated
    /// by default: with short runs it rests on a handful of requests.
    #[arg(
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        default_values_t = Metric::DEFAULT_GATE
    )]
    pub metrics: Vec<Metric>,
    /// Also fail the gate (exit 1) when a measurement is `noisy`.
    #[arg(long)]
    pub fail_on_noisy: bool,
    /// Never pair repetition i of one side with repetition i of the other:
    /// for sides that were not measured in alternating rounds (a stored
    /// baseline against a new run), whose repetition numbers mean nothing
    /// to each other.
    #[arg(long)]
    pub unpaired: bool,
    /// When a gated test has too few repetitions for its interval (see
    /// --confidence), pass with a loud NOT GATED instead of exiting 2.
    #[arg(long)]
    pub allow_ungated: bool,
    /// Write the comparison as Markdown to this file (for a PR comment or
    /// `$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the comparison as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Bootstrap resamples per interval.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10_000,
        hide_short_help = true
    )]
    pub resamples: usize,
    /// Bootstrap seed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED, hide_short_help = true)]
    pub seed: u64,
    /// Print nothing on stdout (warnings still go to stderr).
    #[arg(long, short)]
    pub quiet: bool,
}

impl CompareArgs {
    /// The comparison settings these options ask for.
    pub fn settings(&self) -> Settings {
        let mut gate = self.metrics.clone();
        gate.sort();
        gate.dedup();
        Settings {
            max_regression: self.max_regression.clone().unwrap_or_default(),
            max_error_increase_pp: self.max_error_increase,
            confidence: self.confidence,
            resamples: self.resamples,
            seed: self.seed,
            gate,
            fail_on_noisy: self.fail_on_noisy,
            unpaired: self.unpaired,
        }
    }
}

/// Runs the command: `Ok(0)` when nothing regressed, `Ok(1)` on a regression,
/// `Err` on a usage or input error (the binary exits 2).
pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let settings = args.settings();
    settings.validate()?;
    let baseline = read_side(&args.baseline.0).context("cannot read the baseline")?;
    let current = read_side(&args.current.0).context("cannot read the current results")?;
    let report = compare(&baseline, &current, &settings)?;

    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !args.quiet {
        print!("{}", render::terminal(&report));
    }
    if let Some(path) = &args.markdown {
        io::write_atomic(path, render::markdown(&report).as_bytes())
            .context("cannot write the Markdown comparison")?;
    }
    if let Some(path) = &args.json {
        io::write_atomic(path, &render::json(&report))
            .context("cannot write the JSON comparison")?;
    }
    if report.gate_failed {
        return Ok(ExitCode::from(crate::EXIT_GATE_FAILED));
    }
    if !report.not_gated.is_empty() {
        eprintln!(
            "{}: {} gated test(s) have too few repetitions for a {:.0}% family-wise interval ({} a side needed); add rounds{}",
            if args.allow_ungated {
                "NOT GATED (--allow-ungated)"
            } else {
                "error: not gated"
            },
            report.not_gated.len(),
            settings.confidence * 100.0,
            report.family.min_repetitions,
            if args.allow_ungated {
                ""
            } else {
                ", or pass --allow-ungated to let this through"
            }
        );
        if !args.allow_ungated {
            return Ok(ExitCode::from(crate::EXIT_INPUT_ERROR));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and merges the files of one side.
fn read_side(paths: &[PathBuf]) -> anyhow::Result<Input> {
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let f = io::read(p)?;
        files.push((p.clone(), f));
    }
    Input::merge(files).context("no results file given")
}

/// One side's paths: one, or several given comma-separated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths(pub Vec<PathBuf>);

/// A comma-separated list of paths with an empty item (`a.json,,b.json`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} has an empty path")]
pub struct EmptyPath(String);

/// Splits `a.json,b.json` into paths; empty items are an error.
fn parse_paths(s: &str) -> Result<Paths, EmptyPath> {
    let v: Vec<PathBuf> = s.split(',').map(PathBuf::from).collect();
    if v.iter().any(|p| p.as_os_str().is_empty()) {
        return Err(EmptyPath(s.to_string()));
    }
    Ok(Paths(v))
}
