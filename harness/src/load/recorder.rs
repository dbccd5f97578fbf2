//! Per-thread measurement state. Each generator thread owns one
//! [`Recorder`]; nothing in it is shared or locked. Recorders are merged
//! once, at the end, into a [`LoadResult`].

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::results::histogram::Latency;
use crate::results::schema::{ErrorCounts, TemplateResult, Window};

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

/// Everything one generator thread measured.
#[derive(Clone, Debug)]
pub struct Recorder {
    t0: Instant,
    t1: Option<Instant>,
    window: Duration,
    open_loop: bool,
    latency: Latency,
    service: Latency,
    ttfb: Latency,
    lag: Latency,
    chunk_gap: Latency,
    templates: Vec<TemplateRec>,
    errors: ErrorCounts,
    status: Vec<u64>,
    bytes: u64,
    requests: u64,
    ok: u64,
    ok_in_window: u64,
    requests_in_window: u64,
    last_done: Option<Instant>,
    windows: Vec<WindowRec>,
    cur_index: usize,
    cur: WindowAcc,
    /// Open loop: scheduled requests that never started.
    pub not_started: u64,
    /// TCP connections opened.
    pub opened: u64,
    /// Reconnects after the server closed a connection.
    pub reconnects: u64,
    /// Idle connections held at the end.
    pub idle_held: usize,
}

const STATUS_SLOTS: usize = 600;

impl Recorder {
    /// A recorder for a measured phase starting at `t0` and, when
    /// duration-limited, ending at `t1`.
    pub fn new(
        t0: Instant,
        t1: Option<Instant>,
        window: Duration,
        templates: usize,
        open_loop: bool,
    ) -> Self {
        Self {
            t0,
            t1,
            window,
            open_loop,
            latency: Latency::default(),
            service: Latency::default(),
            ttfb: Latency::default(),
            lag: Latency::default(),
            chunk_gap: Latency::default(),
            templates: vec![TemplateRec::default(); templates],
            errors: ErrorCounts::default(),
            status: vec![0; STATUS_SLOTS],
            bytes: 0,
            requests: 0,
            ok: 0,
            ok_in_window: 0,
            requests_in_window: 0,
            last_done: None,
            windows: Vec::new(),
            cur_index: 0,
            cur: WindowAcc::default(),
            not_started: 0,
            opened: 0,
            reconnects: 0,
            idle_held: 0,
        }
    }

    /// Start of the measured phase.
    pub fn t0(&self) -> Instant {
        self.t0
    }

    /// Whether a request intended at `intended` belongs to the measured phase.
    #[inline]
    pub fn measured(&self, intended: Instant) -> bool {
        intended >= self.t0
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

    #[inline]
    fn count_done(&mut self, done: Instant, ok: bool) {
        self.requests += 1;
        let in_window = self.t1.is_none_or(|t1| done <= t1);
        if in_window {
            self.requests_in_window += 1;
            if ok {
                self.ok_in_window += 1;
            }
        }
        if self.last_done.is_none_or(|l| done > l) {
            self.last_done = Some(done);
        }
        self.advance_window(done);
        self.cur.requests += 1;
    }

    /// Records a successful request of template `tpl`.
    #[inline]
    pub fn record_ok(&mut self, tpl: usize, t: Timing, status: u16, body_bytes: u64) {
        if !self.measured(t.intended) {
            return;
        }
        self.count_done(t.done, true);
        self.ok += 1;
        self.bytes += body_bytes;
        self.status[(status as usize).min(STATUS_SLOTS - 1)] += 1;
        let lat = micros(t.done - t.intended);
        self.latency.record(lat);
        self.cur.ok += 1;
        self.cur.latency.record(lat);
        let tr = &mut self.templates[tpl];
        tr.requests += 1;
        tr.ok += 1;
        tr.latency.record(lat);
        if self.open_loop {
            self.service.record(micros(t.done - t.sent));
        }
        if let Some(head) = t.head {
            self.ttfb.record(micros(head - t.sent));
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
        if !self.measured(t.intended) {
            return;
        }
        self.count_done(t.done, false);
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
        }
    }

    /// Records how late a send ran behind its schedule (open loop).
    #[inline]
    pub fn record_lag(&mut self, intended: Instant, dispatched: Instant) {
        if self.measured(intended) {
            self.lag
                .record(micros(dispatched.saturating_duration_since(intended)));
        }
    }

    /// Records the gap between two body chunks of a streamed response.
    #[inline]
    pub fn record_chunk_gap(&mut self, intended: Instant, gap: Duration) {
        if self.measured(intended) {
            self.chunk_gap.record(micros(gap));
        }
    }
}

#[inline]
fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// The merged recorders of all threads, with the figures `LoadResult` needs.
pub struct Merged {
    /// Corrected latency (open loop) or latency (closed loop).
    pub latency: Latency,
    /// Service time (open loop).
    pub service: Latency,
    /// Time to first byte.
    pub ttfb: Latency,
    /// Schedule lag (open loop).
    pub lag: Latency,
    /// Chunk gaps.
    pub chunk_gap: Latency,
    /// Per template: (requests, ok, latency).
    pub templates: Vec<(u64, u64, Latency)>,
    /// Errors by class.
    pub errors: ErrorCounts,
    /// Status code counts.
    pub status: BTreeMap<String, u64>,
    /// Body bytes read.
    pub bytes: u64,
    /// Requests finished in the measured phase.
    pub requests: u64,
    /// Successful requests.
    pub ok: u64,
    /// Successful requests that finished inside the measured window.
    pub ok_in_window: u64,
    /// Requests that finished inside the measured window.
    pub requests_in_window: u64,
    /// When the last request finished.
    pub last_done: Option<Instant>,
    /// Timeline windows.
    pub windows: Vec<Window>,
    /// Never-started requests.
    pub not_started: u64,
    /// Connections opened.
    pub opened: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Idle connections held.
    pub idle_held: usize,
}

/// Merges per-thread recorders exactly (histograms add; counts sum).
pub fn merge(mut recs: Vec<Recorder>) -> Merged {
    let n_tpl = recs.first().map_or(0, |r| r.templates.len());
    let mut m = Merged {
        latency: Latency::default(),
        service: Latency::default(),
        ttfb: Latency::default(),
        lag: Latency::default(),
        chunk_gap: Latency::default(),
        templates: (0..n_tpl).map(|_| (0, 0, Latency::default())).collect(),
        errors: ErrorCounts::default(),
        status: BTreeMap::new(),
        bytes: 0,
        requests: 0,
        ok: 0,
        ok_in_window: 0,
        requests_in_window: 0,
        last_done: None,
        windows: Vec::new(),
        not_started: 0,
        opened: 0,
        reconnects: 0,
        idle_held: 0,
    };
    let mut status = vec![0u64; STATUS_SLOTS];
    let window_len = recs.first().map_or(Duration::from_secs(1), |r| r.window);
    let mut per_thread_windows = Vec::with_capacity(recs.len());
    for r in &mut recs {
        // Close the open window so it is merged like the others.
        if r.cur.requests > 0 {
            let closed = r.cur.close();
            r.windows.push(closed);
        }
        m.latency.add(&r.latency);
        m.service.add(&r.service);
        m.ttfb.add(&r.ttfb);
        m.lag.add(&r.lag);
        m.chunk_gap.add(&r.chunk_gap);
        for (i, t) in r.templates.iter().enumerate() {
            m.templates[i].0 += t.requests;
            m.templates[i].1 += t.ok;
            m.templates[i].2.add(&t.latency);
        }
        m.errors += r.errors;
        for (s, c) in r.status.iter().enumerate() {
            status[s] += c;
        }
        m.bytes += r.bytes;
        m.requests += r.requests;
        m.ok += r.ok;
        m.ok_in_window += r.ok_in_window;
        m.requests_in_window += r.requests_in_window;
        m.last_done = match (m.last_done, r.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        m.not_started += r.not_started;
        m.opened += r.opened;
        m.reconnects += r.reconnects;
        m.idle_held += r.idle_held;
        per_thread_windows.push(std::mem::take(&mut r.windows).into_iter());
    }
    drop(recs);
    m.status = status
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(s, c)| (s.to_string(), *c))
        .collect();
    // Window by window, so only one decoded window histogram per thread is
    // alive at a time: memory does not grow with the run's length.
    let mut i = 0usize;
    loop {
        let mut acc = WindowAcc::default();
        let mut any = false;
        for it in per_thread_windows.iter_mut() {
            if let Some(w) = it.next() {
                any = true;
                acc.requests += w.requests;
                acc.ok += w.ok;
                acc.errors += w.errors;
                acc.latency.add(&w.latency);
            }
        }
        if !any {
            break;
        }
        m.windows.push(Window {
            t_s: i as f64 * window_len.as_secs_f64(),
            len_s: window_len.as_secs_f64(),
            requests: acc.requests,
            ok: acc.ok,
            errors: acc.errors,
            p50_us: acc.latency.quantile_us(0.5),
            p99_us: acc.latency.quantile_us(0.99),
            max_us: acc.latency.max_seen_us,
            latency: acc.latency.to_compact(),
        });
        i += 1;
    }
    m
}

/// Per-template results in schema form.
pub fn template_results(names: &[String], merged: &Merged) -> Vec<TemplateResult> {
    names
        .iter()
        .zip(&merged.templates)
        .map(|(name, (requests, ok, lat))| TemplateResult {
            name: name.clone(),
            requests: *requests,
            ok: *ok,
            errors: requests - ok,
            latency_summary: lat.percentiles(),
            latency: lat.to_compact(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(t0: Instant, start_ms: u64, dur_ms: u64) -> Timing {
        let s = t0 + Duration::from_millis(start_ms);
        Timing {
            intended: s,
            sent: s,
            head: Some(s),
            done: s + Duration::from_millis(dur_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn windows_and_warmup() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut r = Recorder::new(
            t0,
            Some(t0 + Duration::from_secs(3)),
            Duration::from_secs(1),
            1,
            false,
        );
        // Warm-up request: not recorded.
        r.record_ok(0, timing(t0 - Duration::from_millis(500), 0, 1), 200, 10);
        for s in 0..3u64 {
            for i in 0..10u64 {
                r.record_ok(0, timing(t0, s * 1000 + i * 10, 2), 200, 10);
            }
        }
        r.record_error(0, timing(t0, 2500, 1), ErrorClass::Status, Some(500), 3);
        let mut r2 = r.clone();
        r2.record_ok(0, timing(t0, 2990, 20), 200, 1); // finishes after t1
        let m = merge(vec![r, r2]);
        assert_eq!(m.requests, 30 + 1 + 30 + 1 + 1);
        assert_eq!(m.ok, 61);
        assert_eq!(m.ok_in_window, 60);
        assert_eq!(m.errors.status, 2);
        assert_eq!(m.windows.len(), 4);
        assert_eq!(m.windows[0].ok, 20);
        assert_eq!(m.windows[2].errors, 2);
        assert_eq!(m.status.get("500"), Some(&2));
        assert_eq!(m.latency.count(), 61);
    }
}
