//! One chart per claim verdict: the verdict in the title; on top, the
//! deciding metric per stack (median over repetitions with its 95%
//! interval) at each scenario and level the verdict compared; below, each
//! pair's ratio (oriented so > 1 favours the stack the claim favours) with
//! the confidence interval recorded in the verdict, against the
//! "no difference" line at 1.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Axis, ChartError, Draw, DrawError, frame, render};
use crate::report::data::{Model, Stat, metric_display, same_level};
use crate::report::style::{
    self, Colours, FONT, MUTED, Marker, Scope, TEXT, footer_lines, level_label,
};
use crate::results::schema::{Comparison, Level, PairResult, Verdict};

/// Colour of a pair where the favoured stack is better.
pub const FAVOURED: RGBColor = RGBColor(0x2E, 0x7D, 0x32);
/// Colour of a pair where the other stack is better.
pub const OTHER: RGBColor = RGBColor(0xC6, 0x28, 0x28);
/// Colour of a pair with no difference beyond the noise.
pub const NEUTRAL: RGBColor = RGBColor(0x75, 0x75, 0x75);

/// One row of the metric panel: a stack at a scenario and level.
#[derive(Clone, Debug)]
pub struct MetricRow {
    /// Row label, e.g. `node-express · io-sleep c=256`.
    pub label: String,
    /// Target colour.
    pub colour: RGBColor,
    /// Target marker.
    pub marker: Marker,
    /// Median and interval (display units).
    pub stat: Stat,
}

/// One row of the ratio panel: a pair comparison.
#[derive(Clone, Debug)]
pub struct RatioRow {
    /// Row label, e.g. `node-express / python-django · io-sleep c=256`.
    pub label: String,
    /// Colour by pair result.
    pub colour: RGBColor,
    /// Ratio, lower and upper bound of its interval.
    pub ratio: (f64, f64, f64),
}

/// One metric's panel: each stack's value at each place compared.
#[derive(Clone, Debug)]
pub struct MetricPanel {
    /// Metric name as recorded, e.g. `p99_us`.
    pub metric: String,
    /// Axis description with unit, e.g. `p99 latency (ms)`.
    pub desc: String,
    /// Per-stack rows.
    pub rows: Vec<MetricRow>,
}

/// The chart's data.
#[derive(Clone, Debug)]
pub struct ClaimChart {
    /// Title, with the verdict.
    pub title: String,
    /// One panel per metric compared, the verdict's headline metric first.
    pub metric_panels: Vec<MetricPanel>,
    /// Pair rows.
    pub ratio_rows: Vec<RatioRow>,
    /// Provenance footer lines.
    pub footer: Vec<String>,
}

/// The chart's data for one verdict.
pub fn data(model: &Model<'_>, colours: &Colours, v: &Verdict, width: u32) -> ClaimChart {
    // Metrics in the order compared, the headline first.
    let mut metrics: Vec<&str> = vec![v.metric.as_str()];
    for c in &v.comparisons {
        if !metrics.contains(&c.metric.as_str()) {
            metrics.push(&c.metric);
        }
    }
    if !v.comparisons.iter().any(|c| c.metric == v.metric) && !v.comparisons.is_empty() {
        metrics.remove(0);
    }
    let mut targets_shown: Vec<&str> = Vec::new();
    let mut places_all: Vec<(&str, Level)> = Vec::new();
    let mut metric_panels = Vec::new();
    for metric in metrics {
        let (desc, factor) = metric_display(metric);
        let cs: Vec<&Comparison> = v
            .comparisons
            .iter()
            .filter(|c| c.metric == metric)
            .collect();
        let mut places: Vec<(&str, Level)> = Vec::new();
        for c in &cs {
            if !places
                .iter()
                .any(|(s, l)| *s == c.scenario && same_level(l, &c.level))
            {
                places.push((&c.scenario, c.level));
            }
        }
        let mut rows = Vec::new();
        for (scenario, level) in &places {
            if !places_all
                .iter()
                .any(|(s, l)| s == scenario && same_level(l, level))
            {
                places_all.push((scenario, *level));
            }
            let here: Vec<&&Comparison> = cs
                .iter()
                .filter(|c| c.scenario == *scenario && same_level(&c.level, level))
                .collect();
            let mut involved: Vec<&str> = Vec::new();
            for c in &here {
                for t in [c.favoured.as_str(), c.other.as_str()] {
                    if !involved.contains(&t) {
                        involved.push(t);
                    }
                }
            }
            for t in involved {
                // `<target>@<scenario>` is a target in a baseline scenario
                // (claims about an effect within one stack).
                let (base, place) = match t.split_once('@') {
                    Some((b, s)) if model.scenarios.contains(&s) => (b, s),
                    _ => (t, *scenario),
                };
                if !targets_shown.contains(&base) {
                    targets_shown.push(base);
                }
                let stat = model
                    .group(base, place, level)
                    .and_then(|g| g.stat(metric))
                    .or_else(|| {
                        // Fall back to the median the verdict recorded.
                        here.iter()
                            .find_map(|c| {
                                if c.favoured == t {
                                    Some(c.favoured_median)
                                } else if c.other == t {
                                    Some(c.other_median)
                                } else {
                                    None
                                }
                            })
                            .map(|m| Stat {
                                median: m,
                                low: m,
                                high: m,
                                n: 0,
                            })
                    });
                if let Some(s) = stat {
                    rows.push(MetricRow {
                        label: format!("{base} · {place} {}", level_label(level)),
                        colour: colours.of(base),
                        marker: colours.marker(base),
                        stat: Stat {
                            median: s.median * factor,
                            low: s.low * factor,
                            high: s.high * factor,
                            n: s.n,
                        },
                    });
                }
            }
        }
        if !rows.is_empty() {
            metric_panels.push(MetricPanel {
                metric: metric.to_string(),
                desc,
                rows,
            });
        }
    }
    // Name the scenario and level in pair labels only when they vary.
    let one_place = places_all.len() <= 1;
    // A failed comparison has no ratio to draw; the tables and the caption
    // say who failed.
    let ratio_rows = v
        .comparisons
        .iter()
        .filter(|c| c.failed.is_none())
        .map(|c| RatioRow {
            label: if one_place {
                format!(
                    "{} vs {} · {}",
                    c.favoured,
                    c.other,
                    short_metric(&c.metric)
                )
            } else {
                format!(
                    "{} vs {} · {} {} · {}",
                    c.favoured,
                    c.other,
                    c.scenario,
                    level_label(&c.level),
                    short_metric(&c.metric)
                )
            },
            colour: match c.result {
                PairResult::FavouredBetter => FAVOURED,
                PairResult::OtherBetter => OTHER,
                PairResult::NoDifference => NEUTRAL,
            },
            ratio: (c.ratio, c.ci_low, c.ci_high),
        })
        .collect();
    let scope = Scope {
        targets: targets_shown,
        scenario: (!places_all.is_empty()).then(|| {
            places_all
                .iter()
                .map(|(s, l)| format!("{s} {}", level_label(l)))
                .collect::<Vec<_>>()
                .join("; ")
        }),
        level: None,
    };
    ClaimChart {
        title: format!("Claim {}: {}", v.claim, v.outcome.word().to_uppercase()),
        metric_panels,
        ratio_rows,
        footer: footer_lines(model.results, &scope, super::footer_chars(width)),
    }
}

/// A metric's name without its unit, e.g. `p99 latency`, `throughput`.
pub fn short_metric(metric: &str) -> String {
    let (desc, _) = metric_display(metric);
    desc.split(" (").next().unwrap_or(&desc).to_string()
}

/// One drawn row: label, colour, marker, median (or ratio), low, high.
type Row = (String, RGBColor, Marker, f64, f64, f64);

const ROW_H: u32 = 36;
const PANEL_EXTRA: u32 = 140;

/// The pixel size this chart needs at `width`.
pub fn size_for(d: &ClaimChart, width: u32) -> (u32, u32) {
    let rows = d
        .metric_panels
        .iter()
        .map(|p| p.rows.len() as u32)
        .sum::<u32>()
        + d.ratio_rows.len().max(1) as u32;
    let panels = d.metric_panels.len() as u32 + 1;
    let footer = d.footer.len() as u32 * 20 + 14;
    (
        width,
        52 + footer + rows * ROW_H + panels * PANEL_EXTRA + 30,
    )
}

fn label_area(labels: &[&str]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10);
    (longest as f64 * 8.8) as u32 + 20
}

impl ClaimChart {
    #[allow(clippy::too_many_arguments)]
    fn rows_panel<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        caption: &str,
        x_desc: &str,
        x: &Axis,
        rows: &[Row],
        label_w: u32,
        reference: Option<f64>,
    ) -> Result<(), DrawError> {
        let x = &x.fit(super::axis_len(area.dim_in_pixel().0, &[24, label_w]), true);
        let n = rows.len().max(1);
        let y = super::Ticked::new(-0.6..(n as f64 - 0.4), (0..n).map(|i| i as f64).collect());
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, style::AXIS_PT).into_font().color(&TEXT))
            .margin_top(18)
            .margin_right(24)
            .x_label_area_size(56)
            .y_label_area_size(label_w)
            .build_cartesian_2d(x.coord(), y)?;
        let labels: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .axis_desc_style((FONT, style::AXIS_PT).into_font().color(&TEXT))
            .label_style((FONT, style::LABEL_PT).into_font().color(&TEXT))
            .x_label_formatter(&|t| x.label(*t))
            .y_label_formatter(&|t| {
                let i = t.round();
                if (t - i).abs() < 1e-6 && i >= 0.0 {
                    // Row 0 at the top.
                    labels.get(n - 1 - i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .light_line_style(RGBColor(0xF4, 0xF4, 0xF4))
            .bold_line_style(RGBColor(0xE4, 0xE4, 0xE4))
            .draw()?;
        if let Some(r) = reference {
            let rx = x.fwd(r);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(rx, -0.6), (rx, n as f64 - 0.4)],
                BLACK.stroke_width(2),
            )))?;
        }
        for (i, (_, c, marker, mid, lo, hi)) in rows.iter().enumerate() {
            let yi = (n - 1 - i) as f64;
            let c = *c;
            if hi > lo {
                let style = c.stroke_width(3);
                let (lo, hi) = (x.fwd(*lo), x.fwd(*hi));
                chart.draw_series([PathElement::new(vec![(lo, yi), (hi, yi)], style)])?;
                chart.draw_series([lo, hi].map(|v| {
                    EmptyElement::at((v, yi)) + PathElement::new(vec![(0, -7), (0, 7)], style)
                }))?;
            }
            super::draw_markers(&mut chart, *marker, &[(x.fwd(*mid), yi)], c, 8)?;
        }
        Ok(())
    }
}

impl Draw for ClaimChart {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let area = frame(root, &self.title, None, &self.footer)?;
        let mut labels: Vec<&str> = self
            .metric_panels
            .iter()
            .flat_map(|p| p.rows.iter().map(|r| r.label.as_str()))
            .collect();
        labels.extend(self.ratio_rows.iter().map(|r| r.label.as_str()));
        let label_w = label_area(&labels);
        let mut rest = area;
        for (i, panel) in self.metric_panels.iter().enumerate() {
            let (_, h) = rest.dim_in_pixel();
            let panel_h = panel.rows.len() as u32 * ROW_H + PANEL_EXTRA;
            let (top, bottom) = rest.split_vertically(panel_h.min(h));
            rest = bottom;
            let rows: Vec<_> = panel
                .rows
                .iter()
                .map(|r| {
                    (
                        r.label.clone(),
                        r.colour,
                        r.marker,
                        r.stat.median,
                        r.stat.low,
                        r.stat.high,
                    )
                })
                .collect();
            let hi = rows.iter().map(|r| r.5).fold(0.0, f64::max);
            let x = Axis::linear(0.0, hi * 1.08);
            let caption = if i == 0 {
                format!(
                    "{} per stack (median of repetitions, bar: 95% interval)",
                    short_metric(&panel.metric)
                )
            } else {
                format!("{} per stack", short_metric(&panel.metric))
            };
            Self::rows_panel(&top, &caption, &panel.desc, &x, &rows, label_w, None)?;
        }
        let bottom = rest;
        if self.ratio_rows.is_empty() {
            let (w, hh) = bottom.dim_in_pixel();
            bottom.draw(&Text::new(
                "no pair comparison recorded".to_string(),
                (w as i32 / 2, hh as i32 / 2),
                TextStyle::from((FONT, style::LABEL_PT).into_font())
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))?;
            return Ok(());
        }
        let rows: Vec<_> = self
            .ratio_rows
            .iter()
            .map(|r| {
                (
                    r.label.clone(),
                    r.colour,
                    Marker::Circle,
                    r.ratio.0,
                    r.ratio.1,
                    r.ratio.2,
                )
            })
            .collect();
        let mut vals: Vec<f64> = rows
            .iter()
            .flat_map(|r| [r.3, r.4, r.5])
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        vals.push(1.0);
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(0.0, f64::max);
        let x = if hi / lo > 4.0 {
            Axis::log(lo / 1.2, hi * 1.2)
        } else {
            let pad = (hi - lo).max(0.1) * 0.1;
            Axis::linear((lo - pad).max(0.0), hi + pad)
        };
        Self::rows_panel(
            &bottom,
            "Ratio favoured / other, 95% interval (green: claim holds, red: the opposite, grey: no difference)",
            if x.log {
                "ratio (log scale; black line: no difference)"
            } else {
                "ratio (black line: no difference)"
            },
            &x,
            &rows,
            label_w,
            Some(1.0),
        )
    }
}

/// Draws the chart as `<stem>.svg` and `<stem>.png`.
pub fn draw(data: &ClaimChart, stem: &Path, size: (u32, u32)) -> Result<(), ChartError> {
    render(data, stem, size).map(|_| ())
}
