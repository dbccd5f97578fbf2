//! The charts, one file per kind; each is a pure function of its data to an
//! SVG and a PNG file of the same drawing. This file holds rendering to both
//! backends and the frame (title, footer); what the charts share besides is
//! in [`axes`] (ticks and labels), [`legend`] (markers and legends) and
//! [`ci_plot`] (the "median with interval per level" plot).
//!
//! Charts never read results files or measure; `report::write_all` builds
//! their data from a [`crate::report::data::Model`].

mod axes;
mod ci_plot;
pub mod claim;
pub mod latency_spectrum;
pub mod latency_vs_rate;
mod legend;
pub mod memory_vs_connections;
pub mod throughput_vs_concurrency;
pub mod timeline;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(crate) use axes::axis_len;
pub use axes::{Axis, TickFormat, Ticked, decimals_for, fmt_tick, group_thousands, nice_step};
pub use ci_plot::{CiPlot, CiSeries};
pub use legend::marker_shape;
pub(crate) use legend::{draw_legend, draw_markers, legend_entry};

use super::bitmap::GlyphBitmap;
use super::style::{self, FONT, FOOTER_PT, MUTED, TEXT, TITLE_PT};
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
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>;
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
        chart
            .draw_on(&root)
            .map_err(|e| err(&svg_path, e.to_string()))?;
        root.present().map_err(|e| err(&svg_path, e.to_string()))?;
    }
    crate::results::io::write_atomic(&svg_path, svg.as_bytes())
        .map_err(|e| err(&svg_path, e.to_string()))?;
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = GlyphBitmap::with_buffer(&mut rgb, size).into_drawing_area();
        chart
            .draw_on(&root)
            .map_err(|e| err(&png_path, e.to_string()))?;
        root.present().map_err(|e| err(&png_path, e.to_string()))?;
    }
    let png = super::bitmap::encode_png(&rgb, size).map_err(|e| err(&png_path, e.to_string()))?;
    crate::results::io::write_atomic(&png_path, &png).map_err(|e| err(&png_path, e.to_string()))?;
    Ok((svg_path, png_path))
}

/// Why plotters could not draw a chart. Each backend has its own error
/// type, so the chart code carries the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DrawError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        DrawError(e.to_string())
    }
}

/// Fills the background, draws the title (and an optional note under it) on
/// top and the footer lines at the bottom, and returns the area in between.
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    note: Option<&str>,
    footer: &[String],
) -> Result<DrawingArea<DB, Shift>, DrawError> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let mut title_h = 52;
    if let Some(note) = note {
        root.draw(&Text::new(
            note.to_string(),
            (w as i32 / 2, 50),
            TextStyle::from((FONT, style::LABEL_PT).into_font())
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
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
    ))?;
    let foot_style = TextStyle::from((FONT, FOOTER_PT).into_font()).color(&MUTED);
    let top = h.saturating_sub(footer_h) as i32;
    root.draw(&PathElement::new(
        vec![(12, top), (w as i32 - 12, top)],
        RGBColor(0xDD, 0xDD, 0xDD),
    ))?;
    for (i, line) in footer.iter().enumerate() {
        root.draw(&Text::new(
            line.clone(),
            (14, top + 12 + i as i32 * line_h as i32),
            foot_style.clone(),
        ))?;
    }
    Ok(root.margin(title_h, footer_h, 10, 24))
}

/// How many footer characters fit a chart `width` pixels wide.
pub fn footer_chars(width: u32) -> usize {
    // DejaVu Sans at FOOTER_PT averages about 7.4 px per character.
    ((width.saturating_sub(28)) as f64 / 7.6) as usize
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
