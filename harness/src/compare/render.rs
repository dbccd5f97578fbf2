//! The three outputs of a [`CompareReport`]: an aligned terminal table,
//! Markdown (a pull-request comment or CI job summary) and JSON. Pure
//! functions from the report to text; the caller writes the files.

use super::evaluate::pct;
use super::gate::{Change, Metric};
use super::report::{CompareReport, MeasurementComparison, MetricComparison};

/// The change of a measurement as shown (`not compared` for `None`).
fn change_name(v: Option<Change>) -> &'static str {
    v.map_or("not compared", Change::name)
}

/// A metric value with its unit: throughput in requests/s, latency in µs/ms/s.
pub fn value(metric: Metric, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "-".into();
    };
    match metric {
        Metric::Throughput if v >= 100.0 => format!("{v:.0}/s"),
        Metric::Throughput => format!("{v:.2}/s"),
        _ if v >= 1_000_000.0 => format!("{:.2} s", v / 1e6),
        _ if v >= 1_000.0 => format!("{:.2} ms", v / 1e3),
        _ => format!("{v:.0} µs"),
    }
}

/// The change cell of a metric: `-16.7%` and its interval, or why it is missing.
fn change_and_interval(m: &MetricComparison) -> (String, String) {
    match &m.ratio {
        Some(ci) => (
            pct(ci.ratio),
            match ci.interval() {
                Some((lo, hi)) => format!("[{}, {}]", pct(lo), pct(hi)),
                None => "no interval".into(),
            },
        ),
        None => (
            "-".into(),
            m.note.clone().unwrap_or_else(|| "not compared".into()),
        ),
    }
}

fn metric_label(m: &MetricComparison) -> String {
    format!("{}{}", m.metric.name(), if m.gated { "*" } else { "" })
}

fn header_line(r: &CompareReport) -> String {
    let c = &r.counts;
    let mut s = format!(
        "{} regressed, {} noisy, {} improved, {} unchanged",
        c.regressed, c.noisy, c.improved, c.unchanged
    );
    if c.not_compared > 0 {
        s.push_str(&format!(", {} not compared", c.not_compared));
    }
    s
}

fn settings_line(r: &CompareReport) -> String {
    let s = &r.settings;
    let f = &r.family;
    let gate: Vec<String> = s
        .gate
        .iter()
        .map(|m| format!("{} (±{}%)", m.name(), s.max_regression.pct(*m)))
        .collect();
    let paired = r
        .measurements
        .iter()
        .flat_map(|m| &m.metrics)
        .any(|m| m.paired);
    format!(
        "gated on {} and error rate (+{} pp); bootstrap intervals of the ratio of medians{}, each at {:.3}% so the {} gated tests hold together at {}% (Bonferroni; at least {} repetitions a side)",
        gate.join(", "),
        s.max_error_increase_pp,
        match (r.duet, paired) {
            (true, true) =>
                ", repetitions paired (each pair measured at the same time: a duet run)",
            (false, true) => ", repetitions paired by round",
            (_, false) => "",
        },
        f.per_test_confidence * 100.0,
        f.tests,
        s.confidence * 100.0,
        f.min_repetitions
    )
}

/// `passed`, `FAILED` or `NOT GATED`.
fn gate_word(r: &CompareReport) -> &'static str {
    if r.gate_failed {
        "FAILED"
    } else if !r.not_gated.is_empty() {
        "NOT GATED"
    } else {
        "passed"
    }
}

/// The runs in the order they started, one line: `base#1, head#1, head#2, base#2`.
fn order_line(r: &CompareReport) -> Option<String> {
    (r.order.len() > 2).then(|| {
        let v: Vec<String> = r
            .order
            .iter()
            .map(|o| {
                format!(
                    "{}#{}",
                    match o.side {
                        super::matching::Side::Baseline => "base",
                        super::matching::Side::Current => "head",
                    },
                    o.round
                )
            })
            .collect();
        format!("run order: {}", v.join(", "))
    })
}

/// Aligns rows of cells into columns two spaces apart. Columns listed in
/// `right` are right-aligned. Widths count characters, not bytes.
fn table(rows: &[Vec<String>], right: &[usize]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i > 0 {
                line.push_str("  ");
            }
            if right.contains(&i) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if i + 1 < row.len() {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The terminal table: one row per metric of each shared measurement, then the
/// per-measurement changes, the lists of what was not compared, and the
/// warnings. `*` marks the gated metrics.
pub fn terminal(r: &CompareReport) -> String {
    let mut out = format!(
        "claimbench compare: {} (baseline) vs {} (current)\n{}\n",
        r.baseline.label(),
        r.current.label(),
        settings_line(r)
    );
    if let Some(o) = order_line(r) {
        out.push_str(&o);
        out.push('\n');
    }
    out.push('\n');
    let mut rows = vec![
        [
            "TARGET", "SCENARIO", "LEVEL", "REPS", "METRIC", "BASELINE", "CURRENT", "CHANGE",
            "INTERVAL", "VERDICT",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for mc in &r.measurements {
        for (i, m) in mc.metrics.iter().enumerate() {
            let (first, reps) = if i == 0 {
                (
                    vec![
                        mc.key.target.clone(),
                        mc.key.scenario.clone(),
                        mc.key.level.label(),
                    ],
                    reps(mc),
                )
            } else {
                (vec![String::new(); 3], String::new())
            };
            let (change, interval) = change_and_interval(m);
            let mut row = first;
            row.extend([
                reps,
                metric_label(m),
                value(m.metric, m.baseline_median),
                value(m.metric, m.current_median),
                change,
                interval,
                change_name(m.change).to_string(),
            ]);
            rows.push(row);
        }
        let e = &mc.error_rate;
        let mut row = vec![String::new(); 4];
        row.extend([
            "errors*".to_string(),
            format!("{:.2}%", e.baseline * 100.0),
            format!("{:.2}%", e.current * 100.0),
            format!("{:+.2}pp", e.change_pp),
            String::new(),
            e.change.name().to_string(),
        ]);
        rows.push(row);
    }
    out.push_str(&table(&rows, &[3, 5, 6, 7]));
    out.push_str("(* gated)\n\n");

    let mut rows = vec![
        ["MEASUREMENT", "VERDICT", "BECAUSE"]
            .map(String::from)
            .to_vec(),
    ];
    for mc in &r.measurements {
        rows.push(vec![
            mc.key.label(),
            change_name(mc.change).to_uppercase(),
            mc.reasons.join("; "),
        ]);
    }
    out.push_str(&table(&rows, &[]));
    out.push('\n');

    for (title, list) in [
        ("only in the baseline (not compared)", &r.only_in_baseline),
        ("only in the current run (not compared)", &r.only_in_current),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("{} measurement(s) {title}:\n", list.len()));
            for l in list {
                out.push_str(&format!(
                    "  {} ({} repetition(s))\n",
                    l.key.label(),
                    l.repetitions
                ));
            }
        }
    }
    if !r.excluded.is_empty() {
        out.push_str(&format!(
            "{} excluded repetition(s) left out of the intervals:\n",
            r.excluded.len()
        ));
        for x in &r.excluded {
            out.push_str(&format!(
                "  {} {} repetition {}: {}\n",
                x.key.label(),
                x.side.name(),
                x.repetition,
                x.reason
            ));
        }
    }
    if !r.not_gated.is_empty() {
        out.push_str(&format!(
            "{} gated test(s) with too few repetitions ({} a side needed), not gated:\n",
            r.not_gated.len(),
            r.family.min_repetitions
        ));
        for n in &r.not_gated {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out.push_str(&format!(
        "result: {}; gate {}\n",
        header_line(r),
        gate_word(r)
    ));
    out
}

fn reps(mc: &MeasurementComparison) -> String {
    let r = &mc.repetitions;
    format!("{}/{}", r.baseline_valid, r.current_valid)
}

/// Escapes the characters that would break a Markdown table cell.
fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('`', "\\`")
}

/// Markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`: a heading
/// with the counts, one table row per shared measurement (each metric cell is
/// the change and its interval; regressions in bold), then reasons, warnings
/// and what was not compared.
pub fn markdown(r: &CompareReport) -> String {
    let mut out = format!(
        "## claimbench compare: {}\n\nGate **{}**. Baseline `{}` (run {}), current `{}` (run {}); {}.\n\n",
        header_line(r),
        match gate_word(r) {
            "FAILED" => "failed",
            "NOT GATED" => "not decided (too few repetitions)",
            _ => "passed",
        },
        r.baseline.label(),
        md(&r.baseline.run_id),
        r.current.label(),
        md(&r.current.run_id),
        settings_line(r)
    );
    let gated = |m: Metric| r.settings.gate.contains(&m);
    out.push_str("| target | scenario | level | reps |");
    for m in Metric::ALL {
        out.push_str(&format!(
            " {}{} |",
            m.name(),
            if gated(m) { " (gated)" } else { "" }
        ));
    }
    out.push_str(" errors | verdict |\n|---|---|---|---:|");
    for _ in Metric::ALL {
        out.push_str("---:|");
    }
    out.push_str("---:|---|\n");
    for mc in &r.measurements {
        out.push_str(&format!(
            "| {} | {} | {} | {} |",
            md(&mc.key.target),
            md(&mc.key.scenario),
            md(&mc.key.level.label()),
            reps(mc)
        ));
        for m in &mc.metrics {
            let cell = match &m.ratio {
                Some(ci) => {
                    let text = match ci.interval() {
                        Some((lo, hi)) => format!("{} [{}, {}]", pct(ci.ratio), pct(lo), pct(hi)),
                        None => format!("{} (no interval)", pct(ci.ratio)),
                    };
                    match m.change {
                        Some(Change::Regressed) => format!("**{text}**"),
                        _ => text,
                    }
                }
                None => "n/a".into(),
            };
            out.push_str(&format!(" {cell} |"));
        }
        let e = &mc.error_rate;
        let err = format!("{:+.2} pp", e.change_pp);
        let err = if e.change == Change::Regressed {
            format!("**{err}**")
        } else {
            err
        };
        let v = change_name(mc.change);
        let v = if mc.change == Some(Change::Regressed) {
            format!("**{v}**")
        } else {
            v.to_string()
        };
        out.push_str(&format!(" {err} | {v} |\n"));
    }
    out.push_str(
        "\nChange = current / baseline of the medians over repetitions, with its bootstrap interval. `regressed` needs the whole interval beyond the threshold; `noisy` means the interval straddles it.\n",
    );

    let flagged: Vec<&MeasurementComparison> = r
        .measurements
        .iter()
        .filter(|m| !m.reasons.is_empty() && m.change != Some(Change::Unchanged))
        .collect();
    if !flagged.is_empty() {
        out.push_str("\n### Why\n\n");
        for mc in flagged {
            out.push_str(&format!(
                "- {} **{}**: {}\n",
                md(&mc.key.label()),
                change_name(mc.change),
                md(&mc.reasons.join("; "))
            ));
        }
    }
    if !r.not_gated.is_empty() {
        out.push_str(&format!(
            "\n### Not gated: too few repetitions ({} a side needed)\n\n",
            r.family.min_repetitions
        ));
        for n in &r.not_gated {
            out.push_str(&format!("- {}\n", md(n)));
        }
    }
    if let Some(o) = order_line(r) {
        out.push_str(&format!("\n{}\n", md(&o)));
    }
    if !r.warnings.is_empty() {
        out.push_str("\n### Warnings\n\n");
        for w in &r.warnings {
            out.push_str(&format!("- :warning: {}\n", md(w)));
        }
    }
    for (title, list) in [
        ("Only in the baseline (not compared)", &r.only_in_baseline),
        ("Only in the current run (not compared)", &r.only_in_current),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("\n### {title}\n\n"));
            for l in list {
                out.push_str(&format!(
                    "- {} ({} repetition(s))\n",
                    md(&l.key.label()),
                    l.repetitions
                ));
            }
        }
    }
    if !r.excluded.is_empty() {
        out.push_str("\n### Excluded repetitions (left out of the intervals)\n\n");
        for x in &r.excluded {
            out.push_str(&format!(
                "- {} {} repetition {}: {}\n",
                md(&x.key.label()),
                x.side.name(),
                x.repetition,
                md(&x.reason)
            ));
        }
    }
    out
}

/// The report as pretty JSON (see [`super::report::REPORT_SCHEMA`]).
/// Non-finite numbers (an unbounded interval) become `null`.
pub fn json(r: &CompareReport) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(r).expect("the compare report always serializes");
    v.push(b'\n');
    v
}
