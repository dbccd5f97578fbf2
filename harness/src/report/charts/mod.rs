//! The charts, one file per kind; each is a pure function of its data to an
//! SVG and a PNG file of the same drawing. This file holds what they share:
//! rendering to both backends, the frame (title, footer), axes with chosen
//! ticks (linear or log), and the "median with interval per level" plot.
//!
//! Charts never read results files or measure; `report::write_all` builds
//! their data from a [`crate::report::data::Model`].

pub mod claim;
pub mod latency_spectrum;
pub mod latency_vs_rate;
pub mod memory_vs_connections;
pub mod throughput_vs_concurrency;
pub mod timeline;

use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::bitmap::GlyphBitmap;
use super::data::Stat;
use super::style::{self, FONT, FOOTER_PT, MUTED, Marker, TEXT, TITLE_PT};
use super::svg::GlyphSvg;

/// A chart that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw chart {path}: {message}")]
pub struct ChartError {
    /// The file being written.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// What kind of chart a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    /// Throughput vs concurrency, per scenario.
    Throughput,
    /// Latency percentile spectrum, per scenario and level.
    LatencySpectrum,
    /// Latency vs offered load (open loop), per scenario.
    LatencyVsRate,
    /// Per-second timeline of one measurement.
    Timeline,
    /// Target memory vs open connections.
    Memory,
    /// One claim verdict.
    Claim,
}

/// A chart written to disk.
#[derive(Clone, Debug)]
pub struct ChartFile {
    /// Kind of chart.
    pub kind: ChartKind,
    /// File stem under `charts/`, e.g. `throughput-io-sleep`.
    pub stem: String,
    /// The chart's title.
    pub title: String,
    /// One sentence saying what the chart shows (alt text).
    pub caption: String,
    /// The SVG file.
    pub svg: PathBuf,
    /// The PNG file.
    pub png: PathBuf,
    /// Scenario shown, if one.
    pub scenario: Option<String>,
    /// Claim shown, for claim charts.
    pub claim: Option<String>,
}

/// Something drawable on any plotters backend.
pub trait Draw {
    /// The chart's title (also the SVG's accessible name).
    fn title(&self) -> &str;
    /// Draws the whole chart onto `root`.
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Draws `chart` as `<stem>.svg` and `<stem>.png` (`size` pixels each).
/// `stem` is a path without extension. Returns the two paths.
pub fn render<C: Draw>(
    chart: &C,
    stem: &Path,
    size: (u32, u32),
) -> Result<(PathBuf, PathBuf), ChartError> {
    style::register_fonts();
    let svg_path = stem.with_extension("svg");
    let png_path = stem.with_extension("png");
    let err = |path: &Path, message: String| ChartError {
        path: path.to_path_buf(),
        message,
    };
    let id = stem
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut svg = String::new();
    {
        let root = GlyphSvg::new(&mut svg, size, &id, chart.title()).into_drawing_area();
        chart.draw_on(&root).map_err(|m| err(&svg_path, m))?;
        root.present().map_err(|e| err(&svg_path, e.to_string()))?;
    }
    crate::results::io::write_atomic(&svg_path, svg.as_bytes())
        .map_err(|e| err(&svg_path, e.to_string()))?;
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = GlyphBitmap::with_buffer(&mut rgb, size).into_drawing_area();
        chart.draw_on(&root).map_err(|m| err(&png_path, m))?;
        root.present().map_err(|e| err(&png_path, e.to_string()))?;
    }
    let png = super::bitmap::encode_png(&rgb, size).map_err(|e| err(&png_path, e.to_string()))?;
    crate::results::io::write_atomic(&png_path, &png).map_err(|e| err(&png_path, e.to_string()))?;
    Ok((svg_path, png_path))
}

/// The outline of a marker of radius `r` around (0, 0), in pixels.
pub fn marker_shape(marker: Marker, r: i32) -> Vec<(i32, i32)> {
    let rf = r as f64;
    match marker {
        Marker::Circle => (0..16)
            .map(|i| {
                let a = i as f64 * std::f64::consts::TAU / 16.0;
                ((rf * a.cos()).round() as i32, (rf * a.sin()).round() as i32)
            })
            .collect(),
        Marker::Square => {
            let q = (rf * 0.85).round() as i32;
            vec![(-q, -q), (q, -q), (q, q), (-q, q)]
        }
        Marker::Triangle => {
            let h = (rf * 1.2).round() as i32;
            vec![(0, -h), (h, (rf * 0.8) as i32), (-h, (rf * 0.8) as i32)]
        }
        Marker::Diamond => {
            let h = (rf * 1.2).round() as i32;
            vec![(0, -h), (h, 0), (0, h), (-h, 0)]
        }
        Marker::Cross => {
            // An X of two bars, a third of the radius thick.
            let t = (rf / 3.0).round().max(1.0) as i32;
            vec![
                (-r, -r + t),
                (-r + t, -r),
                (0, -t),
                (r - t, -r),
                (r, -r + t),
                (t, 0),
                (r, r - t),
                (r - t, r),
                (0, t),
                (-r + t, r),
                (-r, r - t),
                (-t, 0),
            ]
        }
    }
}

/// Draws `marker` at each point (drawing coordinates) in `colour`.
pub(crate) fn draw_markers<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Ticked, Ticked>>,
    marker: Marker,
    pts: &[(f64, f64)],
    colour: RGBColor,
    r: i32,
) -> Result<(), String> {
    let shape = marker_shape(marker, r);
    chart
        .draw_series(
            pts.iter()
                .map(|p| EmptyElement::at(*p) + Polygon::new(shape.clone(), colour.filled())),
        )
        .map(|_| ())
        .map_err(de)
}

/// A legend entry: a line with the series' marker on it.
pub(crate) type LegendEntry<DB> = plotters::element::ComposedElement<
    (i32, i32),
    DB,
    PathElement<(i32, i32)>,
    Polygon<(i32, i32)>,
>;

/// A legend entry: a line with the series' marker on it.
pub(crate) fn legend_entry<DB: DrawingBackend>(
    marker: Marker,
    colour: RGBColor,
    (x, y): (i32, i32),
) -> LegendEntry<DB> {
    let shape: Vec<(i32, i32)> = marker_shape(marker, 5)
        .into_iter()
        .map(|(dx, dy)| (dx + 13, dy))
        .collect();
    EmptyElement::at((x, y))
        + PathElement::new(vec![(0, 0), (26, 0)], colour.stroke_width(3))
        + Polygon::new(shape, colour.filled())
}

/// Draws a chart's legend in the house style (label font, translucent white
/// box, grey border) at `position`, `margin` pixels from the plot's edge.
/// Takes what `configure_series_labels()` returns, so it serves single- and
/// dual-axis charts alike.
pub(crate) fn draw_legend<'a, 'b, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    mut labels: plotters::chart::SeriesLabelStyle<'a, 'b, DB, CT>,
    position: SeriesLabelPosition,
    margin: u32,
) -> Result<(), String> {
    labels
        .position(position)
        .margin(margin)
        .legend_area_size(34)
        .label_font((FONT, style::LABEL_PT).into_font().color(&TEXT))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xBB, 0xBB, 0xBB))
        .draw()
        .map_err(de)
}

/// Maps a drawing error to text.
pub(crate) fn de<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Fills the background, draws the title (and an optional note under it) on
/// top and the footer lines at the bottom, and returns the area in between.
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    note: Option<&str>,
    footer: &[String],
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(de)?;
    let (w, h) = root.dim_in_pixel();
    let mut title_h = 52;
    if let Some(note) = note {
        root.draw(&Text::new(
            note.to_string(),
            (w as i32 / 2, 50),
            TextStyle::from((FONT, style::LABEL_PT).into_font())
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(de)?;
        title_h += 26;
    }
    let line_h = 20;
    let footer_h = footer.len() as u32 * line_h + 14;
    let title_style = TextStyle::from((FONT, TITLE_PT).into_font().style(FontStyle::Bold))
        .color(&TEXT)
        .pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, 16),
        title_style,
    ))
    .map_err(de)?;
    let foot_style = TextStyle::from((FONT, FOOTER_PT).into_font()).color(&MUTED);
    let top = h.saturating_sub(footer_h) as i32;
    root.draw(&PathElement::new(
        vec![(12, top), (w as i32 - 12, top)],
        RGBColor(0xDD, 0xDD, 0xDD),
    ))
    .map_err(de)?;
    for (i, line) in footer.iter().enumerate() {
        root.draw(&Text::new(
            line.clone(),
            (14, top + 12 + i as i32 * line_h as i32),
            foot_style.clone(),
        ))
        .map_err(de)?;
    }
    Ok(root.margin(title_h, footer_h, 10, 24))
}

/// How many footer characters fit a chart `width` pixels wide.
pub fn footer_chars(width: u32) -> usize {
    // DejaVu Sans at FOOTER_PT averages about 7.4 px per character.
    ((width.saturating_sub(28)) as f64 / 7.6) as usize
}

/// One axis: linear or log10, a range, and the ticks to label.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Log10 scale.
    pub log: bool,
    /// Smallest value shown (data units).
    pub lo: f64,
    /// Largest value shown (data units).
    pub hi: f64,
    /// Ticks (data units).
    pub ticks: Vec<f64>,
    /// Decimals of tick labels on a linear axis with evenly spaced ticks.
    pub decimals: Option<usize>,
}

impl Axis {
    /// A linear axis from `lo` to a little above `hi`, with round ticks.
    pub fn linear(lo: f64, hi: f64) -> Self {
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let mut hi = if hi.is_finite() && hi > lo {
            hi
        } else {
            lo + lo.abs().max(1.0) * 0.1
        };
        if hi <= lo {
            hi = lo + 1.0;
        }
        let step = nice_step((hi - lo) / 6.0);
        let hi = ((hi / step).ceil() * step).max(hi);
        let mut ticks = Vec::new();
        let mut t = (lo / step).ceil() * step;
        // Bounded: at extreme magnitudes `t += step` may not move `t`.
        while t <= hi + step * 1e-9 && ticks.len() < 50 {
            ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
            t += step;
        }
        // Enough decimals to tell neighbouring ticks apart (2.5 steps need one more).
        let mut decimals = (-step.log10().floor()).max(0.0) as usize;
        if ((step / 10f64.powf(step.log10().floor())) - 2.5).abs() < 1e-9 {
            decimals += 1;
        }
        Self {
            log: false,
            lo,
            hi,
            ticks,
            decimals: Some(decimals),
        }
    }

    /// A log axis covering `lo..hi` (both > 0) with 1-2-5 ticks.
    pub fn log(lo: f64, hi: f64) -> Self {
        let lo = lo.max(1e-9);
        let hi = hi.max(lo * 1.5);
        let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let mut ticks = Vec::new();
        let mults: &[f64] = if d1 - d0 > 4 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        for d in d0..=d1 {
            for m in mults {
                let t = m * 10f64.powi(d);
                if t >= lo * 0.999 && t <= hi * 1.001 {
                    ticks.push(t);
                }
            }
        }
        Self {
            log: true,
            lo,
            hi,
            ticks,
            decimals: None,
        }
    }

    /// A log axis whose ticks are exactly `ticks` (e.g. the levels measured).
    pub fn log_at(ticks: &[f64]) -> Self {
        let lo = ticks
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(1e-9);
        let hi = ticks.iter().copied().fold(0.0, f64::max).max(lo * 2.0);
        Self {
            log: true,
            lo: lo / 1.3,
            hi: hi * 1.3,
            ticks: ticks.to_vec(),
            decimals: None,
        }
    }

    /// A linear axis with ticks exactly at `ticks`.
    pub fn linear_at(ticks: &[f64]) -> Self {
        let lo = ticks.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ticks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.05).max(0.5);
        Self {
            log: false,
            lo: (lo - pad).max(0.0),
            hi: hi + pad,
            ticks: ticks.to_vec(),
            decimals: None,
        }
    }

    /// Picks a y axis for positive values: from 0 linear, or log when the
    /// values span more than `max_ratio` (e.g. tail latencies).
    pub fn auto_y(values: &[f64], max_ratio: f64) -> Self {
        let pos: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        let hi = pos.iter().copied().fold(0.0, f64::max);
        let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
        if pos.is_empty() {
            return Self::linear(0.0, 1.0);
        }
        if hi / lo > max_ratio {
            Self::log(lo / 1.2, hi * 1.2)
        } else {
            Self::linear(0.0, hi * 1.08)
        }
    }

    /// Maps a data value to the drawing coordinate.
    pub fn fwd(&self, v: f64) -> f64 {
        if self.log {
            v.max(self.lo * 1e-3).max(1e-12).log10()
        } else {
            v
        }
    }

    /// Drawing-coordinate range, with the chosen ticks as key points.
    pub fn coord(&self) -> Ticked {
        Ticked::new(
            self.fwd(self.lo)..self.fwd(self.hi),
            self.ticks.iter().map(|t| self.fwd(*t)).collect(),
        )
    }

    /// Formats a tick given in drawing coordinates.
    pub fn label(&self, t: f64) -> String {
        let v = if self.log { 10f64.powf(t) } else { t };
        match self.decimals {
            Some(d) if v.abs() < 1e4 && d > 0 => format!("{v:.d$}"),
            _ => fmt_tick(v),
        }
    }
}

/// A linear f64 coordinate whose labelled ticks are exactly the ones given
/// (plotters' own key-point wrapper loses the default label formatting).
#[derive(Clone)]
pub struct Ticked {
    inner: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    /// A coordinate over `range` with ticks at `ticks` (same units).
    pub fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Self {
            inner: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A round step near `raw`: 1, 2, 2.5 or 5 times a power of ten.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * p
}

/// Formats a tick value compactly: `0.25`, `12`, `1500`, `12k`, `1.5M`.
pub fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 100.0 || a == 0.0 {
        format!("{}", v.round() as i64)
    } else if a >= 1.0 {
        trim(format!("{v:.1}"))
    } else if a >= 0.01 {
        trim(format!("{v:.3}"))
    } else {
        format!("{v:.1e}")
    }
}

/// One line of a "median with interval per x" plot.
#[derive(Clone, Debug)]
pub struct CiSeries {
    /// Legend name (the target id).
    pub name: String,
    /// Line colour.
    pub colour: RGBColor,
    /// Point marker.
    pub marker: Marker,
    /// Points: x and the median/interval of y (already in display units).
    pub points: Vec<(f64, Stat)>,
    /// Dashed companion line without interval (e.g. p50 beside p99).
    pub secondary: Vec<(f64, f64)>,
}

/// A plot of medians with 95% interval error bars, one line per series.
#[derive(Clone, Debug)]
pub struct CiPlot {
    /// Title.
    pub title: String,
    /// X axis description with unit.
    pub x_desc: String,
    /// Y axis description with unit.
    pub y_desc: String,
    /// X axis.
    pub x: Axis,
    /// Y axis.
    pub y: Axis,
    /// The lines.
    pub series: Vec<CiSeries>,
    /// Provenance footer lines.
    pub footer: Vec<String>,
    /// A note drawn under the title (e.g. what the bars and dashes mean), if any.
    pub note: Option<String>,
}

impl Draw for CiPlot {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = frame(root, &self.title, self.note.as_deref(), &self.footer)?;
        let mut chart = ChartBuilder::on(&area)
            .margin_right(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(self.x.coord(), self.y.coord())
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .axis_desc_style((FONT, style::AXIS_PT).into_font().color(&TEXT))
            .label_style((FONT, style::LABEL_PT).into_font().color(&TEXT))
            .x_label_formatter(&|t| self.x.label(*t))
            .y_label_formatter(&|t| self.y.label(*t))
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .bold_line_style(RGBColor(0xE0, 0xE0, 0xE0))
            .draw()
            .map_err(de)?;
        for s in &self.series {
            let c = s.colour;
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|(x, st)| (self.x.fwd(*x), self.y.fwd(st.median)))
                .collect();
            let marker = s.marker;
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(3)))
                .map_err(de)?
                .label(s.name.as_str())
                .legend(move |p| legend_entry(marker, c, p));
            // Interval bars: a vertical line with caps (no mark at the
            // median, where the series marker goes).
            for (x, st) in s.points.iter().filter(|(_, st)| st.high > st.low) {
                let (x, lo, hi) = (self.x.fwd(*x), self.y.fwd(st.low), self.y.fwd(st.high));
                let style = c.stroke_width(2);
                chart
                    .draw_series([PathElement::new(vec![(x, lo), (x, hi)], style)])
                    .map_err(de)?;
                chart
                    .draw_series([lo, hi].map(|y| {
                        EmptyElement::at((x, y)) + PathElement::new(vec![(-7, 0), (7, 0)], style)
                    }))
                    .map_err(de)?;
            }
            draw_markers(&mut chart, marker, &pts, c, 7)?;
            if !s.secondary.is_empty() {
                let sec: Vec<(f64, f64)> = s
                    .secondary
                    .iter()
                    .map(|(x, y)| (self.x.fwd(*x), self.y.fwd(*y)))
                    .collect();
                chart
                    .draw_series(DashedLineSeries::new(sec, 8, 6, c.stroke_width(2)))
                    .map_err(de)?;
            }
        }
        draw_legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            12,
        )?;
        Ok(())
    }
}

/// A file-name-safe version of a name: lowercase ASCII letters, digits and `-`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        let a = Axis::linear(0.0, 9400.0);
        assert_eq!(a.ticks.first(), Some(&0.0));
        assert!(a.ticks.iter().all(|t| (t / 2000.0).fract() == 0.0), "{a:?}");
        let l = Axis::log(0.8, 1200.0);
        assert!(l.ticks.contains(&1.0) && l.ticks.contains(&1000.0));
        assert_eq!(fmt_tick(12_000.0), "12k");
        assert_eq!(fmt_tick(2.5), "2.5");
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(slug("io sleep/c=64"), "io-sleep-c-64");
        let r = Axis::linear(0.95, 1.3);
        let labels: Vec<String> = r.ticks.iter().map(|t| r.label(*t)).collect();
        let mut dedup = labels.clone();
        dedup.dedup();
        assert_eq!(labels, dedup, "neighbouring ticks must differ: {labels:?}");
        // Degenerate and extreme ranges terminate with a usable axis.
        for (lo, hi) in [(1e20, 1e20), (5.0, 5.0), (0.0, f64::NAN), (-3.0, -7.0)] {
            let a = Axis::linear(lo, hi);
            assert!(a.hi > a.lo && a.ticks.len() <= 50, "{lo} {hi}: {a:?}");
        }
        let l = Axis::log(0.0, 0.0);
        assert!(l.hi > l.lo);
    }
}
