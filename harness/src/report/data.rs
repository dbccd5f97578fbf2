//! What the reports draw, computed from a results file: measurements grouped
//! by target, scenario and level; medians and 95% intervals across
//! repetitions; metric extraction by name with units.
//!
//! Pure functions, no I/O. Excluded measurements stay in their group (the
//! reports list them) but never enter a median or an interval.
//!
//! Medians and their intervals come from `crate::analysis::stats` (one
//! seeded bootstrap and one quantile rule for verdicts, reports and
//! compare). Verdict intervals are read from the results file, never
//! recomputed.

use crate::analysis::claim::Metric;
use crate::results::Latency;
use crate::results::schema::{Level, LoadModelKind, Measurement, ResultsFile};

/// A median with a 95% interval across repetitions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Median of the values.
    pub median: f64,
    /// Lower bound of the 95% bootstrap interval of the median (= median when n < 2).
    pub low: f64,
    /// Upper bound of the 95% bootstrap interval of the median.
    pub high: f64,
    /// Values behind it.
    pub n: usize,
}

/// Median of `v` (None when empty). NaN values are ignored (a NaN is
/// missing data here); the median itself is [`crate::analysis::stats::median`].
pub fn median(v: &[f64]) -> Option<f64> {
    let s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    crate::analysis::stats::median(&s)
}

/// Median and 95% percentile-bootstrap interval of the median
/// ([`crate::analysis::stats::bootstrap_median_ci`]: the verdicts' bootstrap
/// and quantile rule, fixed seed, so the same input always gives the same
/// interval). Non-finite values are ignored. With fewer than 2 values the
/// interval is the single value.
pub fn summarize(v: &[f64]) -> Option<Stat> {
    let vals: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let (median, low, high) =
        crate::analysis::stats::bootstrap_median_ci(&vals, 0.95, 10_000, 0x5EED_C1A1)?;
    Some(Stat {
        median,
        low,
        high,
        n: vals.len(),
    })
}

/// The value of a named metric for one measurement, in the unit its name
/// says (`_us`, `_rps`, `_bytes`, percent). Known names: `throughput_rps`,
/// `requests_rps`, `error_rate`, `p50_us` .. `p9999_us`, `max_us`, `mean_us`
/// (also with a `latency_`, `ttfb_`, `service_`, `schedule_lag_` prefix),
/// `cpu_percent_mean`, `cpu_percent_peak`, `rss_peak_bytes`, `rss_mean_bytes`,
/// `cpu_s`, `generator_cpu_percent`, `chunk_gap_jitter_us` (p99 − p50 of the
/// chunk gaps) and `<template>_p99_us` (the names the verdicts use). None for
/// unknown names, missing data, and `rss_per_connection_bytes` (a slope over
/// two levels, not a per-measurement value).
pub fn metric(m: &Measurement, name: &str) -> Option<f64> {
    // The claims' and thresholds' metrics read the same way here.
    if let Ok(metric) = Metric::parse(name, None) {
        return metric.value(m);
    }
    let s = &m.load.summary;
    let res = m.resources.as_ref();
    match name {
        "goodput_rps" => return Some(s.throughput_rps),
        "requests_rps" => return Some(s.requests_rps),
        "errors" => return Some(s.errors as f64),
        "cpu_percent_mean" | "target_cpu_percent_mean" => return res.map(|r| r.cpu_percent_mean),
        "cpu_percent_peak" | "target_cpu_percent_peak" => return res.map(|r| r.cpu_percent_peak),
        "rss_peak_bytes" | "target_rss_peak_bytes" => return res.map(|r| r.rss_peak_bytes as f64),
        "rss_mean_bytes" | "target_rss_mean_bytes" => return res.map(|r| r.rss_mean_bytes as f64),
        "cpu_s" | "target_cpu_s" => return res.map(|r| r.cpu_s),
        "generator_cpu_percent" => return Some(m.load.generator.cpu_percent),
        _ => {}
    }
    // `<template>_p99_us`: p99 of one request template of a mix.
    if let Some(t) = name.strip_suffix("_p99_us")
        && m.load.templates.iter().any(|x| x.name == t)
    {
        return Metric::TemplateP99(t.to_string()).value(m);
    }
    let (dist, rest) = if let Some(r) = name.strip_prefix("latency_") {
        (Some(&s.latency), r)
    } else if let Some(r) = name.strip_prefix("ttfb_") {
        (Some(&s.ttfb), r)
    } else if let Some(r) = name.strip_prefix("service_") {
        (s.service.as_ref(), r)
    } else if let Some(r) = name.strip_prefix("schedule_lag_") {
        (s.schedule_lag.as_ref(), r)
    } else {
        (Some(&s.latency), name)
    };
    let p = dist?;
    let v = match rest {
        "p50_us" => p.p50_us as f64,
        "p75_us" => p.p75_us as f64,
        "p90_us" => p.p90_us as f64,
        "p99_us" => p.p99_us as f64,
        "p999_us" => p.p999_us as f64,
        "p9999_us" => p.p9999_us as f64,
        "max_us" => p.max_us as f64,
        "min_us" => p.min_us as f64,
        "mean_us" => p.mean_us,
        _ => return None,
    };
    Some(v)
}

/// How to show a metric: its axis label with unit, and the factor from its
/// stored unit to the shown one (µs are shown as ms, bytes as MB).
pub fn metric_display(name: &str) -> (String, f64) {
    let pretty = |s: &str| s.replace('_', " ");
    let name = name.strip_prefix("target_").unwrap_or(name);
    match name {
        "rss_peak_bytes" => return ("peak RSS (MB)".into(), 1e-6),
        "rss_mean_bytes" => return ("mean RSS (MB)".into(), 1e-6),
        "cpu_percent_mean" => return ("mean CPU (% of one CPU)".into(), 1.0),
        "cpu_percent_peak" => return ("peak CPU (% of one CPU)".into(), 1.0),
        "cpu_s" => return ("CPU time (s)".into(), 1.0),
        "rss_per_connection_bytes" => return ("RSS per open connection (KB)".into(), 1e-3),
        "chunk_gap_jitter_us" => return ("chunk-gap jitter, p99 − p50 (ms)".into(), 1e-3),
        _ => {}
    }
    if let Some(base) = name.strip_suffix("_us") {
        let base = base
            .replace("p9999", "p99.99")
            .replace("p999", "p99.9")
            .replace('_', " ");
        (format!("{base} latency (ms)"), 1e-3)
    } else if let Some(base) = name.strip_suffix("_bytes") {
        (format!("{} (MB)", pretty(base)), 1e-6)
    } else if let Some(base) = name.strip_suffix("_rps") {
        (format!("{} (req/s)", pretty(base)), 1.0)
    } else if name == "error_rate" {
        ("error rate (%)".into(), 100.0)
    } else if name.contains("percent") {
        (format!("{} (%)", pretty(name).replace(" percent", "")), 1.0)
    } else {
        (pretty(name), 1.0)
    }
}

/// Whether two levels are the same load level.
pub fn same_level(a: &Level, b: &Level) -> bool {
    a.model == b.model && a.value == b.value
}

/// All repetitions of one target at one scenario and level.
#[derive(Clone, Debug)]
pub struct Group<'a> {
    /// Target id.
    pub target: &'a str,
    /// Scenario name.
    pub scenario: &'a str,
    /// Load level.
    pub level: Level,
    /// Every repetition, excluded ones too, by repetition number.
    pub all: Vec<&'a Measurement>,
}

impl<'a> Group<'a> {
    /// Repetitions that may be used (not excluded).
    pub fn included(&self) -> impl Iterator<Item = &'a Measurement> + '_ {
        self.all.iter().copied().filter(|m| m.excluded.is_none())
    }

    /// Repetitions that were excluded, with the reason.
    pub fn excluded(&self) -> impl Iterator<Item = (&'a Measurement, &'a str)> + '_ {
        self.all
            .iter()
            .filter_map(|m| m.excluded.as_deref().map(|r| (*m, r)))
    }

    /// Median and interval of a metric over the included repetitions.
    pub fn stat(&self, name: &str) -> Option<Stat> {
        let v: Vec<f64> = self.included().filter_map(|m| metric(m, name)).collect();
        summarize(&v)
    }

    /// The latency histograms of the included repetitions, merged (exact:
    /// every histogram has the fixed layout). None when nothing is included.
    pub fn merged_latency(&self) -> Option<Latency> {
        let mut it = self.included();
        let mut acc = it.next()?.load.latency.clone();
        for m in it {
            acc.add(&m.load.latency);
        }
        Some(acc)
    }

    /// The repetition whose throughput is the median of the included ones
    /// (the lower middle one for an even count): the one a timeline shows.
    pub fn representative(&self) -> Option<&'a Measurement> {
        let mut v: Vec<&Measurement> = self.included().collect();
        if v.is_empty() {
            return self.all.first().copied();
        }
        v.sort_by(|a, b| {
            a.load
                .summary
                .throughput_rps
                .total_cmp(&b.load.summary.throughput_rps)
                .then(a.repetition.cmp(&b.repetition))
        });
        Some(v[(v.len() - 1) / 2])
    }

    /// Open connections this level held: active plus idle keep-alive
    /// connections as configured (first repetition).
    pub fn open_connections(&self) -> f64 {
        self.all
            .first()
            .map(|m| (m.load.options.connections + m.load.options.idle_connections) as f64)
            .unwrap_or(self.level.value)
    }
}

/// A results file organised for drawing.
#[derive(Debug)]
pub struct Model<'a> {
    /// The results.
    pub results: &'a ResultsFile,
    /// Every target id: those declared, then any only seen in measurements.
    pub targets: Vec<&'a str>,
    /// Scenario names in the order first measured.
    pub scenarios: Vec<&'a str>,
    /// Groups ordered by scenario, model, level value, then target order.
    pub groups: Vec<Group<'a>>,
}

impl<'a> Model<'a> {
    /// Groups the measurements of a results file.
    pub fn new(results: &'a ResultsFile) -> Self {
        let mut targets: Vec<&str> = results.targets.iter().map(|t| t.id.as_str()).collect();
        let mut scenarios: Vec<&str> = Vec::new();
        for m in &results.measurements {
            if !targets.contains(&m.target.as_str()) {
                targets.push(&m.target);
            }
            if !scenarios.contains(&m.scenario.as_str()) {
                scenarios.push(&m.scenario);
            }
        }
        let mut groups: Vec<Group<'a>> = Vec::new();
        for m in &results.measurements {
            match groups.iter_mut().find(|g| {
                g.target == m.target && g.scenario == m.scenario && same_level(&g.level, &m.level)
            }) {
                Some(g) => g.all.push(m),
                None => groups.push(Group {
                    target: &m.target,
                    scenario: &m.scenario,
                    level: m.level,
                    all: vec![m],
                }),
            }
        }
        for g in &mut groups {
            g.all.sort_by_key(|m| m.repetition);
        }
        let pos = |v: &[&str], x: &str| v.iter().position(|y| *y == x).unwrap_or(usize::MAX);
        groups.sort_by(|a, b| {
            pos(&scenarios, a.scenario)
                .cmp(&pos(&scenarios, b.scenario))
                .then(a.level.model.cmp(&b.level.model))
                .then(a.level.value.total_cmp(&b.level.value))
                .then(pos(&targets, a.target).cmp(&pos(&targets, b.target)))
        });
        Self {
            results,
            targets,
            scenarios,
            groups,
        }
    }

    /// Groups of one scenario and load model.
    pub fn groups_of(&self, scenario: &str, model: LoadModelKind) -> Vec<&Group<'a>> {
        self.groups
            .iter()
            .filter(|g| g.scenario == scenario && g.level.model == model)
            .collect()
    }

    /// The distinct levels of one scenario and model, ascending.
    pub fn levels(&self, scenario: &str, model: LoadModelKind) -> Vec<Level> {
        let mut out: Vec<Level> = Vec::new();
        for g in self.groups_of(scenario, model) {
            if !out.iter().any(|l| same_level(l, &g.level)) {
                out.push(g.level);
            }
        }
        out.sort_by(|a, b| a.value.total_cmp(&b.value));
        out
    }

    /// Targets measured in one scenario, in target order.
    pub fn targets_of(&self, scenario: &str) -> Vec<&'a str> {
        self.targets
            .iter()
            .copied()
            .filter(|t| {
                self.groups
                    .iter()
                    .any(|g| g.scenario == scenario && g.target == *t)
            })
            .collect()
    }

    /// The group of one target, scenario and level.
    pub fn group(&self, target: &str, scenario: &str, level: &Level) -> Option<&Group<'a>> {
        self.groups
            .iter()
            .find(|g| g.target == target && g.scenario == scenario && same_level(&g.level, level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn interval_contains_median_and_is_reproducible() {
        let v = [10.0, 12.0, 11.0, 13.0, 9.0];
        let a = summarize(&v).unwrap();
        let b = summarize(&v).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.median, 11.0);
        assert!(a.low <= 11.0 && a.high >= 11.0);
        assert!(a.low >= 9.0 && a.high <= 13.0);
        let one = summarize(&[5.0]).unwrap();
        assert_eq!((one.low, one.high, one.n), (5.0, 5.0, 1));
    }

    #[test]
    fn metric_units_are_named() {
        assert_eq!(metric_display("p99_us"), ("p99 latency (ms)".into(), 1e-3));
        assert_eq!(metric_display("p999_us").0, "p99.9 latency (ms)");
        assert_eq!(metric_display("throughput_rps").0, "throughput (req/s)");
        assert_eq!(metric_display("rss_peak_bytes").0, "peak RSS (MB)");
    }
}
