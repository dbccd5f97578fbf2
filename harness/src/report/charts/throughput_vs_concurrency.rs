//! Throughput vs concurrency for one closed-loop scenario: one line per
//! target, the median over repetitions with its 95% interval as error bars.

use std::path::Path;

use super::{Axis, ChartError, CiPlot, CiSeries, render};
use crate::report::data::Model;
use crate::report::style::{Colours, Scope, footer_lines};
use crate::results::schema::LoadModelKind;

/// The chart's data for one scenario; None when it has no closed-loop levels
/// or no included measurement.
pub fn data(model: &Model<'_>, colours: &Colours, scenario: &str, width: u32) -> Option<CiPlot> {
    let levels = model.levels(scenario, LoadModelKind::Closed);
    if levels.is_empty() {
        return None;
    }
    let mut series = Vec::new();
    let mut ys = Vec::new();
    let targets = model.targets_of(scenario);
    for t in &targets {
        let mut points = Vec::new();
        for l in &levels {
            if let Some(st) = model
                .group(t, scenario, l)
                .and_then(|g| g.stat("throughput_rps"))
            {
                ys.push(st.high);
                points.push((l.value, st));
            }
        }
        if !points.is_empty() {
            series.push(CiSeries {
                name: (*t).to_string(),
                colour: colours.of(t),
                marker: colours.marker(t),
                points,
                secondary: vec![],
            });
        }
    }
    if series.is_empty() {
        // Every measurement excluded: the scenario table says why.
        return None;
    }
    let xs: Vec<f64> = levels.iter().map(|l| l.value).collect();
    let (x, x_desc) = Axis::levels(&xs, "concurrency (open connections)");
    let level_text = format!("closed loop, c = {}", crate::report::style::fmt_list(&xs));
    let scope = Scope {
        targets: targets.clone(),
        scenario: Some(scenario.to_string()),
        level: Some(level_text),
    };
    Some(CiPlot {
        title: format!("Throughput vs concurrency: {scenario}"),
        x_desc,
        y_desc: "throughput (successful req/s)".into(),
        x,
        y: Axis::linear(0.0, ys.iter().copied().fold(0.0, f64::max) * 1.08),
        series,
        footer: footer_lines(model.results, &scope, super::footer_chars(width)),
        note: Some("median of repetitions, bars: 95% interval".into()),
    })
}

/// Draws the chart as `<stem>.svg` and `<stem>.png`.
pub fn draw(data: &CiPlot, stem: &Path, size: (u32, u32)) -> Result<(), ChartError> {
    render(data, stem, size).map(|_| ())
}
