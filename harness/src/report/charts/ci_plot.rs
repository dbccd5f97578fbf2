//! The "median with interval per level" plot that several charts draw.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Axis, Draw, DrawError, axis_len, draw_legend, draw_markers, frame, legend_entry};
use crate::report::data::Stat;
use crate::report::style::{self, FONT, Marker, TEXT};

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

    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let area = frame(root, &self.title, self.note.as_deref(), &self.footer)?;
        let (w, h) = area.dim_in_pixel();
        let x_axis = self.x.fit(axis_len(w, &[16, 86]), true);
        let y_axis = self.y.fit(axis_len(h, &[56]), false);
        let mut chart = ChartBuilder::on(&area)
            .margin_right(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(x_axis.coord(), y_axis.coord())?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .axis_desc_style((FONT, style::AXIS_PT).into_font().color(&TEXT))
            .label_style((FONT, style::LABEL_PT).into_font().color(&TEXT))
            .x_label_formatter(&|t| x_axis.label(*t))
            .y_label_formatter(&|t| y_axis.label(*t))
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .bold_line_style(RGBColor(0xE0, 0xE0, 0xE0))
            .draw()?;
        for s in &self.series {
            let c = s.colour;
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|(x, st)| (x_axis.fwd(*x), y_axis.fwd(st.median)))
                .collect();
            let marker = s.marker;
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(3)))?
                .label(s.name.as_str())
                .legend(move |p| legend_entry(marker, c, p));
            // Interval bars: a vertical line with caps (no mark at the
            // median, where the series marker goes).
            for (x, st) in s.points.iter().filter(|(_, st)| st.high > st.low) {
                let (x, lo, hi) = (x_axis.fwd(*x), y_axis.fwd(st.low), y_axis.fwd(st.high));
                let style = c.stroke_width(2);
                chart.draw_series([PathElement::new(vec![(x, lo), (x, hi)], style)])?;
                chart.draw_series([lo, hi].map(|y| {
                    EmptyElement::at((x, y)) + PathElement::new(vec![(-7, 0), (7, 0)], style)
                }))?;
            }
            draw_markers(&mut chart, marker, &pts, c, 7)?;
            if !s.secondary.is_empty() {
                let sec: Vec<(f64, f64)> = s
                    .secondary
                    .iter()
                    .map(|(x, y)| (x_axis.fwd(*x), y_axis.fwd(*y)))
                    .collect();
                chart.draw_series(DashedLineSeries::new(sec, 8, 6, c.stroke_width(2)))?;
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
