//! Is anything else using the machine while a measurement runs?
//!
//! On a 2-CPU machine a compiler, a test run or another benchmark started
//! beside a suite takes CPU time from the target and the generator, and the
//! measurement comes out slow for a reason that has nothing to do with the
//! stack. (A virtual machine's own speed changes show no other process and
//! are not caught here.)
//!
//! The check is an independent count: the CPU time the kernel says every
//! process used (`/proc/stat`: user + nice + system, over all CPUs; idle,
//! I/O wait, interrupts and steal left out), minus the CPU time of
//! claimbench itself and of every process descending from it or in a
//! target's process group (`/proc/PID/stat`). What is left was used by
//! other processes. Above [`MAX_OTHER_CPUS`] the measurement is excluded
//! and measured again once the machine is quiet.
//!
//! Reads `/proc` only.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::results::schema::HostLoad;
use crate::target::procfs::{ProcStat, scan_proc};

/// Other processes may use at most this much CPU (in CPUs: 0.1 = a tenth of
/// one CPU, on average over the measured window) before a measurement counts
/// as disturbed. An idle machine here shows 0.00; a package install beside
/// a test run showed 0.16 to 0.84.
pub const MAX_OTHER_CPUS: f64 = 0.10;

/// The hypervisor may take at most this much CPU (steal time, in CPUs on
/// average over the window). This machine showed 0 to 1 tick in 2 s when
/// idle, and 542 s of steal in 15 hours of uptime (1%).
pub const MAX_STEAL_CPUS: f64 = 0.10;

/// How many times a disturbed measurement is measured again.
pub const MAX_REMEASURE: u32 = 2;

/// CPU time (user + nice + system) all CPUs have spent running processes
/// since boot, and the time the hypervisor took from them (steal), clock
/// ticks, from the `cpu` line of `/proc/stat` (guest time is inside user).
/// None when it cannot be read.
pub fn host_ticks() -> Option<StatTicks> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_stat_ticks(&text)
}

/// Busy and steal ticks of all CPUs together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatTicks {
    /// user + nice + system.
    pub busy: u64,
    /// steal (0 on a kernel that does not count it).
    pub steal: u64,
}

/// The busy and steal ticks of `/proc/stat`'s first (all-CPU) line.
pub fn parse_stat_ticks(stat: &str) -> Option<StatTicks> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    (f.len() >= 3).then(|| StatTicks {
        busy: f[..3].iter().sum(),
        steal: f.get(7).copied().unwrap_or(0),
    })
}

/// CPU ticks of the processes that are ours: `root` and every process
/// descending from it (by parent pid), and every process whose process group
/// is in `groups`. Keyed by pid and start time, so a reused pid is another
/// process.
pub fn ours(procs: &[ProcStat], root: i32, groups: &[i32]) -> HashMap<(i32, u64), u64> {
    let parent: HashMap<i32, i32> = procs.iter().map(|p| (p.pid, p.ppid)).collect();
    let mut known: HashMap<i32, bool> = HashMap::new();
    let mut is_ours = |pid: i32| -> bool {
        let mut chain = Vec::new();
        let mut p = pid;
        let answer = loop {
            if p == root {
                break true;
            }
            if let Some(&k) = known.get(&p) {
                break k;
            }
            chain.push(p);
            match parent.get(&p) {
                Some(&pp) if pp > 0 && !chain.contains(&pp) => p = pp,
                _ => break false,
            }
        };
        for c in chain {
            known.insert(c, answer);
        }
        answer
    };
    let groups: HashSet<i32> = groups.iter().copied().collect();
    procs
        .iter()
        .filter(|p| groups.contains(&p.pgrp) || is_ours(p.pid))
        .map(|p| ((p.pid, p.start_ticks), p.cpu_ticks))
        .collect()
}

/// Ticks our processes used between two snapshots: each process's growth
/// (all of it for a process that started in between). A process that ended
/// in between is not counted (its last ticks are then counted as other
/// processes', which errs on the side of calling the machine busy).
pub fn ours_delta(before: &HashMap<(i32, u64), u64>, after: &HashMap<(i32, u64), u64>) -> u64 {
    after
        .iter()
        .map(|(k, &t)| t.saturating_sub(before.get(k).copied().unwrap_or(0)))
        .sum()
}

/// CPUs other processes used on average: (host ticks − ours) / (ticks per
/// second × seconds), never below zero (the two counts are read a few
/// microseconds apart).
pub fn other_cpus(host_ticks: u64, ours_ticks: u64, ticks_per_second: u64, secs: f64) -> f64 {
    if secs <= 0.0 || ticks_per_second == 0 {
        return 0.0;
    }
    host_ticks.saturating_sub(ours_ticks) as f64 / (ticks_per_second as f64 * secs)
}

/// A snapshot at the start of a window.
#[derive(Debug)]
pub struct Probe {
    at: Instant,
    host: StatTicks,
    ours: HashMap<(i32, u64), u64>,
    groups: Vec<i32>,
}

impl Probe {
    /// Takes the snapshot; `groups` are the targets' process groups (None
    /// when `/proc/stat` cannot be read).
    pub fn start(groups: &[i32]) -> Option<Probe> {
        let host = host_ticks()?;
        let ours = ours(&scan_proc(), std::process::id() as i32, groups);
        Some(Probe {
            at: Instant::now(),
            host,
            ours,
            groups: groups.to_vec(),
        })
    }

    /// Other processes' CPU use since [`Probe::start`].
    pub fn finish(self) -> Option<HostLoad> {
        let host = host_ticks()?;
        let now = ours(&scan_proc(), std::process::id() as i32, &self.groups);
        let secs = self.at.elapsed().as_secs_f64();
        let tps = crate::sys::clock_ticks_per_second();
        Some(HostLoad {
            other_cpus: other_cpus(
                host.busy.saturating_sub(self.host.busy),
                ours_delta(&self.ours, &now),
                tps,
                secs,
            ),
            window_s: secs,
            steal_cpus: Some(other_cpus(
                host.steal.saturating_sub(self.host.steal),
                0,
                tps,
                secs,
            )),
            slowdown: None,
        })
    }
}

/// Why a measurement with this host load must not decide a verdict: other
/// processes, the hypervisor (steal) or a slow CPU ([`super::speed`]).
pub fn disturbed(load: &HostLoad) -> Option<String> {
    let mut why = Vec::new();
    if load.other_cpus > MAX_OTHER_CPUS {
        why.push(format!(
            "host busy: processes outside claimbench and the target used {:.2} CPUs during the {:.1} s window (at most {MAX_OTHER_CPUS:.2} allowed)",
            load.other_cpus, load.window_s
        ));
    }
    if let Some(steal) = load.steal_cpus.filter(|s| *s > MAX_STEAL_CPUS) {
        why.push(format!(
            "host stolen: the hypervisor took {steal:.2} CPUs from this machine during the {:.1} s window (at most {MAX_STEAL_CPUS:.2} allowed)",
            load.window_s
        ));
    }
    if let Some(slow) = load.slowdown.and_then(super::speed::slow) {
        why.push(slow);
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Waits until other processes use at most [`MAX_OTHER_CPUS`] over a
/// one-second window, or `max` has passed. Returns the last window's load.
pub fn wait_quiet(groups: &[i32], max: Duration) -> Option<HostLoad> {
    let deadline = Instant::now() + max;
    loop {
        let probe = Probe::start(groups)?;
        std::thread::sleep(Duration::from_secs(1));
        let load = probe.finish()?;
        if load.other_cpus <= MAX_OTHER_CPUS || Instant::now() >= deadline {
            return Some(load);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: i32, ppid: i32, pgrp: i32, ticks: u64) -> ProcStat {
        ProcStat {
            pid,
            state: 'S',
            ppid,
            pgrp,
            cpu_ticks: ticks,
            num_threads: 1,
            start_ticks: pid as u64,
            rss_pages: 1,
        }
    }

    #[test]
    fn busy_ticks_are_user_nice_and_system_and_steal_is_the_eighth() {
        let stat = "cpu  100 5 20 9000 7 3 4 2 0 0\ncpu0 50 2 10 4500 3 1 2 1 0 0\n";
        assert_eq!(
            parse_stat_ticks(stat),
            Some(StatTicks {
                busy: 125,
                steal: 2
            })
        );
        // An old kernel without the steal column.
        assert_eq!(
            parse_stat_ticks("cpu  1 2 3 4\n"),
            Some(StatTicks { busy: 6, steal: 0 })
        );
        assert_eq!(parse_stat_ticks("intr 1 2 3\n"), None);
    }

    #[test]
    fn ours_are_descendants_and_target_groups() {
        let procs = [
            proc(1, 0, 1, 1000),  // init: not ours
            proc(10, 1, 10, 50),  // claimbench
            proc(11, 10, 11, 30), // the downstream child
            proc(12, 10, 12, 70), // a target (own group)
            proc(13, 12, 12, 20), // its worker
            proc(14, 13, 14, 5),  // the worker's child
            proc(20, 1, 20, 900), // a compiler: not ours
            proc(30, 1, 12, 40),  // re-parented to init, still in the target's group
        ];
        let o = ours(&procs, 10, &[12]);
        let mut pids: Vec<i32> = o.keys().map(|k| k.0).collect();
        pids.sort_unstable();
        assert_eq!(pids, vec![10, 11, 12, 13, 14, 30]);
    }

    #[test]
    fn the_delta_counts_growth_and_new_processes() {
        let before = HashMap::from([((10, 1), 100), ((11, 1), 50), ((12, 5), 7)]);
        // 12 ended; 13 is new; 11 is a reused pid (another start time).
        let after = HashMap::from([((10, 1), 130), ((11, 9), 4), ((13, 2), 6)]);
        assert_eq!(ours_delta(&before, &after), 30 + 4 + 6);
    }

    #[test]
    fn other_cpus_is_what_is_left_per_second() {
        // 3 s at 100 ticks/s: 450 busy ticks, 300 of them ours: half a CPU.
        assert!((other_cpus(450, 300, 100, 3.0) - 0.5).abs() < 1e-12);
        assert_eq!(other_cpus(100, 120, 100, 1.0), 0.0);
        assert_eq!(other_cpus(100, 0, 100, 0.0), 0.0);
        let quiet = HostLoad {
            other_cpus: 0.02,
            window_s: 3.0,
            steal_cpus: Some(0.01),
            slowdown: Some(1.05),
        };
        assert!(disturbed(&quiet).is_none());
        let busy = HostLoad {
            other_cpus: 0.42,
            ..quiet.clone()
        };
        assert!(disturbed(&busy).unwrap().contains("0.42 CPUs"));
        let stolen = HostLoad {
            steal_cpus: Some(0.3),
            ..quiet.clone()
        };
        assert!(disturbed(&stolen).unwrap().contains("hypervisor took 0.30"));
        let slow = HostLoad {
            slowdown: Some(1.4),
            ..quiet.clone()
        };
        assert!(disturbed(&slow).unwrap().contains("1.40x"));
    }

    /// Against an independent truth: a process that is not ours and spins
    /// for the whole window shows as about one CPU; our own spinning thread
    /// does not count.
    #[test]
    fn a_spinning_stranger_is_seen_and_our_own_work_is_not() {
        // The spinner is our child: seen from a root that matches no process
        // (-1) it is a stranger, seen from our own pid it is ours.
        let mut spinner = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("sh");
        let host0 = host_ticks().unwrap().busy;
        let ours0 = ours(&scan_proc(), -1, &[]);
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        let host1 = host_ticks().unwrap().busy;
        let ours1 = ours(&scan_proc(), -1, &[]);
        let secs = t0.elapsed().as_secs_f64();
        let as_stranger = other_cpus(
            host1 - host0,
            ours_delta(&ours0, &ours1),
            crate::sys::clock_ticks_per_second(),
            secs,
        );
        // Seen from our own pid the spinner is ours and leaves (almost) nothing.
        let me = std::process::id() as i32;
        let mine0 = ours(&scan_proc(), me, &[]);
        let h0 = host_ticks().unwrap().busy;
        let t1 = Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        let h1 = host_ticks().unwrap().busy;
        let mine1 = ours(&scan_proc(), me, &[]);
        let as_ours = other_cpus(
            h1 - h0,
            ours_delta(&mine0, &mine1),
            crate::sys::clock_ticks_per_second(),
            t1.elapsed().as_secs_f64(),
        );
        let _ = spinner.kill();
        let _ = spinner.wait();
        assert!(
            as_stranger > 0.5,
            "a spinning process seen as a stranger used {as_stranger:.2} CPUs"
        );
        assert!(
            as_ours < as_stranger - 0.4,
            "the same spinner as our child still left {as_ours:.2} CPUs to others"
        );
    }
}
