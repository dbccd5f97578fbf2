//! Reports from a results file: charts (SVG + PNG, plotters with the
//! embedded DejaVu font), `summary.md`, a self-contained `report.html` and
//! `results.csv`.
//!
//! [`write_all`] is a pure function of a [`ResultsFile`] to files under an
//! output directory: it never measures, never modifies the results, and
//! draws the same files from the same results. `claimbench run` calls it at
//! the end of a suite; `claimbench report [RESULTS_DIR]` calls it on demand.
//!
//! Layout: [`data`] groups measurements and computes medians and intervals;
//! [`style`] holds the font, the colour of each target and the provenance
//! footer; [`charts`] has one file per chart kind; [`tables`] builds the
//! tables both text reports show; [`summary_md`], [`html`] and [`csv`] write
//! the text reports; [`glyphs`] lays text out as glyphs of the embedded
//! font, which [`svg`] (the SVG backend) writes as outlines so charts look
//! the same without system fonts ([`svg_page`] shares their text across the
//! charts of one HTML page), and [`bitmap`] rasterises into the PNGs.
//!
//! This module must not touch the results schema or the measuring code.

pub mod bitmap;
pub mod charts;
pub mod csv;
pub mod data;
pub mod glyphs;
pub mod html;
pub mod style;
pub mod summary_md;
pub mod svg;
pub mod svg_page;
pub mod tables;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::results::ResultsFile;
use crate::results::io::ResultsError;
use crate::results::schema::{Level, LoadModelKind};
use charts::{ChartError, ChartFile};
use data::Model;
use style::{Colours, fmt_num, level_label};

/// Options of the `report` command.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run directory (holding results.json) or a results.json file.
    #[arg(value_name = "RESULTS_DIR", default_value = "results/latest")]
    pub path: PathBuf,
    /// Where to write the reports (default: the directory of the results file).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Why the reports could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The output directory could not be created.
    #[error("cannot create report directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A chart could not be drawn or written.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// A report file could not be written.
    #[error(transparent)]
    Write(#[from] ResultsError),
}

/// The files one call of [`write_all`] wrote.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    /// The output directory.
    pub dir: PathBuf,
    /// Every chart, in report order (claims first).
    pub charts: Vec<ChartFile>,
    /// `summary.md`.
    pub summary_md: PathBuf,
    /// `report.html`.
    pub report_html: PathBuf,
    /// `results.csv`.
    pub results_csv: PathBuf,
}

/// Name of the charts directory inside a run directory.
pub const CHARTS_DIR: &str = "charts";
/// File name of the Markdown summary.
pub const SUMMARY_MD: &str = "summary.md";
/// File name of the HTML report.
pub const REPORT_HTML: &str = "report.html";
/// File name of the CSV export.
pub const RESULTS_CSV: &str = "results.csv";

/// Runs the `report` command: reads the results, writes every report next
/// to them (or under `--out`), and lists what it wrote.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let file = crate::results::io::resolve(&args.path);
    let results = match crate::results::io::read(&args.path) {
        Ok(r) => r,
        Err(e @ ResultsError::Read { .. }) if !file.exists() => {
            return Err(anyhow::Error::new(e).context(format!(
                "no results at {} (pass a run directory or its results.json; `claimbench run` writes results/<run_id>/ and points results/latest at it)",
                args.path.display()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let out = match args.out {
        Some(o) => o,
        None => file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    };
    let files = write_all(&results, &out)
        .with_context(|| format!("cannot write the reports under {}", out.display()))?;
    println!(
        "wrote {} charts (SVG + PNG) under {}",
        files.charts.len(),
        out.join(CHARTS_DIR).display()
    );
    println!("wrote {}", files.summary_md.display());
    println!("wrote {}", files.report_html.display());
    println!("wrote {}", files.results_csv.display());
    Ok(ExitCode::SUCCESS)
}

/// Everything a text report needs besides the results: the grouped model,
/// the colours and the charts drawn.
pub struct Context<'a> {
    /// Grouped measurements.
    pub model: Model<'a>,
    /// Target colours.
    pub colours: Colours,
    /// Charts written, claims first.
    pub charts: Vec<ChartFile>,
}

impl Context<'_> {
    /// The chart of one claim's verdict, if one was drawn.
    pub fn claim_chart(&self, claim: &str) -> Option<&ChartFile> {
        self.charts
            .iter()
            .find(|c| c.claim.as_deref() == Some(claim))
    }
}

/// Draws every chart and writes `summary.md`, `report.html` and
/// `results.csv` under `out_dir` (charts under `out_dir/charts/`).
///
/// Pure with respect to measuring: it reads only `results`. Files are
/// written atomically; existing files of the same names are replaced, and
/// charts an earlier report drew that this one does not are removed.
pub fn write_all(results: &ResultsFile, out_dir: &Path) -> Result<ReportFiles, ReportError> {
    let charts_dir = out_dir.join(CHARTS_DIR);
    std::fs::create_dir_all(&charts_dir).map_err(|source| ReportError::CreateDir {
        path: charts_dir.clone(),
        source,
    })?;
    let model = Model::new(results);
    let colours = Colours::new(model.targets.iter().copied());
    let charts = draw_charts(&model, &colours, &charts_dir)?;
    remove_stale_charts(&charts_dir, &charts);
    let ctx = Context {
        model,
        colours,
        charts,
    };
    let summary_md = out_dir.join(SUMMARY_MD);
    crate::results::io::write_atomic(&summary_md, summary_md::render(&ctx).as_bytes())?;
    let svgs: Vec<Option<String>> = ctx
        .charts
        .iter()
        .map(|c| std::fs::read_to_string(&c.svg).ok())
        .collect();
    let report_html = out_dir.join(REPORT_HTML);
    crate::results::io::write_atomic(&report_html, html::render(&ctx, &svgs).as_bytes())?;
    let results_csv = out_dir.join(RESULTS_CSV);
    crate::results::io::write_atomic(&results_csv, csv::render(results).as_bytes())?;
    Ok(ReportFiles {
        dir: out_dir.to_path_buf(),
        charts: ctx.charts,
        summary_md,
        report_html,
        results_csv,
    })
}

/// File-name prefixes of the charts this module writes.
const CHART_PREFIXES: &[&str] = &[
    "claim-",
    "throughput-",
    "latency-spectrum-",
    "latency-vs-rate-",
    "memory-",
    "timeline-",
];

/// Removes charts a previous report of the same directory drew but this one
/// did not (e.g. a target no longer in the results), so `charts/` never
/// shows a stale chart. Only `.svg`/`.png` files with this module's prefixes
/// are touched; failures are ignored (a stale file is not worth an error).
fn remove_stale_charts(dir: &Path, drawn: &[ChartFile]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = CHART_PREFIXES.iter().any(|p| name.starts_with(p))
            && (name.ends_with(".svg") || name.ends_with(".png"))
            && !name.contains(".tmp-");
        let current = drawn.iter().any(|c| c.svg == path || c.png == path);
        if ours && !current && path.is_file() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn level_slug(l: &Level) -> String {
    match l.model {
        LoadModelKind::Closed => format!("c{}", charts::slug(&fmt_num(l.value))),
        LoadModelKind::Open => format!("r{}", charts::slug(&fmt_num(l.value))),
    }
}

fn list(items: &[&str]) -> String {
    match items {
        [] => "no target".into(),
        [a] => (*a).to_string(),
        [a, b] => format!("{a} and {b}"),
        _ => format!(
            "{} and {}",
            items[..items.len() - 1].join(", "),
            items[items.len() - 1]
        ),
    }
}

fn draw_charts(
    model: &Model<'_>,
    colours: &Colours,
    dir: &Path,
) -> Result<Vec<ChartFile>, ReportError> {
    use charts::ChartKind;
    use charts::*;
    let mut out = Vec::new();
    let mut file = |kind, stem: String, title: String, caption: String, scenario, claim| {
        out.push(ChartFile {
            kind,
            svg: dir.join(format!("{stem}.svg")),
            png: dir.join(format!("{stem}.png")),
            stem,
            title,
            caption,
            scenario,
            claim,
        });
    };
    let w = style::SIZE.0;

    for v in model
        .results
        .verdicts
        .iter()
        .filter(|v| !v.comparisons.is_empty())
    {
        // A verdict without comparisons has nothing to draw; the reports
        // give its sentence (what was missing).
        let d = claim::data(model, colours, v, w);
        let stem = format!("claim-{}", slug(&v.claim));
        claim::draw(&d, &dir.join(&stem), claim::size_for(&d, w))?;
        let metrics: Vec<String> = d.metric_panels.iter().map(|p| p.desc.clone()).collect();
        let caption = format!(
            "Claim {} is {}: {} per stack with 95% intervals, and each pair's ratio ({} pair{}) against the no-difference line.",
            v.claim,
            format!("{:?}", v.outcome).to_lowercase(),
            if metrics.is_empty() {
                "no measured metric".to_string()
            } else {
                metrics.join(" and ")
            },
            v.comparisons.len(),
            if v.comparisons.len() == 1 { "" } else { "s" }
        );
        file(
            ChartKind::Claim,
            stem,
            d.title.clone(),
            caption,
            None,
            Some(v.claim.clone()),
        );
    }

    for scenario in &model.scenarios {
        let s = slug(scenario);
        if let Some(d) = throughput_vs_concurrency::data(model, colours, scenario, w) {
            let stem = format!("throughput-{s}");
            throughput_vs_concurrency::draw(&d, &dir.join(&stem), style::SIZE)?;
            let names: Vec<&str> = d.series.iter().map(|x| x.name.as_str()).collect();
            let best = d
                .series
                .iter()
                .flat_map(|x| x.points.iter().map(move |p| (x.name.as_str(), p)))
                .max_by(|a, b| a.1.1.median.total_cmp(&b.1.1.median));
            let best = best
                .map(|(n, (x, st))| {
                    format!(
                        "; the highest median is {n} with {} req/s at c={}",
                        fmt_num(st.median.round()),
                        fmt_num(*x)
                    )
                })
                .unwrap_or_default();
            file(
                ChartKind::Throughput,
                stem,
                d.title.clone(),
                format!(
                    "Successful requests per second of {} on {scenario} at each concurrency level (median of repetitions, bars: 95% interval){best}.",
                    list(&names)
                ),
                Some(scenario.to_string()),
                None,
            );
        }
        if let Some(d) = latency_vs_rate::data(model, colours, scenario, w) {
            let stem = format!("latency-vs-rate-{s}");
            latency_vs_rate::draw(&d, &dir.join(&stem), style::SIZE)?;
            let names: Vec<&str> = d.series.iter().map(|x| x.name.as_str()).collect();
            file(
                ChartKind::LatencyVsRate,
                stem,
                d.title.clone(),
                format!(
                    "p99 latency (solid, with 95% interval) and p50 (dashed) of {} on {scenario} at each offered request rate, measured from each request's intended start; a curve that turns up marks saturation.",
                    list(&names)
                ),
                Some(scenario.to_string()),
                None,
            );
        }
        if let Some(d) = memory_vs_connections::is_connections_scenario(scenario)
            .then(|| memory_vs_connections::data(model, colours, scenario, w))
            .flatten()
        {
            let stem = format!("memory-{s}");
            memory_vs_connections::draw(&d, &dir.join(&stem), style::SIZE)?;
            let names: Vec<&str> = d.series.iter().map(|x| x.name.as_str()).collect();
            file(
                ChartKind::Memory,
                stem,
                d.title.clone(),
                format!(
                    "Peak resident memory of {} (whole process tree) against the number of open connections on {scenario} (median of repetitions, bars: 95% interval).",
                    list(&names)
                ),
                Some(scenario.to_string()),
                None,
            );
        }
        // Spectrum and timelines: at the highest level of each load model,
        // where the stacks differ most; lower levels are in the tables.
        for kind in [LoadModelKind::Closed, LoadModelKind::Open] {
            let Some(level) = model.levels(scenario, kind).last().copied() else {
                continue;
            };
            if let Some(d) = latency_spectrum::data(model, colours, scenario, &level, w) {
                let stem = format!("latency-spectrum-{s}-{}", level_slug(&level));
                latency_spectrum::draw(&d, &dir.join(&stem), style::SIZE)?;
                let names: Vec<String> = d.lines.iter().map(|x| x.name.clone()).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                file(
                    ChartKind::LatencySpectrum,
                    stem,
                    d.title.clone(),
                    format!(
                        "Latency at every percentile up to 99.99% for {} on {scenario} at {}, from the merged histograms of the included repetitions.",
                        list(&names),
                        level_label(&level)
                    ),
                    Some(scenario.to_string()),
                    None,
                );
            }
            for target in model.targets_of(scenario) {
                let Some(g) = model.group(target, scenario, &level) else {
                    continue;
                };
                let Some((d, rep)) = timeline::data(model.results, colours, g, w) else {
                    continue;
                };
                let stem = format!("timeline-{s}-{}-{}", slug(target), level_slug(&level));
                timeline::draw(&d, &dir.join(&stem), style::TIMELINE_SIZE)?;
                file(
                    ChartKind::Timeline,
                    stem,
                    d.title.clone(),
                    format!(
                        "Per-second throughput, p50 and p99 latency, and target CPU and memory of {target} on {scenario} at {} (repetition {rep} of {}, the one with the median throughput).",
                        level_label(&level),
                        g.all.len()
                    ),
                    Some(scenario.to_string()),
                    None,
                );
            }
        }
    }
    Ok(out)
}
