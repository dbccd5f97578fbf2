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
//! - The measured window [t0, t1) follows the warm-up: fixed, or (with
//!   `warmup_max`) as soon as the target is steady; its length is the
//!   configured duration or (with `max_duration`) long enough for 20 of the
//!   warm-up's median responses ([`phase`]). The coordinator decides it from
//!   the threads' warm-up windows and shares it ([`phase::SharedWindow`]).
//! - A request counts when it finishes inside the window, whenever it was
//!   sent, as wrk counts; requests still in flight at t1 are counted as
//!   such and not waited for ([`recorder`]). Throughput is the responses
//!   that finished in the window over its length, so every rate is its
//!   count over the same length.
//! - Latency is recorded for successful responses; failures are counted by
//!   class. Open loop: latency runs from the intended start (corrected for
//!   coordinated omission) and service time from the actual send.
//! - Closed loop: Little's law (connections = throughput × mean latency) is
//!   checked, and a measurement off by more than [`LITTLE_TOLERANCE`]
//!   carries a warning.

pub mod check;
pub mod conn;
mod decide;
pub mod endpoint;
pub mod h2lean;
pub mod hpack;
pub mod lean;
pub mod phase;
pub mod plan;
pub mod recorder;
pub mod schedule;
pub mod tls;
pub mod transport;
pub mod wire;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use decide::{WarmUp, decide};
pub use plan::{BodyCheck, Check, Endpoint, LoadModel, LoadPlan, PlanError, RequestTemplate};
pub use worker::ThreadProgress;

use crate::results::schema::{ConnectionStats, GeneratorUsage, LittleCheck, LoadResult, Phases};

/// CPU use (percent of what the generator's threads could use) above which
/// the run is flagged as limited by the generator.
pub const SATURATION_CPU_PERCENT: f64 = 90.0;
/// Open loop: p99 lateness of sends above which the run is flagged as
/// limited by the generator.
pub const SATURATION_LAG_P99: Duration = Duration::from_millis(10);
/// Closed loop: how far throughput × mean latency may be from the
/// connection count before the measurement carries a warning.
pub const LITTLE_TOLERANCE: f64 = 0.10;

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
    /// TLS could not be set up, or the server's certificate was refused.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The run was to start at a wall-clock time already past by more than
    /// the tolerance: nothing was sent (a shard never catches up by bursting).
    #[error(
        "the start time is {late_ms:.0} ms past (tolerance {tolerance_ms:.0} ms): nothing was sent"
    )]
    LateStart {
        /// How late, ms.
        late_ms: f64,
        /// The tolerance, ms.
        tolerance_ms: f64,
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
    // The wall clock is read once; the wait for `start_at` runs on the
    // monotonic clock from here.
    let (wall0, mono0) = (std::time::SystemTime::now(), Instant::now());
    let start_deadline = plan.start_at.map(|at| {
        match at.duration_since(wall0) {
            Ok(ahead) => mono0 + ahead,
            // Already past: the deadline lies behind `mono0`.
            Err(e) => mono0.checked_sub(e.duration()).unwrap_or(mono0),
        }
    });
    let late = |now: Instant| -> Option<LoadError> {
        let deadline = start_deadline?;
        let late = now.saturating_duration_since(deadline);
        (late > plan.start_tolerance).then_some(LoadError::LateStart {
            late_ms: late.as_secs_f64() * 1e3,
            tolerance_ms: plan.start_tolerance.as_secs_f64() * 1e3,
        })
    };
    if let Some(e) = late(mono0) {
        return Err(e);
    }
    let (connections, rate, max_conns) = match plan.model {
        LoadModel::Closed { connections } => (connections, 0.0, connections),
        LoadModel::Open {
            rate,
            max_connections,
            ..
        } => (max_connections, rate, max_connections),
    };
    // A shard drives its share of the connections (and of the budget
    // below); its threads take its stripes of the global schedule.
    let (shard, shards) = plan.shard.map_or((0, 1), |s| (s.index, s.count));
    let local = |n: usize| plan.shard.map_or(n, |s| s.share(n as u64) as usize);
    let (connections, max_conns) = (local(connections), local(max_conns));
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
    let probe_timeout = plan.timeout.min(Duration::from_secs(5));
    let reached = probe(&plan.endpoint, probe_timeout)?;
    let tls = match plan.endpoint.tls {
        false => None,
        true => {
            let config = tls::client_config(&plan.tls, plan.protocol)?;
            let name = tls::server_name(&plan.endpoint.host)?;
            tls::probe(
                &config,
                &plan.endpoint.host,
                reached,
                plan.protocol,
                probe_timeout,
            )?;
            Some((config, name))
        }
    };

    let threads = plan.threads.min(connections).max(1);
    let plan = Arc::new(plan.clone());
    let budget = plan
        .max_requests
        .map(|n| Arc::new(AtomicU64::new(plan.shard.map_or(n, |s| s.share(n)))));
    let ready = Arc::new(Barrier::new(threads + 1));
    let window = Arc::new(phase::SharedWindow::default());
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
            plan: plan.clone(),
            connections: share(connections),
            idle: share(plan.idle_connections),
            rate,
            stripe: ((shards * threads) as u64, (shard + shards * index) as u64),
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
            window: window.clone(),
            tls: tls.clone(),
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
    // A fixed warm-up fixes the window now (its end may still be stretched
    // once the warm-up's latency is known); an auto warm-up decides it later.
    let auto = plan.warmup_max.is_some();
    let mut decided = None;
    if !auto {
        let t1 = plan.duration.map(|d| plan.warmup + d);
        window.set(plan.warmup, t1);
        decided = Some((plan.warmup, t1));
    }
    ready.wait();
    let start = match start_deadline {
        None => Instant::now() + Duration::from_millis(5),
        Some(deadline) => {
            // Setting up (idle connections, a pre-opened pool) may have
            // taken us past the start: then stop every thread unsent.
            if let Some(e) = late(Instant::now()) {
                stop.store(true, Ordering::Relaxed);
                drop(starts);
                for h in handles {
                    let _ = h.join();
                }
                return Err(e);
            }
            deadline.max(Instant::now())
        }
    };
    for tx in &starts {
        let _ = tx.send(start);
    }
    let started_wall = wall0 + start.saturating_duration_since(mono0);
    let mut warm = WarmUp::default();
    let mut phases: Option<Phases> = None;

    // Watch the run: warm-up windows, the window's decision, progress,
    // generator CPU at t0 and t1, early stop.
    let mut cpu_t0 = None;
    let mut cpu_t1 = None;
    let mut stopped_at = None;
    let tick = Duration::from_millis(100);
    while handles.iter().any(|h| !h.is_finished()) {
        let now = Instant::now();
        let at = |d: Duration| start + d;
        let next = [
            Some(now + tick),
            decided.map(|(t0, _)| at(t0)).filter(|t| *t > now),
            decided.and_then(|(_, t1)| t1).map(at).filter(|t| *t > now),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("now + tick is always there");
        std::thread::sleep(next.saturating_duration_since(now));
        let now = Instant::now();
        warm.collect(&progress);
        let elapsed = now.saturating_duration_since(start);
        if phases.is_none()
            && stopped_at.is_none()
            && let Some(p) = decide(&plan, &warm, elapsed, decided)
        {
            let t1 = plan.duration.map(|_| p.t0 + p.length);
            if decided != Some((p.t0, t1)) {
                window.set(p.t0, t1);
                decided = Some((p.t0, t1));
            }
            phases = Some(p.phases);
        }
        let (t0, t1) = match decided {
            Some((t0, t1)) => (Some(at(t0)), t1.map(at)),
            None => (None, None),
        };
        if cpu_t0.is_none() && t0.is_some_and(|t0| now >= t0) {
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
        let (phase, since, planned) = match (t0, t1) {
            (Some(t0), _) if now < t0 => (Phase::Warmup, start, Some(t0 - start)),
            (None, _) => (
                Phase::Warmup,
                start,
                Some(plan.warmup_max.unwrap_or(plan.warmup)),
            ),
            (Some(t0), Some(t1)) if now < t1 => (Phase::Measure, t0, Some(t1 - t0)),
            (Some(t0), None) => (Phase::Measure, t0, None),
            (Some(_), Some(t1)) => (Phase::Drain, t1, None),
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
    // The measured window: decided (stopped during an auto warm-up: empty),
    // cut short by a stop, or (request budget only) until the last response.
    let t0 = decided.map_or(end_wall, |(t0, _)| start + t0);
    let t1 = decided.and_then(|(_, t1)| t1).map(|t1| start + t1);
    let window_end = match (t1, merged.end.map(|e| e.into_std())) {
        (Some(t1), Some(e)) => t1.min(e),
        (Some(t1), None) => t1,
        (None, Some(e)) if stopped_at.is_some() => e,
        (None, _) => merged.last_done.map_or(end_wall, |t| t.into_std()),
    };
    let duration = window_end
        .saturating_duration_since(t0)
        .max(Duration::from_micros(1));
    let open_loop = matches!(plan.model, LoadModel::Open { .. });
    let (summary, timeline) = merged.summarize(duration, open_loop);
    let cpu_end = cpu_t1.unwrap_or_else(|| (crate::sys::process_cpu_seconds(), end_wall));
    let duration_s = summary.duration_s;

    let mut load_warnings = Vec::new();
    let phases = phases.map(|mut p| {
        p.measured_s = duration_s;
        if p.steady == Some(false) {
            load_warnings.push(format!(
                "not steady after {}: the last warm-up windows' throughput {} req/s and p50 {}",
                phase::format_secs(p.warmup_s),
                join(&p.warmup_throughput_rps, |x| format!("{x:.0}")),
                join(&p.warmup_p50_us, |&us| phase::format_secs(us as f64 / 1e6))
            ));
        }
        p
    });
    let little = match plan.model {
        LoadModel::Closed { connections } if t1.is_some() && stopped_at.is_none() => {
            // HTTP/2: each connection keeps `streams` requests in flight;
            // a shard drives its share of the connections.
            let connections = local(connections) * plan.streams;
            let lw = merged.busy_us as f64 / 1e6 / duration_s;
            let ratio = lw / connections as f64;
            if (ratio - 1.0).abs() > LITTLE_TOLERANCE {
                load_warnings.push(format!(
                    "Little's law is off by {:+.0}%: {connections} requests at once, but throughput × mean latency is {lw:.1} ({} requests in flight at the end; a stall, a window too short for the latency, or an idle generator)",
                    (ratio - 1.0) * 100.0,
                    summary.in_flight_at_end
                ));
            }
            Some(LittleCheck {
                connections,
                throughput_x_latency: lw,
                ratio,
            })
        }
        _ => None,
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
        let lag = merged.hist.lag.quantile_us(0.99);
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
        started_wall: Some(started_wall.into()),
        shard: None,
        merged: None,
        phases,
        little,
        warnings: load_warnings,
        options: plan.options(),
        summary,
        latency: merged.hist.latency.to_compact(),
        service: open_loop.then(|| merged.hist.service.to_compact()),
        ttfb: merged.hist.ttfb.to_compact(),
        schedule_lag: open_loop.then(|| merged.hist.lag.to_compact()),
        chunk_gap: (merged.hist.chunk_gap.count() > 0).then(|| merged.hist.chunk_gap.to_compact()),
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
            tls_handshake: plan
                .endpoint
                .tls
                .then(|| merged.hist.handshake.percentiles()),
        },
    })
}

/// One blocking connect to check that something listens, so an unreachable
/// target is one clear error rather than a run full of connect errors.
/// Checks that something listens at the endpoint; returns the address that answered.
fn probe(endpoint: &Endpoint, timeout: Duration) -> Result<std::net::SocketAddr, LoadError> {
    let mut last = None;
    for addr in &endpoint.addrs {
        match std::net::TcpStream::connect_timeout(addr, timeout) {
            Ok(_) => return Ok(*addr),
            // A peer that accepted and reset at once is there (a server that
            // resets connections is something to measure, not unreachable).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                return Ok(*addr);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(LoadError::Unreachable {
        url: endpoint.base_url.clone(),
        source: last.unwrap_or_else(|| std::io::Error::other("no address")),
    })
}

fn join<T>(xs: &[T], f: impl Fn(&T) -> String) -> String {
    xs.iter().map(f).collect::<Vec<_>>().join(", ")
}
