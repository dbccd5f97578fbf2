//! Is the machine itself running at its usual speed?
//!
//! This virtual machine's CPUs change speed for seconds to minutes at a time
//! with no other process to show for it: the same `hashlib` SHA-256 of 1 MiB
//! took 0.83 ms and, seventeen minutes later, 1.06 ms; every CPU-bound
//! figure of a suite moved 26–47% for seven minutes. [`super::host_load`]
//! cannot see that, and neither can the hypervisor's steal time.
//!
//! Most of it is another tenant on the same physical core (the host's SMT
//! sibling of our virtual CPU): it takes execution ports, not time. A chain
//! of *dependent* multiply-adds waits on its own latency and leaves the
//! ports idle, so it does not notice; eight *independent* chains keep the
//! ports busy, as an interpreter or a JIT does, and slow down with the
//! workload. Measured side by side for six minutes on the target CPU while
//! Node.js served fib(27) there (BENCHMARKS.md, "The speed probe"): the
//! server's per-second throughput fell to 0.59–0.66 of its median in
//! episodes of 5–30 s; the eight-chain probe read 1.6–1.7× its median in
//! them (correlation with the throughput 0.86) and the single chain 1.00
//! (0.43).
//!
//! The check is that fixed piece of work timed on each CPU the measurement
//! uses, before the target starts and after it stops (so it competes with
//! nothing of ours): the median of [`PROBE_REPEATS`] tries of about 3 ms,
//! taken again a second later if it comes out slow (a passing disturbance
//! is gone by then). An episode can also begin and end inside the
//! measured window, so a [`Sampler`] takes a short try (about 0.2 ms) on
//! each of those CPUs every [`SAMPLE_EVERY`] while the window runs, timed
//! in the thread's own CPU time (the CPU is shared with the generator or
//! the target then, and waiting for them must not count): about 0.15% of
//! each CPU, and a request that arrives during a try waits up to 0.2 ms
//! for that CPU. Each kind is compared with its own median of the last
//! [`LOOK_BACK`] on the same CPU. A measurement whose probe before, after
//! or during it is more than [`MAX_SLOWDOWN`] times that is excluded and
//! measured again. The look-back is a window, not the whole run: a machine that stays slow
//! becomes the new normal within it, so the rounds that follow are all
//! measured at one speed and compare fairly, instead of every later
//! measurement being excluded.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A probe slower than this many times the recent median means the machine
/// was slow. Over six minutes (1,686 tries) three quarters of the
/// eight-chain probe's tries were within 0.97–1.06 of its median; the
/// contended episodes, most of the rest, read 1.4–1.8.
pub const MAX_SLOWDOWN: f64 = 1.20;

/// How far back the reference (the median probe) is taken from.
pub const LOOK_BACK: Duration = Duration::from_secs(120);

/// How long a slow probe waits to be taken again ([`SpeedCheck::probe_settled`]).
pub const SETTLE: Duration = Duration::from_secs(1);

/// Tries per probe; the median counts.
pub const PROBE_REPEATS: usize = 10;

/// Independent chains of multiply-adds, interleaved.
const CHAINS: usize = 8;

/// Steps of every chain per try (about 3 ms here).
const STEPS: u64 = 1_200_000;

/// Steps of a try taken during a measurement ([`Sampler`]): a sixteenth of
/// a full one (about 0.2 ms), so a request that waits behind it waits
/// little.
const SAMPLE_STEPS: u64 = STEPS / 16;

/// How often a [`Sampler`] takes a try (24 tries in a 3 s window).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(125);

/// Time of one try: [`CHAINS`] independent chains of 64-bit multiply-adds
/// (LCGs), stepped together, so the CPU runs them in parallel on every
/// execution port it has; `black_box` keeps the compiler from shortening
/// or vectorising them.
fn one_try() -> Duration {
    let start = Instant::now();
    chains(STEPS);
    start.elapsed()
}

/// The CPU time the calling thread has used, from the kernel's scheduler
/// accounting (time on a CPU, not time waiting for one).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // the kernel always knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// [`chains`] of [`SAMPLE_STEPS`] timed in the thread's CPU time, in
/// milliseconds.
fn sample_try_ms() -> f64 {
    let start = thread_cpu_time();
    chains(SAMPLE_STEPS);
    thread_cpu_time().saturating_sub(start).as_secs_f64() * 1e3
}

/// The probe's work: `steps` steps of [`CHAINS`] independent LCGs.
fn chains(steps: u64) {
    let mut x: [u64; CHAINS] = std::hint::black_box(std::array::from_fn(|i| i as u64 + 1));
    for _ in 0..steps {
        for v in &mut x {
            *v = v
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
        }
        std::hint::black_box(&x);
    }
}

/// The median of [`PROBE_REPEATS`] tries on the calling thread, in
/// milliseconds: one interrupt does not move it, a CPU that is slower or
/// shared for the whole probe does.
fn median_try_ms() -> f64 {
    let mut t: Vec<f64> = (0..PROBE_REPEATS)
        .map(|_| one_try().as_secs_f64() * 1e3)
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The median of [`PROBE_REPEATS`] tries on `cpu`, in milliseconds (on a
/// thread of its own pinned there). None when the thread cannot be pinned.
pub fn probe_cpu(cpu: usize) -> Option<f64> {
    std::thread::spawn(move || {
        crate::sys::pin_current_thread(&[cpu]).ok()?;
        Some(median_try_ms())
    })
    .join()
    .ok()
    .flatten()
}

/// The probes of a run, per CPU, with when they were taken.
#[derive(Debug, Default)]
pub struct SpeedCheck {
    history: BTreeMap<usize, VecDeque<(Instant, f64)>>,
    /// The [`Sampler`]s' medians, apart: a try on a busy CPU timed in CPU
    /// time is not the same number as one on an idle CPU timed by the clock.
    during: BTreeMap<usize, VecDeque<(Instant, f64)>>,
}

/// One probe of every CPU a measurement uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Probe {
    /// Milliseconds per CPU.
    pub ms: BTreeMap<usize, f64>,
}

impl SpeedCheck {
    /// Probes `cpus` now and remembers the result.
    pub fn probe(&mut self, cpus: &[usize]) -> Probe {
        let now = Instant::now();
        let mut probe = Probe::default();
        for &cpu in cpus {
            if let Some(ms) = probe_cpu(cpu) {
                self.record(cpu, now, ms);
                probe.ms.insert(cpu, ms);
            }
        }
        probe
    }

    /// Adds one probe of `cpu` taken `at`.
    pub fn record(&mut self, cpu: usize, at: Instant, ms: f64) {
        push_recent(self.history.entry(cpu).or_default(), at, ms);
    }

    /// The median probe of `cpu` within [`LOOK_BACK`] of its newest (the
    /// lower middle one of an even count).
    pub fn reference(&self, cpu: usize) -> Option<f64> {
        median(self.history.get(&cpu)?)
    }

    /// Records what a [`Sampler`] saw during a measurement (taken `at`) and
    /// returns how many times slower than the recent samples' median its
    /// slowest CPU was. None without samples.
    pub fn record_during(&mut self, at: Instant, probe: &Probe) -> Option<f64> {
        for (&cpu, &ms) in &probe.ms {
            push_recent(self.during.entry(cpu).or_default(), at, ms);
        }
        probe
            .ms
            .iter()
            .filter_map(|(cpu, ms)| Some(ms / median(self.during.get(cpu)?)?))
            .max_by(f64::total_cmp)
    }

    /// How many times slower than the reference the slowest CPU of these
    /// probes was (1.0 = as fast as the recent median). None without any
    /// probe.
    pub fn slowdown(&self, probes: &[&Probe]) -> Option<f64> {
        probes
            .iter()
            .flat_map(|p| p.ms.iter())
            .filter_map(|(cpu, ms)| Some(ms / self.reference(*cpu)?))
            .max_by(f64::total_cmp)
    }

    /// Probes `cpus`; a probe that comes out slow is taken again after
    /// [`SETTLE`] and the second one counts: a passing disturbance is gone
    /// by then, a slow machine is not. (In two default runs, the only
    /// measurements flagged without this were next to a sweep over 1,000
    /// connections, at 1.25x and 1.41x.)
    pub fn probe_settled(&mut self, cpus: &[usize]) -> Probe {
        let first = self.probe(cpus);
        self.settled(first, |s| {
            std::thread::sleep(SETTLE);
            s.probe(cpus)
        })
    }

    /// `first`, or when it is slow, what `again` probes.
    fn settled(&mut self, first: Probe, again: impl FnOnce(&mut Self) -> Probe) -> Probe {
        if self.slowdown(&[&first]).is_some_and(|s| s > MAX_SLOWDOWN) {
            again(self)
        } else {
            first
        }
    }

    /// Probes `cpus` every `every` until none is slow, or `max` has passed.
    /// Returns the last slowdown.
    pub fn wait_fast(&mut self, cpus: &[usize], every: Duration, max: Duration) -> Option<f64> {
        let deadline = Instant::now() + max;
        loop {
            let p = self.probe(cpus);
            let s = self.slowdown(&[&p]);
            if s.is_none_or(|s| s <= MAX_SLOWDOWN) || Instant::now() >= deadline {
                return s;
            }
            std::thread::sleep(every);
        }
    }
}

/// Appends `(at, ms)` and forgets what is older than [`LOOK_BACK`] before it.
fn push_recent(h: &mut VecDeque<(Instant, f64)>, at: Instant, ms: f64) {
    h.push_back((at, ms));
    while h
        .front()
        .is_some_and(|(t, _)| at.saturating_duration_since(*t) > LOOK_BACK)
    {
        h.pop_front();
    }
}

/// The lower median of the values of `h`.
fn median(h: &VecDeque<(Instant, f64)>) -> Option<f64> {
    lower_median(h.iter().map(|(_, ms)| *ms).collect())
}

/// The lower middle value of `ms` (the middle one of an odd count).
fn lower_median(mut ms: Vec<f64>) -> Option<f64> {
    ms.sort_by(f64::total_cmp);
    ms.get(ms.len().saturating_sub(1) / 2).copied()
}

/// Short tries on given CPUs while a measurement runs, one thread pinned to
/// each, every [`SAMPLE_EVERY`] (the first one at once).
pub struct Sampler {
    stop: Arc<AtomicBool>,
    threads: Vec<(usize, JoinHandle<Vec<f64>>)>,
}

impl Sampler {
    /// Starts sampling `cpus`; a CPU the thread cannot be pinned to is left
    /// out.
    pub fn start(cpus: &[usize]) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = cpus
            .iter()
            .map(|&cpu| {
                let stop = stop.clone();
                let handle = std::thread::spawn(move || {
                    let mut tries = Vec::new();
                    if crate::sys::pin_current_thread(&[cpu]).is_err() {
                        return tries;
                    }
                    while !stop.load(Ordering::Relaxed) {
                        tries.push(sample_try_ms());
                        std::thread::park_timeout(SAMPLE_EVERY);
                    }
                    tries
                });
                (cpu, handle)
            })
            .collect();
        Sampler { stop, threads }
    }

    /// Stops the threads and returns each CPU's median try, in
    /// milliseconds of its CPU time.
    pub fn finish(mut self) -> Probe {
        self.stop.store(true, Ordering::Relaxed);
        let mut probe = Probe::default();
        for (cpu, handle) in std::mem::take(&mut self.threads) {
            handle.thread().unpark();
            if let Some(ms) = handle.join().ok().and_then(lower_median) {
                probe.ms.insert(cpu, ms);
            }
        }
        probe
    }
}

impl Drop for Sampler {
    /// A sampler dropped without [`Sampler::finish`] (an error or a panic
    /// on the way) still stops its threads.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for (_, handle) in &self.threads {
            handle.thread().unpark();
        }
    }
}

/// Why a measurement whose probes were this slow must not decide a verdict.
pub fn slow(slowdown: f64) -> Option<String> {
    (slowdown > MAX_SLOWDOWN).then(|| {
        format!(
            "host slow: a fixed CPU loop took {slowdown:.2}x its median time of the last {} s around or during this measurement (at most {MAX_SLOWDOWN:.2}x allowed)",
            LOOK_BACK.as_secs()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(cpu: usize, ms: f64) -> Probe {
        Probe {
            ms: BTreeMap::from([(cpu, ms)]),
        }
    }

    #[test]
    fn slowdown_is_against_the_recent_median_of_the_same_cpu() {
        let t0 = Instant::now();
        let mut s = SpeedCheck::default();
        s.record(0, t0, 3.0);
        s.record(1, t0, 2.0);
        s.record(0, t0 + Duration::from_secs(10), 3.9);
        // CPU 0 at 3.9 against its own 3.0, not CPU 1's 2.0.
        let p = probe(0, 3.9);
        assert!((s.slowdown(&[&p]).unwrap() - 1.3).abs() < 1e-12);
        assert!(slow(1.3).unwrap().contains("1.30x"));
        assert!(slow(1.1).is_none());
        // The slowest of the probes counts.
        let fast = probe(1, 2.0);
        assert!((s.slowdown(&[&fast, &p]).unwrap() - 1.3).abs() < 1e-12);
        assert_eq!(s.slowdown(&[&Probe::default()]), None);
    }

    #[test]
    fn a_slow_probe_is_taken_again_and_the_second_counts() {
        let t0 = Instant::now();
        let mut s = SpeedCheck::default();
        for i in 0..4 {
            s.record(0, t0 + Duration::from_secs(i), 3.0);
        }
        // Fast: kept, no second probe.
        let kept = s.settled(probe(0, 3.1), |_| panic!("probed again"));
        assert_eq!(kept, probe(0, 3.1));
        // Slow, then fast a second later: the second counts.
        let mut again = 0;
        let settled = s.settled(probe(0, 4.2), |_| {
            again += 1;
            probe(0, 3.05)
        });
        assert_eq!((again, &settled), (1, &probe(0, 3.05)));
        assert!(s.slowdown(&[&settled]).unwrap() <= MAX_SLOWDOWN);
    }

    #[test]
    fn a_machine_that_stays_slow_becomes_the_new_normal_after_the_look_back() {
        let t0 = Instant::now();
        let mut s = SpeedCheck::default();
        s.record(0, t0, 3.0);
        let slow_probe = probe(0, 4.0);
        s.record(0, t0 + Duration::from_secs(60), 4.0);
        assert!(s.slowdown(&[&slow_probe]).unwrap() > MAX_SLOWDOWN);
        // 121 s after the fast probe it has left the window.
        s.record(0, t0 + LOOK_BACK + Duration::from_secs(1), 4.1);
        assert_eq!(s.reference(0), Some(4.0));
        assert!(s.slowdown(&[&slow_probe]).unwrap() <= MAX_SLOWDOWN);
    }

    #[test]
    fn a_sampler_is_compared_with_its_own_recent_median() {
        let t0 = Instant::now();
        let mut s = SpeedCheck::default();
        // An idle probe of 3 ms says nothing about samples of 0.8 ms.
        s.record(1, t0, 3.0);
        assert_eq!(s.record_during(t0, &probe(1, 0.8)), Some(1.0));
        assert_eq!(s.record_during(t0, &probe(1, 0.8)), Some(1.0));
        let slow = s
            .record_during(t0 + Duration::from_secs(5), &probe(1, 1.3))
            .unwrap();
        assert!((slow - 1.625).abs() < 1e-12, "{slow}");
        assert!(super::slow(slow).is_some());
        assert_eq!(s.reference(1), Some(3.0));
        assert_eq!(s.record_during(t0, &Probe::default()), None);
    }

    #[test]
    fn a_dropped_sampler_stops_its_threads() {
        let cpu = *crate::sys::online_cpus().last().expect("a CPU");
        let sampler = Sampler::start(&[cpu]);
        let stop = sampler.stop.clone();
        drop(sampler);
        // Each thread holds a clone of the flag until it returns.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&stop) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(Arc::strong_count(&stop), 1, "a sampler thread still runs");
    }

    /// Against an independent truth: a thread spinning on the same CPU
    /// takes half of its time but does not make the CPU any slower, so the
    /// sampler's tries (timed in the thread's CPU time) must not come out
    /// slow. Quiet and busy phases alternate every half second, so a change
    /// of the machine's own speed falls on both.
    #[test]
    fn a_cpu_shared_with_a_busy_thread_is_not_slow_to_the_sampler() {
        let cpu = *crate::sys::online_cpus().last().expect("a CPU");
        let phase = SAMPLE_EVERY * 4;
        let (mut quiet, mut busy) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            let sampler = Sampler::start(&[cpu]);
            std::thread::sleep(phase);
            let Some(&ms) = sampler.finish().ms.get(&cpu) else {
                eprintln!("skipped: cannot pin a thread to CPU {cpu}");
                return;
            };
            quiet.push(ms);
            let spin = Arc::new(AtomicBool::new(true));
            let spinner = {
                let spin = spin.clone();
                std::thread::spawn(move || {
                    let _ = crate::sys::pin_current_thread(&[cpu]);
                    while spin.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            };
            let sampler = Sampler::start(&[cpu]);
            std::thread::sleep(phase);
            let probe = sampler.finish();
            spin.store(false, Ordering::Relaxed);
            spinner.join().expect("spinner");
            busy.push(probe.ms[&cpu]);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (q, b) = (median(&mut quiet), median(&mut busy));
        assert!(
            b / q < MAX_SLOWDOWN,
            "a shared CPU read {:.2}x ({b:.3} ms against {q:.3} ms)",
            b / q
        );
    }

    /// Against an independent truth: the kernel's CFS bandwidth control
    /// (cgroup v1 `cpu.cfs_quota_us`) lets a thread run 2 ms in every 4 ms,
    /// a CPU at half speed for any piece of work longer than that, so the
    /// probe takes about twice as long, which the check calls slow. Needs
    /// root and the cgroup v1 CPU controller (this machine has both); says
    /// why it skips elsewhere.
    #[test]
    fn a_cpu_throttled_to_half_speed_is_seen_as_slow() {
        let root = std::path::Path::new("/sys/fs/cgroup/cpu");
        let group = root.join(format!("claimbench-speed-test-{}", std::process::id()));
        if std::fs::create_dir(&group).is_err() {
            eprintln!("skipped: cannot create a cgroup under {}", root.display());
            return;
        }
        let setup = std::fs::write(group.join("cpu.cfs_period_us"), "4000")
            .and_then(|_| std::fs::write(group.join("cpu.cfs_quota_us"), "2000"));
        let cpu = *crate::sys::online_cpus().last().expect("a CPU");
        let mut s = SpeedCheck::default();
        // Full speed: the fastest of three probes (tests running beside
        // this one can only make a probe slower, never faster).
        let mut full = s.probe(&[cpu]);
        for _ in 0..2 {
            let p = s.probe(&[cpu]);
            if p.ms[&cpu] < full.ms[&cpu] {
                full = p;
            }
        }
        let (tasks, back) = (group.join("tasks"), root.join("tasks"));
        let throttled = std::thread::spawn(move || {
            crate::sys::pin_current_thread(&[cpu]).ok()?;
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            std::fs::write(&tasks, tid.to_string()).ok()?;
            // Use up the run time the kernel hands out ahead (its
            // bandwidth slice), so every try meets the quota.
            for _ in 0..5 {
                one_try();
            }
            let ms = median_try_ms();
            std::fs::write(&back, tid.to_string()).ok()?;
            Some(ms)
        })
        .join()
        .expect("probe thread");
        let _ = std::fs::remove_dir(&group);
        setup.expect("cgroup quota");
        let throttled = throttled.expect("the thread joined the cgroup");
        s.record(cpu, Instant::now(), throttled);
        let ratio = throttled / full.ms[&cpu];
        assert!(
            ratio > MAX_SLOWDOWN,
            "at half speed the probe took only {ratio:.2}x as long ({throttled:.2} ms against {:.2} ms)",
            full.ms[&cpu]
        );
        let slowed = Probe {
            ms: BTreeMap::from([(cpu, throttled)]),
        };
        assert!(slow(s.slowdown(&[&slowed]).unwrap()).is_some());
        // The same probe at full speed is not slow.
        assert!(s.slowdown(&[&full]).unwrap() <= MAX_SLOWDOWN);
    }
}
