//! Series markers and legends in the house style, shared by every chart.

use plotters::prelude::*;

use super::{DrawError, Ticked};
use crate::report::style::{self, FONT, Marker, TEXT};

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
) -> Result<(), DrawError> {
    let shape = marker_shape(marker, r);
    chart
        .draw_series(
            pts.iter()
                .map(|p| EmptyElement::at(*p) + Polygon::new(shape.clone(), colour.filled())),
        )
        .map(|_| ())
        .map_err(DrawError::from)
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
) -> Result<(), DrawError> {
    labels
        .position(position)
        .margin(margin)
        .legend_area_size(34)
        .label_font((FONT, style::LABEL_PT).into_font().color(&TEXT))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xBB, 0xBB, 0xBB))
        .draw()
        .map_err(DrawError::from)
}
