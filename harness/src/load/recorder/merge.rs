//! The threads' recorders merged once, at the end of a run, into the
//! figures a [`crate::results::schema::LoadResult`] needs: histograms
//! merged exactly, counts summed, per-second windows lined up.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::results::histogram::Latency;
use crate::results::schema::{ErrorCounts, Summary, TemplateResult, Window};

/// The merged recorders of all threads, with the figures `LoadResult` needs.
pub struct Merged {
    /// Every thread's distributions, added.
    pub hist: Histograms,
    /// Per template: (requests, ok, latency).
    pub templates: Vec<(u64, u64, Latency)>,
    /// Errors by class.
    pub errors: ErrorCounts,
    /// Status code counts.
    pub status: BTreeMap<String, u64>,
    /// Body bytes read.
    pub bytes: u64,
    /// Requests finished in the measured window.
    pub requests: u64,
    /// Of which successful.
    pub ok: u64,
    /// Sum over those requests of the time each held its connection
    /// (send to finish, plus closed-loop connect time), µs.
    pub busy_us: u64,
    /// Requests sent but not finished when the window closed.
    pub in_flight: u64,
    /// When the last request finished.
    pub last_done: Option<Instant>,
    /// The latest end any thread counted to (None if none ended on its own).
    pub end: Option<Instant>,
    /// Timeline windows.
    pub windows: Vec<Window>,
    /// Their length.
    pub window: Duration,
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
        hist: Histograms::default(),
        templates: (0..n_tpl).map(|_| (0, 0, Latency::default())).collect(),
        errors: ErrorCounts::default(),
        status: BTreeMap::new(),
        bytes: 0,
        requests: 0,
        ok: 0,
        busy_us: 0,
        in_flight: 0,
        last_done: None,
        end: None,
        windows: Vec::new(),
        window: recs.first().map_or(Duration::from_secs(1), |r| r.window),
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
        m.hist.add(&r.hist);
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
        m.busy_us += r.busy_us;
        m.in_flight += r.late + r.in_flight;
        let later = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        m.last_done = later(m.last_done, r.last_done);
        m.end = later(m.end, r.end);
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

impl Merged {
    /// The summary over a measured window of `duration`, and the timeline
    /// padded with empty windows to cover it (the last one as long as what
    /// is left of the window): every rate is its count over its length.
    pub fn summarize(&mut self, duration: Duration, open_loop: bool) -> (Summary, Vec<Window>) {
        let duration_s = duration.as_secs_f64();
        let errors = self.errors.total();
        let summary = Summary {
            requests: self.requests,
            ok: self.ok,
            errors,
            error_rate: if self.requests == 0 {
                0.0
            } else {
                errors as f64 / self.requests as f64
            },
            not_started: self.not_started,
            in_flight_at_end: self.in_flight,
            duration_s,
            throughput_rps: self.ok as f64 / duration_s,
            requests_rps: self.requests as f64 / duration_s,
            bytes_read: self.bytes,
            latency: self.hist.latency.percentiles(),
            service: open_loop.then(|| self.hist.service.percentiles()),
            ttfb: self.hist.ttfb.percentiles(),
            schedule_lag: open_loop.then(|| self.hist.lag.percentiles()),
        };
        let mut timeline = std::mem::take(&mut self.windows);
        let len = self.window.as_secs_f64();
        let needed = ((duration_s / len) - 1e-9).ceil().max(1.0) as usize;
        while timeline.len() < needed {
            let t_s = timeline.len() as f64 * len;
            let empty = Latency::default().to_compact();
            timeline.push(Window {
                t_s,
                len_s: len,
                requests: 0,
                ok: 0,
                errors: 0,
                p50_us: 0,
                p99_us: 0,
                max_us: 0,
                latency: empty,
            });
        }
        if let Some(last) = timeline.last_mut() {
            last.len_s = (duration_s - last.t_s).clamp(1e-6, len);
        }
        (summary, timeline)
    }
}
