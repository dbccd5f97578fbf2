//! `claimbench bench URL`: one ad-hoc load run, like wrk or oha. Turns flags
//! into a [`LoadPlan`], runs it, prints a summary (and with `--latency` the
//! latency distribution), checks `--threshold`s and optionally writes a
//! results file (a one-measurement [`ResultsFile`] that `compare` and
//! `report` read like any other), to a file or to standard output.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::load::{self, LoadPlan, Phase};
use crate::results::schema::{
    Level, LoadModelKind, LoadResult, Measurement, ResultsFile, RunKind, TargetInfo,
};
use crate::scenario::threshold::Threshold;

mod flags;
mod summary;

pub use flags::{
    AUTO_WARMUP_MIN, Warmup, parse_duration, parse_pin, parse_threshold, parse_warmup,
    plan_from_args,
};
pub use summary::{render_latency_distribution, render_summary, transfer_mb_per_s};

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
    /// The client: `lean` (claimbench's own, for HTTP/1.1 and HTTP/2, the
    /// fastest) or `hyper` (the references: hyper's connection-level
    /// HTTP/1.1 client, the `h2` crate's HTTP/2 client).
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
    /// claimbench's lean HTTP/1.1 and HTTP/2 clients.
    Lean,
    /// hyper's connection-level HTTP/1.1 client (`hyper::client::conn::http1`)
    /// and the `h2` crate's HTTP/2 client.
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
    let stop = crate::interrupt::stop_flag("");
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
        let held = t.holds_for(value);
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
    let mut file = ResultsFile::new(RunKind::Bench, started_at, crate::sys::tool_info(), host);
    file.finished_at = Some(chrono::Utc::now());
    file.complete = !interrupted;
    let base = &load.options.base_url;
    file.targets = vec![TargetInfo::external(base, base, "unknown".into())];
    file.measurements = vec![Measurement {
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
    }];
    file
}
