//! The tables both text reports show (verdicts, comparisons, per-scenario
//! figures, environment), built once as plain cells so `summary.md` and
//! `report.html` say exactly the same thing.

use super::Context;
use super::data::{Model, Stat, metric_display};
use super::style::{fmt_num, level_label};
use crate::results::schema::{Comparison, PairResult, ResultsFile, Verdict};
use crate::sys::describe_cpus;

/// A table of text cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column headers (with units).
    pub headers: Vec<String>,
    /// Rows of cells, as many as headers.
    pub rows: Vec<Vec<String>>,
}

/// A number with about three significant digits: `0.412`, `12.3`, `1234`.
pub fn sig3(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{}", v.round() as i64)
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A metric value in its display unit, with the unit: `12.3 ms`, `4512 req/s`.
pub fn metric_value(metric: &str, v: f64) -> String {
    let (desc, factor) = metric_display(metric);
    let unit = desc
        .rsplit_once('(')
        .map(|(_, u)| u.trim_end_matches(')').to_string())
        .unwrap_or_default();
    let unit = unit.replace(", log scale", "").replace(" of one CPU", "");
    if unit.is_empty() {
        sig3(v * factor)
    } else if unit == "%" {
        format!("{}%", sig3(v * factor))
    } else {
        format!("{} {unit}", sig3(v * factor))
    }
}

/// `median [low–high]` of a Stat scaled by `factor`.
pub fn stat_cell(s: Option<Stat>, factor: f64) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n < 2 || s.low == s.high => sig3(s.median * factor),
        Some(s) => format!(
            "{} [{}–{}]",
            sig3(s.median * factor),
            sig3(s.low * factor),
            sig3(s.high * factor)
        ),
    }
}

fn result_text(r: PairResult) -> &'static str {
    match r {
        PairResult::FavouredBetter => "favoured better",
        PairResult::OtherBetter => "other better",
        PairResult::NoDifference => "no difference",
    }
}

/// One comparison in one line: `node-express vs python-django (io-sleep
/// c=256, throughput): 4512 vs 2250 req/s, ratio 2.01 [1.85–2.20], favoured better`.
pub fn comparison_line(c: &Comparison) -> String {
    let (desc, _) = metric_display(&c.metric);
    let name = desc.split(" (").next().unwrap_or(&desc).to_string();
    if let Some(why) = &c.failed {
        return format!(
            "{} vs {} ({} {}, {name}): {why}; {}",
            c.favoured,
            c.other,
            c.scenario,
            level_label(&c.level),
            result_text(c.result)
        );
    }
    format!(
        "{} vs {} ({} {}, {name}): {} vs {}, ratio {:.2} [{:.2}–{:.2}], {}",
        c.favoured,
        c.other,
        c.scenario,
        level_label(&c.level),
        metric_value(&c.metric, c.favoured_median),
        metric_value(&c.metric, c.other_median),
        c.ratio,
        c.ci_low,
        c.ci_high,
        result_text(c.result)
    )
}

/// The verdict table: claim, verdict, quote, deciding numbers.
pub fn verdicts(results: &ResultsFile) -> Table {
    let rows = results
        .verdicts
        .iter()
        .map(|v| {
            let mut numbers: Vec<String> = v.comparisons.iter().map(comparison_line).collect();
            if numbers.is_empty() {
                // No comparison: the verdict's own sentence says why.
                numbers.push(v.summary.clone());
            } else if !v.missing.is_empty() {
                numbers.push(format!("missing: {}", v.missing.join("; ")));
            }
            vec![
                v.claim.clone(),
                v.outcome.word().to_uppercase(),
                v.quote.clone(),
                numbers.join("; "),
            ]
        })
        .collect();
    Table {
        headers: vec![
            "Claim".into(),
            "Verdict".into(),
            "Article says".into(),
            "Deciding numbers (medians; ratio with 95% interval)".into(),
        ],
        rows,
    }
}

/// The comparisons behind one verdict.
pub fn comparisons(v: &Verdict) -> Table {
    Table {
        headers: [
            "Favoured",
            "Other",
            "Scenario",
            "Level",
            "Metric",
            "Favoured median",
            "Other median",
            "Ratio [95% CI]",
            "Repetitions",
            "Result",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: v
            .comparisons
            .iter()
            .map(|c| {
                vec![
                    c.favoured.clone(),
                    c.other.clone(),
                    c.scenario.clone(),
                    level_label(&c.level),
                    c.metric.clone(),
                    metric_value(&c.metric, c.favoured_median),
                    metric_value(&c.metric, c.other_median),
                    format!("{:.2} [{:.2}–{:.2}]", c.ratio, c.ci_low, c.ci_high),
                    format!("{} / {}", c.repetitions.0, c.repetitions.1),
                    result_text(c.result).to_string(),
                ]
            })
            .collect(),
    }
}

/// Per target and level of one scenario: medians and 95% intervals over
/// the included repetitions.
pub fn scenario(model: &Model<'_>, scenario: &str) -> Table {
    let headers = [
        "Target",
        "Level",
        "Reps used / run",
        "Throughput (req/s)",
        "p50 (ms)",
        "p99 (ms)",
        "p99.9 (ms)",
        "Errors (%)",
        "Target CPU (% of one CPU)",
        "Target peak RSS (MB)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows = model
        .groups
        .iter()
        .filter(|g| g.scenario == scenario)
        .map(|g| {
            let used = g.included().count();
            vec![
                g.target.to_string(),
                level_label(&g.level),
                format!("{used} / {}", g.all.len()),
                stat_cell(g.stat("throughput_rps"), 1.0),
                stat_cell(g.stat("p50_us"), 1e-3),
                stat_cell(g.stat("p99_us"), 1e-3),
                stat_cell(g.stat("p999_us"), 1e-3),
                stat_cell(g.stat("error_rate"), 100.0),
                stat_cell(g.stat("cpu_percent_mean"), 1.0),
                stat_cell(g.stat("rss_peak_bytes"), 1e-6),
            ]
        })
        .collect();
    Table { headers, rows }
}

/// Excluded measurements of one scenario, one line each.
pub fn excluded(model: &Model<'_>, scenario: &str) -> Vec<String> {
    model
        .groups
        .iter()
        .filter(|g| g.scenario == scenario)
        .flat_map(|g| {
            g.excluded().map(move |(m, why)| {
                format!(
                    "{} at {}, repetition {}: {why}",
                    g.target,
                    level_label(&g.level),
                    m.repetition
                )
            })
        })
        .collect()
}

/// The targets as measured: configuration and versions.
pub fn targets(results: &ResultsFile) -> Table {
    Table {
        headers: [
            "Target",
            "Language",
            "Framework",
            "Server",
            "Model",
            "Workers",
            "CPUs",
            "Versions",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: results
            .targets
            .iter()
            .map(|t| {
                vec![
                    t.id.clone(),
                    t.language.clone(),
                    t.framework.clone(),
                    t.server.clone(),
                    t.concurrency_model.clone(),
                    t.workers
                        .map(|w| w.to_string())
                        .unwrap_or_else(|| "–".into()),
                    describe_cpus(&t.cpus),
                    t.versions
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect(),
    }
}

/// The host and harness, as `(label, value)` lines.
pub fn environment(results: &ResultsFile) -> Vec<(String, String)> {
    let h = &results.host;
    let t = &results.tool;
    let cpus = describe_cpus;
    let mut out = vec![
        ("Run id".into(), results.run_id.clone()),
        (
            "Started".into(),
            results
                .started_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
        ),
        (
            "Finished".into(),
            results
                .finished_at
                .map(|f| f.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "not recorded".into()),
        ),
        (
            "Complete".into(),
            if results.complete {
                "yes".into()
            } else {
                "NO: the run was interrupted; some planned measurements are missing".into()
            },
        ),
        (
            "Harness".into(),
            format!(
                "{} {}{}{}",
                t.name,
                t.version,
                t.git_commit
                    .as_deref()
                    .map(|c| format!(", commit {c}"))
                    .unwrap_or_default(),
                if t.git_dirty == Some(true) {
                    " (uncommitted changes)"
                } else {
                    ""
                }
            ),
        ),
        ("Command".into(), results.command_line.join(" ")),
        (
            "Host".into(),
            format!("{} ({}, kernel {})", h.hostname, h.os, h.kernel),
        ),
        (
            "CPU".into(),
            format!("{} ({} logical CPUs)", h.cpu_model.trim(), h.logical_cpus),
        ),
        (
            "Memory".into(),
            format!("{} GB", sig3(h.memory_bytes as f64 / 1e9)),
        ),
        (
            "CPU split".into(),
            format!(
                "generator {} · targets {} · downstream {}",
                cpus(&h.generator_cpus),
                cpus(&h.target_cpus),
                cpus(&h.downstream_cpus)
            ),
        ),
    ];
    for s in &results.skipped {
        out.push((
            "Skipped".into(),
            format!(
                "{}{}: {}",
                s.target,
                s.scenario
                    .as_deref()
                    .map(|x| format!(" / {x}"))
                    .unwrap_or_default(),
                s.reason
            ),
        ));
    }
    out
}

/// A one-line summary of what the run measured: targets, scenarios, measurements.
pub fn overview(ctx: &Context<'_>) -> String {
    let r = ctx.model.results;
    let excluded = r
        .measurements
        .iter()
        .filter(|m| m.excluded.is_some())
        .count();
    format!(
        "{} measurements ({} excluded) of {} target{} over {} scenario{}; {} claim verdict{}.",
        r.measurements.len(),
        excluded,
        ctx.model.targets.len(),
        if ctx.model.targets.len() == 1 {
            ""
        } else {
            "s"
        },
        ctx.model.scenarios.len(),
        if ctx.model.scenarios.len() == 1 {
            ""
        } else {
            "s"
        },
        r.verdicts.len(),
        if r.verdicts.len() == 1 { "" } else { "s" },
    )
}

/// The levels of a scenario as text: `c=1, 16, 64`.
pub fn levels_text(model: &Model<'_>, scenario: &str) -> String {
    let mut parts = Vec::new();
    for kind in [
        crate::results::schema::LoadModelKind::Closed,
        crate::results::schema::LoadModelKind::Open,
    ] {
        let l = model.levels(scenario, kind);
        if l.is_empty() {
            continue;
        }
        let vals: Vec<String> = l.iter().map(|x| fmt_num(x.value)).collect();
        parts.push(match kind {
            crate::results::schema::LoadModelKind::Closed => {
                format!("closed loop at c = {}", vals.join(", "))
            }
            crate::results::schema::LoadModelKind::Open => {
                format!("open loop at {} req/s", vals.join(", "))
            }
        });
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(sig3(0.41234), "0.412");
        assert_eq!(sig3(12.34), "12.3");
        assert_eq!(sig3(1234.4), "1234");
        assert_eq!(sig3(f64::NAN), "n/a");
    }

    #[test]
    fn metric_values_carry_their_unit() {
        assert_eq!(metric_value("p99_us", 12_345.0), "12.3 ms");
        assert_eq!(metric_value("throughput_rps", 4512.2), "4512 req/s");
        assert_eq!(metric_value("rss_peak_bytes", 60_900_000.0), "60.9 MB");
        assert_eq!(metric_value("error_rate", 0.0123), "1.23%");
        assert_eq!(metric_value("cpu_percent_mean", 150.0), "150%");
    }

    #[test]
    fn intervals_are_shown_only_when_there_is_one() {
        let s = Stat {
            median: 10.0,
            low: 9.0,
            high: 11.5,
            n: 3,
        };
        assert_eq!(stat_cell(Some(s), 1.0), "10.0 [9.00–11.5]");
        assert_eq!(stat_cell(Some(Stat { n: 1, ..s }), 1.0), "10.0");
        assert_eq!(stat_cell(None, 1.0), "–");
    }
}
