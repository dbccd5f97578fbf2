//! Target memory vs open connections (the many-connections claim): peak
//! resident memory of the target's process tree, median over repetitions
//! with its 95% interval, one line per target.

use std::path::Path;

use super::{Axis, ChartError, CiPlot, CiSeries, render};
use crate::report::data::{Model, Stat};
use crate::report::style::{Colours, Scope, footer_lines};
use crate::results::schema::LoadModelKind;

/// Whether a scenario is a connection-count sweep: its name mentions connections.
pub fn is_connections_scenario(scenario: &str) -> bool {
    scenario.contains("connection") || scenario.contains("conns")
}

/// The chart's data for one scenario; None when no measurement of it has
/// resource samples (unsupervised targets).
pub fn data(model: &Model<'_>, colours: &Colours, scenario: &str, width: u32) -> Option<CiPlot> {
    let targets = model.targets_of(scenario);
    let mut series = Vec::new();
    let mut xs: Vec<f64> = Vec::new();
    let mut ys = Vec::new();
    for t in &targets {
        let mut points: Vec<(f64, Stat)> = Vec::new();
        for g in model
            .groups_of(scenario, LoadModelKind::Closed)
            .into_iter()
            .chain(model.groups_of(scenario, LoadModelKind::Open))
            .filter(|g| g.target == *t)
        {
            if let Some(st) = g.stat("rss_peak_bytes") {
                let x = g.open_connections();
                let st = Stat {
                    median: st.median / 1e6,
                    low: st.low / 1e6,
                    high: st.high / 1e6,
                    n: st.n,
                };
                ys.push(st.high);
                if !xs.contains(&x) {
                    xs.push(x);
                }
                points.push((x, st));
            }
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
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
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let (x, x_desc) = Axis::levels(&xs, "open connections (active + idle keep-alive)");
    let scope = Scope {
        targets: targets.clone(),
        scenario: Some(scenario.to_string()),
        level: Some(format!(
            "connections = {}",
            crate::report::style::fmt_list(&xs)
        )),
    };
    Some(CiPlot {
        title: format!("Target memory vs open connections: {scenario}"),
        x_desc,
        y_desc: "peak RSS of the target (MB)".into(),
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
