//! Resource sampling of a target's whole process tree from `/proc`: CPU time
//! (user + system), resident memory, threads and processes, summed over
//! every process of the target's process group, on a fixed interval in a
//! thread of its own.
//!
//! CPU use per interval is computed per process (keyed by pid and start
//! time, so a reused pid is a new process) and summed, so a worker that
//! exits between two samples costs at most its last partial interval and
//! never makes the total go backwards. Counts come from `/proc/PID/stat`
//! (clock ticks, usually 10 ms granularity).
//!
//! Reads `/proc` only; never signals processes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::procfs::{ProcStat, read_stat, scan_proc};
use crate::results::schema::{ResourceSample, ResourceUsage};

/// The resources of one process group at one moment.
#[derive(Clone, Debug)]
pub struct GroupSnapshot {
    /// When it was taken.
    pub taken: Instant,
    /// `(pid, start_ticks) → cpu_ticks` of each live process.
    pub cpu_ticks: HashMap<(i32, u64), u64>,
    /// Resident memory summed over the group, bytes.
    pub rss_bytes: u64,
    /// Threads summed over the group.
    pub threads: u64,
    /// Live processes in the group.
    pub processes: u64,
}

impl GroupSnapshot {
    /// Reads `/proc` for every live (non-zombie) process of group `pgid`.
    pub fn take(pgid: i32) -> GroupSnapshot {
        Self::from_stats(pgid, &scan_proc(), crate::sys::page_size())
    }

    /// Builds a snapshot from parsed stat lines (pure; for tests).
    pub fn from_stats(pgid: i32, stats: &[ProcStat], page_size: u64) -> GroupSnapshot {
        let mut s = GroupSnapshot {
            taken: Instant::now(),
            cpu_ticks: HashMap::new(),
            rss_bytes: 0,
            threads: 0,
            processes: 0,
        };
        for p in stats
            .iter()
            .filter(|p| p.pgrp == pgid && p.state != 'Z' && p.state != 'X')
        {
            s.cpu_ticks.insert((p.pid, p.start_ticks), p.cpu_ticks);
            s.rss_bytes += p.rss_pages * page_size;
            s.threads += p.num_threads;
            s.processes += 1;
        }
        s
    }
}

/// Follows one process group cheaply: each snapshot reads only the known
/// members' `stat` and their main threads' `children` lists (new members
/// are found there), and every `full_every`-th snapshot scans all of
/// `/proc`, to catch members that left the tree (double forks, reparented
/// orphans). About ten times cheaper than a full scan on a busy machine.
#[derive(Debug)]
pub struct GroupTracker {
    pgid: i32,
    known: Vec<i32>,
    page_size: u64,
    count: u64,
    full_every: u64,
}

impl GroupTracker {
    /// Tracks group `pgid`; a full scan every 10th snapshot.
    pub fn new(pgid: i32) -> GroupTracker {
        GroupTracker {
            pgid,
            known: Vec::new(),
            page_size: crate::sys::page_size(),
            count: 0,
            full_every: 10,
        }
    }

    /// Takes a snapshot of the group.
    pub fn snapshot(&mut self) -> GroupSnapshot {
        let full = self.known.is_empty() || self.count.is_multiple_of(self.full_every);
        self.count += 1;
        let stats: Vec<ProcStat> = if full {
            scan_proc()
                .into_iter()
                .filter(|p| p.pgrp == self.pgid)
                .collect()
        } else {
            self.walk()
        };
        self.known = stats
            .iter()
            .filter(|p| p.state != 'Z' && p.state != 'X')
            .map(|p| p.pid)
            .collect();
        GroupSnapshot::from_stats(self.pgid, &stats, self.page_size)
    }

    /// Known members and their descendants that are still in the group.
    fn walk(&self) -> Vec<ProcStat> {
        let mut seen: std::collections::HashSet<i32> = std::collections::HashSet::new();
        let mut todo: Vec<i32> = self.known.clone();
        let mut out = Vec::new();
        while let Some(pid) = todo.pop() {
            if !seen.insert(pid) {
                continue;
            }
            let Some(st) = read_stat(pid).filter(|st| st.pgrp == self.pgid) else {
                continue;
            };
            out.push(st);
            if let Ok(children) =
                std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            {
                todo.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
        out
    }
}

/// CPU ticks used between two snapshots: per process, the increase since
/// `before` (or everything, for a process new since then), summed.
pub fn ticks_between(before: &GroupSnapshot, after: &GroupSnapshot) -> u64 {
    after
        .cpu_ticks
        .iter()
        .map(|(k, &t)| t.saturating_sub(before.cpu_ticks.get(k).copied().unwrap_or(0)))
        .sum()
}

/// CPU use between two snapshots, percent of one CPU.
pub fn cpu_percent_between(before: &GroupSnapshot, after: &GroupSnapshot) -> f64 {
    let dt = after
        .taken
        .saturating_duration_since(before.taken)
        .as_secs_f64();
    if dt <= 0.0 {
        return 0.0;
    }
    let secs = ticks_between(before, after) as f64 / crate::sys::clock_ticks_per_second() as f64;
    secs / dt * 100.0
}

/// Starts sampling threads.
pub struct Sampler;

impl Sampler {
    /// Samples process group `pgid` every `interval` (100 ms is the usual
    /// choice) in a thread of its own, until [`SamplerHandle::finish`].
    pub fn start(pgid: i32, interval: Duration) -> SamplerHandle {
        let interval = interval.max(Duration::from_millis(10));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("claimbench-sampler-{pgid}"))
            .spawn(move || sample_loop(pgid, interval, &flag))
            .expect("cannot start the sampler thread");
        SamplerHandle {
            stop,
            thread,
            interval,
        }
    }
}

/// A running sampler; [`SamplerHandle::finish`] stops it and returns what it saw.
pub struct SamplerHandle {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Raw>,
    interval: Duration,
}

impl SamplerHandle {
    /// Stops sampling (after one last reading) and summarises the series.
    pub fn finish(self) -> ResourceUsage {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.thread().unpark();
        let raw = self.thread.join().unwrap_or_default();
        summarize(self.interval, raw.samples, raw.cpu_ticks, raw.elapsed_s)
    }
}

#[derive(Default)]
struct Raw {
    samples: Vec<ResourceSample>,
    cpu_ticks: u64,
    elapsed_s: f64,
}

fn sample_loop(pgid: i32, interval: Duration, stop: &AtomicBool) -> Raw {
    let hz = crate::sys::clock_ticks_per_second() as f64;
    let t0 = Instant::now();
    let mut tracker = GroupTracker::new(pgid);
    let mut prev = tracker.snapshot();
    let mut raw = Raw::default();
    let mut k: u32 = 1;
    loop {
        let next = t0 + interval * k;
        loop {
            let now = Instant::now();
            if stop.load(Ordering::SeqCst) || now >= next {
                break;
            }
            std::thread::park_timeout(next - now);
        }
        let stopping = stop.load(Ordering::SeqCst);
        let snap = tracker.snapshot();
        let ticks = ticks_between(&prev, &snap);
        let dt = snap.taken.saturating_duration_since(prev.taken);
        raw.cpu_ticks += ticks;
        // A last, short interval adds its CPU time but is too coarse
        // (10 ms ticks) to be a sample of its own, unless it is the only one.
        if dt >= interval / 2 || raw.samples.is_empty() {
            let secs = dt.as_secs_f64();
            let t_s = snap.taken.saturating_duration_since(t0).as_secs_f64();
            raw.samples.push(ResourceSample {
                t_ms: (t_s * 1e3).round() as u64,
                // Ticks are 10 ms: a tenth of a percent is finer than the data.
                cpu_percent: if secs > 0.0 {
                    (ticks as f64 / hz / secs * 1000.0).round() / 10.0
                } else {
                    0.0
                },
                rss_bytes: snap.rss_bytes,
                threads: snap.threads,
                processes: snap.processes,
            });
        }
        raw.elapsed_s = snap.taken.saturating_duration_since(t0).as_secs_f64();
        prev = snap;
        if stopping {
            return raw;
        }
        // Skip ticks missed while the machine was busy rather than bunching up.
        let behind = t0.elapsed().as_nanos() / interval.as_nanos().max(1);
        k = (k + 1).max(behind as u32 + 1);
    }
}

/// Summarises a sample series (pure). `cpu_ticks` is the CPU time over the
/// whole sampled span, `elapsed_s` that span's length.
pub fn summarize(
    interval: Duration,
    samples: Vec<ResourceSample>,
    cpu_ticks: u64,
    elapsed_s: f64,
) -> ResourceUsage {
    let cpu_s = cpu_ticks as f64 / crate::sys::clock_ticks_per_second() as f64;
    let n = samples.len().max(1) as f64;
    ResourceUsage {
        interval_ms: interval.as_millis() as u64,
        cpu_s,
        cpu_percent_mean: if elapsed_s > 0.0 {
            cpu_s / elapsed_s * 100.0
        } else {
            0.0
        },
        cpu_percent_peak: samples.iter().map(|s| s.cpu_percent).fold(0.0, f64::max),
        rss_mean_bytes: (samples.iter().map(|s| s.rss_bytes as f64).sum::<f64>() / n) as u64,
        rss_peak_bytes: samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0),
        threads_peak: samples.iter().map(|s| s.threads).max().unwrap_or(0),
        processes_peak: samples.iter().map(|s| s.processes).max().unwrap_or(0),
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: i32, pgrp: i32, ticks: u64, rss: u64, state: char) -> ProcStat {
        ProcStat {
            pid,
            state,
            ppid: 1,
            pgrp,
            cpu_ticks: ticks,
            num_threads: 2,
            start_ticks: pid as u64 * 10,
            rss_pages: rss,
        }
    }

    #[test]
    fn snapshots_sum_the_group_and_survive_exits() {
        let a = GroupSnapshot::from_stats(
            10,
            &[
                stat(10, 10, 100, 10, 'S'),
                stat(11, 10, 50, 20, 'R'),
                stat(12, 99, 1000, 1000, 'R'),
                stat(13, 10, 7, 5, 'Z'),
            ],
            4096,
        );
        assert_eq!(a.processes, 2);
        assert_eq!(a.threads, 4);
        assert_eq!(a.rss_bytes, 30 * 4096);
        // 11 exited, 14 is new: 10 grew by 5, 14 counts in full (3).
        let b = GroupSnapshot::from_stats(
            10,
            &[stat(10, 10, 105, 10, 'S'), stat(14, 10, 3, 10, 'R')],
            4096,
        );
        assert_eq!(ticks_between(&a, &b), 8);
    }

    #[test]
    fn tracker_walks_the_same_group_as_a_full_scan() {
        // SAFETY: getpgrp is always safe.
        let pgid = unsafe { libc::getpgrp() };
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let kid = child.id() as i32;
        let me = std::process::id() as i32;
        let has = |s: &GroupSnapshot, pid: i32| s.cpu_ticks.keys().any(|(p, _)| *p == pid);
        let mut t = GroupTracker::new(pgid);
        let full = t.snapshot();
        let walked = t.snapshot();
        assert!(has(&full, me) && has(&full, kid));
        assert!(
            has(&walked, me) && has(&walked, kid),
            "found by walking the tree"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let after = t.snapshot();
        assert!(has(&after, me) && !has(&after, kid));
    }

    #[test]
    fn summaries_take_peaks_and_means() {
        let s = |t_ms: u64, cpu: f64, rss: u64| ResourceSample {
            t_ms,
            cpu_percent: cpu,
            rss_bytes: rss,
            threads: 3,
            processes: 2,
        };
        let hz = crate::sys::clock_ticks_per_second();
        let u = summarize(
            Duration::from_millis(100),
            vec![s(100, 50.0, 100), s(200, 150.0, 300)],
            hz / 5,
            0.2,
        );
        assert!((u.cpu_s - 0.2).abs() < 1e-9);
        assert!((u.cpu_percent_mean - 100.0).abs() < 1e-6);
        assert_eq!(u.cpu_percent_peak, 150.0);
        assert_eq!(u.rss_mean_bytes, 200);
        assert_eq!(u.rss_peak_bytes, 300);
        assert_eq!(u.threads_peak, 3);
        assert_eq!(u.processes_peak, 2);
        assert_eq!(u.interval_ms, 100);
        let empty = summarize(Duration::from_millis(100), vec![], 0, 0.0);
        assert_eq!(empty.cpu_percent_mean, 0.0);
        assert_eq!(empty.rss_peak_bytes, 0);
    }

    #[test]
    fn sampler_sees_this_process_burn_cpu() {
        // Sample our own process group while a thread spins.
        let pgid = unsafe { libc::getpgrp() };
        let h = Sampler::start(pgid, Duration::from_millis(50));
        let until = Instant::now() + Duration::from_millis(400);
        let mut x = 0u64;
        while Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let u = h.finish();
        assert!(u.samples.len() >= 5, "{} samples", u.samples.len());
        // Milliseconds, in order; CPU to a tenth of a percent.
        assert!(u.samples.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
        assert!(u.samples.iter().all(|s| {
            let tenths = s.cpu_percent * 10.0;
            (tenths - tenths.round()).abs() < 1e-6
        }));
        assert!(u.cpu_s >= 0.2, "cpu_s {}", u.cpu_s);
        assert!(u.rss_peak_bytes > 0);
        assert!(u.processes_peak >= 1);
    }
}
