//! `summary.md`: the verdict table, each claim with its chart and numbers,
//! per-scenario tables and charts, and the environment; ready to paste into
//! an article or a pull request. Chart links are relative to the run
//! directory (`charts/<name>.png`, with the SVG linked beside it).

use std::fmt::Write as _;

use super::Context;
use super::charts::{ChartFile, ChartKind};
use super::tables::{self, Table};

/// Escapes a Markdown table cell (pipes, line breaks).
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A Markdown table.
pub fn table(t: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| {} |",
        t.headers
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|{}|",
        t.headers
            .iter()
            .map(|_| "---")
            .collect::<Vec<_>>()
            .join("|")
    );
    for r in &t.rows {
        let _ = writeln!(
            out,
            "| {} |",
            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out
}

fn chart_md(c: &ChartFile) -> String {
    let name = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    format!(
        "![{alt}](charts/{png})\n\n*{alt}* ([SVG](charts/{svg}))\n\n",
        alt = c.caption.replace(['[', ']'], ""),
        png = name(&c.png),
        svg = name(&c.svg),
    )
}

/// The whole `summary.md`.
pub fn render(ctx: &Context<'_>) -> String {
    let r = ctx.model.results;
    let mut out = String::new();
    let _ = writeln!(out, "# claimbench report: run {}\n", r.run_id);
    let _ = writeln!(
        out,
        "{} Started {}; {} {}{}. Host: {} ({} logical CPUs).\n",
        tables::overview(ctx),
        r.started_at.format("%Y-%m-%d %H:%M UTC"),
        r.tool.name,
        r.tool.version,
        r.tool
            .git_commit
            .as_deref()
            .map(|c| format!(" ({})", c.get(..10).unwrap_or(c)))
            .unwrap_or_default(),
        r.host.cpu_model.trim(),
        r.host.logical_cpus,
    );
    if !r.complete {
        out.push_str(
            "> **Incomplete run:** it was interrupted or failed part-way; the measurements below are real, but some planned ones are missing.\n\n",
        );
    }

    out.push_str("## Verdicts\n\n");
    if r.verdicts.is_empty() {
        out.push_str(
            "No claim verdicts in this results file (a `bench` run, or no claim had its data).\n\n",
        );
    } else {
        out.push_str(&table(&tables::verdicts(r)));
        out.push('\n');
        for v in &r.verdicts {
            let _ = writeln!(out, "### Claim `{}`: {}\n", v.claim, v.outcome.word());
            let chart = ctx.claim_chart(&v.claim);
            if !v.answer.is_empty() {
                let link = chart
                    .and_then(|c| c.png.file_name())
                    .map(|n| format!(" ([chart](charts/{}))", n.to_string_lossy()))
                    .unwrap_or_default();
                let _ = writeln!(out, "**{}**{link}\n", v.answer.replace('\n', " "));
            }
            let _ = writeln!(out, "> {}\n", v.quote.replace('\n', " "));
            if !v.summary.is_empty() {
                let _ = writeln!(out, "{}\n", v.summary);
            }
            if let Some(c) = chart {
                out.push_str(&chart_md(c));
            }
            if !v.comparisons.is_empty() {
                out.push_str(&table(&tables::comparisons(v)));
                out.push('\n');
            }
            if !v.conditions.is_empty() {
                let _ = writeln!(out, "Conditions: {}.\n", v.conditions.join("; "));
            }
            if !v.missing.is_empty() {
                let _ = writeln!(out, "Missing: {}.\n", v.missing.join("; "));
            }
        }
    }

    out.push_str("## Scenarios\n\n");
    out.push_str(
        "Medians over the included repetitions, with the 95% bootstrap interval of the median in brackets. Open-loop latency is measured from each request's intended start time.\n\n",
    );
    for s in &ctx.model.scenarios {
        let _ = writeln!(out, "### {s}\n");
        let _ = writeln!(out, "Load: {}.\n", tables::levels_text(&ctx.model, s));
        out.push_str(&table(&tables::scenario(&ctx.model, s)));
        out.push('\n');
        let ex = tables::excluded(&ctx.model, s);
        if !ex.is_empty() {
            out.push_str(
                "Excluded measurements (shown in the rep counts, not used in medians):\n\n",
            );
            for e in ex {
                let _ = writeln!(out, "- {e}");
            }
            out.push('\n');
        }
        for c in ctx
            .charts
            .iter()
            .filter(|c| c.scenario.as_deref() == Some(s) && c.kind != ChartKind::Timeline)
        {
            out.push_str(&chart_md(c));
        }
        let timelines: Vec<&ChartFile> = ctx
            .charts
            .iter()
            .filter(|c| c.scenario.as_deref() == Some(s) && c.kind == ChartKind::Timeline)
            .collect();
        if !timelines.is_empty() {
            out.push_str("Timelines (one representative repetition per target, at the highest load level only):\n\n");
            for c in timelines {
                out.push_str(&chart_md(c));
            }
        }
    }

    out.push_str("## Environment\n\n");
    for (k, v) in tables::environment(r) {
        let _ = writeln!(out, "- **{k}:** {}", v.replace('\n', " "));
    }
    out.push('\n');
    out.push_str(&table(&tables::targets(r)));
    out.push('\n');
    out.push_str(
        "All measurements, one row each: [results.csv](results.csv). The full results: [results.json](results.json).\n",
    );
    out
}
