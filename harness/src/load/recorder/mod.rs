//! Per-thread measurement state. Each generator thread owns one
//! [`Recorder`]; nothing in it is shared or locked. Recorders are merged
//! once, at the end, into a [`LoadResult`].
//!
//! Accounting (as wrk and wrk2 count): in a run with a measured window
//! [t0, t1), a request counts when it *finishes* inside the window, whenever
//! it was sent; its latency is recorded (closed loop from the send, open loop
//! from the intended start). One that finishes before t0 is warm-up (counted
//! in the warm-up windows that decide steadiness); one still in flight at t1
//! is counted as such, never in `requests`. So every count and its rate
//! agree: `requests / duration == requests_rps`, window by window too. A run
//! limited by a request count has no end: it counts the requests *intended*
//! from t0 on, exactly the budget.
//!
//! Merging the threads' recorders is [`merge`] (`merge.rs`).
//!
//! [`LoadResult`]: crate::results::schema::LoadResult

use std::time::Duration;

use tokio::time::Instant;

use super::phase::WarmWindow;
use crate::results::histogram::Latency;
use crate::results::schema::ErrorCounts;

/// How one request failed. Counted, never formatted per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The TCP connection could not be opened.
    Connect,
    /// No complete response within the timeout.
    Timeout,
    /// The connection failed while sending or reading.
    Read,
    /// Unexpected status code.
    Status,
    /// The body failed its check.
    BodyMismatch,
    /// HTTP/2: the server reset the request's stream (RST_STREAM).
    Reset,
    /// HTTP/2: the server ended the connection (GOAWAY) before answering.
    GoAway,
}

/// The timestamps of one finished request.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// When the request should have started (open loop: its schedule slot;
    /// closed loop: when it was sent).
    pub intended: Instant,
    /// When it was actually handed to the connection.
    pub sent: Instant,
    /// When the response head arrived (None if it never did).
    pub head: Option<Instant>,
    /// When the request finished (last body byte, or the error).
    pub done: Instant,
}

#[derive(Clone, Debug, Default)]
struct TemplateRec {
    requests: u64,
    ok: u64,
    latency: Latency,
}

/// A closed timeline window, its histogram kept compact (encoded) so
/// memory stays flat over long runs.
#[derive(Clone, Debug)]
struct WindowRec {
    requests: u64,
    ok: u64,
    errors: u64,
    latency: Latency,
}

#[derive(Clone, Debug, Default)]
struct WindowAcc {
    requests: u64,
    ok: u64,
    errors: u64,
    latency: Latency,
}

impl WindowAcc {
    fn close(&mut self) -> WindowRec {
        let rec = WindowRec {
            requests: self.requests,
            ok: self.ok,
            errors: self.errors,
            latency: self.latency.to_compact(),
        };
        self.requests = 0;
        self.ok = 0;
        self.errors = 0;
        self.latency.reset();
        rec
    }
}

/// Where a finished request falls relative to the measured window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Warmup,
    Window,
    Late,
}

/// The distributions a recorder keeps for its measured window, and the
/// merge adds up exactly.
#[derive(Clone, Debug, Default)]
pub struct Histograms {
    /// Corrected latency (open loop) or latency (closed loop).
    pub latency: Latency,
    /// Service time (open loop).
    pub service: Latency,
    /// Time to first byte.
    pub ttfb: Latency,
    /// Schedule lag (open loop).
    pub lag: Latency,
    /// Gaps between streamed chunks.
    pub chunk_gap: Latency,
    /// TLS handshake times.
    pub handshake: Latency,
}

impl Histograms {
    /// Adds `other`'s recordings to these (exact: HDR histograms add).
    pub fn add(&mut self, other: &Histograms) {
        self.latency.add(&other.latency);
        self.service.add(&other.service);
        self.ttfb.add(&other.ttfb);
        self.lag.add(&other.lag);
        self.chunk_gap.add(&other.chunk_gap);
        self.handshake.add(&other.handshake);
    }
}

/// Everything one generator thread measured.
#[derive(Clone, Debug)]
pub struct Recorder {
    start: Instant,
    t0: Instant,
    t1: Option<Instant>,
    window: Duration,
    open_loop: bool,
    hist: Histograms,
    templates: Vec<TemplateRec>,
    errors: ErrorCounts,
    status: Vec<u64>,
    bytes: u64,
    requests: u64,
    ok: u64,
    busy_us: u64,
    late: u64,
    last_done: Option<Instant>,
    windows: Vec<WindowRec>,
    cur_index: usize,
    cur: WindowAcc,
    warm_on: bool,
    warm_index: u64,
    warm_cur: WarmWindow,
    warm_closed: Vec<(u64, WarmWindow)>,
    /// Open loop: scheduled requests that never started.
    pub not_started: u64,
    /// Requests in flight when this thread's window closed (still sent,
    /// not finished), set by the thread at the end.
    pub in_flight: u64,
    /// When this thread stopped counting (its t1, or the moment it saw a stop).
    pub end: Option<Instant>,
    /// TCP connections opened.
    pub opened: u64,
    /// Reconnects after the server closed a connection.
    pub reconnects: u64,
    /// Idle connections held at the end.
    pub idle_held: usize,
}

const STATUS_SLOTS: usize = 600;

impl Recorder {
    /// A recorder for a run that started at `start`, whose measured window
    /// is [t0, t1) (`t1` None: a run limited by a request count). `warm_up`
    /// keeps per-window warm-up figures for [`Recorder::take_warm_windows`].
    pub fn new(
        start: Instant,
        (t0, t1): (Instant, Option<Instant>),
        window: Duration,
        templates: usize,
        open_loop: bool,
        warm_up: bool,
    ) -> Self {
        Self {
            start,
            t0,
            t1,
            window,
            open_loop,
            hist: Histograms::default(),
            templates: vec![TemplateRec::default(); templates],
            errors: ErrorCounts::default(),
            status: vec![0; STATUS_SLOTS],
            bytes: 0,
            requests: 0,
            ok: 0,
            busy_us: 0,
            late: 0,
            last_done: None,
            windows: Vec::new(),
            cur_index: 0,
            cur: WindowAcc::default(),
            warm_on: warm_up,
            warm_index: 0,
            warm_cur: WarmWindow::default(),
            warm_closed: Vec::new(),
            not_started: 0,
            in_flight: 0,
            end: None,
            opened: 0,
            reconnects: 0,
            idle_held: 0,
        }
    }

    /// Moves the measured window (the coordinator decided it, or extended it).
    pub fn set_window(&mut self, t0: Instant, t1: Option<Instant>) {
        self.t0 = t0;
        self.t1 = t1;
    }

    /// Whether a request intended at `intended` falls in the measured window
    /// by its intended start (schedule lag, chunk gaps).
    #[inline]
    pub fn measured(&self, intended: Instant) -> bool {
        intended >= self.t0 && self.t1.is_none_or(|t1| intended < t1)
    }

    #[inline]
    fn place(&self, t: &Timing) -> Place {
        match self.t1 {
            Some(t1) if t.done >= t1 => Place::Late,
            Some(_) if t.done >= self.t0 => Place::Window,
            None if t.intended >= self.t0 => Place::Window,
            _ => Place::Warmup,
        }
    }

    #[inline]
    fn advance_window(&mut self, done: Instant) {
        let idx =
            (done.saturating_duration_since(self.t0).as_nanos() / self.window.as_nanos()) as usize;
        while self.cur_index < idx {
            let closed = self.cur.close();
            self.windows.push(closed);
            self.cur_index += 1;
        }
    }

    /// Counts a request that finished in the window and held its
    /// connection for `busy_us` (send to finish).
    #[inline]
    fn count_done(&mut self, t: &Timing, busy_us: u64) {
        self.requests += 1;
        self.busy_us += busy_us;
        if self.last_done.is_none_or(|l| t.done > l) {
            self.last_done = Some(t.done);
        }
        self.advance_window(t.done);
        self.cur.requests += 1;
    }

    /// Counts a request that finished outside the window: in a warm-up
    /// window, or (after t1) as in flight at the end.
    #[cold]
    fn outside(&mut self, place: Place, done: Instant, latency_us: Option<u64>) {
        if place == Place::Late {
            self.late += 1;
            return;
        }
        if !self.warm_on {
            return;
        }
        self.close_warm_until(done);
        self.warm_cur.finished += 1;
        if let Some(l) = latency_us {
            self.warm_cur.latency.record(l);
        }
    }

    /// Closes the current warm-up window if `now` is past it.
    fn close_warm_until(&mut self, now: Instant) {
        let idx =
            (now.saturating_duration_since(self.start).as_nanos() / self.window.as_nanos()) as u64;
        if idx > self.warm_index {
            if self.warm_cur.finished > 0 {
                let w = std::mem::take(&mut self.warm_cur);
                self.warm_closed.push((
                    self.warm_index,
                    WarmWindow {
                        finished: w.finished,
                        latency: w.latency.to_compact(),
                    },
                ));
            }
            self.warm_index = idx;
        }
    }

    /// The warm-up windows that ended before `now` and were not taken yet,
    /// by index from the start (windows where nothing finished are left out).
    pub fn take_warm_windows(&mut self, now: Instant) -> Vec<(u64, WarmWindow)> {
        self.close_warm_until(now);
        std::mem::take(&mut self.warm_closed)
    }

    /// Records a successful request of template `tpl`.
    #[inline]
    pub fn record_ok(&mut self, tpl: usize, t: Timing, status: u16, body_bytes: u64) {
        let lat = micros(t.done - t.intended);
        let place = self.place(&t);
        if place != Place::Window {
            self.outside(place, t.done, Some(lat));
            return;
        }
        // Closed loop sends when it intends to: one conversion serves both.
        let service = if t.sent == t.intended {
            lat
        } else {
            micros(t.done.saturating_duration_since(t.sent))
        };
        self.count_done(&t, service);
        self.ok += 1;
        self.bytes += body_bytes;
        self.status[(status as usize).min(STATUS_SLOTS - 1)] += 1;
        self.hist.latency.record(lat);
        self.cur.ok += 1;
        self.cur.latency.record(lat);
        let tr = &mut self.templates[tpl];
        tr.requests += 1;
        tr.ok += 1;
        tr.latency.record(lat);
        if self.open_loop {
            self.hist.service.record(service);
        }
        if let Some(head) = t.head {
            self.hist.ttfb.record(micros(head - t.sent));
        }
    }

    /// Records a failed request of template `tpl` (`status` when a response arrived).
    #[inline]
    pub fn record_error(
        &mut self,
        tpl: usize,
        t: Timing,
        class: ErrorClass,
        status: Option<u16>,
        body_bytes: u64,
    ) {
        let place = self.place(&t);
        if place != Place::Window {
            self.outside(place, t.done, None);
            return;
        }
        self.count_done(&t, micros(t.done.saturating_duration_since(t.sent)));
        self.bytes += body_bytes;
        if let Some(s) = status {
            self.status[(s as usize).min(STATUS_SLOTS - 1)] += 1;
        }
        self.cur.errors += 1;
        self.templates[tpl].requests += 1;
        match class {
            ErrorClass::Connect => self.errors.connect += 1,
            ErrorClass::Timeout => self.errors.timeout += 1,
            ErrorClass::Read => self.errors.read += 1,
            ErrorClass::Status => self.errors.status += 1,
            ErrorClass::BodyMismatch => self.errors.body_mismatch += 1,
            ErrorClass::Reset => self.errors.reset += 1,
            ErrorClass::GoAway => self.errors.goaway += 1,
        }
    }

    /// Records the time a closed-loop connection spent opening a TCP
    /// connection (it was busy, though not with a request): for Little's law.
    #[inline]
    pub fn record_connect(&mut self, started: Instant, done: Instant) {
        if done >= self.t0 && self.t1.is_none_or(|t1| done < t1) {
            self.busy_us += micros(done.saturating_duration_since(started));
        }
    }

    /// Records a TLS handshake's duration (every connection, warm-up included).
    #[inline]
    pub fn record_handshake(&mut self, took: Duration) {
        self.hist.handshake.record(micros(took));
    }

    /// Records how late a send ran behind its schedule (open loop).
    #[inline]
    pub fn record_lag(&mut self, intended: Instant, dispatched: Instant) {
        if self.measured(intended) {
            self.hist
                .lag
                .record(micros(dispatched.saturating_duration_since(intended)));
        }
    }

    /// Records the gap between two body chunks of a streamed response.
    #[inline]
    pub fn record_chunk_gap(&mut self, intended: Instant, gap: Duration) {
        if self.measured(intended) {
            self.hist.chunk_gap.record(micros(gap));
        }
    }
}

#[inline]
fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

mod merge;
pub use merge::{Merged, merge, template_results};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn timing(t0: Instant, start_ms: u64, dur_ms: u64) -> Timing {
        let s = t0 + Duration::from_millis(start_ms);
        Timing {
            intended: s,
            sent: s,
            head: Some(s),
            done: s + Duration::from_millis(dur_ms),
        }
    }

    fn recorder(start: Instant, t0: Instant, t1: Option<Instant>) -> Recorder {
        Recorder::new(start, (t0, t1), Duration::from_secs(1), 2, false, true)
    }

    #[tokio::test(start_paused = true)]
    async fn requests_count_where_they_finish() {
        let start = Instant::now();
        let t0 = start + Duration::from_secs(1);
        let t1 = t0 + Duration::from_secs(3);
        let mut r = recorder(start, t0, Some(t1));
        // Sent in the warm-up, finished in it: warm-up only.
        r.record_ok(0, timing(start, 100, 10), 200, 10);
        // Sent in the warm-up, finished in the window: counted, full latency.
        r.record_ok(0, timing(start, 900, 300), 200, 10);
        for s in 0..3u64 {
            for i in 0..10u64 {
                r.record_ok(1, timing(t0, s * 1000 + i * 10, 2), 200, 10);
            }
        }
        r.record_error(0, timing(t0, 2500, 1), ErrorClass::Status, Some(500), 3);
        // Sent in the window, finished after it: in flight at the end.
        r.record_ok(0, timing(t0, 2990, 20), 200, 1);
        let warm = r.take_warm_windows(t0);
        assert_eq!(warm.len(), 1);
        assert_eq!((warm[0].0, warm[0].1.finished), (0, 1));
        let m = merge(vec![r]);
        assert_eq!(m.requests, 1 + 30 + 1);
        assert_eq!(m.ok, 31);
        assert_eq!(m.in_flight, 1);
        assert_eq!(m.hist.latency.count(), 31);
        assert_eq!(
            m.hist.latency.max_seen_us, 300_000,
            "the warm-up-sent one keeps its latency"
        );
        assert_eq!(m.errors.status, 1);
        assert_eq!(m.windows.len(), 3);
        assert_eq!(m.windows[0].ok, 11);
        assert_eq!(m.windows[2].errors, 1);
        assert_eq!(m.templates[1].0, 30);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_count_run_counts_by_intended_start() {
        let start = Instant::now();
        let t0 = start + Duration::from_millis(500);
        let mut r = recorder(start, t0, None);
        r.record_ok(0, timing(start, 400, 200), 200, 1); // warm-up, finished after t0
        r.record_ok(0, timing(t0, 0, 5_000), 200, 1);
        let m = merge(vec![r]);
        assert_eq!((m.requests, m.in_flight), (1, 0));
    }

    proptest! {
        /// However requests fall around the window, across threads: every
        /// request is counted exactly once (warm-up, window or in flight at
        /// the end), and every count printed agrees with its rate and with
        /// the per-second windows and templates.
        #[test]
        fn counts_and_rates_agree(
            reqs in proptest::collection::vec(
                (0u64..8_000, 0u64..3_000, any::<bool>(), 0usize..2, 0usize..2),
                0..300,
            ),
            warm_ms in 0u64..2_000,
            len_ms in 1u64..5_000,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let start = Instant::now();
                let t0 = start + Duration::from_millis(warm_ms);
                let t1 = t0 + Duration::from_millis(len_ms);
                let mut recs = vec![recorder(start, t0, Some(t1)), recorder(start, t0, Some(t1))];
                let (mut inside, mut late) = (0u64, 0u64);
                for &(sent, dur, ok, tpl, thread) in &reqs {
                    let t = timing(start, sent, dur);
                    if t.done >= t1 {
                        late += 1;
                    } else if t.done >= t0 {
                        inside += 1;
                    }
                    if ok {
                        recs[thread].record_ok(tpl, t, 200, 1);
                    } else {
                        recs[thread].record_error(tpl, t, ErrorClass::Timeout, None, 0);
                    }
                }
                let mut m = merge(recs);
                prop_assert_eq!(m.requests, inside);
                prop_assert_eq!(m.in_flight, late);
                let duration = Duration::from_millis(len_ms);
                let (s, timeline) = m.summarize(duration, false);
                prop_assert_eq!(s.ok + s.errors, s.requests);
                prop_assert_eq!(s.latency.count, s.ok);
                prop_assert!((s.requests as f64 / s.duration_s - s.requests_rps).abs() < 1e-9);
                prop_assert!((s.ok as f64 / s.duration_s - s.throughput_rps).abs() < 1e-9);
                let in_windows: u64 = timeline.iter().map(|w| w.requests).sum();
                prop_assert_eq!(in_windows, s.requests);
                prop_assert_eq!(timeline.iter().map(|w| w.ok).sum::<u64>(), s.ok);
                let covered: f64 = timeline.iter().map(|w| w.len_s).sum();
                prop_assert!((covered - s.duration_s).abs() < 1e-6, "windows cover {} of {}", covered, s.duration_s);
                let per_template: u64 = m.templates.iter().map(|t| t.0).sum();
                prop_assert_eq!(per_template, s.requests);
                Ok(())
            })?;
        }
    }
}
