//! What a comparison gives: [`CompareReport`] and its parts, the settings
//! it ran with and why two files cannot be compared. The JSON of `compare
//! --json` is these types, serialized.

use std::path::PathBuf;

use serde::Serialize;

use super::gate::{Change, Direction, MaxRegression, Metric};
use super::matching::{self, ExcludedRepetition, Input, Key};
use crate::analysis::stats::RatioCi;
use crate::results::schema::RunKind;

/// Identifies the JSON written by `compare --json`; bumped when a field
/// changes meaning.
pub const REPORT_SCHEMA: &str = "claimbench-compare/2";

/// Why two results cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// No (target, scenario, level) appears in both files.
    #[error(
        "nothing to compare: no (target, scenario, level) appears in both the baseline {baseline} ({baseline_count} measurement(s)) and the current {current} ({current_count} measurement(s)){hint}"
    )]
    NothingInCommon {
        /// The baseline path(s) as given.
        baseline: String,
        /// Measurements in the baseline.
        baseline_count: usize,
        /// The current path(s) as given.
        current: String,
        /// Measurements in the current file.
        current_count: usize,
        /// A hint naming a few keys of each side.
        hint: String,
    },
    /// An option is out of range.
    #[error("invalid {option}: {reason}")]
    Setting {
        /// The flag, e.g. `--confidence`.
        option: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
}

/// How to compare: thresholds, interval and which metrics gate.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// Largest tolerated change in the bad direction, percent, per metric.
    pub max_regression: MaxRegression,
    /// Largest tolerated rise in error rate, percentage points (e.g. 1).
    pub max_error_increase_pp: f64,
    /// Confidence that every gated test holds at once (e.g. 0.95): each
    /// interval is at [`gate::per_test_confidence`] of it.
    pub confidence: f64,
    /// Bootstrap resamples per interval.
    pub resamples: usize,
    /// Bootstrap seed (the comparison is deterministic given it).
    pub seed: u64,
    /// The metrics that decide the gate (all are shown).
    pub gate: Vec<Metric>,
    /// Whether a `noisy` measurement fails the gate too.
    pub fail_on_noisy: bool,
    /// Never pair the sides' repetitions by number (`--unpaired`).
    pub unpaired: bool,
}

impl Settings {
    /// Checks every value, naming the flag that is wrong.
    pub fn validate(&self) -> Result<(), CompareError> {
        let bad = |option, reason: &str| {
            Err(CompareError::Setting {
                option,
                reason: reason.to_string(),
            })
        };
        for m in Metric::ALL {
            let p = self.max_regression.pct(m);
            if !(p > 0.0 && p < 100.0) {
                return bad(
                    "--max-regression",
                    &format!("{}={p} is not a percentage above 0 and below 100", m.name()),
                );
            }
        }
        if !(self.max_error_increase_pp >= 0.0 && self.max_error_increase_pp <= 100.0) {
            return bad(
                "--max-error-increase",
                &format!(
                    "{} is not between 0 and 100 percentage points",
                    self.max_error_increase_pp
                ),
            );
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad(
                "--confidence",
                &format!(
                    "{} is not strictly between 0 and 1 (e.g. 0.95)",
                    self.confidence
                ),
            );
        }
        if !(100..=1_000_000).contains(&self.resamples) {
            return bad(
                "--resamples",
                &format!("{} is not in 100..=1000000", self.resamples),
            );
        }
        if self.gate.is_empty() {
            return bad("--metrics", "name at least one metric");
        }
        Ok(())
    }

    /// A metric's threshold as a fraction (5% → 0.05).
    pub fn threshold(&self, m: Metric) -> f64 {
        self.max_regression.fraction(m)
    }
}

/// One input file, as the report names it.
#[derive(Clone, Debug, Serialize)]
pub struct FileSummary {
    /// The path(s) given on the command line (several files are merged).
    pub paths: Vec<PathBuf>,
    /// The run id inside the file (ids joined by `+` when merged).
    pub run_id: String,
    /// `bench` or `suite`.
    pub kind: RunKind,
    /// Measurements in the file.
    pub measurements: usize,
    /// When each file's run started, in the order given.
    pub started_at: Vec<chrono::DateTime<chrono::Utc>>,
}

impl FileSummary {
    pub(super) fn new(input: &Input) -> Self {
        let f = &input.results;
        Self {
            paths: input.paths.clone(),
            run_id: f.run_id.clone(),
            kind: f.kind,
            measurements: f.measurements.len(),
            started_at: input.started_at.clone(),
        }
    }

    /// The paths, comma-separated.
    pub fn label(&self) -> String {
        let v: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        v.join(", ")
    }
}

/// The full comparison: what the terminal table, the Markdown and the JSON show.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    /// Always [`REPORT_SCHEMA`].
    pub schema: &'static str,
    /// The baseline file.
    pub baseline: FileSummary,
    /// The current file.
    pub current: FileSummary,
    /// The settings used.
    pub settings: Settings,
    /// Differences in machine, versions or load options, and incomplete runs.
    pub warnings: Vec<String>,
    /// How the gated tests hold together: the family-wise rule.
    pub family: Family,
    /// The runs of both sides in the order they started, and which side ran
    /// first in each round.
    pub order: Vec<OrderedRun>,
    /// True when the two files are the two sides of one duet run (`run
    /// --duet`): each pair of repetitions was measured at the same time.
    pub duet: bool,
    /// Every shared (target, scenario, level), sorted.
    pub measurements: Vec<MeasurementComparison>,
    /// Measurements only in the baseline (not compared).
    pub only_in_baseline: Vec<Listed>,
    /// Measurements only in the current file (not compared).
    pub only_in_current: Vec<Listed>,
    /// Repetitions of shared measurements left out because they were excluded.
    pub excluded: Vec<ExcludedRepetition>,
    /// How many measurements got each change.
    pub counts: Counts,
    /// True when the gate fails (exit code 1).
    pub gate_failed: bool,
    /// Gated tests with too few repetitions for their interval, one line
    /// each: when not empty and nothing regressed, the gate is not decided
    /// (exit 2, or a loud pass with `--allow-ungated`).
    pub not_gated: Vec<String>,
}

/// The family-wise rule over the gated tests.
#[derive(Clone, Debug, Serialize)]
pub struct Family {
    /// `bonferroni`.
    pub method: &'static str,
    /// Gated tests: (shared measurement, gated metric) pairs with data on
    /// both sides.
    pub tests: usize,
    /// The confidence each interval is taken at.
    pub per_test_confidence: f64,
    /// The fewest repetitions a side an interval at that confidence needs.
    pub min_repetitions: usize,
}

/// One run (results file) in time order.
#[derive(Clone, Debug, Serialize)]
pub struct OrderedRun {
    /// `baseline` or `current`.
    pub side: matching::Side,
    /// Its round: its position in its side's list, from 1.
    pub round: usize,
    /// The file.
    pub path: PathBuf,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// A measurement present on one side only.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    /// Its key.
    #[serde(flatten)]
    pub key: Key,
    /// Its repetitions.
    pub repetitions: usize,
}

/// Change counts over the shared measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Measurements that regressed.
    pub regressed: usize,
    /// Measurements the data could not decide.
    pub noisy: usize,
    /// Measurements that improved.
    pub improved: usize,
    /// Measurements within the threshold.
    pub unchanged: usize,
    /// Shared measurements with no valid repetition on one side.
    pub not_compared: usize,
}

/// Repetition counts of one shared measurement.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Repetitions {
    /// Baseline repetitions, excluded ones included.
    pub baseline: usize,
    /// Current repetitions, excluded ones included.
    pub current: usize,
    /// Baseline repetitions used for the metrics.
    pub baseline_valid: usize,
    /// Current repetitions used for the metrics.
    pub current_valid: usize,
}

/// The comparison of one shared (target, scenario, level).
#[derive(Clone, Debug, Serialize)]
pub struct MeasurementComparison {
    /// Its key.
    #[serde(flatten)]
    pub key: Key,
    /// Repetitions on each side.
    pub repetitions: Repetitions,
    /// Every metric, in [`Metric::ALL`] order.
    pub metrics: Vec<MetricComparison>,
    /// The error-rate check (always gated).
    pub error_rate: ErrorRateComparison,
    /// The overall change; `None` when no gated metric could be compared
    /// (no valid repetition on one side) and the error rate did not regress.
    #[serde(rename = "verdict")]
    pub change: Option<Change>,
    /// Why the change is what it is, one short phrase per deciding check.
    pub reasons: Vec<String>,
}

/// One metric of one shared measurement.
#[derive(Clone, Debug, Serialize)]
pub struct MetricComparison {
    /// The metric.
    pub metric: Metric,
    /// Which way is better.
    pub direction: Direction,
    /// Whether it decides the gate.
    pub gated: bool,
    /// Median over the valid baseline repetitions.
    pub baseline_median: Option<f64>,
    /// Median over the valid current repetitions.
    pub current_median: Option<f64>,
    /// current / baseline with its interval; `None` when it could not be computed.
    pub ratio: Option<RatioCi>,
    /// The metric's change; `None` when it could not be compared.
    #[serde(rename = "verdict")]
    pub change: Option<Change>,
    /// Why it could not be compared, when it could not.
    pub note: Option<String>,
    /// Whether repetition i of one side was paired with repetition i of the
    /// other (the same round) and the rounds resampled together.
    pub paired: bool,
}

/// The error-rate check of one shared measurement.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ErrorRateComparison {
    /// Median error rate of all baseline repetitions (fraction).
    pub baseline: f64,
    /// Median error rate of all current repetitions (fraction).
    pub current: f64,
    /// `current - baseline`, percentage points.
    pub change_pp: f64,
    /// `regressed` or `unchanged`.
    #[serde(rename = "verdict")]
    pub change: Change,
}
