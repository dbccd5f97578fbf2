//! Small, pure statistics over repetitions: medians, means and a percentile
//! bootstrap confidence interval for a ratio of medians.
//!
//! This module owns the numbers only. It knows nothing about results files,
//! metrics, claims or thresholds (the callers, `compare` and the claim
//! verdicts, decide what an interval means) and it does no I/O.
//!
//! # Conventions
//!
//! - Inputs are plain `&[f64]` slices, one value per repetition (e.g. the
//!   throughput of each repetition). Order does not matter.
//! - No function panics on any input: undefined results (empty input, NaN,
//!   a zero denominator, an invalid confidence level) are `None`.
//! - The bootstrap is deterministic: the same inputs, confidence, resample
//!   count and seed give the same interval, bit for bit, with this build
//!   (it uses `rand`'s `SmallRng`, whose stream may change with a new `rand`
//!   major version or another pointer width).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The median of `xs`: the middle value, or the mean of the two middle values
/// when `xs.len()` is even.
///
/// Returns `None` when `xs` is empty or holds a NaN. Infinities are ordinary
/// values here. Invariant: `min(xs) <= median <= max(xs)`.
///
/// Cost: one copy of `xs` and an O(n) selection. Never panics.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut buf = xs.to_vec();
    Some(median_in_place(&mut buf))
}

/// The arithmetic mean of `xs`.
///
/// Returns `None` when `xs` is empty or holds a NaN. May be infinite when the
/// input holds infinities or the sum overflows. Cost: O(n). Never panics.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The relative change from `baseline` to `current`: `current / baseline - 1`
/// (e.g. `-0.05` for a 5% drop).
///
/// Returns `None` when `baseline` is zero or either value is not finite.
/// Never panics.
pub fn relative_change(baseline: f64, current: f64) -> Option<f64> {
    if !baseline.is_finite() || !current.is_finite() || baseline == 0.0 {
        return None;
    }
    Some(current / baseline - 1.0)
}

/// A ratio of medians with its bootstrap confidence interval.
///
/// Invariant: `low <= ratio <= high` (see [`bootstrap_ratio_ci`] for why the
/// point estimate is always inside). When [`RatioCi::has_interval`] is false
/// there was too little data for an interval and `low == ratio == high`:
/// callers must check the flag (or use [`RatioCi::interval`]) rather than
/// read a zero-width interval as certainty.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RatioCi {
    /// `median(a) / median(b)`, the point estimate.
    pub ratio: f64,
    /// Lower bound of the interval (equals `ratio` without an interval).
    /// At least 0.
    pub low: f64,
    /// Upper bound of the interval (equals `ratio` without an interval).
    /// May be `+inf` when resampled medians of `b` can be zero.
    pub high: f64,
    /// True when both groups had at least two values and an interval was
    /// computed; false for "no interval" (a group of one value).
    pub has_interval: bool,
    /// The confidence level asked for, e.g. 0.95.
    pub confidence: f64,
    /// Values in `a`.
    pub n_a: usize,
    /// Values in `b`.
    pub n_b: usize,
}

impl RatioCi {
    /// The interval `(low, high)`, or `None` when there was no interval.
    pub fn interval(&self) -> Option<(f64, f64)> {
        self.has_interval.then_some((self.low, self.high))
    }
}

/// The ratio of medians `median(a) / median(b)` and a percentile bootstrap
/// confidence interval for it.
///
/// Each of the `resamples` bootstrap replicates draws `a.len()` values from
/// `a` and, independently, `b.len()` values from `b`, uniformly with
/// replacement, and takes the ratio of the two resample medians. The interval
/// is the `(1 - confidence) / 2` and `(1 + confidence) / 2` percentiles of
/// those replicate ratios (linear interpolation between order statistics).
/// The point estimate is the ratio of the medians of the full groups; when
/// the percentile interval does not contain it (possible with skewed, tiny
/// samples) the interval is widened to contain it, so `low <= ratio <= high`
/// always holds. This only ever makes the interval more conservative.
///
/// Intended for non-negative quantities (rates, latencies), one value per
/// repetition.
///
/// # Small samples
/// With fewer than two values in either group there is no interval: the
/// result has `has_interval == false` and `low == ratio == high` (a sample of
/// one carries no information about its own spread). With 2 to 5 values per
/// group the interval is coarse (resample medians take few distinct values)
/// and tends towards `[min(a)/max(b), max(a)/min(b)]`: honest, and wide.
///
/// # Zeros
/// Values may be zero. If `median(b)` is zero the ratio is undefined and the
/// result is `None`. A replicate whose `b` median is zero has ratio `+inf`
/// (or, if its `a` median is zero too, is undefined and dropped), so `high`
/// may be `+inf`: an unbounded interval, which no threshold can decide on.
/// If every replicate was dropped the interval is `[0, +inf]`.
///
/// # Returns `None` when
/// - `a` or `b` is empty;
/// - any value is NaN, infinite or negative;
/// - `median(b)` is zero;
/// - `confidence` is not strictly between 0 and 1;
/// - `resamples` is zero while both groups have at least two values.
///
/// # Example
/// ```
/// use claimbench::analysis::stats::bootstrap_ratio_ci;
/// // Throughput of three repetitions each: current vs baseline.
/// let current = [820.0, 805.0, 790.0];
/// let baseline = [1000.0, 1010.0, 990.0];
/// let ci = bootstrap_ratio_ci(&current, &baseline, 0.95, 10_000, 1).unwrap();
/// assert!((ci.ratio - 0.805 / 1.0).abs() < 1e-9);
/// let (low, high) = ci.interval().expect("three values per side give an interval");
/// assert!(low <= ci.ratio && ci.ratio <= high && high < 0.95);
/// // One value on a side: no interval.
/// assert_eq!(bootstrap_ratio_ci(&[800.0], &baseline, 0.95, 10_000, 1).unwrap().interval(), None);
/// ```
///
/// # Determinism, panics and cost
/// Deterministic for a given `seed` (see the module docs). Never panics.
/// Cost: O(resamples × (a.len() + b.len())) time and
/// O(resamples + a.len() + b.len()) memory; 10 000 resamples of 10 values
/// each take about a millisecond.
pub fn bootstrap_ratio_ci(
    a: &[f64],
    b: &[f64],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Option<RatioCi> {
    ratio_ci(a, b, confidence, resamples, seed, false)
}

/// [`bootstrap_ratio_ci`] for paired data: `a[i]` and `b[i]` were measured
/// together (the same round of a schedule that measures every target once
/// per round, seconds apart). Each replicate draws round indices with
/// replacement and takes both sides' values of those rounds, so a slow
/// stretch of the machine that hit both sides of a round moves both
/// medians together instead of widening the interval. The point estimate
/// is the same ratio of medians.
///
/// Returns `None` when the two sides differ in length, and otherwise as
/// [`bootstrap_ratio_ci`].
///
/// ```
/// use claimbench::analysis::stats::{bootstrap_paired_ratio_ci, bootstrap_ratio_ci};
/// // The machine ran 30% slower in rounds 4 and 5, for both sides.
/// let a = [1000.0, 1010.0, 990.0, 700.0, 707.0];
/// let b = [500.0, 505.0, 495.0, 350.0, 353.0];
/// let paired = bootstrap_paired_ratio_ci(&a, &b, 0.95, 10_000, 1).unwrap();
/// let apart = bootstrap_ratio_ci(&a, &b, 0.95, 10_000, 1).unwrap();
/// assert!(paired.high - paired.low < (apart.high - apart.low) / 10.0);
/// ```
pub fn bootstrap_paired_ratio_ci(
    a: &[f64],
    b: &[f64],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Option<RatioCi> {
    if a.len() != b.len() {
        return None;
    }
    ratio_ci(a, b, confidence, resamples, seed, true)
}

/// Both sides' values in round order when they hold the same rounds (each
/// round once on each side, at least two), for
/// [`bootstrap_paired_ratio_ci`]: `(round, value)` pairs, e.g. repetition i
/// of two stacks measured in the same round of a schedule, or file i of the
/// two sides of an alternating CI loop. None otherwise (then resample the
/// sides apart).
pub fn in_same_rounds(a: &[(u32, f64)], b: &[(u32, f64)]) -> Option<(Vec<f64>, Vec<f64>)> {
    let sorted = |xs: &[(u32, f64)]| {
        let mut v = xs.to_vec();
        v.sort_by_key(|x| x.0);
        v
    };
    let (a, b) = (sorted(a), sorted(b));
    let rounds = |v: &[(u32, f64)]| v.iter().map(|x| x.0).collect::<Vec<_>>();
    let ra = rounds(&a);
    if ra.len() < 2 || ra != rounds(&b) || ra.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    let values = |v: &[(u32, f64)]| v.iter().map(|x| x.1).collect::<Vec<_>>();
    Some((values(&a), values(&b)))
}

fn ratio_ci(
    a: &[f64],
    b: &[f64],
    confidence: f64,
    resamples: usize,
    seed: u64,
    paired: bool,
) -> Option<RatioCi> {
    let valid = |xs: &[f64]| !xs.is_empty() && xs.iter().all(|x| x.is_finite() && *x >= 0.0);
    let confidence_ok = confidence > 0.0 && confidence < 1.0;
    if !(valid(a) && valid(b) && confidence_ok) {
        return None;
    }
    let med_b = median(b)?;
    if med_b == 0.0 {
        return None;
    }
    let ratio = median(a)? / med_b;
    let mut ci = RatioCi {
        ratio,
        low: ratio,
        high: ratio,
        has_interval: false,
        confidence,
        n_a: a.len(),
        n_b: b.len(),
    };
    if a.len() < 2 || b.len() < 2 {
        return Some(ci);
    }
    if resamples == 0 {
        return None;
    }

    let mut rng = SmallRng::seed_from_u64(seed);
    let mut buf_a = vec![0.0; a.len()];
    let mut buf_b = vec![0.0; b.len()];
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        if paired {
            for (sa, sb) in buf_a.iter_mut().zip(buf_b.iter_mut()) {
                let i = rng.gen_range(0..a.len());
                (*sa, *sb) = (a[i], b[i]);
            }
        } else {
            for slot in buf_a.iter_mut() {
                *slot = a[rng.gen_range(0..a.len())];
            }
            for slot in buf_b.iter_mut() {
                *slot = b[rng.gen_range(0..b.len())];
            }
        }
        let r = median_in_place(&mut buf_a) / median_in_place(&mut buf_b);
        // 0/0 is undefined: drop the replicate. x/0 (x > 0) is +inf: keep it.
        if !r.is_nan() {
            ratios.push(r);
        }
    }
    ci.has_interval = true;
    if ratios.is_empty() {
        ci.low = 0.0;
        ci.high = f64::INFINITY;
        return Some(ci);
    }
    ratios.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    ci.low = percentile_of_sorted(&ratios, tail).min(ratio);
    ci.high = percentile_of_sorted(&ratios, 1.0 - tail).max(ratio);
    Some(ci)
}

/// The median of `xs` and a percentile bootstrap confidence interval for it:
/// `(median, low, high)`, with the same resampling, quantile rule
/// (linear interpolation between order statistics) and determinism as
/// [`bootstrap_ratio_ci`]. With one value the interval is that value. The
/// interval always contains the median.
///
/// Returns `None` when `xs` is empty, holds a NaN or an infinity, or
/// `confidence` is not strictly between 0 and 1. Never panics.
pub fn bootstrap_median_ci(
    xs: &[f64],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64, f64)> {
    if xs.iter().any(|x| !x.is_finite()) || !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let m = median(xs)?;
    if xs.len() < 2 || resamples == 0 {
        return Some((m, m, m));
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut buf = vec![0.0; xs.len()];
    let mut meds = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in buf.iter_mut() {
            *slot = xs[rng.gen_range(0..xs.len())];
        }
        meds.push(median_in_place(&mut buf));
    }
    meds.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some((
        m,
        percentile_of_sorted(&meds, tail).min(m),
        percentile_of_sorted(&meds, 1.0 - tail).max(m),
    ))
}

/// Median of a non-empty slice without NaN, reordering it. O(n).
fn median_in_place(buf: &mut [f64]) -> f64 {
    let n = buf.len();
    let mid = n / 2;
    let (left, upper, _) = buf.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        // The lower middle value is the largest of the left partition.
        let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lower == upper {
            upper
        } else {
            lower / 2.0 + upper / 2.0
        }
    }
}

/// The `p` percentile (0..=1) of a sorted, non-empty slice without NaN, by
/// linear interpolation between the closest order statistics. Handles `+inf`.
fn percentile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let i = h.floor() as usize;
    let frac = h - i as f64;
    let lo = sorted[i];
    if frac == 0.0 || i + 1 >= sorted.len() {
        return lo;
    }
    let hi = sorted[i + 1];
    if lo == hi { lo } else { lo + (hi - lo) * frac }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use proptest::prelude::*;

    const SEED: u64 = 42;

    #[test]
    fn median_known_values() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[3.0, 1.0]), Some(2.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[1.0, f64::NAN]), None);
        assert_eq!(median(&[1.0, f64::INFINITY, 2.0]), Some(2.0));
        // No overflow when averaging two huge middle values.
        assert_eq!(median(&[f64::MAX, f64::MAX]), Some(f64::MAX));
    }

    #[test]
    fn mean_and_relative_change_known_values() {
        assert_eq!(mean(&[]), None);
        assert_relative_eq!(mean(&[1.0, 2.0, 6.0]).unwrap(), 3.0);
        assert_eq!(mean(&[f64::NAN]), None);
        assert_relative_eq!(
            relative_change(100.0, 95.0).unwrap(),
            -0.05,
            epsilon = 1e-12
        );
        assert_relative_eq!(
            relative_change(100.0, 110.0).unwrap(),
            0.10,
            epsilon = 1e-12
        );
        assert_eq!(relative_change(0.0, 1.0), None);
        assert_eq!(relative_change(1.0, f64::NAN), None);
    }

    #[test]
    fn identical_samples_give_ratio_one_with_a_tight_interval() {
        let a = [1000.0, 1010.0, 990.0, 1005.0, 995.0];
        let ci = bootstrap_ratio_ci(&a, &a, 0.95, 10_000, SEED).unwrap();
        assert!(ci.has_interval);
        assert_relative_eq!(ci.ratio, 1.0);
        assert!(ci.low <= 1.0 && ci.high >= 1.0, "{ci:?}");
        assert!(ci.low > 0.97 && ci.high < 1.03, "{ci:?}");
    }

    #[test]
    fn constant_samples_give_a_zero_width_interval() {
        let ci = bootstrap_ratio_ci(&[5.0; 4], &[10.0; 3], 0.95, 1000, SEED).unwrap();
        assert_eq!((ci.ratio, ci.low, ci.high), (0.5, 0.5, 0.5));
        assert!(ci.has_interval);
        assert_eq!(ci.interval(), Some((0.5, 0.5)));
    }

    #[test]
    fn clearly_separated_samples_exclude_one() {
        let slower = [80.0, 81.0, 79.0, 80.5, 79.5];
        let base = [100.0, 101.0, 99.0, 100.5, 99.5];
        let ci = bootstrap_ratio_ci(&slower, &base, 0.95, 10_000, SEED).unwrap();
        assert_relative_eq!(ci.ratio, 0.8);
        assert!(ci.high < 0.85 && ci.low > 0.75, "{ci:?}");
        let ci = bootstrap_ratio_ci(&base, &slower, 0.95, 10_000, SEED).unwrap();
        assert_relative_eq!(ci.ratio, 1.25);
        assert!(ci.low > 1.15, "{ci:?}");
    }

    #[test]
    fn three_repetitions_span_the_extremes() {
        // With n = 3 each, every combination of extreme medians has
        // probability (7/27)^2 > 2.5%, so the 95% interval is the full range.
        let a = [90.0, 100.0, 110.0];
        let b = [95.0, 100.0, 105.0];
        let ci = bootstrap_ratio_ci(&a, &b, 0.95, 10_000, SEED).unwrap();
        assert_relative_eq!(ci.low, 90.0 / 105.0);
        assert_relative_eq!(ci.high, 110.0 / 95.0);
    }

    #[test]
    fn single_value_on_either_side_has_no_interval() {
        let ci = bootstrap_ratio_ci(&[90.0], &[100.0, 101.0, 99.0], 0.95, 1000, SEED).unwrap();
        assert!(!ci.has_interval);
        assert_eq!(ci.interval(), None);
        assert_relative_eq!(ci.ratio, 0.9);
        assert_eq!((ci.low, ci.high), (ci.ratio, ci.ratio));
        let ci = bootstrap_ratio_ci(&[90.0, 91.0], &[100.0], 0.95, 1000, SEED).unwrap();
        assert!(!ci.has_interval);
        assert_relative_eq!(ci.ratio, 0.905);
        // No resamples are needed without an interval.
        assert!(bootstrap_ratio_ci(&[1.0], &[2.0], 0.95, 0, SEED).is_some());
    }

    #[test]
    fn undefined_inputs_are_none() {
        let ok = [1.0, 2.0];
        assert_eq!(bootstrap_ratio_ci(&[], &ok, 0.95, 100, SEED), None);
        assert_eq!(bootstrap_ratio_ci(&ok, &[], 0.95, 100, SEED), None);
        assert_eq!(
            bootstrap_ratio_ci(&[f64::NAN, 1.0], &ok, 0.95, 100, SEED),
            None
        );
        assert_eq!(
            bootstrap_ratio_ci(&ok, &[f64::INFINITY, 1.0], 0.95, 100, SEED),
            None
        );
        assert_eq!(bootstrap_ratio_ci(&[-1.0, 1.0], &ok, 0.95, 100, SEED), None);
        assert_eq!(
            bootstrap_ratio_ci(&ok, &[0.0, 0.0, 1.0], 0.95, 100, SEED),
            None
        );
        for bad in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert_eq!(bootstrap_ratio_ci(&ok, &ok, bad, 100, SEED), None, "{bad}");
        }
        assert_eq!(bootstrap_ratio_ci(&ok, &ok, 0.95, 0, SEED), None);
    }

    #[test]
    fn zeros_in_the_denominator_give_an_unbounded_interval() {
        // median(b) = 5 but a resample of b can have median 0.
        let ci =
            bootstrap_ratio_ci(&[4.0, 5.0, 6.0], &[0.0, 5.0, 5.0], 0.95, 10_000, SEED).unwrap();
        assert_relative_eq!(ci.ratio, 1.0);
        assert_eq!(ci.high, f64::INFINITY);
        assert!(ci.low.is_finite());
        // Zero numerators are fine: ratio 0.
        let ci = bootstrap_ratio_ci(&[0.0, 0.0], &[5.0, 6.0], 0.95, 1000, SEED).unwrap();
        assert_eq!((ci.ratio, ci.low, ci.high), (0.0, 0.0, 0.0));
    }

    #[test]
    fn deterministic_given_the_seed() {
        let a = [10.0, 12.0, 11.0, 15.0, 9.0, 10.5];
        let b = [11.0, 11.5, 10.0, 12.5];
        let x = bootstrap_ratio_ci(&a, &b, 0.95, 2000, 7).unwrap();
        let y = bootstrap_ratio_ci(&a, &b, 0.95, 2000, 7).unwrap();
        assert_eq!(x, y);
        assert_eq!(x.low.to_bits(), y.low.to_bits());
        // Input order does not change the ratio.
        let mut a2 = a;
        a2.reverse();
        let z = bootstrap_ratio_ci(&a2, &b, 0.95, 2000, 7).unwrap();
        assert_eq!(z.ratio, x.ratio);
    }

    fn sample() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(1.0f64..1e6, 1..12)
    }

    proptest! {
        #[test]
        fn median_is_between_min_and_max(xs in prop::collection::vec(-1e9f64..1e9, 1..50)) {
            let m = median(&xs).unwrap();
            let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(min <= m && m <= max);
        }

        #[test]
        fn median_ignores_order(mut xs in prop::collection::vec(-1e9f64..1e9, 1..50)) {
            let m = median(&xs).unwrap();
            xs.reverse();
            prop_assert_eq!(median(&xs).unwrap(), m);
            xs.sort_by(f64::total_cmp);
            let n = xs.len();
            let expect = if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 };
            prop_assert!((m - expect).abs() <= 1e-9 * expect.abs().max(1.0));
        }

        #[test]
        fn interval_contains_ratio_and_stays_within_the_extremes(
            a in sample(), b in sample(), seed in any::<u64>()
        ) {
            let ci = bootstrap_ratio_ci(&a, &b, 0.95, 500, seed).unwrap();
            prop_assert!(ci.low <= ci.ratio && ci.ratio <= ci.high, "{:?}", ci);
            prop_assert_eq!(ci.has_interval, a.len() >= 2 && b.len() >= 2);
            let min = |xs: &[f64]| xs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = |xs: &[f64]| xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // Every resample median lies within its sample's range.
            let eps = 1e-12;
            prop_assert!(ci.low >= min(&a) / max(&b) * (1.0 - eps), "{:?}", ci);
            prop_assert!(ci.high <= max(&a) / min(&b) * (1.0 + eps), "{:?}", ci);
        }

        #[test]
        fn higher_confidence_never_narrows(a in sample(), b in sample(), seed in any::<u64>()) {
            let narrow = bootstrap_ratio_ci(&a, &b, 0.80, 500, seed).unwrap();
            let wide = bootstrap_ratio_ci(&a, &b, 0.99, 500, seed).unwrap();
            prop_assert!(wide.low <= narrow.low && wide.high >= narrow.high);
        }

        #[test]
        fn scaling_a_scales_the_ratio(a in sample(), b in sample(), k in 0.1f64..10.0) {
            let base = bootstrap_ratio_ci(&a, &b, 0.95, 200, 1).unwrap();
            let scaled: Vec<f64> = a.iter().map(|x| x * k).collect();
            let s = bootstrap_ratio_ci(&scaled, &b, 0.95, 200, 1).unwrap();
            prop_assert!((s.ratio - base.ratio * k).abs() <= 1e-9 * s.ratio);
            prop_assert!((s.low - base.low * k).abs() <= 1e-9 * s.low.max(1e-300));
            prop_assert!((s.high - base.high * k).abs() <= 1e-9 * s.high);
        }

        #[test]
        fn paired_interval_contains_the_ratio_and_needs_equal_lengths(
            a in sample(), seed in any::<u64>(), k in 0.1f64..10.0,
        ) {
            let b: Vec<f64> = a.iter().map(|x| x * k).collect();
            let ci = bootstrap_paired_ratio_ci(&a, &b, 0.95, 500, seed);
            if let Some(ci) = ci {
                prop_assert!(ci.low <= ci.ratio && ci.ratio <= ci.high);
                // b is a times k round by round: every replicate is 1/k.
                if ci.has_interval {
                    prop_assert!((ci.high - ci.low) <= 1e-9 * ci.ratio.max(1.0));
                }
            }
            let mut short = a.clone();
            short.pop();
            prop_assert!(bootstrap_paired_ratio_ci(&short, &a, 0.95, 500, seed).is_none());
        }

        #[test]
        fn same_seed_same_interval(a in sample(), b in sample(), seed in any::<u64>()) {
            let x = bootstrap_ratio_ci(&a, &b, 0.9, 100, seed);
            let y = bootstrap_ratio_ci(&a, &b, 0.9, 100, seed);
            prop_assert_eq!(x, y);
        }
    }
}
