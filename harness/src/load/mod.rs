//! The load generator. Knows HTTP/1.1 and time; nothing about targets,
//! scenarios or claims.
//!
//! [`run`] takes a validated [`LoadPlan`] and returns a [`LoadResult`]. It
//! starts one OS thread per generator thread, each with its own
//! single-threaded tokio runtime, its own connections and its own
//! [`recorder::Recorder`]; nothing is shared per request except, with
//! `--requests`, one atomic counter. Recorders are merged once at the end.
//!
//! Measurement rules:
//! - Warm-up requests (intended before `t0`) are discarded.
//! - Latency is recorded for successful responses; failures are counted by
//!   class. Open loop: latency runs from the intended start (corrected for
//!   coordinated omission) and service time from the actual send.
//! - Throughput counts successful responses that finished inside the
//!   measured window, divided by its length. Requests in flight at the end
//!   still finish (within the timeout) and their latency is recorded.

pub mod check;
pub mod conn;
pub mod lean;
pub mod plan;
pub mod recorder;
pub mod schedule;
pub mod wire;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

pub use plan::{BodyCheck, Check, Endpoint, LoadModel, LoadPlan, PlanError, RequestTemplate};
pub use worker::ThreadProgress;

use crate::results::schema::{ConnectionStats, GeneratorUsage, LoadResult, Summary};

/// CPU use (percent of what the generator's threads could use) above which
/// the run is flagged as limited by the generator.
pub const SATURATION_CPU_PERCENT: f64 = 90.0;
/// Open loop: p99 lateness of sends above which the run is flagged as
/// limited by the generator.
pub const SATURATION_LAG_P99: Duration = Duration::from_millis(10);

/// Why a load run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan is invalid.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Nothing listens at the endpoint.
    #[error("cannot connect to {url}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// The connect error.
        source: std::io::Error,
    },
    /// The open-files limit is too low for the connections asked for.
    #[error(
        "{needed} connections need about {needed} open files but the limit is {soft} (hard limit {hard}); raise it with `ulimit -n {needed}` (as root, or in /etc/security/limits.conf) or use fewer connections"
    )]
    FdLimit {
        /// Files needed.
        needed: u64,
        /// Soft limit in force.
        soft: u64,
        /// Hard limit.
        hard: u64,
    },
    /// A generator thread failed to start (runtime, pinning).
    #[error("generator thread {index} failed")]
    Thread {
        /// Thread index.
        index: usize,
        /// The cause.
        source: std::io::Error,
    },
}

/// Which phase a run is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Opening idle connections, starting threads.
    Setup,
    /// Warm-up: measured and discarded.
    Warmup,
    /// The measured phase.
    Measure,
    /// Waiting for requests in flight after the end.
    Drain,
}

/// A live snapshot for progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Current phase.
    pub phase: Phase,
    /// Time since the start of the phase.
    pub elapsed: Duration,
    /// Planned length of the phase, when known.
    pub planned: Option<Duration>,
    /// Requests finished since the start of the run (warm-up included).
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
}

/// Runs `plan` to completion (or until `stop` is set) and returns what was measured.
/// `on_progress` is called about ten times a second from the calling thread.
pub fn run(
    plan: &LoadPlan,
    stop: Arc<AtomicBool>,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<LoadResult, LoadError> {
    plan.validate()?;
    let (connections, rate, max_conns) = match plan.model {
        LoadModel::Closed { connections } => (connections, 0.0, connections),
        LoadModel::Open {
            rate,
            max_connections,
            ..
        } => (max_connections, rate, max_connections),
    };
    let needed = (max_conns + plan.idle_connections) as u64 + 64;
    let limit = crate::sys::raise_fd_limit(needed)
        .map_err(|source| LoadError::Thread { index: 0, source })?;
    if limit.soft < needed {
        return Err(LoadError::FdLimit {
            needed,
            soft: limit.soft,
            hard: limit.hard,
        });
    }
    probe(&plan.endpoint, plan.timeout.min(Duration::from_secs(5)))?;

    let threads = plan.threads.min(connections).max(1);
    let plan = Arc::new(plan.clone());
    let budget = plan.max_requests.map(|n| Arc::new(AtomicU64::new(n)));
    let ready = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::with_capacity(threads);
    let mut starts = Vec::with_capacity(threads);
    let mut progress = Vec::with_capacity(threads);
    for index in 0..threads {
        let (tx, rx) = mpsc::channel();
        starts.push(tx);
        let p = Arc::new(ThreadProgress::default());
        progress.push(p.clone());
        let share = |n: usize| n / threads + usize::from(index < n % threads);
        let job = worker::ThreadJob {
            index,
            threads,
            plan: plan.clone(),
            connections: share(connections),
            idle: share(plan.idle_connections),
            rate: rate / threads as f64,
            pin: if plan.pin_cpus.is_empty() {
                Vec::new()
            } else {
                vec![plan.pin_cpus[index % plan.pin_cpus.len()]]
            },
            stop: stop.clone(),
            budget: budget.clone(),
            progress: p,
            ready: ready.clone(),
            start: rx,
        };
        let h = std::thread::Builder::new()
            .name(format!("claimbench-gen-{index}"))
            .spawn(move || worker::run_thread(job))
            .map_err(|source| LoadError::Thread { index, source })?;
        handles.push(h);
    }
    on_progress(Progress {
        phase: Phase::Setup,
        elapsed: Duration::ZERO,
        planned: None,
        requests: 0,
        errors: 0,
    });
    ready.wait();
    let start = Instant::now() + Duration::from_millis(5);
    for tx in &starts {
        let _ = tx.send(start);
    }
    let t0 = start + plan.warmup;
    let t1 = plan.duration.map(|d| t0 + d);

    // Watch the run: progress, generator CPU at t0 and t1, early stop.
    let mut cpu_t0 = None;
    let mut cpu_t1 = None;
    let mut stopped_at = None;
    let tick = Duration::from_millis(100);
    while handles.iter().any(|h| !h.is_finished()) {
        let now = Instant::now();
        let next = [
            Some(now + tick),
            Some(t0).filter(|t| *t > now),
            t1.filter(|t| *t > now),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("now + tick is always there");
        std::thread::sleep(next.saturating_duration_since(now));
        let now = Instant::now();
        if cpu_t0.is_none() && now >= t0 {
            cpu_t0 = Some(crate::sys::process_cpu_seconds());
        }
        if cpu_t1.is_none() && t1.is_some_and(|t1| now >= t1) {
            cpu_t1 = Some((crate::sys::process_cpu_seconds(), now));
        }
        if stopped_at.is_none() && stop.load(Ordering::Relaxed) {
            stopped_at = Some(now);
        }
        let (requests, errors) = progress.iter().fold((0, 0), |(r, e), p| {
            (
                r + p.requests.load(Ordering::Relaxed),
                e + p.errors.load(Ordering::Relaxed),
            )
        });
        let (phase, since, planned) = if now < t0 {
            (Phase::Warmup, start, Some(plan.warmup))
        } else if t1.is_none_or(|t1| now < t1) {
            (Phase::Measure, t0, plan.duration)
        } else {
            (Phase::Drain, t1.unwrap_or(now), None)
        };
        on_progress(Progress {
            phase,
            elapsed: now.saturating_duration_since(since),
            planned,
            requests,
            errors,
        });
    }
    let end_wall = Instant::now();
    let cpu_end = cpu_t1.unwrap_or_else(|| (crate::sys::process_cpu_seconds(), end_wall));
    let mut recorders = Vec::with_capacity(threads);
    for (index, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(r)) => recorders.push(r),
            Ok(Err(source)) => return Err(LoadError::Thread { index, source }),
            Err(_) => {
                return Err(LoadError::Thread {
                    index,
                    source: std::io::Error::other("generator thread panicked"),
                });
            }
        }
    }

    let mut merged = recorder::merge(recorders);
    // The measured window: planned, or cut short by a stop, or (request
    // budget only) until the last response.
    let window_end = match (t1, stopped_at) {
        (Some(t1), Some(s)) => t1.min(s),
        (Some(t1), None) => t1,
        (None, Some(s)) => s,
        (None, None) => merged.last_done.map_or(end_wall, |t| t.into_std()),
    };
    let duration = window_end
        .saturating_duration_since(t0)
        .max(Duration::from_micros(1));
    let duration_s = duration.as_secs_f64();
    let (ok_window, req_window) = if t1.is_some() {
        (merged.ok_in_window, merged.requests_in_window)
    } else {
        (merged.ok, merged.requests)
    };
    let windows_kept = (duration_s / plan.window.as_secs_f64()).ceil() as usize;
    let mut timeline = std::mem::take(&mut merged.windows);
    timeline.truncate(windows_kept.max(1));

    let open_loop = matches!(plan.model, LoadModel::Open { .. });
    let errors = merged.errors.total();
    let summary = Summary {
        requests: merged.requests,
        ok: merged.ok,
        errors,
        error_rate: if merged.requests == 0 {
            0.0
        } else {
            errors as f64 / merged.requests as f64
        },
        not_started: merged.not_started,
        duration_s,
        throughput_rps: ok_window as f64 / duration_s,
        requests_rps: req_window as f64 / duration_s,
        bytes_read: merged.bytes,
        latency: merged.latency.percentiles(),
        service: open_loop.then(|| merged.service.percentiles()),
        ttfb: merged.ttfb.percentiles(),
        schedule_lag: open_loop.then(|| merged.lag.percentiles()),
    };

    let gen_cpus = if plan.pin_cpus.is_empty() {
        crate::sys::online_cpus()
    } else {
        plan.pin_cpus.clone()
    };
    let capacity = threads.min(gen_cpus.len()).max(1) as f64;
    let (cpu_s, cpu_window) = match cpu_t0 {
        Some(c0) => (
            (cpu_end.0 - c0).max(0.0),
            cpu_end
                .1
                .saturating_duration_since(t0)
                .as_secs_f64()
                .max(1e-6),
        ),
        None => (0.0, 1e-6),
    };
    let cpu_percent = (cpu_s / (capacity * cpu_window) * 100.0).min(100.0);
    let mut warnings = Vec::new();
    if cpu_percent >= SATURATION_CPU_PERCENT {
        warnings.push(format!(
            "the generator used {cpu_percent:.0}% of its {} CPU(s): throughput may be limited by the generator, not the target (use more --threads or a faster target machine)",
            capacity as usize
        ));
    }
    if open_loop {
        let lag = merged.lag.quantile_us(0.99);
        if lag > SATURATION_LAG_P99.as_micros() as u64 {
            warnings.push(format!(
                "sends ran late: p99 lateness behind the schedule was {:.1} ms (bound {} ms); the generator could not keep the rate",
                lag as f64 / 1000.0,
                SATURATION_LAG_P99.as_millis()
            ));
        }
    }
    let names: Vec<String> = plan.templates.iter().map(|t| t.name.clone()).collect();
    Ok(LoadResult {
        options: plan.options(),
        summary,
        latency: merged.latency.to_compact(),
        service: open_loop.then(|| merged.service.to_compact()),
        ttfb: merged.ttfb.to_compact(),
        schedule_lag: open_loop.then(|| merged.lag.to_compact()),
        chunk_gap: (merged.chunk_gap.count() > 0).then(|| merged.chunk_gap.to_compact()),
        templates: recorder::template_results(&names, &merged),
        errors: merged.errors,
        status_codes: merged.status.clone(),
        timeline,
        generator: GeneratorUsage {
            threads,
            cpus: gen_cpus,
            cpu_s,
            cpu_percent,
            max_rss_bytes: crate::sys::process_max_rss_bytes(),
            saturated: !warnings.is_empty(),
            warnings,
        },
        connections: ConnectionStats {
            opened: merged.opened,
            reconnects: merged.reconnects,
            idle_requested: plan.idle_connections,
            idle_held: merged.idle_held,
        },
    })
}

/// One blocking connect to check that something listens, so an unreachable
/// target is one clear error rather than a run full of connect errors.
fn probe(endpoint: &Endpoint, timeout: Duration) -> Result<(), LoadError> {
    let mut last = None;
    for addr in &endpoint.addrs {
        match std::net::TcpStream::connect_timeout(addr, timeout) {
            Ok(_) => return Ok(()),
            // A peer that accepted and reset at once is there (a server that
            // resets connections is something to measure, not unreachable).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                return Ok(());
            }
            Err(e) => last = Some(e),
        }
    }
    Err(LoadError::Unreachable {
        url: endpoint.base_url.clone(),
        source: last.unwrap_or_else(|| std::io::Error::other("no address")),
    })
}
