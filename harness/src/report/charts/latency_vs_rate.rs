//! Latency vs offered load for an open-loop sweep: p99 latency (from the
//! intended start, so coordinated omission cannot hide a stall) against the
//! arrival rate asked for, one line per target; the curve bends where a
//! stack saturates. The dashed line of the same colour is the p50.

use std::path::Path;

use super::{Axis, ChartError, CiPlot, CiSeries, render};
use crate::report::data::{Model, Stat};
use crate::report::style::{Colours, Scope, footer_lines};
use crate::results::schema::LoadModelKind;

/// The chart's data for one scenario; None when it has no open-loop levels
/// or no included measurement.
pub fn data(model: &Model<'_>, colours: &Colours, scenario: &str, width: u32) -> Option<CiPlot> {
    let levels = model.levels(scenario, LoadModelKind::Open);
    if levels.is_empty() {
        return None;
    }
    let targets = model.targets_of(scenario);
    let mut series = Vec::new();
    let mut ys = Vec::new();
    let ms = |s: Stat| Stat {
        median: s.median / 1e3,
        low: s.low / 1e3,
        high: s.high / 1e3,
        n: s.n,
    };
    for t in &targets {
        let mut points = Vec::new();
        let mut p50 = Vec::new();
        for l in &levels {
            let Some(g) = model.group(t, scenario, l) else {
                continue;
            };
            if let Some(st) = g.stat("p99_us") {
                let st = ms(st);
                ys.push(st.high);
                ys.push(st.low);
                points.push((l.value, st));
            }
            if let Some(st) = g.stat("p50_us") {
                ys.push(st.median / 1e3);
                p50.push((l.value, st.median / 1e3));
            }
        }
        if !points.is_empty() {
            series.push(CiSeries {
                name: (*t).to_string(),
                colour: colours.of(t),
                marker: colours.marker(t),
                points,
                secondary: p50,
            });
        }
    }
    if series.is_empty() {
        // Every measurement excluded: the scenario table says why.
        return None;
    }
    let xs: Vec<f64> = levels.iter().map(|l| l.value).collect();
    let (x, x_desc) = Axis::levels(&xs, "offered load (requests/s asked for)");
    let y = Axis::auto_y(&ys, 30.0);
    let y_desc = if y.log {
        "latency (ms, log scale)"
    } else {
        "latency (ms)"
    };
    let scope = Scope {
        targets: targets.clone(),
        scenario: Some(scenario.to_string()),
        level: Some(format!(
            "open loop, rate = {} req/s",
            crate::report::style::fmt_list(&xs)
        )),
    };
    Some(CiPlot {
        title: format!("Latency vs offered load: {scenario}"),
        x_desc,
        y_desc: y_desc.into(),
        x,
        y,
        series,
        footer: footer_lines(model.results, &scope, super::footer_chars(width)),
        note: Some("solid: p99 with 95% interval; dashed: p50".into()),
    })
}

/// Draws the chart as `<stem>.svg` and `<stem>.png`.
pub fn draw(data: &CiPlot, stem: &Path, size: (u32, u32)) -> Result<(), ChartError> {
    render(data, stem, size).map(|_| ())
}
