//! The per-second timeline of one measurement: successful requests per
//! second, p50 and p99 latency per window, and (supervised targets) the
//! target's CPU % and resident memory, in three stacked panels sharing the
//! time axis.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Axis, ChartError, Draw, DrawError, axis_len, frame, render};
use crate::report::data::Group;
use crate::report::style::{self, Colours, FONT, MUTED, Scope, TEXT, footer_lines, level_label};
use crate::results::ResultsFile;

/// Room above the data for the legend.
const HEADROOM: f64 = 1.4;

/// Colour of the second line in a panel (p99, RSS).
const SECOND: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// The most points a line is drawn with: about one per 5 pixels of the
/// plot. A longer series (a long `bench`: one sample per 100 ms) is thinned
/// by [`decimate`].
pub const MAX_POINTS: usize = 200;

/// Thins a series (in time order) to at most `max` points: it is cut into
/// `max / 2` runs of consecutive points and each run keeps its lowest and
/// its highest point, in time order, so every spike and dip still shows.
/// A series of at most `max` points is returned as it is.
pub fn decimate(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    let buckets = max / 2;
    if points.len() <= max || buckets == 0 {
        return points;
    }
    let mut out = Vec::with_capacity(max);
    for b in 0..buckets {
        let run = &points[b * points.len() / buckets..(b + 1) * points.len() / buckets];
        let lo = (0..run.len()).min_by(|&i, &j| run[i].1.total_cmp(&run[j].1));
        let hi = (0..run.len()).max_by(|&i, &j| run[i].1.total_cmp(&run[j].1));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            out.push(run[lo.min(hi)]);
            if lo != hi {
                out.push(run[lo.max(hi)]);
            }
        }
    }
    out
}

/// The chart's data.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// Title.
    pub title: String,
    /// Target id (legend of the throughput line).
    pub target: String,
    /// Target colour.
    pub colour: RGBColor,
    /// Length of the measured phase, seconds.
    pub duration_s: f64,
    /// (window middle s, successful req/s).
    pub throughput: Vec<(f64, f64)>,
    /// Open loop: the arrival rate asked for, req/s.
    pub offered_rps: Option<f64>,
    /// (window middle s, p50 ms).
    pub p50: Vec<(f64, f64)>,
    /// (window middle s, p99 ms).
    pub p99: Vec<(f64, f64)>,
    /// (sample time s, CPU % of one CPU).
    pub cpu: Vec<(f64, f64)>,
    /// (sample time s, RSS MB).
    pub rss: Vec<(f64, f64)>,
    /// Provenance footer lines.
    pub footer: Vec<String>,
}

/// The timeline of the group's representative repetition (the one with the
/// median throughput). None when the measurement has no windows.
pub fn data(
    results: &ResultsFile,
    colours: &Colours,
    group: &Group<'_>,
    width: u32,
) -> Option<(Timeline, u32)> {
    let m = group.representative()?;
    if m.load.timeline.is_empty() {
        return None;
    }
    let throughput = m
        .load
        .timeline
        .iter()
        .map(|w| (w.t_s + w.len_s / 2.0, w.ok as f64 / w.len_s.max(1e-9)))
        .collect();
    let p50 = m
        .load
        .timeline
        .iter()
        .filter(|w| w.ok > 0)
        .map(|w| (w.t_s + w.len_s / 2.0, w.p50_us as f64 / 1e3))
        .collect();
    let p99 = m
        .load
        .timeline
        .iter()
        .filter(|w| w.ok > 0)
        .map(|w| (w.t_s + w.len_s / 2.0, w.p99_us as f64 / 1e3))
        .collect();
    let (cpu, rss) = match &m.resources {
        Some(r) => (
            r.samples
                .iter()
                .map(|s| (s.t_ms as f64 / 1e3, s.cpu_percent))
                .collect(),
            r.samples
                .iter()
                .map(|s| (s.t_ms as f64 / 1e3, s.rss_bytes as f64 / 1e6))
                .collect(),
        ),
        None => (vec![], vec![]),
    };
    let duration_s = m
        .load
        .timeline
        .iter()
        .map(|w| w.t_s + w.len_s)
        .fold(m.load.summary.duration_s, f64::max);
    let scope = Scope {
        targets: vec![group.target],
        scenario: Some(group.scenario.to_string()),
        level: Some(format!(
            "{}, repetition {} of {}{}",
            level_label(&group.level),
            m.repetition,
            group.all.len(),
            m.excluded
                .as_deref()
                .map(|r| format!(" (EXCLUDED: {r})"))
                .unwrap_or_default()
        )),
    };
    let thin = |v: Vec<(f64, f64)>| decimate(v, MAX_POINTS);
    Some((
        Timeline {
            title: format!(
                "Timeline: {} on {} at {}",
                group.target,
                group.scenario,
                level_label(&group.level)
            ),
            target: group.target.to_string(),
            colour: colours.of(group.target),
            duration_s,
            throughput: thin(throughput),
            offered_rps: (group.level.model == crate::results::schema::LoadModelKind::Open)
                .then_some(group.level.value),
            p50: thin(p50),
            p99: thin(p99),
            cpu: thin(cpu),
            rss: thin(rss),
            footer: footer_lines(results, &scope, super::footer_chars(width)),
        },
        m.repetition,
    ))
}

fn max_of(v: &[(f64, f64)]) -> f64 {
    v.iter().map(|p| p.1).fold(0.0, f64::max)
}

type Panel<'a, DB> = DrawingArea<DB, Shift>;

/// A named line of one panel: legend, colour, points.
type Line<'a> = (&'a str, RGBColor, &'a [(f64, f64)]);

impl Timeline {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &Panel<'_, DB>,
        y_desc: &str,
        lines: &[Line<'_>],
        show_x: bool,
        empty_note: &str,
    ) -> Result<(), DrawError> {
        let x_area = if show_x { 50 } else { 8 };
        let (w, h) = area.dim_in_pixel();
        let x = Axis::linear(0.0, self.duration_s.max(1.0)).fit(axis_len(w, &[16 + 86, 86]), true);
        let all: Vec<f64> = lines.iter().map(|l| max_of(l.2)).collect();
        let y = Axis::linear(
            0.0,
            all.iter().copied().fold(0.0, f64::max).max(1e-3) * HEADROOM,
        )
        .fit(axis_len(h, &[8, x_area]), false);
        // The right margin matches the bottom panel's right axis, so the
        // time axes of all panels line up.
        let mut chart = ChartBuilder::on(area)
            .margin_right(16 + 86)
            .margin_top(8)
            .x_label_area_size(x_area)
            .y_label_area_size(86)
            .build_cartesian_2d(x.coord(), y.coord())?;
        let axis_font = (FONT, style::AXIS_PT).into_font().color(&TEXT);
        let label_font = (FONT, style::LABEL_PT).into_font().color(&TEXT);
        let hidden_font = (FONT, 1).into_font().color(&WHITE);
        let xf = |t: &f64| x.label(*t);
        let yf = |t: &f64| y.label(*t);
        let mut mesh = chart.configure_mesh();
        mesh.y_desc(y_desc)
            .axis_desc_style(axis_font)
            .label_style(label_font)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .y_labels(5)
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .bold_line_style(RGBColor(0xE0, 0xE0, 0xE0));
        if show_x {
            mesh.x_desc("time since the measured phase started (s)");
        } else {
            mesh.x_label_style(hidden_font);
        }
        mesh.draw()?;
        let mut any = false;
        for (name, c, pts) in lines {
            if pts.is_empty() {
                continue;
            }
            any = true;
            let c = *c;
            if pts.len() <= 3 {
                // A line needs two points: mark short series too.
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
            }
            chart
                .draw_series(LineSeries::new(pts.to_vec(), c.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 26, y)], c.stroke_width(3))
                });
        }
        if any {
            super::draw_legend(
                chart.configure_series_labels(),
                SeriesLabelPosition::UpperRight,
                8,
            )?;
        } else {
            let (w, h) = area.dim_in_pixel();
            area.draw(&Text::new(
                empty_note.to_string(),
                (w as i32 / 2, h as i32 / 2),
                TextStyle::from((FONT, style::LABEL_PT).into_font())
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))?;
        }
        Ok(())
    }
}

impl Draw for Timeline {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let area = frame(root, &self.title, None, &self.footer)?;
        let panels = area.split_evenly((3, 1));
        let thr = format!("{} ok req/s", self.target);
        let offered: Vec<(f64, f64)> = self
            .offered_rps
            .map(|r| vec![(0.0, r), (self.duration_s, r)])
            .unwrap_or_default();
        let offered_label = format!(
            "offered {} req/s",
            crate::report::style::fmt_num(self.offered_rps.unwrap_or(0.0))
        );
        self.panel(
            &panels[0],
            "throughput (req/s)",
            &[
                (thr.as_str(), self.colour, &self.throughput),
                (offered_label.as_str(), SECOND, &offered),
            ],
            false,
            "no windows",
        )?;
        self.panel(
            &panels[1],
            "latency (ms)",
            &[("p50", self.colour, &self.p50), ("p99", SECOND, &self.p99)],
            false,
            "no successful requests",
        )?;
        self.resources_panel(&panels[2])
    }
}

impl Timeline {
    /// Bottom panel: CPU % on the left axis, RSS MB on the right axis.
    fn resources_panel<DB: DrawingBackend>(&self, area: &Panel<'_, DB>) -> Result<(), DrawError> {
        if self.cpu.is_empty() && self.rss.is_empty() {
            return self.panel(
                area,
                "CPU (% of 1 CPU)",
                &[],
                true,
                "no target samples (target not supervised)",
            );
        }
        let (w, h) = area.dim_in_pixel();
        let (x_len, y_len) = (axis_len(w, &[16, 86, 86]), axis_len(h, &[8, 50]));
        let x = Axis::linear(0.0, self.duration_s.max(1.0)).fit(x_len, true);
        let y = Axis::linear(0.0, max_of(&self.cpu).max(1.0) * HEADROOM).fit(y_len, false);
        let y2 = Axis::linear(0.0, max_of(&self.rss).max(1e-3) * HEADROOM).fit(y_len, false);
        let mut chart = ChartBuilder::on(area)
            .margin_right(16)
            .margin_top(8)
            .x_label_area_size(50)
            .y_label_area_size(86)
            .right_y_label_area_size(86)
            .build_cartesian_2d(x.coord(), y.coord())?
            .set_secondary_coord(x.coord(), y2.coord());
        chart
            .configure_mesh()
            .x_desc("time since the measured phase started (s)")
            .y_desc("CPU (% of 1 CPU)")
            .axis_desc_style((FONT, style::AXIS_PT).into_font().color(&TEXT))
            .label_style((FONT, style::LABEL_PT).into_font().color(&TEXT))
            .x_label_formatter(&|t| x.label(*t))
            .y_label_formatter(&|t| y.label(*t))
            .y_labels(5)
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .bold_line_style(RGBColor(0xE0, 0xE0, 0xE0))
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("RSS (MB)")
            .axis_desc_style((FONT, style::AXIS_PT).into_font().color(&TEXT))
            .label_style((FONT, style::LABEL_PT).into_font().color(&TEXT))
            .y_label_formatter(&|t| y2.label(*t))
            .y_labels(5)
            .draw()?;
        let c = self.colour;
        chart
            .draw_series(LineSeries::new(self.cpu.clone(), c.stroke_width(2)))?
            .label("CPU % (left axis)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 26, y)], c.stroke_width(3)));
        chart
            .draw_secondary_series(LineSeries::new(self.rss.clone(), SECOND.stroke_width(2)))?
            .label("RSS MB (right axis)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 26, y)], SECOND.stroke_width(3))
            });
        super::draw_legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperRight,
            8,
        )?;
        Ok(())
    }
}

/// Draws the chart as `<stem>.svg` and `<stem>.png`.
pub fn draw(data: &Timeline, stem: &Path, size: (u32, u32)) -> Result<(), ChartError> {
    render(data, stem, size).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_short_series_and_the_extremes_of_long_ones() {
        let short: Vec<(f64, f64)> = (0..MAX_POINTS).map(|i| (i as f64, 1.0)).collect();
        assert_eq!(decimate(short.clone(), MAX_POINTS), short);
        // 6000 samples (10 minutes at 100 ms) with one spike and one dip.
        let mut long: Vec<(f64, f64)> = (0..6000)
            .map(|i| (i as f64 * 0.1, 50.0 + (i % 7) as f64))
            .collect();
        long[1234].1 = 400.0;
        long[4321].1 = 0.0;
        let d = decimate(long, MAX_POINTS);
        assert!(d.len() <= MAX_POINTS, "{} points", d.len());
        assert!(d.len() >= MAX_POINTS - 2);
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "in time order");
        assert!(d.iter().any(|p| p.1 == 400.0) && d.iter().any(|p| p.1 == 0.0));
    }
}
