//! `claimbench bench URL`: one ad-hoc load run, like wrk or oha. Turns flags
//! into a [`LoadPlan`], runs it, prints a summary and optionally writes a
//! results file (a one-measurement [`ResultsFile`] that `compare` and
//! `report` read like any other).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::Method;

use crate::load::plan::HttpClient;
use crate::load::{self, BodyCheck, Check, Endpoint, LoadModel, LoadPlan, Phase, RequestTemplate};
use crate::results::schema::{
    Arrival, Level, LoadModelKind, LoadResult, Measurement, Percentiles, ResultsFile, RunKind,
    SCHEMA_VERSION, TargetInfo,
};

/// Options of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The URL to load, e.g. http://127.0.0.1:8080/plaintext.
    pub url: String,
    /// Connections: concurrency in closed loop; the most the pool may open in open loop.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub connections: usize,
    /// How long to measure (e.g. 10s, 1m). Default 10s unless --requests is given.
    #[arg(short = 'd', long, value_parser = parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Stop after this many measured requests.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Open loop: requests per second at a constant rate, whatever the server does
    /// (latency from each request's intended start: coordinated omission corrected).
    #[arg(short = 'r', long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Open loop: how arrivals are spaced.
    #[arg(long, value_enum, default_value = "constant", requires = "rate")]
    pub arrival: ArrivalArg,
    /// Warm-up before measuring (discarded), e.g. 2s; or `auto`: at least
    /// 2s and until the target is steady (three one-second windows'
    /// throughput within ±10% or its counting noise 2/√n, and p50 within
    /// ±20% or ±0.5 ms), at most --warmup-max.
    #[arg(long, value_parser = parse_warmup, default_value = "0s")]
    pub warmup: Warmup,
    /// With `--warmup auto`: the longest warm-up before measuring anyway
    /// (the results then say the target was not steady).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub warmup_max: Duration,
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Request body read from a file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Per-request timeout (send to last body byte).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Generator threads (default: the CPUs the generator may use).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Pin the generator's threads to these CPUs, e.g. `0` or `0-1`.
    #[arg(long)]
    pub pin: Option<crate::sys::CpuList>,
    /// The HTTP/1.1 client: `lean` (claimbench's own, the fastest) or
    /// `hyper` (hyper's connection-level client, the reference).
    #[arg(long, value_enum, default_value = "lean")]
    pub http_client: HttpClientArg,
    /// A new connection per request (sends `Connection: close`).
    #[arg(long)]
    pub no_keepalive: bool,
    /// Extra idle keep-alive connections to hold open beside the active ones.
    #[arg(long, default_value_t = 0)]
    pub idle_connections: usize,
    /// Each idle connection sends one request this often to stay open (e.g. 1s).
    #[arg(long, value_parser = parse_duration)]
    pub idle_ping: Option<Duration>,
    /// A weighted request mix instead of the URL's path: `WEIGHT:PATH` (repeatable),
    /// e.g. `--mix 95:/io/sleep?ms=20 --mix 5:/cpu/fib?n=27`.
    #[arg(long)]
    pub mix: Vec<String>,
    /// Expected status code (others count as `status` errors).
    #[arg(long, default_value_t = 200)]
    pub expect_status: u16,
    /// The body must contain this text (else `body-mismatch`).
    #[arg(long, conflicts_with = "expect_json")]
    pub expect_contains: Option<String>,
    /// The JSON body's field must equal a value: `POINTER=JSON`, e.g. `/value=196418`.
    #[arg(long)]
    pub expect_json: Option<String>,
    /// Record gaps between body chunks (streaming endpoints).
    #[arg(long)]
    pub stream: bool,
    /// Write the results (schema-versioned JSON) to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No live progress line.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `--http-client` values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum HttpClientArg {
    /// claimbench's lean HTTP/1.1 client.
    Lean,
    /// hyper's connection-level client (`hyper::client::conn::http1`).
    Hyper,
}

/// `--arrival` values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ArrivalArg {
    /// Evenly spaced.
    Constant,
    /// Exponential gaps (Poisson process).
    Poisson,
}

/// Parses `10s`, `1m30s`, `500ms`; a bare number means seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Duration::try_from_secs_f64(secs)
                .map_err(|_| format!("`{s}` is not a duration (too long)"));
        }
        return Err(format!("`{s}` is not a duration (must not be negative)"));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 10s or 500ms: {e}"))
}

/// A fixed warm-up, or one that lasts until the target is steady.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warmup {
    /// Exactly this long.
    Fixed(Duration),
    /// At least [`AUTO_WARMUP_MIN`], until steady.
    Auto,
}

/// The least warm-up of `--warmup auto`.
pub const AUTO_WARMUP_MIN: Duration = Duration::from_secs(2);

/// Parses `--warmup`: a duration or `auto`.
pub fn parse_warmup(s: &str) -> Result<Warmup, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(Warmup::Auto);
    }
    parse_duration(s)
        .map(Warmup::Fixed)
        .map_err(|e| format!("{e}, or `auto`"))
}

/// Builds the plan from the flags.
pub fn plan_from_args(args: &BenchArgs) -> anyhow::Result<LoadPlan> {
    let (endpoint, path) = Endpoint::parse(&args.url)?;
    let method = Method::from_bytes(args.method.as_bytes())
        .map_err(|_| anyhow::anyhow!("invalid --method {:?}", args.method))?;
    let body = match (&args.body, &args.body_file) {
        (Some(b), _) => Bytes::from(b.clone()),
        (None, Some(f)) => Bytes::from(
            std::fs::read(f).with_context(|| format!("cannot read --body-file {}", f.display()))?,
        ),
        (None, None) => Bytes::new(),
    };
    let check = Check {
        status: args.expect_status,
        body: match (&args.expect_contains, &args.expect_json) {
            (Some(s), _) => BodyCheck::Contains(s.clone()),
            (None, Some(spec)) => {
                let (pointer, value) = spec.split_once('=').ok_or_else(|| {
                    anyhow::anyhow!(
                        "invalid --expect-json {spec:?}: expected POINTER=JSON, e.g. /value=196418"
                    )
                })?;
                let value = serde_json::from_str(value).with_context(|| {
                    format!("invalid --expect-json {spec:?}: the value is not JSON")
                })?;
                BodyCheck::JsonField {
                    pointer: pointer.to_string(),
                    value,
                }
            }
            (None, None) => BodyCheck::Any,
        },
    };
    let mixes: Vec<(u32, String)> = if args.mix.is_empty() {
        vec![(1, path)]
    } else {
        args.mix
            .iter()
            .map(|m| {
                let (w, p) = m
                    .split_once(':')
                    .ok_or_else(|| anyhow::anyhow!("invalid --mix {m:?}: expected WEIGHT:PATH"))?;
                let w: u32 = w.parse().map_err(|_| {
                    anyhow::anyhow!("invalid --mix {m:?}: weight `{w}` is not a whole number")
                })?;
                Ok((w, p.to_string()))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut templates = Vec::new();
    for (weight, path) in mixes {
        let mut t = RequestTemplate::new(method.clone(), &path, body.clone())?;
        t.weight = weight;
        t.check = check.clone();
        t.stream = args.stream;
        for h in &args.headers {
            t.add_header(h)?;
        }
        templates.push(t);
    }
    let pin = args.pin.clone().map(|c| c.0).unwrap_or_default();
    let threads = args.threads.unwrap_or_else(|| {
        if pin.is_empty() {
            crate::sys::online_cpus().len()
        } else {
            pin.len()
        }
    });
    let model = match args.rate {
        None => LoadModel::Closed {
            connections: args.connections,
        },
        Some(rate) => LoadModel::Open {
            rate,
            arrival: match args.arrival {
                ArrivalArg::Constant => Arrival::Constant,
                ArrivalArg::Poisson => Arrival::Poisson,
            },
            max_connections: args.connections,
        },
    };
    let mut plan = LoadPlan::closed(endpoint, templates, args.connections);
    plan.model = model;
    plan.duration = match (args.duration, args.requests) {
        (Some(d), _) => Some(d),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    plan.max_requests = args.requests;
    match args.warmup {
        Warmup::Fixed(d) => plan.warmup = d,
        Warmup::Auto => {
            plan.warmup = AUTO_WARMUP_MIN.min(args.warmup_max);
            plan.warmup_max = Some(args.warmup_max);
        }
    }
    plan.timeout = args.timeout;
    plan.threads = threads;
    plan.pin_cpus = pin;
    plan.keepalive = !args.no_keepalive;
    plan.http_client = match args.http_client {
        HttpClientArg::Lean => HttpClient::Lean,
        HttpClientArg::Hyper => HttpClient::Hyper,
    };
    plan.idle_connections = args.idle_connections;
    plan.idle_ping = args.idle_ping;
    plan.validate()?;
    Ok(plan)
}

/// Runs the command.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let plan = plan_from_args(&args)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second handler in the same process (tests) is not an error.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let started_at = chrono::Utc::now();
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = show.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let mut last = (std::time::Instant::now(), 0u64);
    let result = load::run(&plan, stop.clone(), &mut |p| {
        if let Some(b) = &bar {
            let now = std::time::Instant::now();
            let dt = now.duration_since(last.0).as_secs_f64();
            if dt >= 0.5 {
                let rps = (p.requests - last.1) as f64 / dt;
                last = (now, p.requests);
                let phase = match p.phase {
                    Phase::Setup => "setup",
                    Phase::Warmup => "warm-up",
                    Phase::Measure => "measuring",
                    Phase::Drain => "draining",
                };
                let total = p
                    .planned
                    .map(|d| format!("/{:.0}s", d.as_secs_f64()))
                    .unwrap_or_default();
                b.set_message(format!(
                    "{phase} {:.1}s{total}  {rps:.0} req/s  {} requests  {} errors",
                    p.elapsed.as_secs_f64(),
                    p.requests,
                    p.errors
                ));
            }
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print!("{}", render_summary(&args.url, &result));
    if let Some(path) = &args.json {
        let file = results_file(&args.url, started_at, &result, stop.load(Ordering::Relaxed));
        crate::results::io::write(path, &file)?;
        println!("results written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Wraps one load result as a results file.
pub fn results_file(
    url: &str,
    started_at: chrono::DateTime<chrono::Utc>,
    load: &LoadResult,
    interrupted: bool,
) -> ResultsFile {
    let mut host = crate::sys::host_info();
    host.generator_cpus = load.options.pin_cpus.clone();
    let level = Level {
        model: load.options.model,
        value: match load.options.model {
            LoadModelKind::Closed => load.options.connections as f64,
            LoadModelKind::Open => load.options.rate_rps.unwrap_or(0.0),
        },
    };
    ResultsFile {
        order_seed: None,
        schema_version: SCHEMA_VERSION,
        kind: RunKind::Bench,
        run_id: started_at.format("%Y%m%dT%H%M%SZ").to_string(),
        started_at,
        finished_at: Some(chrono::Utc::now()),
        complete: !interrupted,
        command_line: std::env::args().collect(),
        tool: crate::sys::tool_info(),
        host,
        targets: vec![TargetInfo {
            id: load.options.base_url.clone(),
            language: "unknown".into(),
            framework: "unknown".into(),
            server: "unknown".into(),
            concurrency_model: "unknown".into(),
            workers: None,
            cpus: Vec::new(),
            versions: Default::default(),
            supervised: false,
            url: load.options.base_url.clone(),
        }],
        measurements: vec![Measurement {
            target: load.options.base_url.clone(),
            scenario: format!("bench {url}"),
            level,
            repetition: 1,
            started_at,
            clean_state: "external".into(),
            load: load.clone(),
            resources: None,
            excluded: load
                .generator
                .saturated
                .then(|| load.generator.warnings.join("; ")),
            host: None,
        }],
        skipped: Vec::new(),
        verdicts: Vec::new(),
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
    let client = match o.http_client {
        HttpClient::Lean => "lean",
        HttpClient::Hyper => "hyper",
    };
    out.push_str(&format!(
        "{url}: {model}, {} thread(s), {client} HTTP/1.1 client\n",
        r.generator.threads
    ));
    out.push_str(&format!(
        "  {} requests in {:.2}s ({} ok, {} errors, {:.2}% error rate), {:.1} MB read\n",
        s.requests,
        s.duration_s,
        s.ok,
        s.errors,
        s.error_rate * 100.0,
        s.bytes_read as f64 / 1e6
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
            "  errors: connect {}, timeout {}, read {}, status {}, body-mismatch {}\n",
            e.connect, e.timeout, e.read, e.status, e.body_mismatch
        ));
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
