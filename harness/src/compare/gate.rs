//! The rules of the gate: how a ratio and its interval become a [`Change`],
//! per metric and per measurement. Pure functions over numbers already extracted
//! from the results; no I/O, no formatting.
//!
//! # The rules (`t` = `--max-regression` / 100, e.g. 0.05)
//!
//! Every metric is compared as `ratio = median(current) / median(baseline)`
//! over the valid repetitions, with a bootstrap interval `[low, high]`. With a
//! single repetition on either side there is no interval and
//! `low = high = ratio` (the threshold alone decides, never `noisy`).
//!
//! The *bad region* is `ratio < 1 - t` for throughput (higher is better) and
//! `ratio > 1 + t` for latency (lower is better); the *good region* is the
//! mirror image (`ratio > 1 + t` for throughput, `ratio < 1 - t` for latency).
//! Both are open: a bound exactly at `1 ± t` is not beyond the threshold.
//!
//! - `regressed`: the whole interval lies in the bad region.
//! - `improved`: the whole interval lies in the good region.
//! - `noisy`: part of the interval lies in the bad region and part does not:
//!   the data cannot tell a regression from noise.
//! - `unchanged`: no part of the interval lies in the bad region, and it is not
//!   wholly in the good region (this includes "within ±t" and "maybe better").
//!
//! Error rate: `regressed` when the median error rate of the current
//! repetitions exceeds the baseline's by more than `--max-error-increase`
//! percentage points (default 1), else `unchanged`. All repetitions count
//! here, excluded ones too (a repetition excluded *because* of errors is the
//! evidence).
//!
//! A measurement's change is the worst over its gated metrics and the error
//! check, in the order `regressed` > `noisy` > `improved` > `unchanged`
//! (`improved` only if nothing gated is worse). Metrics not gated are shown
//! but do not count.
//!
//! # The whole suite at once
//!
//! A CI job gates every (target, scenario, level) of a suite on every gated
//! metric: k tests. Each interval is taken at `1 - (1 - confidence) / k`
//! ([`per_test_confidence`], Bonferroni), so an unchanged build fails the
//! gate with probability at most `1 - confidence` over the whole suite, not
//! per test. An interval that wide needs enough repetitions to exist: a
//! bootstrap of n repetitions cannot reach a tail thinner than n^-n (every
//! draw the same repetition), so a gated test with fewer than
//! [`min_repetitions`] a side is *not gated*, never decided on its point
//! estimate.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::claim::{Metric as Measure, Pct};
use crate::analysis::stats::RatioCi;
use crate::results::schema::Measurement;

/// A metric the gate can compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Successful requests per second (higher is better).
    Throughput,
    /// Median latency (lower is better).
    P50,
    /// 90th percentile latency.
    P90,
    /// 99th percentile latency.
    P99,
    /// 99.9th percentile latency.
    #[value(alias = "p99.9")]
    P999,
}

impl Metric {
    /// Every metric, in display order.
    pub const ALL: [Metric; 5] = [
        Metric::Throughput,
        Metric::P50,
        Metric::P90,
        Metric::P99,
        Metric::P999,
    ];

    /// The metrics that gate by default: throughput and p99. p99.9 of a short
    /// run rests on a handful of requests (10 per 10 000), so it moves a lot
    /// between identical runs; it is shown, not gated, unless asked for.
    pub const DEFAULT_GATE: [Metric; 2] = [Metric::Throughput, Metric::P99];

    /// Short name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
        }
    }

    /// The same metric in the model every reader of a measurement shares
    /// (claims, thresholds, reports): how to read it, which way is better.
    pub fn measure(self) -> Measure {
        match self {
            Metric::Throughput => Measure::Throughput,
            Metric::P50 => Measure::Latency(Pct::P50),
            Metric::P90 => Measure::Latency(Pct::P90),
            Metric::P99 => Measure::Latency(Pct::P99),
            Metric::P999 => Measure::Latency(Pct::P999),
        }
    }

    /// Whether a larger value is better.
    pub fn direction(self) -> Direction {
        if self.measure().higher_is_better() {
            Direction::HigherIsBetter
        } else {
            Direction::LowerIsBetter
        }
    }

    /// The metric's value in one measurement, or `None` when the measurement
    /// has no value for it (latency of a run without a single success).
    pub fn value(self, m: &Measurement) -> Option<f64> {
        self.measure().value(m)
    }
}

/// Why `--max-regression` did not parse.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MaxRegressionError {
    /// Not a number (with an optional `%`).
    #[error("`{0}` is not a percentage")]
    NotAPercentage(String),
    /// 0 or less, 100 or more.
    #[error("{0} is not a percentage above 0 and below 100")]
    OutOfRange(f64),
    /// `a,,b`.
    #[error("{0:?} has an empty entry")]
    EmptyEntry(String),
    /// A metric the gate does not know.
    #[error("unknown metric `{0}` (expected one of throughput, p50, p90, p99, p99.9)")]
    UnknownMetric(String),
}

/// The largest tolerated slowdown per metric, percent (`--max-regression`):
/// `10` for every metric, or `throughput=10,p99=25` (the rest at their
/// defaults).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaxRegression(BTreeMap<Metric, f64>);

impl MaxRegression {
    /// Defaults, percent (BENCHMARKS.md, "compare"): throughput 5%, which
    /// gave 0 false alarms in 10 identical pairs and caught 10 of 10 real
    /// slowdowns of one measurement; latency percentiles wider, because a
    /// tail moves more between identical runs than a rate (p99 by up to 39%
    /// between halves of ten default-suite repetitions), p99.9 most of all.
    pub const DEFAULTS: [(Metric, f64); 5] = [
        (Metric::Throughput, 5.0),
        (Metric::P50, 15.0),
        (Metric::P90, 20.0),
        (Metric::P99, 25.0),
        (Metric::P999, 40.0),
    ];

    /// The value for one metric, percent.
    pub fn pct(&self, m: Metric) -> f64 {
        self.0.get(&m).copied().unwrap_or(10.0)
    }

    /// The value for one metric as a fraction (5% -> 0.05).
    pub fn fraction(&self, m: Metric) -> f64 {
        self.pct(m) / 100.0
    }

    /// Parses `10`, `throughput=10,p99=25` or `8,p99=20` (a bare number
    /// sets every metric, `metric=pct` one; later entries win). Every value
    /// must be above 0 and below 100.
    pub fn parse(s: &str) -> Result<MaxRegression, MaxRegressionError> {
        let mut out = MaxRegression::default();
        let pct = |v: &str| -> Result<f64, MaxRegressionError> {
            let x: f64 = v
                .trim()
                .trim_end_matches('%')
                .parse()
                .map_err(|_| MaxRegressionError::NotAPercentage(v.to_string()))?;
            if x > 0.0 && x < 100.0 {
                Ok(x)
            } else {
                Err(MaxRegressionError::OutOfRange(x))
            }
        };
        for part in s.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(MaxRegressionError::EmptyEntry(s.to_string()));
            }
            match part.split_once('=') {
                None => {
                    let x = pct(part)?;
                    for v in out.0.values_mut() {
                        *v = x;
                    }
                }
                Some((name, v)) => {
                    let m = <Metric as clap::ValueEnum>::from_str(name.trim(), true)
                        .map_err(|_| MaxRegressionError::UnknownMetric(name.trim().to_string()))?;
                    out.0.insert(m, pct(v)?);
                }
            }
        }
        Ok(out)
    }
}

impl Default for MaxRegression {
    fn default() -> Self {
        MaxRegression(Self::DEFAULTS.into_iter().collect())
    }
}

impl std::fmt::Display for MaxRegression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v: Vec<String> = Metric::ALL
            .iter()
            .map(|m| format!("{}={}", m.name(), self.pct(*m)))
            .collect();
        f.write_str(&v.join(","))
    }
}

/// The confidence of each of `tests` intervals so that they hold together at
/// `confidence` (Bonferroni: `1 - (1 - confidence) / tests`).
pub fn per_test_confidence(confidence: f64, tests: usize) -> f64 {
    1.0 - (1.0 - confidence) / tests.max(1) as f64
}

/// The fewest repetitions a side (pairs of rounds, when paired) for a
/// percentile-bootstrap interval at `per_test` confidence: the smallest n
/// with n^-n at most the interval's tail `(1 - per_test) / 2`. Fewer, and
/// the "interval" is only the most extreme values of the sample.
pub fn min_repetitions(per_test: f64) -> usize {
    let tail = (1.0 - per_test) / 2.0;
    (2..=32usize)
        .find(|&n| (n as f64).powi(-(n as i32)) <= tail)
        .unwrap_or(32)
}

/// Which way is better for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Throughput: a drop is a regression.
    HigherIsBetter,
    /// Latency: a rise is a regression.
    LowerIsBetter,
}

/// What the gate says of one metric or one measurement: how it changed
/// (the word "verdict" is kept for the claims; in the JSON and the
/// Markdown table the field is still `verdict`, for the files and tools
/// that read it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Nothing beyond the threshold in the bad direction.
    Unchanged,
    /// The whole interval is beyond the threshold in the good direction.
    Improved,
    /// The interval straddles the regression threshold: cannot tell.
    Noisy,
    /// The whole interval is beyond the threshold in the bad direction.
    Regressed,
}

impl Change {
    /// Lower-case name, as in the outputs.
    pub fn name(self) -> &'static str {
        match self {
            Change::Unchanged => "unchanged",
            Change::Improved => "improved",
            Change::Noisy => "noisy",
            Change::Regressed => "regressed",
        }
    }
}

/// Classifies a ratio interval `[low, high]` (current / baseline) against the
/// relative threshold `t` (0.05 for 5%). See the module docs for the rules.
/// Never panics; an unbounded `high` (`+inf`) is just a very wide interval.
pub fn classify(low: f64, high: f64, direction: Direction, t: f64) -> Change {
    // Re-express both directions as "badness": for throughput a drop is bad.
    let (bad_all, bad_any, good_all) = match direction {
        Direction::HigherIsBetter => (high < 1.0 - t, low < 1.0 - t, low > 1.0 + t),
        Direction::LowerIsBetter => (low > 1.0 + t, high > 1.0 + t, high < 1.0 - t),
    };
    if bad_all {
        Change::Regressed
    } else if bad_any {
        Change::Noisy
    } else if good_all {
        Change::Improved
    } else {
        Change::Unchanged
    }
}

/// Classifies a [`RatioCi`]: its interval, or its point estimate when it has
/// no interval.
pub fn classify_ci(ci: &RatioCi, direction: Direction, t: f64) -> Change {
    match ci.interval() {
        Some((low, high)) => classify(low, high, direction, t),
        None => classify(ci.ratio, ci.ratio, direction, t),
    }
}

/// The error-rate rule: regressed when `current - baseline` (fractions,
/// e.g. medians of `error_rate`) exceeds `max_increase_pp` percentage points.
pub fn classify_error_rate(baseline: f64, current: f64, max_increase_pp: f64) -> Change {
    if (current - baseline) * 100.0 > max_increase_pp {
        Change::Regressed
    } else {
        Change::Unchanged
    }
}

/// The overall change from the gated changes: the worst, in the order
/// `regressed` > `noisy` > `improved` > `unchanged`; `unchanged` when empty.
pub fn overall(gated: impl IntoIterator<Item = Change>) -> Change {
    gated.into_iter().max().unwrap_or(Change::Unchanged)
}

#[cfg(test)]
mod tests {
    use super::Change::*;
    use super::Direction::*;
    use super::*;
    use crate::analysis::stats::bootstrap_ratio_ci;

    #[test]
    fn max_regression_parses_one_value_or_per_metric_values() {
        let d = MaxRegression::default();
        assert_eq!(d.pct(Metric::Throughput), 5.0);
        assert_eq!(d.pct(Metric::P99), 25.0);
        let all = MaxRegression::parse("5").unwrap();
        assert!(Metric::ALL.iter().all(|m| all.pct(*m) == 5.0));
        let some = MaxRegression::parse("throughput=5,p99=15%").unwrap();
        assert_eq!(some.pct(Metric::Throughput), 5.0);
        assert_eq!(some.pct(Metric::P99), 15.0);
        assert_eq!(some.pct(Metric::P50), 15.0, "the default stays");
        let mixed = MaxRegression::parse("8,p99.9=30").unwrap();
        assert_eq!(mixed.pct(Metric::P90), 8.0);
        assert_eq!(mixed.pct(Metric::P999), 30.0);
        assert_eq!(
            MaxRegression::parse(&mixed.to_string()).unwrap(),
            mixed,
            "Display round-trips"
        );
        for bad in ["", "0", "100", "p98=5", "throughput=x", "5,,p99=3"] {
            assert!(MaxRegression::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            MaxRegression::parse("latency=5")
                .unwrap_err()
                .to_string()
                .contains("unknown metric `latency`")
        );
    }

    #[test]
    fn a_suite_of_tests_needs_wider_intervals_and_more_repetitions() {
        assert!((per_test_confidence(0.95, 1) - 0.95).abs() < 1e-12);
        assert!((per_test_confidence(0.95, 50) - 0.999).abs() < 1e-12);
        // One test at 95%: 4 a side (4^-4 = 0.0039 <= 0.025; 3^-3 = 0.037 is not).
        assert_eq!(min_repetitions(0.95), 4);
        // The quick suite's ~56 gated tests: tail 0.00045, so 5 (5^-5 = 0.00032).
        assert_eq!(min_repetitions(per_test_confidence(0.95, 56)), 5);
        // Ten thousand tests still need only 7 (7^-7 = 1.2e-6 <= 2.5e-6).
        assert_eq!(min_repetitions(per_test_confidence(0.95, 10_000)), 7);
    }

    const T: f64 = 0.05;
    const EDGE_LO: f64 = 1.0 - T;
    const EDGE_HI: f64 = 1.0 + T;
    const EPS: f64 = 1e-9;

    #[test]
    fn throughput_boundaries() {
        // Whole interval below 1 - t: regressed; touching 1 - t: not.
        assert_eq!(classify(0.80, EDGE_LO - EPS, HigherIsBetter, T), Regressed);
        assert_eq!(classify(0.80, EDGE_LO, HigherIsBetter, T), Noisy);
        assert_eq!(classify(0.80, EDGE_LO + EPS, HigherIsBetter, T), Noisy);
        assert_eq!(classify(0.80, 1.20, HigherIsBetter, T), Noisy);
        // Lower bound exactly at 1 - t: nothing beyond it.
        assert_eq!(classify(EDGE_LO, 1.0, HigherIsBetter, T), Unchanged);
        assert_eq!(classify(EDGE_LO - EPS, 1.0, HigherIsBetter, T), Noisy);
        assert_eq!(classify(EDGE_LO, EDGE_HI, HigherIsBetter, T), Unchanged);
        // Improvement needs the whole interval above 1 + t.
        assert_eq!(classify(EDGE_HI, 1.3, HigherIsBetter, T), Unchanged);
        assert_eq!(classify(EDGE_HI + EPS, 1.3, HigherIsBetter, T), Improved);
        assert_eq!(classify(1.02, 1.10, HigherIsBetter, T), Unchanged);
    }

    #[test]
    fn latency_boundaries() {
        assert_eq!(classify(EDGE_HI + EPS, 1.5, LowerIsBetter, T), Regressed);
        assert_eq!(classify(EDGE_HI, 1.5, LowerIsBetter, T), Noisy);
        assert_eq!(classify(EDGE_HI - EPS, 1.5, LowerIsBetter, T), Noisy);
        assert_eq!(classify(1.0, EDGE_HI, LowerIsBetter, T), Unchanged);
        assert_eq!(classify(1.0, EDGE_HI + EPS, LowerIsBetter, T), Noisy);
        assert_eq!(classify(0.5, EDGE_LO - EPS, LowerIsBetter, T), Improved);
        assert_eq!(classify(0.5, EDGE_LO, LowerIsBetter, T), Unchanged);
        assert_eq!(classify(0.5, 2.0, LowerIsBetter, T), Noisy);
        assert_eq!(classify(1.0, f64::INFINITY, LowerIsBetter, T), Noisy);
        assert_eq!(classify(0.0, f64::INFINITY, HigherIsBetter, T), Noisy);
    }

    #[test]
    fn point_estimates_without_interval_are_never_noisy() {
        for r in [
            0.5,
            EDGE_LO - EPS,
            EDGE_LO,
            1.0,
            EDGE_HI,
            EDGE_HI + EPS,
            2.0,
        ] {
            for d in [HigherIsBetter, LowerIsBetter] {
                assert_ne!(classify(r, r, d, T), Noisy, "{r} {d:?}");
            }
        }
        assert_eq!(
            classify(EDGE_LO - EPS, EDGE_LO - EPS, HigherIsBetter, T),
            Regressed
        );
        assert_eq!(classify(EDGE_LO, EDGE_LO, HigherIsBetter, T), Unchanged);
        assert_eq!(
            classify(EDGE_HI + EPS, EDGE_HI + EPS, LowerIsBetter, T),
            Regressed
        );
        assert_eq!(classify(EDGE_HI, EDGE_HI, LowerIsBetter, T), Unchanged);
    }

    #[test]
    fn one_repetition_each_side_uses_the_threshold_only() {
        // n = 1 vs n = 1: no interval, the point estimate decides.
        let ci = bootstrap_ratio_ci(&[90.0], &[100.0], 0.95, 1000, 1).unwrap();
        assert!(!ci.has_interval);
        assert_eq!(classify_ci(&ci, HigherIsBetter, T), Regressed);
        let ci = bootstrap_ratio_ci(&[96.0], &[100.0], 0.95, 1000, 1).unwrap();
        assert_eq!(classify_ci(&ci, HigherIsBetter, T), Unchanged);
        // n = 1 on one side only: still no interval.
        let ci = bootstrap_ratio_ci(&[90.0, 60.0, 120.0], &[100.0], 0.95, 1000, 1).unwrap();
        assert!(!ci.has_interval);
        assert_eq!(classify_ci(&ci, HigherIsBetter, T), Regressed);
    }

    #[test]
    fn intervals_from_repetitions() {
        let base = [1000.0, 1010.0, 990.0];
        let slower = [800.0, 810.0, 790.0];
        let noisy = [700.0, 1000.0, 1300.0];
        let ci = bootstrap_ratio_ci(&slower, &base, 0.95, 10_000, 1).unwrap();
        assert_eq!(classify_ci(&ci, HigherIsBetter, T), Regressed);
        assert_eq!(classify_ci(&ci, LowerIsBetter, T), Improved);
        let ci = bootstrap_ratio_ci(&noisy, &base, 0.95, 10_000, 1).unwrap();
        assert_eq!(classify_ci(&ci, HigherIsBetter, T), Noisy);
        let ci = bootstrap_ratio_ci(&base, &base, 0.95, 10_000, 1).unwrap();
        assert_eq!(classify_ci(&ci, HigherIsBetter, T), Unchanged);
    }

    #[test]
    fn error_rate_boundaries() {
        assert_eq!(classify_error_rate(0.0, 0.01, 1.0), Unchanged);
        assert_eq!(classify_error_rate(0.0, 0.0101, 1.0), Regressed);
        assert_eq!(classify_error_rate(0.05, 0.06, 1.0), Unchanged);
        assert_eq!(classify_error_rate(0.05, 0.0601, 1.0), Regressed);
        assert_eq!(classify_error_rate(0.5, 0.0, 1.0), Unchanged);
    }

    #[test]
    fn overall_is_the_worst() {
        assert_eq!(overall([]), Unchanged);
        assert_eq!(overall([Unchanged, Improved]), Improved);
        assert_eq!(overall([Improved, Noisy]), Noisy);
        assert_eq!(overall([Noisy, Regressed, Improved]), Regressed);
        assert_eq!(overall([Unchanged, Unchanged]), Unchanged);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn interval() -> impl Strategy<Value = (f64, f64)> {
            (0.0f64..3.0, 0.0f64..3.0).prop_map(|(a, b)| (a.min(b), a.max(b)))
        }

        proptest! {
            #[test]
            fn throughput_and_latency_are_mirror_images((lo, hi) in interval(), t in 0.001f64..0.5) {
                // x -> 2 - x swaps "below 1 - t" and "above 1 + t".
                prop_assert_eq!(
                    classify(lo, hi, HigherIsBetter, t),
                    classify(2.0 - hi, 2.0 - lo, LowerIsBetter, t)
                );
            }

            #[test]
            fn changes_mean_what_they_say((lo, hi) in interval(), t in 0.001f64..0.5) {
                match classify(lo, hi, HigherIsBetter, t) {
                    Regressed => prop_assert!(hi < 1.0 - t),
                    Improved => prop_assert!(lo > 1.0 + t),
                    Noisy => prop_assert!(lo < 1.0 - t && hi >= 1.0 - t),
                    Unchanged => prop_assert!(lo >= 1.0 - t && lo <= 1.0 + t),
                }
            }

            #[test]
            fn widening_a_noisy_interval_keeps_it_noisy(
                (lo, hi) in interval(), d in 0.0f64..1.0, t in 0.001f64..0.5
            ) {
                for dir in [HigherIsBetter, LowerIsBetter] {
                    if classify(lo, hi, dir, t) == Noisy {
                        prop_assert_eq!(classify(lo - d, hi + d, dir, t), Noisy);
                    }
                }
            }

            #[test]
            fn a_point_is_never_noisy(r in 0.0f64..3.0, t in 0.001f64..0.5) {
                for dir in [HigherIsBetter, LowerIsBetter] {
                    prop_assert_ne!(classify(r, r, dir, t), Noisy);
                }
            }
        }
    }
}
