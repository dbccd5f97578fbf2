//! `results.csv`: one row per measurement, for spreadsheets. Units are in
//! the column names (`_ms` milliseconds, `_rps` requests per second, `_mb`
//! megabytes of 10^6 bytes, `_percent` percent of one CPU). Excluded
//! measurements are included, with the reason in `excluded_reason`.

use std::fmt::Write as _;

use crate::results::schema::{LoadModelKind, ResultsFile};

/// The header row, in column order.
pub const COLUMNS: &[&str] = &[
    "run_id",
    "target",
    "scenario",
    "model",
    "level",
    "repetition",
    "excluded_reason",
    "started_at",
    "duration_s",
    "requests",
    "ok",
    "errors",
    "error_rate",
    "throughput_rps",
    "requests_rps",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_p9999_ms",
    "latency_max_ms",
    "latency_mean_ms",
    "ttfb_p50_ms",
    "ttfb_p99_ms",
    "errors_connect",
    "errors_timeout",
    "errors_read",
    "errors_status",
    "errors_body_mismatch",
    "target_cpu_percent_mean",
    "target_cpu_percent_peak",
    "target_rss_peak_mb",
    "target_rss_mean_mb",
    "generator_cpu_percent",
    "generator_saturated",
];

/// Quotes a field when it holds a comma, quote or line break (RFC 4180).
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1e3)
}

/// The whole CSV file.
pub fn render(r: &ResultsFile) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for m in &r.measurements {
        let s = &m.load.summary;
        let e = &m.load.errors;
        let res = m.resources.as_ref();
        let opt = |v: Option<String>| v.unwrap_or_default();
        let row: Vec<String> = vec![
            field(&r.run_id),
            field(&m.target),
            field(&m.scenario),
            match m.level.model {
                LoadModelKind::Closed => "closed".into(),
                LoadModelKind::Open => "open".into(),
            },
            format!("{}", m.level.value),
            m.repetition.to_string(),
            field(m.excluded.as_deref().unwrap_or("")),
            m.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            format!("{:.3}", s.duration_s),
            s.requests.to_string(),
            s.ok.to_string(),
            s.errors.to_string(),
            format!("{:.6}", s.error_rate),
            format!("{:.1}", s.throughput_rps),
            format!("{:.1}", s.requests_rps),
            ms(s.latency.p50_us),
            ms(s.latency.p90_us),
            ms(s.latency.p99_us),
            ms(s.latency.p999_us),
            ms(s.latency.p9999_us),
            ms(s.latency.max_us),
            format!("{:.3}", s.latency.mean_us / 1e3),
            ms(s.ttfb.p50_us),
            ms(s.ttfb.p99_us),
            e.connect.to_string(),
            e.timeout.to_string(),
            e.read.to_string(),
            e.status.to_string(),
            e.body_mismatch.to_string(),
            opt(res.map(|x| format!("{:.1}", x.cpu_percent_mean))),
            opt(res.map(|x| format!("{:.1}", x.cpu_percent_peak))),
            opt(res.map(|x| format!("{:.2}", x.rss_peak_bytes as f64 / 1e6))),
            opt(res.map(|x| format!("{:.2}", x.rss_mean_bytes as f64 / 1e6))),
            format!("{:.1}", m.load.generator.cpu_percent),
            m.load.generator.saturated.to_string(),
        ];
        debug_assert_eq!(row.len(), COLUMNS.len());
        let _ = writeln!(out, "{}", row.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
