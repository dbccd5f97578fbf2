//! One generator thread: its runtime, its connections, its recorder.
//!
//! Closed loop: each connection task sends its next request as soon as the
//! last response is read. Open loop: a dispatcher task walks the schedule
//! and queues due requests; a fixed pool of connection tasks (opened before
//! the start, like wrk2) takes them in order. A request that waits for a
//! free connection keeps its intended start time, so the wait counts in its
//! latency. Everything here is thread-local (`Rc`, `Cell`, `RefCell`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::Duration;

use rand::Rng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use super::conn::{self, Conn, Prepared};
use super::phase::{SharedWindow, WarmWindow};
use super::plan::{HttpClient, LoadModel, LoadPlan, Protocol};
use super::recorder::{ErrorClass, Recorder, Timing};
use super::schedule::Schedule;
use super::transport::Connector;
use closed::closed_connection;
use idle::{hold_idle, open_batched};
use open::{OpenQueue, open_connection, open_dispatcher};

mod closed;
mod idle;
mod open;

/// Counters a thread publishes for the live progress line.
#[derive(Debug, Default)]
pub struct ThreadProgress {
    /// Requests finished (warm-up included).
    pub requests: AtomicU64,
    /// Of which failed.
    pub errors: AtomicU64,
    /// Warm-up windows closed and not yet read by the coordinator, by index
    /// from the start (only kept when the plan's warm-up or window length
    /// depends on them).
    pub warm: Mutex<Vec<(u64, WarmWindow)>>,
}

/// What one thread is asked to do.
pub struct ThreadJob {
    /// Thread index.
    pub index: usize,
    /// The plan.
    pub plan: Arc<LoadPlan>,
    /// Connections this thread drives (closed loop) or may open (open loop).
    pub connections: usize,
    /// Idle connections this thread holds.
    pub idle: usize,
    /// Open loop: the global rate (all threads, all shards), requests per second.
    pub rate: f64,
    /// Open loop: this thread's stripe of the global schedule (stride, offset).
    pub stripe: (u64, u64),
    /// CPUs to pin this thread to.
    pub pin: Vec<usize>,
    /// Set to stop early.
    pub stop: Arc<AtomicBool>,
    /// Shared remaining request budget (`--requests`).
    pub budget: Option<Arc<AtomicU64>>,
    /// Live counters.
    pub progress: Arc<ThreadProgress>,
    /// Waited on once this thread's connections are set up.
    pub ready: Arc<Barrier>,
    /// Delivers the common start time.
    pub start: mpsc::Receiver<std::time::Instant>,
    /// The measured window, as the coordinator decides it.
    pub window: Arc<SharedWindow>,
    /// TLS client configuration and server name (`https://` endpoints).
    pub tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
}

/// The HTTP/2 connection the stream tasks of one connection share: the
/// first task to find it closed opens the next one while the others wait,
/// so `streams` tasks keep one connection, not one each.
type Shared = Rc<tokio::sync::Mutex<Option<Conn>>>;

/// What [`Ctx::ensure_conn`] achieved.
enum Connected {
    /// The slot holds an open connection.
    Yes,
    /// Opening one failed (recorded); try again.
    No,
    /// Opening one failed after the end of the run: stop.
    End,
}

/// Pause after a failed connect before the same task retries, so a
/// refused port does not turn the generator into a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
/// The seed of the open-loop Poisson schedule, shared by all threads and shards.
const SCHEDULE_SEED: u64 = 0x5eed_0000;
/// How many idle connections are opened at once.
const IDLE_OPEN_CONCURRENCY: usize = 64;

struct Ctx {
    templates: Vec<Prepared>,
    cumulative: Vec<u32>,
    total_weight: u32,
    connector: Connector,
    timeout: Duration,
    keepalive: bool,
    client: HttpClient,
    protocol: Protocol,
    /// Start of the measured window (far ahead until decided).
    t0: Cell<Instant>,
    /// Its end (far ahead until decided; None in a run limited by a request count).
    t1: Cell<Option<Instant>>,
    stop: Arc<AtomicBool>,
    budget: Option<Arc<AtomicU64>>,
    progress: Arc<ThreadProgress>,
    rec: RefCell<Recorder>,
    active: Cell<usize>,
    /// Requests sent (or, open loop, taken from the queue) and not finished.
    in_flight: Cell<u64>,
}

impl Ctx {
    #[inline]
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Whether a request intended at `t` may start: not stopped, before the
    /// end, and (in the measured phase) within the request budget.
    #[inline]
    fn may_start(&self, t: Instant) -> bool {
        if self.stopped() || self.t1.get().is_some_and(|t1| t >= t1) {
            return false;
        }
        if t < self.t0.get() {
            return true;
        }
        match &self.budget {
            None => true,
            Some(b) => b
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
                .is_ok(),
        }
    }

    #[inline]
    fn pick(&self, rng: &mut SmallRng) -> usize {
        if self.templates.len() == 1 {
            return 0;
        }
        let x = rng.gen_range(0..self.total_weight);
        self.cumulative.partition_point(|&c| c <= x)
    }

    /// Opens a connection into `slot` (and, HTTP/2, into the shared one)
    /// and records it: opened, its TLS handshake, and (closed loop) the
    /// time the task spent on it.
    async fn open(
        &self,
        slot: &mut Option<Conn>,
        shared: Option<&mut Option<Conn>>,
    ) -> std::io::Result<()> {
        let began = Instant::now();
        let o = conn::connect(self.client, self.protocol, &self.connector, self.timeout).await?;
        if let Some(shared) = shared {
            *shared = o.conn.share();
        }
        *slot = Some(o.conn);
        let mut rec = self.rec.borrow_mut();
        rec.opened += 1;
        rec.record_connect(began, Instant::now());
        if let Some(h) = o.handshake {
            rec.record_handshake(h);
        }
        Ok(())
    }

    /// Makes sure `slot` holds an open connection. HTTP/2 tasks take
    /// theirs from `shared`, opening it again when it closed. When none can
    /// be opened, records a connect error for the request it was for: the
    /// one intended at `intended` (open loop, already admitted), or (closed
    /// loop, None) one admitted now by [`Ctx::may_start`], so failures
    /// count against the budget and stop at the end like requests do.
    async fn ensure_conn(
        &self,
        slot: &mut Option<Conn>,
        shared: Option<&Shared>,
        intended: Option<Instant>,
        tpl: usize,
    ) -> Connected {
        if let Some(c) = slot {
            if c.ready().await {
                return Connected::Yes;
            }
            *slot = None;
            if shared.is_none() {
                self.rec.borrow_mut().reconnects += 1;
            }
        }
        let opened = match shared {
            None => self.open(slot, None).await,
            Some(shared) => {
                let mut guard = shared.lock().await;
                if let Some(c) = guard.as_mut() {
                    if c.ready().await {
                        *slot = c.share();
                        return Connected::Yes;
                    }
                    *guard = None;
                    self.rec.borrow_mut().reconnects += 1;
                }
                self.open(slot, Some(&mut guard)).await
            }
        };
        match opened {
            Ok(()) => Connected::Yes,
            Err(e) => {
                let now = Instant::now();
                let intended = match intended {
                    Some(t) => t,
                    None if self.may_start(now) => now,
                    None => return Connected::End,
                };
                // A peer that resets while the connection opens is there:
                // that is a reset (read class), not a refusal.
                let class = match e.kind() {
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                        ErrorClass::Read
                    }
                    _ => ErrorClass::Connect,
                };
                let t = Timing {
                    intended,
                    sent: now,
                    head: None,
                    done: now,
                };
                self.rec.borrow_mut().record_error(tpl, t, class, None, 0);
                self.count(false);
                tokio::time::sleep(CONNECT_BACKOFF).await;
                Connected::No
            }
        }
    }

    #[inline]
    fn count(&self, ok: bool) {
        self.progress.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.progress.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends one request of template `tpl` (intended at `intended`, sent
    /// at `sent`) and records it.
    async fn request(
        &self,
        slot: &mut Option<Conn>,
        tpl: usize,
        intended: Instant,
        sent: Instant,
        buf: &mut Vec<u8>,
    ) {
        let x = conn::exchange(
            slot,
            &self.templates[tpl],
            intended,
            sent,
            self.timeout,
            buf,
            Some(&self.rec),
        )
        .await;
        let mut rec = self.rec.borrow_mut();
        match x.result {
            Ok(()) => rec.record_ok(tpl, x.timing, x.status.unwrap_or(0), x.bytes),
            Err(class) => rec.record_error(tpl, x.timing, class, x.status, x.bytes),
        }
        drop(rec);
        self.count(x.result.is_ok());
        if !self.keepalive {
            *slot = None;
        }
    }
}
/// Counts a task as active from before it is spawned (so a task not yet
/// polled counts) until it ends, however it ends.
struct ActiveGuard(Rc<Ctx>);

impl ActiveGuard {
    fn new(ctx: &Rc<Ctx>) -> Self {
        ctx.active.set(ctx.active.get() + 1);
        Self(ctx.clone())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.set(self.0.active.get() - 1);
    }
}

/// Runs one generator thread to completion and returns its recorder.
pub fn run_thread(job: ThreadJob) -> std::io::Result<Recorder> {
    if !job.pin.is_empty() {
        crate::sys::pin_current_thread(&job.pin)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let plan = job.plan.clone();
    Ok(local.block_on(&rt, async move {
        let open_loop = matches!(plan.model, LoadModel::Open { .. });
        let templates: Vec<Prepared> = plan
            .templates
            .iter()
            .map(|t| Prepared::new(t, &plan.endpoint, plan.keepalive, plan.protocol))
            .collect();
        let mut cumulative = Vec::with_capacity(plan.templates.len());
        let mut acc = 0u32;
        for t in &plan.templates {
            acc += t.weight;
            cumulative.push(acc);
        }
        let connector = Connector::new(&plan.endpoint.addrs, plan.timeout, job.tls.clone());
        let clients = (plan.http_client, plan.protocol);
        let alive = Rc::new(Cell::new(0usize));
        let (idle, opened_idle) = open_batched(
            clients,
            &connector,
            plan.timeout,
            Some(&Rc::new(templates[0].clone())),
            job.idle,
            &job.stop,
        )
        .await;
        let (pool, opened_pool) = if open_loop && plan.preopen {
            open_batched(
                clients,
                &connector,
                plan.timeout,
                None,
                job.connections,
                &job.stop,
            )
            .await
        } else {
            (Vec::new(), 0)
        };

        // Everyone starts together. A coordinator that gave up sends nothing.
        job.ready.wait();
        let start = match job.start.recv() {
            Ok(s) => Instant::from_std(s),
            Err(_) => Instant::now(),
        };
        // Until the coordinator decides the window, it lies far ahead.
        let far = start + 2 * super::plan::MAX_DURATION;
        let has_end = plan.duration.is_some();
        let window_now = || {
            let (t0, t1) = job.window.get();
            (
                t0.map_or(far, |d| start + d),
                has_end.then(|| t1.map_or(far, |d| start + d)),
            )
        };
        let (t0, t1) = window_now();
        let warm_up =
            plan.warmup_max.is_some() || plan.max_duration.is_some() || !plan.warmup.is_zero();
        let mut rec = Recorder::new(
            start,
            (t0, t1),
            plan.window,
            plan.templates.len(),
            open_loop,
            warm_up,
        );
        rec.opened = opened_idle + opened_pool;
        let ctx = Rc::new(Ctx {
            templates,
            cumulative,
            total_weight: acc,
            connector,
            timeout: plan.timeout,
            keepalive: plan.keepalive,
            client: plan.http_client,
            protocol: plan.protocol,
            t0: Cell::new(t0),
            t1: Cell::new(t1),
            stop: job.stop.clone(),
            budget: job.budget.clone(),
            progress: job.progress.clone(),
            rec: RefCell::new(rec),
            active: Cell::new(0),
            in_flight: Cell::new(0),
        });
        for c in idle {
            tokio::task::spawn_local(hold_idle(ctx.clone(), c, plan.idle_ping, alive.clone()));
        }

        let seed = 0x5eed_0000 + job.index as u64;
        let queue = Rc::new(OpenQueue::default());
        // HTTP/2: `streams` tasks per connection, sharing it; a pre-opened
        // connection goes to its group. HTTP/1.1: one task per connection.
        let mut pool = pool.into_iter();
        let groups: Vec<Shared> = match plan.protocol {
            Protocol::Http1 => Vec::new(),
            Protocol::Http2 => (0..job.connections)
                .map(|_| Rc::new(tokio::sync::Mutex::new(pool.next())))
                .collect(),
        };
        let tasks = job.connections * plan.streams;
        let shared_of = |i: usize| groups.get(i / plan.streams).cloned();
        match plan.model {
            LoadModel::Closed { .. } => {
                tokio::time::sleep_until(start).await;
                for i in 0..tasks {
                    tokio::task::spawn_local(closed_connection(
                        ctx.clone(),
                        shared_of(i),
                        seed * 1_000_003 + i as u64,
                        ActiveGuard::new(&ctx),
                    ));
                }
            }
            LoadModel::Open { arrival, .. } => {
                for i in 0..tasks {
                    let shared = shared_of(i);
                    let preopened = if shared.is_some() { None } else { pool.next() };
                    tokio::task::spawn_local(open_connection(
                        ctx.clone(),
                        queue.clone(),
                        preopened,
                        shared,
                        ActiveGuard::new(&ctx),
                    ));
                }
                // One seed for every thread and shard: they take stripes of one schedule.
                let (stride, offset) = job.stripe;
                let schedule =
                    Schedule::striped(start, job.rate, arrival, stride, offset, SCHEDULE_SEED);
                // The dispatcher stops at the window's end through `may_start`.
                tokio::task::spawn_local(open_dispatcher(
                    ctx.clone(),
                    queue.clone(),
                    schedule,
                    far,
                    seed,
                    ActiveGuard::new(&ctx),
                ));
            }
        }
        // Follow the window the coordinator decides, hand it the warm-up
        // windows, and stop counting at the window's end: requests still in
        // flight then are counted as such, and dropping the runtime closes
        // their connections. A run limited by a request count waits for its
        // last request instead (each within its timeout).
        let mut idle_held = alive.get();
        let end = loop {
            let now = Instant::now();
            let (t0, t1) = window_now();
            if (t0, t1) != (ctx.t0.get(), ctx.t1.get()) {
                ctx.t0.set(t0);
                ctx.t1.set(t1);
                ctx.rec.borrow_mut().set_window(t0, t1);
            }
            if warm_up {
                let closed = ctx.rec.borrow_mut().take_warm_windows(now);
                if !closed.is_empty() {
                    job.progress
                        .warm
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(closed);
                }
            }
            if ctx.stopped() {
                break now;
            }
            match t1 {
                Some(t1) if now >= t1 => break t1,
                Some(_) => idle_held = alive.get(),
                None => {}
            }
            if ctx.active.get() == 0 {
                break t1.filter(|t1| *t1 < far).unwrap_or(now);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let mut rec = ctx.rec.borrow().clone();
        rec.end = Some(end);
        rec.in_flight = ctx.in_flight.get();
        rec.idle_held = idle_held;
        let t0 = ctx.t0.get();
        rec.not_started = queue.jobs.borrow().iter().filter(|(t, _)| *t >= t0).count() as u64;
        rec
    }))
}
