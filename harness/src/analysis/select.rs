//! Which measurements a claim's comparison reads: the valid repetitions of
//! a target at a scenario and level, the levels two stacks share, each
//! level's state (measured, excluded, failed), the series a scaling or
//! memory claim takes, and why a target has no data where a claim looks.
//! Pure functions over a results file.

use std::collections::BTreeSet;

use super::claim::{LevelChoice, Metric};
use crate::results::schema::{Level, Measurement, ResultsFile};

/// Valid measurements of one target at one scenario and level.
pub(super) fn valid<'a>(
    ms: &'a [Measurement],
    target: &str,
    scenario: &str,
    level: Option<&Level>,
) -> Vec<&'a Measurement> {
    ms.iter()
        .filter(|m| m.target == target && m.scenario == scenario)
        .filter(|m| level.is_none_or(|l| m.level == *l))
        .filter(|m| m.excluded.is_none())
        .collect()
}

/// Why a measurement counts as the stack failing (it errored or fell over),
/// as opposed to a measurement that cannot be read (generator-bound,
/// interrupted, not steady): None when it was valid or not the stack's fault.
pub(super) fn stack_failure(m: &Measurement) -> Option<&str> {
    let why = m.excluded.as_deref()?;
    [
        "error rate",
        "no successful request",
        "idle connections stayed open",
    ]
    .iter()
    .any(|f| why.contains(f))
    .then_some(why)
}

/// A target's state at one level of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum AtLevel {
    /// At least one valid measurement.
    Valid,
    /// Measured, and every measurement failed (the reason of the first).
    Failed(String),
}

/// Each level of `scenario` at which `target` was valid or failed. A
/// target that did not start, or whose repetitions failed outright (the
/// run's `skipped` list), failed at every level measured for anyone.
pub(super) fn states(results: &ResultsFile, target: &str, scenario: &str) -> Vec<(Level, AtLevel)> {
    let ms = &results.measurements;
    let mut levels: Vec<Level> = Vec::new();
    for m in ms.iter().filter(|m| m.scenario == scenario) {
        if !levels.contains(&m.level) {
            levels.push(m.level);
        }
    }
    let skipped = results.skipped.iter().find(|s| {
        s.target == target
            && s.scenario.as_deref().is_none_or(|x| x == scenario)
            && (s.reason.starts_with("start failed") || s.reason.contains(" failed: "))
    });
    let mut out = Vec::new();
    for level in levels {
        let mine: Vec<&Measurement> = ms
            .iter()
            .filter(|m| m.target == target && m.scenario == scenario && m.level == level)
            .collect();
        if mine.iter().any(|m| m.excluded.is_none()) {
            out.push((level, AtLevel::Valid));
        } else if let Some(why) = mine.iter().find_map(|m| stack_failure(m)) {
            out.push((level, AtLevel::Failed(why.to_string())));
        } else if let Some(s) = skipped {
            out.push((level, AtLevel::Failed(s.reason.clone())));
        }
    }
    out
}

/// Levels of a scenario where every listed target has at least one valid measurement.
pub(super) fn common_levels(ms: &[Measurement], scenario: &str, targets: &[&str]) -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::new();
    for m in ms.iter().filter(|m| m.scenario == scenario) {
        if !levels.contains(&m.level) {
            levels.push(m.level);
        }
    }
    levels.retain(|l| {
        targets
            .iter()
            .all(|t| !valid(ms, t, scenario, Some(l)).is_empty())
    });
    levels.sort_by(|a, b| a.value.total_cmp(&b.value));
    levels
}

pub(super) fn choose(levels: &[Level], choice: LevelChoice) -> Option<Level> {
    match choice {
        LevelChoice::Highest => levels.last().copied(),
        LevelChoice::Lowest => levels.first().copied(),
        LevelChoice::Exactly(v) => levels.iter().find(|l| l.value == v).copied(),
    }
}

/// Per-repetition RSS slopes (bytes per added connection) of one target
/// between two levels of a connection sweep: repetition r at `low` paired with
/// repetition r at `high`. Slopes below zero (noise) are dropped.
pub fn rss_slopes(
    ms: &[Measurement],
    target: &str,
    scenario: &str,
    low: &Level,
    high: &Level,
) -> Vec<f64> {
    rss_slopes_by_round(ms, target, scenario, low, high)
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

/// [`rss_slopes`] with the repetition each slope comes from.
pub(super) fn rss_slopes_by_round(
    ms: &[Measurement],
    target: &str,
    scenario: &str,
    low: &Level,
    high: &Level,
) -> Vec<(u32, f64)> {
    let lo = valid(ms, target, scenario, Some(low));
    let hi = valid(ms, target, scenario, Some(high));
    let dx = high.value - low.value;
    if dx <= 0.0 {
        return Vec::new();
    }
    hi.iter()
        .filter_map(|h| {
            let l = lo.iter().find(|l| l.repetition == h.repetition)?;
            let rh = h.resources.as_ref()?.rss_peak_bytes as f64;
            let rl = l.resources.as_ref()?.rss_peak_bytes as f64;
            let s = (rh - rl) / dx;
            (s >= 0.0).then_some((h.repetition, s))
        })
        .collect()
}

/// The values of a metric for one target at a scenario and level.
/// For [`Metric::RssPerConnection`], the slope runs from the target's own
/// lowest valid level below `level`.
pub(super) fn values(
    ms: &[Measurement],
    metric: &Metric,
    target: &str,
    scenario: &str,
    level: &Level,
) -> Vec<f64> {
    series(ms, metric, target, scenario, level)
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

/// [`values`] with the repetition (the schedule's round) of each.
pub(super) fn series(
    ms: &[Measurement],
    metric: &Metric,
    target: &str,
    scenario: &str,
    level: &Level,
) -> Vec<(u32, f64)> {
    if *metric == Metric::RssPerConnection {
        let own = common_levels(ms, scenario, &[target]);
        return match own.first().filter(|l| l.value < level.value) {
            Some(low) => rss_slopes_by_round(ms, target, scenario, low, level),
            None => Vec::new(),
        };
    }
    valid(ms, target, scenario, Some(level))
        .into_iter()
        .filter_map(|m| Some((m.repetition, metric.value(m)?)))
        .collect()
}

/// Why a pair must not be compared: on a target with more than one CPU, a
/// stack with one worker against one with several measures the worker
/// count, not the stack.
pub(super) fn unequal_workers(results: &ResultsFile, a: &str, b: &str) -> Option<String> {
    if results.host.target_cpus.len() < 2 {
        return None;
    }
    let workers = |t: &str| results.targets.iter().find(|i| i.id == t)?.workers;
    match (workers(a), workers(b)) {
        (Some(x), Some(y)) if x != y && (x == 1 || y == 1) => Some(format!(
            "{a} ({x} worker{}) vs {b} ({y} worker{}): refused, a pair must not pit several workers against one on a {}-CPU target",
            if x == 1 { "" } else { "s" },
            if y == 1 { "" } else { "s" },
            results.host.target_cpus.len()
        )),
        _ => None,
    }
}

/// Why a target has no data at a place, for `missing`.
pub(super) fn why_missing(results: &ResultsFile, target: &str, scenario: &str) -> String {
    let all: Vec<&Measurement> = results
        .measurements
        .iter()
        .filter(|m| m.target == target && m.scenario == scenario)
        .collect();
    if all.is_empty() {
        // Skipped entries say why nothing was measured (a repetition that was
        // measured again is listed there too, but then a measurement exists).
        return match results
            .skipped
            .iter()
            .find(|s| s.target == target && s.scenario.as_deref().is_none_or(|x| x == scenario))
        {
            Some(s) => format!("{target}: skipped ({})", s.reason),
            None => format!("{target}: not measured in `{scenario}`"),
        };
    }
    let reasons: BTreeSet<&str> = all.iter().filter_map(|m| m.excluded.as_deref()).collect();
    if reasons.is_empty() {
        format!("{target}: no usable value of the metric in `{scenario}`")
    } else {
        format!(
            "{target}: every `{scenario}` measurement excluded ({})",
            reasons.into_iter().collect::<Vec<_>>().join("; ")
        )
    }
}
