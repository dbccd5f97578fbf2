//! What `bench` prints: the summary (as wrk and oha print one) and, with
//! `--latency`, the latency distribution. Pure string builders.

use crate::load::plan::{HttpClient, Protocol};
use crate::results::schema::{Arrival, LoadModelKind, LoadResult, Percentiles, Summary};

/// Response body bytes read per second, in MB/s: the summary's byte count
/// over the same measured window its rates use (0 for an empty window).
pub fn transfer_mb_per_s(s: &Summary) -> f64 {
    if s.duration_s > 0.0 {
        s.bytes_read as f64 / 1e6 / s.duration_s
    } else {
        0.0
    }
}

fn ms(us: u64) -> String {
    format!("{:.3}ms", us as f64 / 1000.0)
}

fn percentile_rows(out: &mut String, title: &str, p: &Percentiles) {
    out.push_str(&format!("  {title}\n"));
    out.push_str(&format!(
        "    min {}  mean {}  stdev {}  max {}\n",
        ms(p.min_us),
        ms(p.mean_us.round() as u64),
        ms(p.stdev_us.round() as u64),
        ms(p.max_us)
    ));
    out.push_str(&format!(
        "    p50 {}  p75 {}  p90 {}  p99 {}  p99.9 {}  p99.99 {}\n",
        ms(p.p50_us),
        ms(p.p75_us),
        ms(p.p90_us),
        ms(p.p99_us),
        ms(p.p999_us),
        ms(p.p9999_us)
    ));
}

/// The terminal summary of one run.
pub fn render_summary(url: &str, r: &LoadResult) -> String {
    let o = &r.options;
    let s = &r.summary;
    let mut out = String::new();
    let model = match o.model {
        LoadModelKind::Closed => format!("closed loop, {} connections", o.connections),
        LoadModelKind::Open => format!(
            "open loop, {} req/s ({}), up to {} connections",
            o.rate_rps.unwrap_or(0.0),
            match o.arrival {
                Some(Arrival::Poisson) => "poisson",
                _ => "constant",
            },
            o.connections
        ),
    };
    let client = match (o.protocol, o.http_client) {
        (Protocol::Http2, HttpClient::Lean) => {
            format!("lean HTTP/2 client, {} stream(s) per connection", o.streams)
        }
        (Protocol::Http2, HttpClient::Hyper) => {
            format!(
                "h2 crate's HTTP/2 client, {} stream(s) per connection",
                o.streams
            )
        }
        (Protocol::Http1, HttpClient::Lean) => "lean HTTP/1.1 client".into(),
        (Protocol::Http1, HttpClient::Hyper) => "hyper HTTP/1.1 client".into(),
    };
    let tls = if o.tls { " over TLS" } else { "" };
    out.push_str(&format!(
        "{url}: {model}, {} thread(s), {client}{tls}\n",
        r.generator.threads
    ));
    out.push_str(&format!(
        "  {} requests in {:.2}s ({} ok, {} errors, {:.2}% error rate), {:.1} MB read, transfer {:.2} MB/s\n",
        s.requests,
        s.duration_s,
        s.ok,
        s.errors,
        s.error_rate * 100.0,
        s.bytes_read as f64 / 1e6,
        transfer_mb_per_s(s)
    ));
    out.push_str(&format!(
        "  throughput {:.1} req/s (successful), {:.1} req/s (all): responses that finished in the window\n",
        s.throughput_rps, s.requests_rps
    ));
    if s.in_flight_at_end > 0 {
        out.push_str(&format!(
            "  {} requests still in flight when the window closed (not counted above)\n",
            s.in_flight_at_end
        ));
    }
    if let Some(p) = &r.phases {
        let steady = match p.steady {
            Some(true) => ", steady",
            Some(false) => ", NOT steady",
            None => "",
        };
        out.push_str(&format!(
            "  warm-up {}{steady}; measured {} ({})\n",
            crate::load::phase::format_secs(p.warmup_s),
            crate::load::phase::format_secs(s.duration_s),
            p.measured_reason
        ));
    }
    if let Some(l) = &r.little {
        out.push_str(&format!(
            "  Little's law: {} connections, throughput × mean latency {:.1} (ratio {:.3})\n",
            l.connections, l.throughput_x_latency, l.ratio
        ));
    }
    if o.model == LoadModelKind::Open {
        percentile_rows(
            &mut out,
            "latency (from intended start, coordinated-omission corrected)",
            &s.latency,
        );
        if let Some(sv) = &s.service {
            percentile_rows(&mut out, "service time (from actual send)", sv);
        }
        if let Some(lag) = &s.schedule_lag {
            out.push_str(&format!(
                "  schedule lag: p50 {}  p99 {}  max {}\n",
                ms(lag.p50_us),
                ms(lag.p99_us),
                ms(lag.max_us)
            ));
        }
        if s.not_started > 0 {
            out.push_str(&format!(
                "  {} scheduled requests never started (all {} connections were busy until the end)\n",
                s.not_started, o.connections
            ));
        }
    } else {
        percentile_rows(&mut out, "latency", &s.latency);
    }
    out.push_str(&format!(
        "  time to first byte: p50 {}  p99 {}\n",
        ms(s.ttfb.p50_us),
        ms(s.ttfb.p99_us)
    ));
    if let Some(gap) = &r.chunk_gap {
        let p = gap.percentiles();
        out.push_str(&format!(
            "  chunk gaps: p50 {}  p99 {}  max {} (jitter p99-p50 {})\n",
            ms(p.p50_us),
            ms(p.p99_us),
            ms(p.max_us),
            ms(p.p99_us.saturating_sub(p.p50_us))
        ));
    }
    if r.templates.len() > 1 {
        out.push_str("  per request:\n");
        for t in &r.templates {
            out.push_str(&format!(
                "    {:<32} {:>8} req  {:>6} err  p50 {}  p99 {}\n",
                t.name,
                t.requests,
                t.errors,
                ms(t.latency_summary.p50_us),
                ms(t.latency_summary.p99_us)
            ));
        }
    }
    let e = &r.errors;
    if e.total() > 0 {
        out.push_str(&format!(
            "  errors: connect {}, timeout {}, read {}, status {}, body-mismatch {}",
            e.connect, e.timeout, e.read, e.status, e.body_mismatch
        ));
        if o.protocol == Protocol::Http2 {
            out.push_str(&format!(
                ", stream reset {}, refused by GOAWAY {}",
                e.reset, e.goaway
            ));
        }
        out.push('\n');
    }
    let codes: Vec<String> = r
        .status_codes
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    out.push_str(&format!(
        "  status codes: {}\n",
        if codes.is_empty() {
            "none".into()
        } else {
            codes.join(", ")
        }
    ));
    let c = &r.connections;
    out.push_str(&format!(
        "  connections: {} opened, {} reconnects",
        c.opened, c.reconnects
    ));
    if c.idle_requested > 0 {
        out.push_str(&format!(", idle held {}/{}", c.idle_held, c.idle_requested));
    }
    out.push('\n');
    if let Some(h) = &c.tls_handshake {
        out.push_str(&format!(
            "  TLS handshakes: {} (every connection, warm-up included): p50 {}  p99 {}  max {}\n",
            h.count,
            ms(h.p50_us),
            ms(h.p99_us),
            ms(h.max_us)
        ));
    }
    let g = &r.generator;
    out.push_str(&format!(
        "  generator: {:.0}% CPU of {} thread(s) on CPU(s) {}, {:.1} MB max RSS\n",
        g.cpu_percent,
        g.threads,
        crate::sys::format_cpu_list(&g.cpus),
        g.max_rss_bytes as f64 / 1e6
    ));
    for w in g.warnings.iter().chain(&r.warnings) {
        out.push_str(&format!("  warning: {w}\n"));
    }
    out
}

/// The percentiles wrk2's `--latency` lists first.
const DISTRIBUTION_PERCENTILES: [f64; 8] = [50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0];

/// Steps of the detailed spectrum per halving of the distance to 100%,
/// as in wrk2 (HdrHistogram's percentile iteration).
const SPECTRUM_TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The latency distribution of successful requests as wrk2's `--latency`
/// prints it: fixed percentiles, then the detailed percentile spectrum
/// (value in ms, percentile, total count, 1/(1-percentile)) read from the
/// run's merged HDR histogram.
pub fn render_latency_distribution(r: &LoadResult) -> String {
    let lat = &r.latency;
    let what = match r.options.model {
        LoadModelKind::Open => "from intended start, coordinated-omission corrected",
        LoadModelKind::Closed => "recorded latency",
    };
    let mut out = format!("  Latency Distribution (HdrHistogram, {what})\n");
    if lat.count() == 0 {
        out.push_str("    no successful request: nothing to show\n");
        return out;
    }
    for p in DISTRIBUTION_PERCENTILES {
        let value = lat.quantile_us(p / 100.0);
        out.push_str(&format!("  {p:>7.3}%  {:>12}\n", ms(value)));
    }
    out.push_str("\n  Detailed Percentile spectrum:\n");
    out.push_str("       Value   Percentile   TotalCount 1/(1-Percentile)\n\n");
    let h = lat.hist();
    let mut total = 0u64;
    for v in h.iter_quantiles(SPECTRUM_TICKS_PER_HALF_DISTANCE) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let value = format!("{:12.3}", v.value_iterated_to() as f64 / 1e3);
        if q < 1.0 {
            out.push_str(&format!(
                "{value} {q:12.6} {total:12} {:12.2}\n",
                1.0 / (1.0 - q)
            ));
        } else {
            out.push_str(&format!("{value} {q:12.6} {total:12}\n"));
        }
    }
    out.push_str(&format!(
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]\n",
        h.mean() / 1e3,
        h.stdev() / 1e3
    ));
    out.push_str(&format!(
        "#[Max     = {:12.3}, Total count    = {:12}]\n",
        lat.max_seen_us as f64 / 1e3,
        lat.count()
    ));
    if lat.overflow > 0 {
        out.push_str(&format!(
            "#[{} values above the histogram's 1 h bound: counted in the percentiles above, not in the spectrum]\n",
            lat.overflow
        ));
    }
    out
}
