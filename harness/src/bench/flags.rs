//! `bench`'s flags turned into a [`LoadPlan`] ([`plan_from_args`]), and the
//! parsers of single values (durations, warm-ups, thresholds, CPU lists)
//! that clap and the scenario files share. Bad input is an error naming the
//! flag, never a panic.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::Method;
use http::header::HeaderValue;

use super::{ArrivalArg, BenchArgs, HttpClientArg, MAX_CONNECTIONS, MAX_THREADS};
use crate::load::plan::{HttpClient, MAX_DURATION, Protocol, TlsOptions};
use crate::load::{BodyCheck, Check, Endpoint, LoadModel, LoadPlan, PlanError, RequestTemplate};
use crate::results::schema::Arrival;
use crate::scenario::threshold::Threshold;

/// User text quoted for an error message on one line: control characters
/// (a newline, say) are escaped.
fn quoted(s: &str) -> String {
    format!("`{}`", s.escape_debug())
}

/// Why one value (of a flag, or the same value in a scenario file) did
/// not parse; each quotes the value as given.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// A number of seconds that is NaN or infinite.
    #[error("{0} is not a duration (not a finite number)")]
    NotFinite(String),
    /// A negative number of seconds.
    #[error("{0} is not a duration (must not be negative)")]
    Negative(String),
    /// Neither a number nor a duration.
    #[error("{input} is not a duration like 10s or 500ms: {reason}")]
    NotADuration {
        /// The value, quoted.
        input: String,
        /// What the duration parser said.
        reason: String,
    },
    /// Longer than [`MAX_DURATION`].
    #[error("{0} is too long: at most {hours}h", hours = MAX_DURATION.as_secs() / 3600)]
    TooLong(String),
    /// Not a warm-up: neither a duration nor `auto`.
    #[error("{0}, or `auto`")]
    NotAWarmup(Box<ValueError>),
    /// Control characters (a newline, say) in a value.
    #[error("{input} is not a {what}: it holds control characters")]
    Control {
        /// The value, quoted.
        input: String,
        /// What it should have been.
        what: &'static str,
    },
    /// A threshold that did not parse.
    #[error(transparent)]
    Threshold(#[from] crate::scenario::threshold::ThresholdError),
    /// A CPU number no machine has.
    #[error("CPU {0} is above the largest CPU number {max}", max = MAX_THREADS - 1)]
    CpuTooLarge(u128),
    /// A CPU list that did not parse.
    #[error(transparent)]
    CpuList(#[from] crate::sys::CpuListError),
}

/// Parses `10s`, `1m30s`, `500ms`; a bare number means seconds. At most
/// [`MAX_DURATION`] (24 h), so no later arithmetic on it can overflow.
pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    let s = s.trim();
    let d = match s.parse::<f64>() {
        Ok(secs) if secs.is_nan() || secs.is_infinite() => {
            return Err(ValueError::NotFinite(quoted(s)));
        }
        Ok(secs) if secs < 0.0 => return Err(ValueError::Negative(quoted(s))),
        Ok(secs) => Duration::try_from_secs_f64(secs).ok(),
        Err(_) => match humantime::parse_duration(s) {
            Ok(d) => Some(d),
            Err(humantime::DurationError::NumberOverflow) => None,
            Err(e) => {
                return Err(ValueError::NotADuration {
                    input: quoted(s),
                    reason: e.to_string(),
                });
            }
        },
    };
    match d {
        Some(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(ValueError::TooLong(quoted(s))),
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
pub fn parse_warmup(s: &str) -> Result<Warmup, ValueError> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(Warmup::Auto);
    }
    parse_duration(s)
        .map(Warmup::Fixed)
        .map_err(|e| ValueError::NotAWarmup(Box::new(e)))
}

/// Parses `--threshold` with the scenario files' grammar ([`Threshold::parse`]).
pub fn parse_threshold(s: &str) -> Result<Threshold, ValueError> {
    if s.chars().any(char::is_control) {
        return Err(ValueError::Control {
            input: quoted(s),
            what: "threshold",
        });
    }
    Ok(Threshold::parse(s)?)
}

/// Parses `--pin`, refusing CPU numbers no machine has before a range like
/// `0-99999999999` is expanded.
pub fn parse_pin(s: &str) -> Result<crate::sys::CpuList, ValueError> {
    if s.chars().any(char::is_control) {
        return Err(ValueError::Control {
            input: quoted(s),
            what: "CPU list",
        });
    }
    let too_big = s
        .split([',', '-'])
        .filter_map(|n| n.trim().parse::<u128>().ok())
        .find(|&n| n >= MAX_THREADS as u128);
    if let Some(n) = too_big {
        return Err(ValueError::CpuTooLarge(n));
    }
    Ok(s.parse()?)
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
