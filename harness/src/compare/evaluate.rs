//! Turning two parsed results files into a [`CompareReport`]: per shared
//! measurement, a ratio with its bootstrap interval per metric, the error-rate
//! check and a verdict (rules in [`super::verdict`]); plus everything that was
//! not compared and why, and the warnings. Pure: no I/O, no printing.

use std::path::PathBuf;

use serde::Serialize;

use super::matching::{self, ExcludedRepetition, Input, Key, Pair};
use super::verdict::{self, Direction, Metric, Verdict};
use crate::analysis::stats::{self, RatioCi};
use crate::results::schema::{LoadOptions, RunKind};

/// Identifies the JSON written by `compare --json`; bumped when a field
/// changes meaning.
pub const REPORT_SCHEMA: &str = "claimbench-compare/1";

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
    /// Largest tolerated change in the bad direction, percent (e.g. 5).
    pub max_regression_pct: f64,
    /// Largest tolerated rise in error rate, percentage points (e.g. 1).
    pub max_error_increase_pp: f64,
    /// Confidence level of the intervals (e.g. 0.95).
    pub confidence: f64,
    /// Bootstrap resamples per interval.
    pub resamples: usize,
    /// Bootstrap seed (the comparison is deterministic given it).
    pub seed: u64,
    /// The metrics that decide the verdict (all are shown).
    pub gate: Vec<Metric>,
    /// Whether a `noisy` measurement fails the gate too.
    pub fail_on_noisy: bool,
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
        if !(self.max_regression_pct > 0.0 && self.max_regression_pct < 100.0) {
            return bad(
                "--max-regression",
                &format!(
                    "{} is not a percentage above 0 and below 100",
                    self.max_regression_pct
                ),
            );
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

    /// The threshold as a fraction (5% → 0.05).
    pub fn threshold(&self) -> f64 {
        self.max_regression_pct / 100.0
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
}

impl FileSummary {
    fn new(input: &Input) -> Self {
        let f = &input.results;
        Self {
            paths: input.paths.clone(),
            run_id: f.run_id.clone(),
            kind: f.kind,
            measurements: f.measurements.len(),
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
    /// Every shared (target, scenario, level), sorted.
    pub measurements: Vec<MeasurementComparison>,
    /// Measurements only in the baseline (not compared).
    pub only_in_baseline: Vec<Listed>,
    /// Measurements only in the current file (not compared).
    pub only_in_current: Vec<Listed>,
    /// Repetitions of shared measurements left out because they were excluded.
    pub excluded: Vec<ExcludedRepetition>,
    /// How many measurements got each verdict.
    pub counts: Counts,
    /// True when the gate fails (exit code 1).
    pub gate_failed: bool,
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

/// Verdict counts over the shared measurements.
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
    /// The overall verdict; `None` when no gated metric could be compared
    /// (no valid repetition on one side) and the error rate did not regress.
    pub verdict: Option<Verdict>,
    /// Why the verdict is what it is, one short phrase per deciding check.
    pub reasons: Vec<String>,
}

/// One metric of one shared measurement.
#[derive(Clone, Debug, Serialize)]
pub struct MetricComparison {
    /// The metric.
    pub metric: Metric,
    /// Which way is better.
    pub direction: Direction,
    /// Whether it decides the verdict.
    pub gated: bool,
    /// Median over the valid baseline repetitions.
    pub baseline_median: Option<f64>,
    /// Median over the valid current repetitions.
    pub current_median: Option<f64>,
    /// current / baseline with its interval; `None` when it could not be computed.
    pub ratio: Option<RatioCi>,
    /// The metric's verdict; `None` when it could not be compared.
    pub verdict: Option<Verdict>,
    /// Why it could not be compared, when it could not.
    pub note: Option<String>,
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
    pub verdict: Verdict,
}

/// Compares two sides (each one results file, or several merged). The paths
/// only name the files in the report and in errors. Fails when the settings
/// are invalid or the two sides share no (target, scenario, level).
pub fn compare(
    baseline_input: &Input,
    current_input: &Input,
    settings: &Settings,
) -> Result<CompareReport, CompareError> {
    settings.validate()?;
    let (baseline, current) = (&baseline_input.results, &current_input.results);
    let matched = matching::pair(baseline, current);
    if matched.pairs.is_empty() {
        return Err(nothing_in_common(baseline_input, current_input, &matched));
    }

    let mut warnings = matching::environment_differences(baseline, current);
    for (side, input) in [("baseline", baseline_input), ("current", current_input)] {
        for d in &input.differences {
            warnings.push(format!("{side} files differ: {d}"));
        }
    }
    for (side, f) in [("baseline", baseline), ("current", current)] {
        if !f.complete {
            warnings.push(format!(
                "the {side} run is incomplete (interrupted or failed part-way)"
            ));
        }
        for s in &f.skipped {
            let what = match &s.scenario {
                Some(sc) => format!("{} / {sc}", s.target),
                None => s.target.clone(),
            };
            warnings.push(format!("the {side} run skipped {what}: {}", s.reason));
        }
    }

    let mut measurements = Vec::with_capacity(matched.pairs.len());
    let mut counts = Counts::default();
    for p in &matched.pairs {
        if let Some(w) = options_difference(p) {
            warnings.push(w);
        }
        let mc = compare_pair(p, settings);
        match mc.verdict {
            Some(Verdict::Regressed) => counts.regressed += 1,
            Some(Verdict::Noisy) => counts.noisy += 1,
            Some(Verdict::Improved) => counts.improved += 1,
            Some(Verdict::Unchanged) => counts.unchanged += 1,
            None => counts.not_compared += 1,
        }
        measurements.push(mc);
    }
    let listed = |v: Vec<(Key, usize)>| {
        v.into_iter()
            .map(|(key, repetitions)| Listed { key, repetitions })
            .collect::<Vec<_>>()
    };
    let gate_failed = counts.regressed > 0 || (settings.fail_on_noisy && counts.noisy > 0);
    Ok(CompareReport {
        schema: REPORT_SCHEMA,
        baseline: FileSummary::new(baseline_input),
        current: FileSummary::new(current_input),
        settings: settings.clone(),
        warnings,
        measurements,
        only_in_baseline: listed(matched.only_baseline),
        only_in_current: listed(matched.only_current),
        excluded: matched.excluded,
        counts,
        gate_failed,
    })
}

/// Compares one shared measurement.
fn compare_pair(p: &Pair<'_>, s: &Settings) -> MeasurementComparison {
    let t = s.threshold();
    let valid_b: Vec<_> = p.baseline_valid().collect();
    let valid_c: Vec<_> = p.current_valid().collect();
    let mut metrics = Vec::with_capacity(Metric::ALL.len());
    let mut reasons = Vec::new();
    let mut gated_verdicts = Vec::new();
    for metric in Metric::ALL {
        let b: Vec<f64> = valid_b.iter().filter_map(|m| metric.value(m)).collect();
        let c: Vec<f64> = valid_c.iter().filter_map(|m| metric.value(m)).collect();
        let gated = s.gate.contains(&metric);
        let (ratio, note) = if b.is_empty() || c.is_empty() {
            let side = if b.is_empty() { "baseline" } else { "current" };
            (None, Some(format!("no valid repetition in the {side}")))
        } else {
            match stats::bootstrap_ratio_ci(&c, &b, s.confidence, s.resamples, s.seed) {
                Some(ci) => (Some(ci), None),
                None => (None, Some("baseline median is zero: no ratio".to_string())),
            }
        };
        let v = ratio
            .as_ref()
            .map(|ci| verdict::classify_ci(ci, metric.direction(), t));
        if gated && let (Some(v), Some(ci)) = (v, &ratio) {
            gated_verdicts.push(v);
            if matches!(v, Verdict::Regressed | Verdict::Noisy | Verdict::Improved) {
                reasons.push(format!(
                    "{} {} {}",
                    metric.name(),
                    v.name(),
                    ratio_phrase(ci)
                ));
            }
        }
        metrics.push(MetricComparison {
            metric,
            direction: metric.direction(),
            gated,
            baseline_median: stats::median(&b),
            current_median: stats::median(&c),
            ratio,
            verdict: v,
            note,
        });
    }

    // The error rate counts every repetition, excluded ones too.
    let rate = |ms: &[&crate::results::schema::Measurement]| {
        let v: Vec<f64> = ms.iter().map(|m| m.load.summary.error_rate).collect();
        stats::median(&v).unwrap_or(0.0)
    };
    let (eb, ec) = (rate(&p.baseline), rate(&p.current));
    let ev = verdict::classify_error_rate(eb, ec, s.max_error_increase_pp);
    let error_rate = ErrorRateComparison {
        baseline: eb,
        current: ec,
        change_pp: (ec - eb) * 100.0,
        verdict: ev,
    };
    if ev == Verdict::Regressed {
        reasons.push(format!(
            "error rate {:.2}% -> {:.2}% (+{:.2} pp, limit {} pp)",
            eb * 100.0,
            ec * 100.0,
            (ec - eb) * 100.0,
            s.max_error_increase_pp
        ));
    }

    let verdict = if ev == Verdict::Regressed {
        Some(Verdict::Regressed)
    } else if gated_verdicts.is_empty() {
        reasons.push(if valid_b.is_empty() || valid_c.is_empty() {
            "every repetition on one side was excluded".to_string()
        } else {
            "no gated metric could be compared".to_string()
        });
        None
    } else {
        Some(verdict::overall(gated_verdicts.iter().copied()))
    };
    MeasurementComparison {
        key: p.key.clone(),
        repetitions: Repetitions {
            baseline: p.baseline.len(),
            current: p.current.len(),
            baseline_valid: valid_b.len(),
            current_valid: valid_c.len(),
        },
        metrics,
        error_rate,
        verdict,
        reasons,
    }
}

/// `-16.7% [-17.5%, -15.9%]`, or `-16.7% (no interval)`.
pub fn ratio_phrase(ci: &RatioCi) -> String {
    match ci.interval() {
        Some((lo, hi)) => format!("{} [{}, {}]", pct(ci.ratio), pct(lo), pct(hi)),
        None => format!("{} (no interval)", pct(ci.ratio)),
    }
}

/// A ratio as a signed percentage change: 0.833 → `-16.7%`.
pub fn pct(ratio: f64) -> String {
    if ratio.is_infinite() {
        return "+inf%".into();
    }
    let p = (ratio - 1.0) * 100.0;
    // Avoid "-0.0%".
    let p = if p.abs() < 0.05 { 0.0 } else { p };
    format!("{p:+.1}%")
}

/// A warning when the two sides of a pair were measured with different load
/// options (duration, connections, rate, requests, HTTP client), or `None`.
fn options_difference(p: &Pair<'_>) -> Option<String> {
    let (b, c) = (
        &p.baseline.first()?.load.options,
        &p.current.first()?.load.options,
    );
    let describe = |o: &LoadOptions| {
        let templates: Vec<String> = o
            .templates
            .iter()
            .map(|t| format!("{} {} x{} ({} B)", t.method, t.path, t.weight, t.body_bytes))
            .collect();
        format!(
            "{:?} c={} rate={:?} duration={:?}s max_requests={:?} warmup={}s threads={} keepalive={} client={:?} [{}]",
            o.model,
            o.connections,
            o.rate_rps,
            o.duration_s,
            o.max_requests,
            o.warmup_s,
            o.threads,
            o.keepalive,
            o.http_client,
            templates.join(", ")
        )
    };
    let (db, dc) = (describe(b), describe(c));
    (db != dc).then(|| {
        format!(
            "{}: load options differ: baseline {db}; current {dc}",
            p.key.label()
        )
    })
}

fn nothing_in_common(
    baseline: &Input,
    current: &Input,
    matched: &matching::Matched<'_>,
) -> CompareError {
    let sample = |keys: &[(Key, usize)]| {
        let mut names: Vec<String> = keys.iter().take(3).map(|(k, _)| k.label()).collect();
        if keys.len() > 3 {
            names.push(format!("and {} more", keys.len() - 3));
        }
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        }
    };
    CompareError::NothingInCommon {
        baseline: baseline.label(),
        baseline_count: baseline.results.measurements.len(),
        current: current.label(),
        current_count: current.results.measurements.len(),
        hint: format!(
            "; the baseline has {}; the current has {}",
            sample(&matched.only_baseline),
            sample(&matched.only_current)
        ),
    }
}
