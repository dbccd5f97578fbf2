//! `report.html`: one self-contained page (inline CSS, charts as inline SVG,
//! no scripts, nothing fetched from anywhere): the verdicts first, then each
//! claim with its chart and numbers, then each scenario, then the
//! environment. Readable on a phone (viewport meta, fluid width, tables that
//! scroll sideways) and on a desktop. The charts' glyph outlines, recurring
//! words and labels are defined once, in a hidden SVG at the top of the page
//! ([`share_text`]): most of a chart is its text, and most of that text (the
//! provenance footer, axis titles, target names) recurs in every chart.

use std::fmt::Write as _;

use super::Context;
use super::charts::{ChartFile, ChartKind};
use super::svg::xml_escape as esc;
use super::svg_page::share_text;
use super::tables::{self, Table};
use crate::results::schema::Outcome;

/// The page forbids itself every fetch: it is one self-contained file (inline
/// CSS and SVG, no script), so a browser opening it must not load anything,
/// and a stray reference shows as a CSP violation instead of a request.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const CSS: &str = r#"
:root{--fg:#1d1d1f;--muted:#5a5a60;--line:#d9d9de;--bg:#fff;--soft:#f5f5f7}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:16px}
h1{font-size:1.6rem;line-height:1.25;margin:.4em 0}
h2{font-size:1.3rem;margin:1.6em 0 .5em;padding-top:.4em;border-top:2px solid var(--line)}
h3{font-size:1.1rem;margin:1.4em 0 .4em}
p.meta,figcaption,.note{color:var(--muted)}
nav a{margin-right:1em}
a{color:#1f5fa8}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5em 0 1em;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{padding:.45em .6em;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
table.verdicts td:first-child{white-space:nowrap}
table.verdicts td:nth-child(3){min-width:14em}
table.verdicts td:nth-child(4){min-width:20em}
.cmp+.cmp{margin-top:.35em}
.badge{display:inline-block;padding:.1em .55em;border-radius:1em;font-weight:700;font-size:.85rem;color:#fff;white-space:nowrap}
.supported{background:#2e7d32}.refuted{background:#c62828}.mixed{background:#b26a00}.inconclusive{background:#616161}
blockquote{margin:.6em 0;padding:.3em 1em;border-left:4px solid var(--line);color:var(--muted);font-style:italic}
figure{margin:1em 0 1.6em}
figure svg{display:block;width:100%;height:auto;max-width:1100px;border:1px solid var(--line);border-radius:6px}
figcaption{font-size:.92rem;margin-top:.35em}
.warn{background:#fff4e5;border:1px solid #f0c36d;padding:.6em .9em;border-radius:6px}
.keys span{display:inline-block;margin:.1em .8em .1em 0;white-space:nowrap}
.keys svg.mk{display:inline-block;width:1em;height:1em;margin-right:.35em;vertical-align:-.12em}
dl.env{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}
dl.env dt{font-weight:600}dl.env dd{margin:0;overflow-wrap:anywhere}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
svg.glyphs{position:absolute;width:0;height:0;overflow:hidden}
@media (max-width:600px){body{font-size:15px}main{padding:10px}dl.env{grid-template-columns:1fr}dl.env dd{margin-bottom:.4em}}
"#;

fn outcome_class(o: Outcome) -> &'static str {
    o.word()
}

fn looks_numeric(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty()
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '–')
        && t.chars().all(|c| {
            c.is_ascii_digit() || " .,[]–/%".contains(c) || c == '-' || c == 'k' || c == 'M'
        })
}

/// An HTML table (inside a horizontally scrolling box).
pub fn table(t: &Table, class: &str, id: Option<&str>) -> String {
    let mut out = String::from("<div class=\"scroll\"><table");
    if !class.is_empty() {
        let _ = write!(out, " class=\"{class}\"");
    }
    if let Some(id) = id {
        let _ = write!(out, " id=\"{id}\"");
    }
    out.push_str("><thead><tr>");
    for h in &t.headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        for c in r {
            if looks_numeric(c) {
                let _ = write!(out, "<td class=\"num\">{}</td>", esc(c));
            } else {
                let _ = write!(out, "<td>{}</td>", esc(c));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// The deciding numbers of a verdict, one comparison per line.
fn deciding_html(v: &crate::results::schema::Verdict) -> String {
    let mut lines: Vec<String> = v
        .comparisons
        .iter()
        .map(|c| esc(&tables::comparison_line(c)))
        .collect();
    if lines.is_empty() {
        // No comparison: the verdict's own sentence says why.
        lines.push(esc(&v.summary));
    } else if !v.missing.is_empty() {
        lines.push(format!("<em>missing:</em> {}", esc(&v.missing.join("; "))));
    }
    lines
        .into_iter()
        .map(|l| format!("<div class=\"cmp\">{l}</div>"))
        .collect()
}

fn figure(c: &ChartFile, svg: Option<&str>) -> String {
    let body = match svg {
        // The caption is the chart's accessible description on the page
        // (the SVG file itself is labelled by its title).
        Some(s) => s.trim().replacen(
            " role=\"img\" aria-label=\"",
            &format!(
                " role=\"img\" aria-describedby=\"cap-{}\" aria-label=\"",
                esc(&c.stem)
            ),
            1,
        ),
        None => format!(
            "<p class=\"note\">(chart {} could not be read)</p>",
            esc(&c.stem)
        ),
    };
    let file = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    format!(
        "<figure id=\"fig-{stem}\">\n{body}\n<figcaption id=\"cap-{stem}\">{cap} <a href=\"charts/{svg}\">SVG</a> · <a href=\"charts/{png}\">PNG</a></figcaption>\n</figure>\n",
        stem = esc(&c.stem),
        cap = esc(&c.caption),
        svg = esc(&file(&c.svg)),
        png = esc(&file(&c.png)),
    )
}

/// The whole page. `svgs[i]` is the SVG text of `ctx.charts[i]` (None when
/// it could not be read back).
pub fn render(ctx: &Context<'_>, svgs: &[Option<String>]) -> String {
    let r = ctx.model.results;
    // The charts' glyphs, words and labels, defined once for the page.
    let shared = share_text(&svgs.iter().map(Option::as_deref).collect::<Vec<_>>());
    let svg_of = |c: &ChartFile| {
        ctx.charts
            .iter()
            .position(|x| x.stem == c.stem)
            .and_then(|i| shared.charts.get(i))
            .and_then(|s| s.as_deref())
    };
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <title>claimbench report: run {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&r.run_id)
    );
    if shared.charts.iter().any(Option::is_some) {
        o.push_str(&shared.defs);
    }
    o.push_str("<main>\n");
    let _ = writeln!(o, "<h1>claimbench report: run {}</h1>", esc(&r.run_id));
    let _ = writeln!(
        o,
        "<p class=\"meta\">{} Started {}. {} {}. {} ({} logical CPUs).</p>",
        esc(&tables::overview(ctx)),
        r.started_at.format("%Y-%m-%d %H:%M UTC"),
        esc(&r.tool.name),
        esc(&r.tool.version),
        esc(r.host.cpu_model.trim()),
        r.host.logical_cpus
    );
    if !r.complete {
        o.push_str("<p class=\"warn\"><strong>Incomplete run:</strong> it was interrupted or failed part-way; the measurements shown are real, but some planned ones are missing.</p>\n");
    }
    o.push_str("<nav><a href=\"#verdicts\">Verdicts</a><a href=\"#claims\">Claims</a><a href=\"#scenarios\">Scenarios</a><a href=\"#environment\">Environment</a></nav>\n");
    o.push_str("<p class=\"keys\">Targets in the charts: ");
    for t in &ctx.model.targets {
        let points: Vec<String> = super::charts::marker_shape(ctx.colours.marker(t), 6)
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect();
        let _ = write!(
            o,
            "<span><svg class=\"mk\" width=\"14\" height=\"14\" viewBox=\"-7 -7 14 14\" aria-hidden=\"true\"><polygon points=\"{}\" fill=\"{}\"/></svg>{}</span>",
            points.join(" "),
            ctx.colours.css(t),
            esc(t)
        );
    }
    o.push_str("</p>\n");

    // Verdicts.
    o.push_str("<section id=\"verdicts\">\n<h2>Verdicts</h2>\n");
    if r.verdicts.is_empty() {
        o.push_str("<p>No claim verdicts in this results file (a <code>bench</code> run, or no claim had its data).</p>\n");
    } else {
        let t = tables::verdicts(r);
        let mut out = String::from(
            "<div class=\"scroll\"><table class=\"verdicts\" id=\"verdict-table\"><thead><tr>",
        );
        for h in &t.headers {
            let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
        }
        out.push_str("</tr></thead><tbody>\n");
        for (v, row) in r.verdicts.iter().zip(&t.rows) {
            let _ = writeln!(
                out,
                "<tr><td><a href=\"#claim-{id}\"><code>{claim}</code></a></td><td><span class=\"badge {cls}\">{word}</span></td><td>“{quote}”</td><td>{nums}</td></tr>",
                id = esc(&super::charts::slug(&v.claim)),
                claim = esc(&v.claim),
                quote = esc(&v.quote),
                cls = outcome_class(v.outcome),
                word = esc(&row[1]),
                nums = deciding_html(v),
            );
        }
        out.push_str("</tbody></table></div>\n");
        o.push_str(&out);
    }
    o.push_str("</section>\n");

    // Claims.
    o.push_str("<section id=\"claims\">\n<h2>Claims</h2>\n");
    for v in &r.verdicts {
        let _ = writeln!(
            o,
            "<article id=\"claim-{}\">\n<h3><code>{}</code> <span class=\"badge {}\">{}</span></h3>",
            esc(&super::charts::slug(&v.claim)),
            esc(&v.claim),
            outcome_class(v.outcome),
            v.outcome.word().to_uppercase()
        );
        let chart = ctx.claim_chart(&v.claim);
        if !v.answer.is_empty() {
            let link = chart
                .map(|c| format!(" <a href=\"#fig-{}\">(chart)</a>", esc(&c.stem)))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "<p class=\"answer\"><strong>{}</strong>{link}</p>",
                esc(&v.answer)
            );
        }
        let _ = writeln!(o, "<blockquote>{}</blockquote>", esc(&v.quote));
        if !v.summary.is_empty() {
            let _ = writeln!(o, "<p>{}</p>", esc(&v.summary));
        }
        if let Some(c) = chart {
            o.push_str(&figure(c, svg_of(c)));
        }
        if !v.comparisons.is_empty() {
            let _ = writeln!(
                o,
                "<details><summary>All {} comparison{}</summary>",
                v.comparisons.len(),
                if v.comparisons.len() == 1 { "" } else { "s" }
            );
            o.push_str(&table(&tables::comparisons(v), "", None));
            o.push_str("</details>\n");
        }
        if !v.conditions.is_empty() {
            let _ = writeln!(
                o,
                "<p><strong>Conditions:</strong> {}.</p>",
                esc(&v.conditions.join("; "))
            );
        }
        if !v.missing.is_empty() {
            let _ = writeln!(
                o,
                "<p><strong>Missing:</strong> {}.</p>",
                esc(&v.missing.join("; "))
            );
        }
        o.push_str("</article>\n");
    }
    if r.verdicts.is_empty() {
        o.push_str("<p>None.</p>\n");
    }
    o.push_str("</section>\n");

    // Scenarios.
    o.push_str("<section id=\"scenarios\">\n<h2>Scenarios</h2>\n");
    o.push_str("<p class=\"note\">Medians over the included repetitions, with the 95% bootstrap interval of the median in brackets. Open-loop latency is measured from each request's intended start time.</p>\n");
    for s in &ctx.model.scenarios {
        let _ = writeln!(
            o,
            "<h3 id=\"scenario-{}\">{}</h3>",
            esc(&super::charts::slug(s)),
            esc(s)
        );
        let _ = writeln!(
            o,
            "<p>Load: {}.</p>",
            esc(&tables::levels_text(&ctx.model, s))
        );
        o.push_str(&table(&tables::scenario(&ctx.model, s), "", None));
        let ex = tables::excluded(&ctx.model, s);
        if !ex.is_empty() {
            o.push_str(
                "<p>Excluded measurements (counted in “Reps”, not used in medians):</p>\n<ul>\n",
            );
            for e in ex {
                let _ = writeln!(o, "<li>{}</li>", esc(&e));
            }
            o.push_str("</ul>\n");
        }
        for c in ctx
            .charts
            .iter()
            .filter(|c| c.scenario.as_deref() == Some(s) && c.kind != ChartKind::Timeline)
        {
            o.push_str(&figure(c, svg_of(c)));
        }
        let timelines: Vec<&ChartFile> = ctx
            .charts
            .iter()
            .filter(|c| c.scenario.as_deref() == Some(s) && c.kind == ChartKind::Timeline)
            .collect();
        if !timelines.is_empty() {
            let _ = writeln!(
                o,
                "<details><summary>Timelines ({}: one representative repetition per target, highest load level)</summary>",
                timelines.len()
            );
            for c in timelines {
                o.push_str(&figure(c, svg_of(c)));
            }
            o.push_str("</details>\n");
        }
    }
    o.push_str("</section>\n");

    // Environment.
    o.push_str("<section id=\"environment\">\n<h2>Environment</h2>\n<dl class=\"env\">\n");
    for (k, v) in tables::environment(r) {
        let _ = writeln!(o, "<dt>{}</dt><dd>{}</dd>", esc(&k), esc(&v));
    }
    o.push_str("</dl>\n");
    o.push_str(&table(&tables::targets(r), "", None));
    o.push_str("<p class=\"note\">All measurements, one row each: <a href=\"results.csv\">results.csv</a>; the full results: <a href=\"results.json\">results.json</a>.</p>\n");
    o.push_str("</section>\n</main>\n</body>\n</html>\n");
    o
}
