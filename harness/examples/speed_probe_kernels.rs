//! Which CPU loop sees this machine's slow episodes? (BENCHMARKS.md, "The
//! speed probe".) Times seven small kernels in turn on one CPU, every
//! 150 ms, for a given number of seconds, and prints one line per round
//! (seconds since start, then each kernel's median of three tries in ms).
//! Run it on the target CPU while a server there is under load and line its
//! rounds up with the server's per-second throughput.
//!
//! ```sh
//! cargo run --release --example speed_probe_kernels -- CPU SECONDS
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

const MUL: u64 = 6_364_136_223_846_793_005;
const ADD: u64 = 1_442_695_040_888_963_407;

/// One dependent chain: latency-bound (the probe before this change).
fn lcg1(n: u64) -> u64 {
    let mut x: u64 = black_box(1);
    for _ in 0..n {
        x = black_box(x.wrapping_mul(MUL).wrapping_add(ADD));
    }
    x
}

/// Eight independent chains: bound by the execution ports (the probe now).
fn lcg8(n: u64) -> u64 {
    let mut x = [1u64, 2, 3, 4, 5, 6, 7, 8];
    for _ in 0..n {
        for v in x.iter_mut() {
            *v = v.wrapping_mul(MUL).wrapping_add(ADD);
        }
        black_box(&x);
    }
    x.iter().fold(0, |a, b| a ^ b)
}

/// A random walk over a buffer: memory latency at that size.
fn chase(next: &[u32], steps: usize) -> u32 {
    let mut i = 0u32;
    for _ in 0..steps {
        i = next[i as usize];
    }
    black_box(i)
}

/// One random cycle over `n` slots (Sattolo's shuffle, xorshift).
fn make_cycle(n: usize) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    let mut s: u64 = 88_172_645_463_325_252;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p.swap(i, (s % i as u64) as usize);
    }
    let mut next = vec![0u32; n];
    for k in 0..n {
        next[p[k] as usize] = p[(k + 1) % n];
    }
    next
}

/// Calls and returns.
fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(black_box(n - 1)) + fib(n - 2)
    }
}

/// Unpredictable branches.
fn branchy(n: u64) -> u64 {
    let (mut s, mut acc): (u64, u64) = (black_box(12_345), 0);
    for _ in 0..n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if s & 1 == 0 {
            acc = acc.wrapping_add(s)
        } else {
            acc ^= s >> 3
        }
        if s & 2 == 0 {
            acc = acc.rotate_left(3)
        }
    }
    black_box(acc)
}

/// The median of three timed runs of `f`, in ms.
fn time(mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..3)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[1]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: speed_probe_kernels CPU SECONDS";
    let (Some(cpu), Some(secs)) = (
        args.next().and_then(|a| a.parse::<usize>().ok()),
        args.next().and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    if let Err(e) = claimbench::sys::pin_current_thread(&[cpu]) {
        eprintln!("error: cannot pin to CPU {cpu}: {e}");
        std::process::exit(2);
    }
    let big = make_cycle(4 << 20); // 16 MiB of u32
    let mid = make_cycle(512 << 10); // 2 MiB
    let small = make_cycle(32 << 10); // 128 KiB
    let start = Instant::now();
    println!("t lcg1 lcg8 chase16M chase2M chase128K fib25 branchy");
    while start.elapsed() < Duration::from_secs(secs) {
        let row = [
            time(|| {
                lcg1(600_000);
            }),
            time(|| {
                lcg8(100_000);
            }),
            time(|| {
                chase(&big, 20_000);
            }),
            time(|| {
                chase(&mid, 60_000);
            }),
            time(|| {
                chase(&small, 300_000);
            }),
            time(|| {
                black_box(fib(25));
            }),
            time(|| {
                branchy(300_000);
            }),
        ];
        let cols: Vec<String> = row.iter().map(|ms| format!("{ms:.3}")).collect();
        println!("{:.2} {}", start.elapsed().as_secs_f64(), cols.join(" "));
        std::thread::sleep(Duration::from_millis(150));
    }
}
