//! The open-loop schedule: when each request *should* start.
//!
//! Requests are due at fixed times (constant rate) or at the arrival times
//! of a Poisson process, computed from the start time alone, so a slow
//! server or a slow generator can never shift the schedule (the cause of
//! coordinated omission). [`dispatch`] walks the schedule on a tokio timer
//! and hands every due request on, late ones included, with the time it was
//! handed on so lateness is measured, not hidden.
//!
//! tokio's timer has millisecond resolution: at rates above 1000/s several
//! requests become due per tick and are handed on together, each still
//! carrying its exact intended time.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::results::schema::Arrival;

/// An infinite sequence of intended start times: the arrivals of one
/// global schedule (rate `R`: constant, the k-th due at `k / R`, or a
/// Poisson process from one seed) that fall to one stripe, the k-th going
/// to stripe `k mod stride`. Threads of one generator, and shards of a
/// load spread over machines (stripe = shard + shards × thread), each take
/// one stripe, so together they send exactly the single schedule: no two
/// send together and none bunch (k6 learnt this the hard way, k6 #1007).
#[derive(Clone, Debug)]
pub struct Schedule {
    start: Instant,
    /// Mean gap of the global schedule, ns.
    interval_ns: f64,
    stride: u64,
    poisson: Option<SmallRng>,
    /// Global index of the next arrival of this stripe (constant: its
    /// offset is exactly `k × interval`, never an accumulated sum).
    k: u64,
    /// Poisson: offset of the next arrival of this stripe, ns.
    next_offset_ns: f64,
}

impl Schedule {
    /// The whole schedule of `rate` requests per second from `start`.
    pub fn new(start: Instant, rate: f64, arrival: Arrival, seed: u64) -> Self {
        Self::striped(start, rate, arrival, 1, 0, seed)
    }

    /// Stripe `offset` of `stride` of the schedule of `rate` (the global
    /// rate) requests per second from `start`.
    pub fn striped(
        start: Instant,
        rate: f64,
        arrival: Arrival,
        stride: u64,
        offset: u64,
        seed: u64,
    ) -> Self {
        assert!(
            rate > 0.0 && rate.is_finite() && stride > 0 && offset < stride,
            "rate and stripes are validated by the plan"
        );
        let mut s = Self {
            start,
            interval_ns: 1e9 / rate,
            stride,
            poisson: match arrival {
                Arrival::Constant => None,
                Arrival::Poisson => Some(SmallRng::seed_from_u64(seed)),
            },
            k: offset,
            next_offset_ns: 0.0,
        };
        if s.poisson.is_some() {
            // The global process's arrival `offset` (0-based) is the sum
            // of the first `offset + 1` gaps, added in order.
            for _ in 0..=offset {
                s.next_offset_ns += s.exp_gap();
            }
        }
        s
    }

    fn exp_gap(&mut self) -> f64 {
        let rng = self.poisson.as_mut().expect("poisson schedule");
        // Inverse transform: -ln(U) * mean, U in (0, 1].
        let u: f64 = 1.0 - rng.r#gen::<f64>();
        -u.ln() * self.interval_ns
    }

    /// The next intended start time, without consuming it.
    pub fn peek(&self) -> Instant {
        let ns = match self.poisson {
            None => self.k as f64 * self.interval_ns,
            Some(_) => self.next_offset_ns,
        };
        self.start + Duration::from_nanos(ns as u64)
    }

    /// Consumes and returns the next intended start time.
    pub fn next_due(&mut self) -> Instant {
        let due = self.peek();
        self.k += self.stride;
        match self.poisson {
            None => {}
            Some(_) => {
                // The gaps of the other stripes' arrivals, then ours.
                for _ in 0..self.stride {
                    self.next_offset_ns += self.exp_gap();
                }
            }
        }
        due
    }
}

/// Why [`dispatch`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DispatchEnd {
    /// The schedule reached `end`.
    Deadline,
    /// `keep_going` returned false.
    Stopped,
}

/// Walks `schedule` until `end`, calling `on_due(intended, now)` for every
/// slot once its time has come. If the caller (or the machine) falls behind,
/// every missed slot is still handed on as soon as possible, with its
/// original intended time. `keep_going(intended)` is asked before each slot;
/// it can end the run early (a request budget or a stop flag).
pub async fn dispatch(
    schedule: &mut Schedule,
    end: Instant,
    mut keep_going: impl FnMut(Instant) -> bool,
    mut on_due: impl AsyncFnMut(Instant, Instant),
) -> DispatchEnd {
    loop {
        let due = schedule.peek();
        if due >= end {
            return DispatchEnd::Deadline;
        }
        if Instant::now() < due {
            tokio::time::sleep_until(due).await;
        }
        let now = Instant::now();
        while schedule.peek() <= now && schedule.peek() < end {
            if !keep_going(schedule.peek()) {
                return DispatchEnd::Stopped;
            }
            let intended = schedule.next_due();
            on_due(intended, now).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn constant_schedule_is_exact() {
        let start = Instant::now();
        let mut s = Schedule::new(start, 1000.0, Arrival::Constant, 1);
        let mut got = Vec::new();
        let end = start + Duration::from_secs(1);
        let r = dispatch(
            &mut s,
            end,
            |_| true,
            async |intended, now| got.push((intended, now)),
        )
        .await;
        assert_eq!(r, DispatchEnd::Deadline);
        assert_eq!(got.len(), 1000);
        for (i, (intended, now)) in got.iter().enumerate() {
            assert_eq!(*intended - start, Duration::from_millis(i as u64));
            // Paused time: the timer fires exactly on time.
            assert_eq!(now, intended);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn phase_interleaves_threads() {
        let start = Instant::now();
        let mut a = Schedule::striped(start, 1000.0, Arrival::Constant, 2, 0, 1);
        let mut b = Schedule::striped(start, 1000.0, Arrival::Constant, 2, 1, 1);
        assert_eq!(a.next_due() - start, Duration::ZERO);
        assert_eq!(b.next_due() - start, Duration::from_millis(1));
        assert_eq!(a.next_due() - start, Duration::from_millis(2));
        assert_eq!(b.next_due() - start, Duration::from_millis(3));
    }

    proptest::proptest! {
        /// The stripes of N shards, each with its own number of threads,
        /// are together exactly the single schedule: every arrival once,
        /// at the same instant.
        #[test]
        fn stripes_together_are_the_single_schedule(
            rate in 1.0f64..200_000.0,
            shards in 1u64..6,
            threads in 1u64..4,
            poisson in proptest::bool::ANY,
            seed in 0u64..1_000,
        ) {
            let start = Instant::now();
            let arrival = if poisson { Arrival::Poisson } else { Arrival::Constant };
            let n = 300;
            let mut single = Schedule::new(start, rate, arrival, seed);
            let want: Vec<Instant> = (0..n).map(|_| single.next_due()).collect();
            let mut got = Vec::new();
            for shard in 0..shards {
                // Hosts may differ in cores: shard i runs 1 + (i + threads) mod 3.
                let threads = 1 + (shard + threads) % 3;
                let stride = shards * threads;
                for thread in 0..threads {
                    let mut s = Schedule::striped(
                        start, rate, arrival, stride, shard + shards * thread, seed,
                    );
                    while s.peek() <= want[n - 1] {
                        got.push(s.next_due());
                    }
                }
            }
            got.sort();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn late_sends_are_measured_and_caught_up() {
        let start = Instant::now();
        let mut s = Schedule::new(start, 1000.0, Arrival::Constant, 1);
        let end = start + Duration::from_millis(200);
        let mut got: Vec<(Instant, Instant)> = Vec::new();
        dispatch(
            &mut s,
            end,
            |_| true,
            async |intended, now| {
                got.push((intended, now));
                // The dispatcher stalls for 50 ms on slot 100.
                if got.len() == 101 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        )
        .await;
        assert_eq!(got.len(), 200, "no slot is lost");
        for (i, (intended, now)) in got.iter().enumerate() {
            assert_eq!(*intended - start, Duration::from_millis(i as u64));
            let lag = *now - *intended;
            let expected = if (101..150).contains(&i) {
                // Slots 101..149 fell due during the stall and are handed on
                // together at t = 150 ms.
                Duration::from_millis(150 - i as u64)
            } else {
                Duration::ZERO
            };
            assert_eq!(lag, expected, "slot {i}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn poisson_has_the_right_mean_and_is_reproducible() {
        let start = Instant::now();
        let mut s = Schedule::new(start, 1000.0, Arrival::Poisson, 42);
        let mut s2 = Schedule::new(start, 1000.0, Arrival::Poisson, 42);
        let n = 100_000;
        let mut last = start;
        let mut gaps = Vec::with_capacity(n);
        for _ in 0..n {
            let t = s.next_due();
            assert_eq!(t, s2.next_due());
            gaps.push((t - last).as_secs_f64());
            last = t;
        }
        let mean = gaps.iter().sum::<f64>() / n as f64;
        // Mean gap 1 ms; standard error 1 ms / sqrt(1e5) ≈ 3.2 µs, so ±1.5% is ~5 sigma.
        assert!((mean - 0.001).abs() < 0.000015, "mean gap {mean}");
        // Exponential: the fraction of gaps above the mean is e^-1 ≈ 0.368.
        let above = gaps.iter().filter(|g| **g > 0.001).count() as f64 / n as f64;
        assert!(
            (above - (-1.0f64).exp()).abs() < 0.01,
            "fraction above mean {above}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn keep_going_stops_early() {
        let start = Instant::now();
        let mut s = Schedule::new(start, 1000.0, Arrival::Constant, 1);
        let mut n = 0;
        let mut budget = 10;
        let r = dispatch(
            &mut s,
            start + Duration::from_secs(10),
            |_| {
                budget -= 1;
                budget >= 0
            },
            async |_, _| n += 1,
        )
        .await;
        assert_eq!(r, DispatchEnd::Stopped);
        assert_eq!(n, 10);
    }
}
