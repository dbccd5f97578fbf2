//! The warm-up and the measured window: when a target is steady, how long to
//! measure it, and the window the coordinator shares with the generator
//! threads once it has decided.
//!
//! The rules are pure functions over one-second warm-up windows, so they are
//! unit-tested without a server or a clock:
//! - **Steady**: the last [`STEADY_WINDOWS`] windows' throughput within
//!   ±[`STEADY_THROUGHPUT_TOLERANCE`] of their mean (or ± two standard
//!   deviations of a Poisson count, 2/√n, when a window holds too few
//!   responses n for 10% to be told from counting noise) and their p50
//!   within ±[`STEADY_P50_TOLERANCE`] of theirs (or ±[`STEADY_P50_FLOOR_US`]
//!   at sub-millisecond and millisecond latencies, where a scheduler tick
//!   moves the median by more than 20%).
//! - **Window length**: at least the configured duration and at least
//!   [`LATENCIES_PER_WINDOW`] × the warm-up's p50 latency and
//!   [`TAIL_LATENCIES_PER_WINDOW`] × its p99, capped by the
//!   plan's `max_duration`, so a stack that answers in seconds is measured
//!   over many of its responses, not over the few that fit in a short window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::results::histogram::Latency;

/// Warm-up windows the steadiness rule looks at.
pub const STEADY_WINDOWS: usize = 3;
/// Largest relative distance of a window's throughput from the windows' mean.
pub const STEADY_THROUGHPUT_TOLERANCE: f64 = 0.10;
/// Largest relative distance of a window's p50 from the windows' mean p50.
pub const STEADY_P50_TOLERANCE: f64 = 0.20;
/// ... but a p50 within this many microseconds of the mean is always close
/// enough (1.3 ms against 2 ms is noise on a shared 2-CPU machine, not a
/// target still warming up).
pub const STEADY_P50_FLOOR_US: f64 = 500.0;
/// The measured window lasts at least this many warm-up p50 latencies.
pub const LATENCIES_PER_WINDOW: u32 = 20;
/// ... and at least this many warm-up p99 latencies.
pub const TAIL_LATENCIES_PER_WINDOW: u32 = 5;

/// One warm-up window (of the plan's window length): the responses that
/// finished in it and their latency.
#[derive(Clone, Debug, Default)]
pub struct WarmWindow {
    /// Responses finished (successes and errors).
    pub finished: u64,
    /// Latency of the successful ones.
    pub latency: Latency,
}

impl WarmWindow {
    /// Adds another thread's window of the same index.
    pub fn add(&mut self, other: &WarmWindow) {
        self.finished += other.finished;
        self.latency.add(&other.latency);
    }
}

/// Throughput (responses per second) and p50 (µs, 0 when none) of `windows`
/// of length `window`.
pub fn rates(windows: &[WarmWindow], window: Duration) -> (Vec<f64>, Vec<u64>) {
    let secs = window.as_secs_f64();
    windows
        .iter()
        .map(|w| {
            let p50 = if w.latency.count() == 0 {
                0
            } else {
                w.latency.quantile_us(0.5)
            };
            (w.finished as f64 / secs, p50)
        })
        .unzip()
}

/// Whether the last [`STEADY_WINDOWS`] of `throughput` and `p50_us` (one
/// entry per window of length `window`, oldest first) are steady. Fewer
/// windows, or a window with nothing finished, is not steady.
pub fn is_steady(throughput: &[f64], p50_us: &[u64], window: Duration) -> bool {
    if throughput.len() < STEADY_WINDOWS || p50_us.len() < STEADY_WINDOWS {
        return false;
    }
    let within = |xs: &[f64], tolerance: &dyn Fn(f64) -> f64| {
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let t = tolerance(mean);
        mean > 0.0 && xs.iter().all(|x| (x - mean).abs() <= t)
    };
    let secs = window.as_secs_f64();
    // n responses a window: counting noise alone is about √n of them.
    let count_tolerance = |mean: f64| {
        let n = mean * secs;
        let noise = if n > 0.0 { 2.0 / n.sqrt() } else { 0.0 };
        STEADY_THROUGHPUT_TOLERANCE.max(noise) * mean
    };
    let p50_tolerance = |mean: f64| (STEADY_P50_TOLERANCE * mean).max(STEADY_P50_FLOOR_US);
    let p50: Vec<f64> = p50_us[p50_us.len() - STEADY_WINDOWS..]
        .iter()
        .map(|&p| p as f64)
        .collect();
    within(
        &throughput[throughput.len() - STEADY_WINDOWS..],
        &count_tolerance,
    ) && !p50.contains(&0.0)
        && within(&p50, &p50_tolerance)
}

/// The p50 and p99 latency of the warm-up's last [`STEADY_WINDOWS`]
/// windows merged (None when no request succeeded in them).
pub fn recent_latency(windows: &[WarmWindow]) -> Option<(Duration, Duration)> {
    let mut merged = Latency::default();
    for w in &windows[windows.len().saturating_sub(STEADY_WINDOWS)..] {
        merged.add(&w.latency);
    }
    (merged.count() > 0).then(|| {
        (
            Duration::from_micros(merged.quantile_us(0.5)),
            Duration::from_micros(merged.quantile_us(0.99)),
        )
    })
}

/// The measured phase's length and why: `duration`, stretched (with
/// `max_duration`) to [`LATENCIES_PER_WINDOW`] × the warm-up's p50 and
/// [`TAIL_LATENCIES_PER_WINDOW`] × its p99, whichever is longer, capped at
/// `max_duration`. The tail matters for counting: a request is counted
/// when it finishes, so the slow requests that straddle the window's edges
/// weigh on the count (and on Little's law) unless the window is several
/// of them long. When nothing finished in a warm-up of `warmed`, every
/// response takes longer than that, so `warmed` stands in for the p50.
pub fn measured_length(
    duration: Duration,
    max_duration: Option<Duration>,
    latency: Option<(Duration, Duration)>,
    warmed: Duration,
) -> (Duration, String) {
    let fmt = |d: Duration| format_secs(d.as_secs_f64());
    let Some(max) = max_duration else {
        return (duration, format!("the configured {}", fmt(duration)));
    };
    let n = LATENCIES_PER_WINDOW;
    let (want, what) = match latency {
        Some((p50, p99)) => {
            let by_p50 = p50.saturating_mul(n);
            let by_p99 = p99.saturating_mul(TAIL_LATENCIES_PER_WINDOW);
            if by_p99 > by_p50 {
                (
                    by_p99,
                    format!(
                        "{TAIL_LATENCIES_PER_WINDOW} × the warm-up's p99 latency {}",
                        fmt(p99)
                    ),
                )
            } else {
                (
                    by_p50,
                    format!("{n} × the warm-up's p50 latency {}", fmt(p50)),
                )
            }
        }
        None if warmed.is_zero() => {
            return (
                duration,
                format!(
                    "the configured {} (no warm-up to size it by)",
                    fmt(duration)
                ),
            );
        }
        None => (
            warmed.saturating_mul(n),
            format!(
                "{n} × the {} warm-up (no response finished in it)",
                fmt(warmed)
            ),
        ),
    };
    if want <= duration {
        return (
            duration,
            format!("the configured {} (≥ {what})", fmt(duration)),
        );
    }
    if want <= max {
        (
            want,
            format!("{what}, above the configured {}", fmt(duration)),
        )
    } else {
        (
            max,
            format!(
                "capped at max_duration {} ({what} would be {})",
                fmt(max),
                fmt(want)
            ),
        )
    }
}

/// Seconds as `3 s`, `1.79 s`, `12.5 ms`.
pub fn format_secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{} s", trim(s, 2))
    } else {
        format!("{} ms", trim(s * 1000.0, 1))
    }
}

fn trim(x: f64, digits: usize) -> String {
    let t = format!("{x:.digits$}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    t.to_string()
}

/// The measured window, decided by the coordinator and read by every
/// generator thread: offsets of its start and end from the common start, in
/// nanoseconds. Unset until decided (an auto warm-up decides both at once).
#[derive(Debug)]
pub struct SharedWindow {
    t0_ns: AtomicU64,
    t1_ns: AtomicU64,
}

const UNSET: u64 = u64::MAX;

impl Default for SharedWindow {
    fn default() -> Self {
        Self {
            t0_ns: AtomicU64::new(UNSET),
            t1_ns: AtomicU64::new(UNSET),
        }
    }
}

impl SharedWindow {
    /// Publishes the window (end first, so a thread that sees the start sees its end).
    pub fn set(&self, t0: Duration, t1: Option<Duration>) {
        if let Some(t1) = t1 {
            self.t1_ns.store(t1.as_nanos() as u64, Ordering::Release);
        }
        self.t0_ns.store(t0.as_nanos() as u64, Ordering::Release);
    }

    /// The window's start and end offsets, each None until decided.
    pub fn get(&self) -> (Option<Duration>, Option<Duration>) {
        let read = |a: &AtomicU64| {
            let v = a.load(Ordering::Acquire);
            (v != UNSET).then(|| Duration::from_nanos(v))
        };
        let t0 = read(&self.t0_ns);
        (t0, read(&self.t1_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(finished: u64, p50_ms: u64) -> WarmWindow {
        let mut w = WarmWindow {
            finished,
            latency: Latency::default(),
        };
        for _ in 0..finished {
            w.latency.record(p50_ms * 1000);
        }
        w
    }

    #[test]
    fn steadiness_needs_three_close_windows() {
        let sec = Duration::from_secs(1);
        let w = |xs: &[(u64, u64)]| {
            rates(
                &xs.iter().map(|&(n, p)| window(n, p)).collect::<Vec<_>>(),
                sec,
            )
        };
        let (t, p) = w(&[(100, 10), (105, 11)]);
        assert!(!is_steady(&t, &p, sec), "two windows are too few");
        let (t, p) = w(&[(5, 50), (100, 10), (105, 11), (95, 9)]);
        assert!(
            is_steady(&t, &p, sec),
            "the last three are close: {t:?} {p:?}"
        );
        let (t, p) = w(&[(400, 10), (520, 10), (400, 10)]);
        assert!(!is_steady(&t, &p, sec), "throughput 30% apart");
        let (t, p) = w(&[(100, 10), (100, 14), (100, 10)]);
        assert!(!is_steady(&t, &p, sec), "p50 more than 20% from the mean");
        let (t, p) = w(&[(0, 0), (0, 0), (0, 0)]);
        assert!(!is_steady(&t, &p, sec), "nothing finished");
        // Swapping the order of the windows does not change the outcome.
        let (t, p) = w(&[(95, 9), (105, 11), (100, 10)]);
        assert!(is_steady(&t, &p, sec));
    }

    /// A window of n responses cannot be judged finer than its counting
    /// noise (about √n): 36 against 44 responses is 2/√40 = 32% noise, so
    /// steady; 3,500 against 4,500 is not.
    #[test]
    fn few_responses_a_window_are_judged_by_their_counting_noise() {
        let half = Duration::from_millis(500);
        let w = |xs: &[u64]| rates(&xs.iter().map(|&n| window(n, 20)).collect::<Vec<_>>(), half);
        let (t, p) = w(&[36, 44, 40]);
        assert!(is_steady(&t, &p, half), "{t:?}");
        let (t, p) = w(&[3500, 4500, 4000]);
        assert!(!is_steady(&t, &p, half), "{t:?}");
        // A steady rate that later doubles is not steady across the change.
        let (t, p) = w(&[40, 40, 80]);
        assert!(!is_steady(&t, &p, half), "{t:?}");
    }

    /// At millisecond latencies the p50 may move by 0.5 ms (1.3 ms against
    /// 1.7 ms) and still be steady; 10 ms against 14 ms is not.
    #[test]
    fn millisecond_medians_have_an_absolute_floor() {
        let sec = Duration::from_secs(1);
        let t = vec![3000.0; 3];
        assert!(is_steady(&t, &[1300, 1700, 1500], sec));
        assert!(!is_steady(&t, &[1000, 2500, 1500], sec));
        assert!(!is_steady(&t, &[10_000, 14_000, 10_000], sec));
    }

    #[test]
    fn the_window_stretches_to_twenty_latencies_and_is_capped() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let lat = |p50, p99| Some((ms(p50), ms(p99)));
        let (d, why) = measured_length(s(3), None, lat(2000, 2000), s(2));
        assert_eq!((d, why.as_str()), (s(3), "the configured 3 s"));
        let (d, why) = measured_length(s(3), Some(s(60)), lat(12, 40), s(2));
        assert_eq!(d, s(3));
        assert!(
            why.contains("≥ 20 × the warm-up's p50 latency 12 ms"),
            "{why}"
        );
        let (d, why) = measured_length(s(3), Some(s(60)), lat(1790, 2000), s(2));
        assert_eq!(d, ms(35_800));
        assert!(
            why.starts_with("20 × the warm-up's p50 latency 1.79 s"),
            "{why}"
        );
        // A heavy tail (p99 4.5 s beside a p50 of 100 ms) stretches the
        // window to five of its p99s.
        let (d, why) = measured_length(s(3), Some(s(60)), lat(100, 4500), s(2));
        assert_eq!(d, ms(22_500));
        assert!(
            why.starts_with("5 × the warm-up's p99 latency 4.5 s"),
            "{why}"
        );
        let (d, why) = measured_length(s(3), Some(s(30)), lat(15_300, 16_000), s(2));
        assert_eq!(d, s(30));
        assert!(
            why.contains("capped at max_duration 30 s") && why.contains("306 s"),
            "{why}"
        );
        let (d, why) = measured_length(s(3), Some(s(30)), None, s(5));
        assert_eq!(d, s(30));
        assert!(
            why.contains("(20 × the 5 s warm-up (no response finished in it) would be 100 s)"),
            "{why}"
        );
    }

    #[test]
    fn the_shared_window_is_unset_until_decided() {
        let w = SharedWindow::default();
        assert_eq!(w.get(), (None, None));
        w.set(Duration::from_secs(2), None);
        assert_eq!(w.get(), (Some(Duration::from_secs(2)), None));
        w.set(Duration::from_secs(2), Some(Duration::from_secs(5)));
        assert_eq!(
            w.get(),
            (Some(Duration::from_secs(2)), Some(Duration::from_secs(5)))
        );
    }
}
