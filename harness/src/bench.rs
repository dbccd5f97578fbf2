//! `claimbench bench URL`: one ad-hoc load run, like wrk or oha. Turns flags
//! into a [`LoadPlan`], runs it, prints a summary (and with `--latency` the
//! latency distribution), checks `--threshold`s and optionally writes a
//! results file (a one-measurement [`ResultsFile`] that `compare` and
//! `report` read like any other), to a file or to standard output.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::Method;
use http::header::HeaderValue;

use crate::load::plan::{HttpClient, MAX_DURATION, Protocol, TlsOptions};
use crate::load::{
    self, BodyCheck, Check, Endpoint, LoadModel, LoadPlan, Phase, PlanError, RequestTemplate,
};
use crate::results::schema::{
    Arrival, Level, LoadModelKind, LoadResult, Measurement, Percentiles, ResultsFile, RunKind,
    SCHEMA_VERSION, Summary, TargetInfo,
};
use crate::scenario::threshold::Threshold;

/// What `bench --help` says about exit codes.
const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  the run finished and every --threshold held
  1  a --threshold was broken, or no request succeeded (every request failed, or none finished)
  2  bad input (a flag, the URL, an unreadable file) or the target could not be reached";

/// Options of `bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct BenchArgs {
    /// The URL to load, e.g. http://127.0.0.1:8080/plaintext or https://host:8443/.
    pub url: String,
    /// Connections: concurrency in closed loop; the most the pool may open in open loop.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub connections: usize,
    /// How long to measure (e.g. 10s, 1m; at most 24h). Default 10s unless --requests is given.
    #[arg(short = 'd', long, value_parser = parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Stop after this many measured requests.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Open loop: requests per second at a constant rate, whatever the server does
    /// (latency from each request's intended start: coordinated omission corrected).
    /// `-R` as in wrk2.
    #[arg(
        short = 'r',
        visible_short_alias = 'R',
        long,
        allow_negative_numbers = true
    )]
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
    /// The Host header to send instead of the URL's host:port (like `-H 'Host: NAME'`).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
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
    #[arg(long, value_parser = parse_pin)]
    pub pin: Option<crate::sys::CpuList>,
    /// The HTTP/1.1 client: `lean` (claimbench's own, the fastest) or
    /// `hyper` (hyper's connection-level client, the reference).
    #[arg(long, value_enum, default_value = "lean")]
    pub http_client: HttpClientArg,
    /// Speak HTTP/2: ALPN `h2` over https://, prior knowledge (h2c) over http://.
    #[arg(long)]
    pub http2: bool,
    /// HTTP/2: requests in flight at once on each connection (h2load's -m), 1 to 1024.
    #[arg(long, default_value_t = 1)]
    pub streams: usize,
    /// https://: accept any server certificate (encryption without authentication).
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// https://: also trust the certificates in this PEM file (a private CA).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
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
    /// A condition the run must meet, k6 style (repeatable): `p99<50ms`,
    /// `error_rate<1%`, `throughput>1000`. Metrics: p50, p90, p99, p999,
    /// max, ttfb_p99, throughput, error_rate. Exit code 1 if one is broken.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = parse_threshold)]
    pub thresholds: Vec<Threshold>,
    /// One shard of a load spread over several generators.
    #[command(flatten)]
    pub sharding: crate::shard::ShardArgs,
    /// After the summary, print the latency distribution as wrk2's
    /// `--latency` does: percentiles, then the detailed spectrum.
    #[arg(long)]
    pub latency: bool,
    /// Write the results (schema-versioned JSON) to this file; `-` writes
    /// them to standard output and everything else to standard error.
    #[arg(long, value_name = "FILE")]
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

/// The most connections `bench` opens (`-c`, `--idle-connections`): far
/// above what one machine can hold, low enough to refuse a typo before
/// anything is allocated for it.
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// The most generator threads (`-t`); also the CPU numbers `--pin` takes
/// are below it.
pub const MAX_THREADS: usize = 1024;

/// User text quoted for an error message on one line: control characters
/// (a newline, say) are escaped.
fn quoted(s: &str) -> String {
    format!("`{}`", s.escape_debug())
}

/// Parses `10s`, `1m30s`, `500ms`; a bare number means seconds. At most
/// [`MAX_DURATION`] (24 h), so no later arithmetic on it can overflow.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let d = match s.parse::<f64>() {
        Ok(secs) if secs.is_nan() || secs.is_infinite() => {
            return Err(format!(
                "{} is not a duration (not a finite number)",
                quoted(s)
            ));
        }
        Ok(secs) if secs < 0.0 => {
            return Err(format!(
                "{} is not a duration (must not be negative)",
                quoted(s)
            ));
        }
        Ok(secs) => Duration::try_from_secs_f64(secs).ok(),
        Err(_) => match humantime::parse_duration(s) {
            Ok(d) => Some(d),
            Err(humantime::DurationError::NumberOverflow) => None,
            Err(e) => {
                return Err(format!(
                    "{} is not a duration like 10s or 500ms: {e}",
                    quoted(s)
                ));
            }
        },
    };
    match d {
        Some(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!(
            "{} is too long: at most {}h",
            quoted(s),
            MAX_DURATION.as_secs() / 3600
        )),
    }
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

/// Parses `--threshold` with the scenario files' grammar ([`Threshold::parse`]).
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    if s.chars().any(char::is_control) {
        return Err(format!(
            "{} is not a threshold: it holds control characters",
            quoted(s)
        ));
    }
    Threshold::parse(s)
}

/// Parses `--pin`, refusing CPU numbers no machine has before a range like
/// `0-99999999999` is expanded.
pub fn parse_pin(s: &str) -> Result<crate::sys::CpuList, String> {
    if s.chars().any(char::is_control) {
        return Err(format!(
            "{} is not a CPU list: it holds control characters",
            quoted(s)
        ));
    }
    let too_big = s
        .split([',', '-'])
        .filter_map(|n| n.trim().parse::<u128>().ok())
        .find(|&n| n >= MAX_THREADS as u128);
    if let Some(n) = too_big {
        return Err(format!(
            "CPU {n} is above the largest CPU number {}",
            MAX_THREADS - 1
        ));
    }
    s.parse()
        .map_err(|e: crate::sys::CpuListError| e.to_string())
}

/// An input error naming the flag and what is wrong with its value.
fn bad(option: &str, reason: String) -> anyhow::Error {
    PlanError::Value {
        option: option.to_string(),
        reason,
    }
    .into()
}

/// Builds the plan from the flags. Every bad value is an error naming
/// the flag, on one line; nothing here panics on user input.
pub fn plan_from_args(args: &BenchArgs) -> anyhow::Result<LoadPlan> {
    check_sizes(args)?;
    let (endpoint, path) = Endpoint::parse(&args.url)?;
    let templates = request_templates(args, path)?;
    let pin = args.pin.clone().map(|c| c.0).unwrap_or_default();
    let threads = args.threads.unwrap_or_else(|| {
        if pin.is_empty() {
            crate::sys::online_cpus().len()
        } else {
            pin.len()
        }
    });
    let mut plan = LoadPlan::closed(endpoint, templates, args.connections);
    plan.model = load_model(args);
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
    plan.protocol = if args.http2 {
        Protocol::Http2
    } else {
        Protocol::Http1
    };
    plan.streams = args.streams;
    plan.tls = tls_options(args)?;
    plan.idle_connections = args.idle_connections;
    plan.idle_ping = args.idle_ping;
    if let Some(spec) = &args.sharding.shard {
        let env = std::env::var("JOB_COMPLETION_INDEX").ok();
        plan.shard =
            Some(crate::shard::parse_shard(spec, env.as_deref()).map_err(anyhow::Error::msg)?);
    }
    plan.start_at = args.sharding.start_at;
    plan.start_tolerance = args.sharding.start_tolerance;
    plan.validate()?;
    Ok(plan)
}

/// Refuses counts that would allocate or spawn absurdly, and a zero ping
/// interval (a ping loop without pause), before anything is built.
fn check_sizes(args: &BenchArgs) -> anyhow::Result<()> {
    for (option, n) in [
        ("--connections", args.connections),
        ("--idle-connections", args.idle_connections),
    ] {
        if n > MAX_CONNECTIONS {
            return Err(bad(
                option,
                format!("{n} is above the supported {MAX_CONNECTIONS}"),
            ));
        }
    }
    if let Some(t) = args.threads.filter(|&t| t > MAX_THREADS) {
        return Err(bad(
            "--threads",
            format!("{t} is above the supported {MAX_THREADS}"),
        ));
    }
    if args.idle_ping.is_some_and(|p| p.is_zero()) {
        return Err(bad("--idle-ping", "must be above zero".into()));
    }
    Ok(())
}

/// Closed loop, or open loop with `--rate`.
fn load_model(args: &BenchArgs) -> LoadModel {
    match args.rate {
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
    }
}

/// `--insecure` and `--cacert`; the CA file must exist.
fn tls_options(args: &BenchArgs) -> anyhow::Result<TlsOptions> {
    if let Some(file) = &args.cacert {
        let meta =
            std::fs::metadata(file).with_context(|| format!("cannot read --cacert {file:?}"))?;
        if !meta.is_file() {
            anyhow::bail!("cannot read --cacert {file:?}: not a file");
        }
    }
    Ok(TlsOptions {
        insecure: args.insecure,
        cacert: args.cacert.clone(),
    })
}

/// One template per `--mix` entry (or one for the URL's path), each with
/// the method, body, headers and checks.
fn request_templates(args: &BenchArgs, path: String) -> anyhow::Result<Vec<RequestTemplate>> {
    let method = Method::from_bytes(args.method.as_bytes())
        .map_err(|_| anyhow::anyhow!("invalid --method {:?}", args.method))?;
    let body = request_body(args)?;
    let check = response_check(args)?;
    let host = host_header(args)?;
    let mut templates = Vec::new();
    for (weight, path) in mixes(args, path)? {
        let mut t = RequestTemplate::new(method.clone(), &path, body.clone())?;
        t.weight = weight;
        t.check = check.clone();
        t.stream = args.stream;
        for h in &args.headers {
            t.add_header(h)?;
        }
        if let Some(host) = &host {
            t.headers.push((http::header::HOST, host.clone()));
        }
        templates.push(t);
    }
    Ok(templates)
}

/// `--body` or `--body-file` (empty without either).
fn request_body(args: &BenchArgs) -> anyhow::Result<Bytes> {
    Ok(match (&args.body, &args.body_file) {
        (Some(b), _) => Bytes::from(b.clone()),
        (None, Some(f)) => {
            Bytes::from(std::fs::read(f).with_context(|| format!("cannot read --body-file {f:?}"))?)
        }
        (None, None) => Bytes::new(),
    })
}

/// `--expect-status`, `--expect-contains`, `--expect-json`.
fn response_check(args: &BenchArgs) -> anyhow::Result<Check> {
    let body = match (&args.expect_contains, &args.expect_json) {
        (Some(s), _) => BodyCheck::Contains(s.clone()),
        (None, Some(spec)) => {
            let (pointer, value) = spec.split_once('=').ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid --expect-json {spec:?}: expected POINTER=JSON, e.g. /value=196418"
                )
            })?;
            let value = serde_json::from_str(value).map_err(|e| {
                anyhow::anyhow!("invalid --expect-json {spec:?}: the value is not JSON ({e})")
            })?;
            BodyCheck::JsonField {
                pointer: pointer.to_string(),
                value,
            }
        }
        (None, None) => BodyCheck::Any,
    };
    Ok(Check {
        status: args.expect_status,
        body,
    })
}

/// `--mix WEIGHT:PATH` entries, or the URL's path with weight 1. The
/// weights must add up to at most `u32::MAX` (the engine draws from their sum).
fn mixes(args: &BenchArgs, path: String) -> anyhow::Result<Vec<(u32, String)>> {
    if args.mix.is_empty() {
        return Ok(vec![(1, path)]);
    }
    let mixes = args
        .mix
        .iter()
        .map(|m| {
            let (w, p) = m
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("invalid --mix {m:?}: expected WEIGHT:PATH"))?;
            let w: u32 = w.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "invalid --mix {m:?}: weight {} is not a whole number from 0 to {}",
                    quoted(w),
                    u32::MAX
                )
            })?;
            if !p.starts_with('/') {
                anyhow::bail!("invalid --mix {m:?}: the path must start with `/`");
            }
            Ok((w, p.to_string()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let total: u64 = mixes.iter().map(|(w, _)| u64::from(*w)).sum();
    if total > u64::from(u32::MAX) {
        return Err(bad(
            "--mix",
            format!("the weights add up to {total}, above {}", u32::MAX),
        ));
    }
    Ok(mixes)
}

/// The Host header of `--host`, which then is the only one: with a
/// `-H 'Host: …'` too, or two of those, which one wins would be a guess.
fn host_header(args: &BenchArgs) -> anyhow::Result<Option<HeaderValue>> {
    let from_h: Vec<&String> = args
        .headers
        .iter()
        .filter(|h| {
            h.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("host"))
        })
        .collect();
    match (&args.host, from_h.as_slice()) {
        (Some(host), [h, ..]) => Err(anyhow::anyhow!(
            "--host {host:?} and -H {h:?} both set the Host header: give one"
        )),
        (None, [_, h2, ..]) => Err(anyhow::anyhow!(
            "-H sets the Host header twice (the second is {h2:?}): give one"
        )),
        (Some(host), []) => {
            let invalid = |why: &str| anyhow::anyhow!("invalid --host {host:?}: {why}");
            let name = host.trim();
            if name.is_empty() {
                return Err(invalid(
                    "empty (expected e.g. example.com or example.com:8080)",
                ));
            }
            if name.chars().any(char::is_whitespace) {
                return Err(invalid("a host name has no spaces"));
            }
            HeaderValue::from_str(name)
                .map(Some)
                .map_err(|_| invalid("only visible ASCII characters may go in a header"))
        }
        (None, _) => Ok(None),
    }
}

/// Whether `--json` names standard output (`-`).
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Runs the command: the load, then the summary (and `--latency` table),
/// the thresholds and the results file. Exit code 1 when a threshold is
/// broken or no request succeeded.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let plan = plan_from_args(&args)?;
    let clock = crate::shard::clock_sync();
    if plan.shard.is_some()
        && !args.sharding.allow_unsynced_clock
        && let Some(c) = clock.filter(|c| !c.synchronized)
    {
        anyhow::bail!(
            "the system clock is not synchronised (adjtimex: TIME_ERROR, max error {:.1} s), so the shards' start alignment is unknown: synchronise it (NTP) or pass --allow-unsynced-clock",
            c.maxerror_us as f64 / 1e6
        );
    }
    let started_at = chrono::Utc::now();
    let (mut result, interrupted) = match run_load(&plan, args.quiet) {
        Err(e) => {
            if let Some(late @ load::LoadError::LateStart { .. }) =
                e.downcast_ref::<load::LoadError>()
            {
                eprintln!("error: {late}");
                return Ok(ExitCode::from(crate::shard::EXIT_LATE_START));
            }
            return Err(e);
        }
        Ok(r) => r,
    };
    result.shard = crate::shard::info(&plan, &result, args.sharding.run_id.as_deref(), clock);
    let json_to_stdout = args.json.as_deref().is_some_and(is_stdout);
    // The results file first: a closed pipe on the terminal output
    // (`| head`) must not lose what was measured.
    let mut written = None;
    if let Some(path) = args.json.as_deref().filter(|p| !is_stdout(p)) {
        let file = results_file(&args.url, started_at, &result, interrupted);
        crate::results::io::write(path, &file)?;
        written = Some(path);
    }
    let mut human: Box<dyn Write> = if json_to_stdout {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    };
    write!(human, "{}", render_summary(&args.url, &result))?;
    if args.latency {
        write!(human, "{}", render_latency_distribution(&result))?;
    }
    let outcome = judge(&args.thresholds, &result);
    write!(human, "{}", outcome.report)?;
    if json_to_stdout {
        let file = results_file(&args.url, started_at, &result, interrupted);
        let mut out = std::io::stdout().lock();
        out.write_all(&crate::results::io::to_json(&file))?;
        out.flush()?;
        writeln!(human, "results written to standard output")?;
    } else if let Some(path) = written {
        writeln!(human, "results written to {}", path.display())?;
    }
    human.flush()?;
    Ok(if outcome.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_GATE_FAILED)
    })
}

/// Runs the plan with a live progress line on a terminal (unless `quiet`);
/// returns the result and whether Ctrl-C cut the run short.
fn run_load(plan: &LoadPlan, quiet: bool) -> anyhow::Result<(LoadResult, bool)> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second handler in the same process (tests) is not an error.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let show = !quiet && std::io::stderr().is_terminal();
    let bar = show.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let mut last = (std::time::Instant::now(), 0u64);
    let result = load::run(plan, stop.clone(), &mut |p| {
        if let Some(b) = &bar {
            let now = std::time::Instant::now();
            let dt = now.duration_since(last.0).as_secs_f64();
            if dt >= 0.5 {
                let rps = (p.requests - last.1) as f64 / dt;
                last = (now, p.requests);
                b.set_message(progress_line(&p, rps));
            }
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((result, stop.load(Ordering::Relaxed)))
}

/// The live progress line.
fn progress_line(p: &load::Progress, rps: f64) -> String {
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
    format!(
        "{phase} {:.1}s{total}  {rps:.0} req/s  {} requests  {} errors",
        p.elapsed.as_secs_f64(),
        p.requests,
        p.errors
    )
}

/// Whether a run passed, and the lines that say why.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Every threshold held and at least one request succeeded.
    pub passed: bool,
    /// Each threshold with ✓ or ✗ and the measured value, then what failed;
    /// empty for a run without thresholds that passed.
    pub report: String,
}

/// Checks the thresholds against the run; a run where no request
/// succeeded fails whatever the thresholds say (a latency bound holds
/// trivially when nothing was measured).
pub fn judge(thresholds: &[Threshold], r: &LoadResult) -> Outcome {
    let mut report = String::new();
    let mut broken = 0;
    if !thresholds.is_empty() {
        report.push_str("  thresholds:\n");
    }
    for t in thresholds {
        let value = t.measure_load(r);
        let held = t.holds(value);
        if !held {
            broken += 1;
        }
        let mark = if held { '✓' } else { '✗' };
        report.push_str(&format!("    {mark} {}: {}\n", t.text, t.display(value)));
    }
    if broken > 0 {
        report.push_str(&format!(
            "  FAILED: {broken} of {} thresholds broken\n",
            thresholds.len()
        ));
    }
    let s = &r.summary;
    let nothing_ok = if s.requests == 0 {
        Some("no request finished in the measured window".to_string())
    } else if s.ok == 0 {
        Some(format!("all {} requests failed", s.requests))
    } else {
        None
    };
    if let Some(why) = &nothing_ok {
        report.push_str(&format!("  FAILED: {why}\n"));
    }
    Outcome {
        passed: broken == 0 && nothing_ok.is_none(),
        report,
    }
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
        (Protocol::Http2, _) => format!("HTTP/2 client, {} stream(s) per connection", o.streams),
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
