//! The latency percentile spectrum (HDR style) of one scenario at one load
//! level: x is the percentile on a "number of nines" axis
//! (x = -log10(1 - q), so 90%, 99%, 99.9%, 99.99% are evenly spaced), y is
//! the latency; one line per target, from the histograms of all included
//! repetitions merged (exact: every histogram has the same layout).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Axis, ChartError, Draw, DrawError, frame, render};
use crate::report::data::Model;
use crate::report::style::{self, Colours, FONT, Scope, TEXT, footer_lines, level_label};
use crate::results::schema::Level;

/// Highest percentile drawn: 99.99%.
pub const MAX_NINES: f64 = 4.0;

/// One target's spectrum.
#[derive(Clone, Debug)]
pub struct SpectrumLine {
    /// Legend name (target id) with the repetitions merged.
    pub name: String,
    /// Line colour.
    pub colour: RGBColor,
    /// Marker drawn at 50%, 90%, 99%, 99.9% and 99.99%.
    pub marker: crate::report::style::Marker,
    /// (nines, latency ms) points.
    pub points: Vec<(f64, f64)>,
}

/// The chart's data.
#[derive(Clone, Debug)]
pub struct Spectrum {
    /// Title.
    pub title: String,
    /// Y axis (ms).
    pub y: Axis,
    /// Lines.
    pub lines: Vec<SpectrumLine>,
    /// Provenance footer lines.
    pub footer: Vec<String>,
}

/// x position of quantile `q` on the nines axis.
pub fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-12).log10()
}

/// The chart's data for one scenario and level; None when no target has an
/// included measurement there.
pub fn data(
    model: &Model<'_>,
    colours: &Colours,
    scenario: &str,
    level: &Level,
    width: u32,
) -> Option<Spectrum> {
    let targets = model.targets_of(scenario);
    let mut lines = Vec::new();
    let mut ys = Vec::new();
    let mut shown = Vec::new();
    for t in &targets {
        let Some(g) = model.group(t, scenario, level) else {
            continue;
        };
        let Some(lat) = g.merged_latency() else {
            continue;
        };
        if lat.count() == 0 {
            continue;
        }
        let n = g.included().count();
        let mut points = Vec::new();
        let steps = 200;
        for i in 0..=steps {
            let x = MAX_NINES * i as f64 / steps as f64;
            let q = 1.0 - 10f64.powf(-x);
            let ms = lat.quantile_us(q) as f64 / 1e3;
            ys.push(ms);
            points.push((x, ms));
        }
        shown.push(*t);
        lines.push(SpectrumLine {
            name: format!("{t} ({n} rep.)"),
            colour: colours.of(t),
            marker: colours.marker(t),
            points,
        });
    }
    if lines.is_empty() {
        return None;
    }
    let scope = Scope {
        targets: shown,
        scenario: Some(scenario.to_string()),
        level: Some(level_label(level)),
    };
    Some(Spectrum {
        title: format!("Latency percentiles: {scenario} at {}", level_label(level)),
        y: Axis::auto_y(&ys, 50.0),
        lines,
        footer: footer_lines(model.results, &scope, super::footer_chars(width)),
    })
}

fn percentile_label(x: f64) -> String {
    let q = (1.0 - 10f64.powf(-x)) * 100.0;
    let s = format!("{q:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

impl Draw for Spectrum {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let area = frame(
            root,
            &self.title,
            Some("each line merges the latency histograms of the included repetitions"),
            &self.footer,
        )?;
        let ticks = vec![nines(0.5), 1.0, 2.0, 3.0, 4.0];
        let x = super::Ticked::new(0.0..MAX_NINES + 0.08, ticks);
        let y_axis = self
            .y
            .fit(super::axis_len(area.dim_in_pixel().1, &[56]), false);
        let mut chart = ChartBuilder::on(&area)
            .margin_right(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(x, y_axis.coord())?;
        let y_desc = if y_axis.log {
            "latency (ms, log scale)"
        } else {
            "latency (ms)"
        };
        chart
            .configure_mesh()
            .x_desc("percentile (log axis: each step adds a nine)")
            .y_desc(y_desc)
            .axis_desc_style((FONT, style::AXIS_PT).into_font().color(&TEXT))
            .label_style((FONT, style::LABEL_PT).into_font().color(&TEXT))
            .x_label_formatter(&|t| percentile_label(*t))
            .y_label_formatter(&|t| y_axis.label(*t))
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .bold_line_style(RGBColor(0xE0, 0xE0, 0xE0))
            .draw()?;
        for l in &self.lines {
            let c = l.colour;
            let pts: Vec<(f64, f64)> = l.points.iter().map(|(x, y)| (*x, y_axis.fwd(*y))).collect();
            // Markers where the percentile axis has its ticks.
            let marks: Vec<(f64, f64)> = [nines(0.5), 1.0, 2.0, 3.0, 4.0]
                .iter()
                .filter_map(|t| {
                    l.points
                        .iter()
                        .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
                        .map(|p| (p.0, y_axis.fwd(p.1)))
                })
                .collect();
            let marker = l.marker;
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(3)))?
                .label(l.name.as_str())
                .legend(move |p| super::legend_entry(marker, c, p));
            super::draw_markers(&mut chart, marker, &marks, c, 6)?;
        }
        super::draw_legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            12,
        )?;
        Ok(())
    }
}

/// Draws the chart as `<stem>.svg` and `<stem>.png`.
pub fn draw(data: &Spectrum, stem: &Path, size: (u32, u32)) -> Result<(), ChartError> {
    render(data, stem, size).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_axis() {
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert!((nines(0.9999) - 4.0).abs() < 1e-9);
        assert_eq!(percentile_label(nines(0.5)), "50%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(4.0), "99.99%");
    }
}
