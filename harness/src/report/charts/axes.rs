//! Axes with chosen ticks: linear or log, thinned to the pixels an axis
//! gets so that no two labels overlap, written `2,500` or `2.5k`, never
//! `2500.0`.

use std::ops::Range;

use plotters::prelude::*;

use crate::report::style;

/// Pixels kept free between neighbouring tick labels.
const LABEL_GAP: f64 = 10.0;

/// How an axis's tick labels are written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TickFormat {
    /// Each value on its own terms ([`fmt_tick`]): `0.25`, `12`, `1,500`,
    /// `12k` (log axes and ticks given one by one).
    Compact,
    /// At most this many decimals (the step's own) and none that are zero,
    /// thousands separated: `2,500`, `0.25`, `1.5`, `2`.
    Fixed(usize),
    /// In thousands, millions or billions (`div` 1e3, 1e6 or 1e9; `k`, `M`,
    /// `G`) with at most `decimals` decimals and none that are zero:
    /// `2.5k`, `5k`, `1.25M`.
    Scaled {
        /// 1e3, 1e6 or 1e9.
        div: f64,
        /// Most decimals a label needs (the step's own, in units of `div`).
        decimals: usize,
    },
}

impl TickFormat {
    /// The label of value `v`.
    pub fn format(&self, v: f64) -> String {
        match *self {
            TickFormat::Compact => fmt_tick(v),
            TickFormat::Fixed(d) => group_thousands(trim_zeros(&format!("{v:.d$}"))),
            TickFormat::Scaled { div, decimals } => {
                let s = group_thousands(trim_zeros(&format!("{:.decimals$}", v / div)));
                if s == "0" {
                    s
                } else {
                    format!("{s}{}", si_suffix(div))
                }
            }
        }
    }

    /// The formats for evenly spaced ticks `step` apart whose largest
    /// magnitude is `max_abs`: the one to use first, and a shorter one to
    /// try when its labels do not fit (`2.5k` for `2,500`).
    fn for_step(step: f64, max_abs: f64) -> (Self, Option<Self>) {
        let decimals = decimals_for(step);
        let scaled = |div: f64| TickFormat::Scaled {
            div,
            decimals: decimals_for(step / div),
        };
        let div = if max_abs >= 1e9 {
            1e9
        } else if max_abs >= 1e6 {
            1e6
        } else {
            1e3
        };
        if decimals > 0 || max_abs < 1e3 {
            (TickFormat::Fixed(decimals), None)
        } else if max_abs < 1e4 {
            (TickFormat::Fixed(0), Some(scaled(div)))
        } else {
            (scaled(div), None)
        }
    }
}

/// A formatted number without the zeros that end its decimals (`2.50` is
/// `2.5`, `3.0` is `3`).
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The suffix of values divided by `div`.
fn si_suffix(div: f64) -> &'static str {
    if div >= 1e9 {
        "G"
    } else if div >= 1e6 {
        "M"
    } else {
        "k"
    }
}

/// The fewest decimals (up to 15) that write every multiple of `step`
/// exactly: 0 for 2500, 1 for 2.5, 2 for 0.25.
pub fn decimals_for(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 0;
    }
    (0..15)
        .find(|d| {
            let s = step * 10f64.powi(*d as i32);
            (s - s.round()).abs() <= 1e-6 * s.max(1.0)
        })
        .unwrap_or(15)
}

/// `12345.5` as `12,345.5`: commas between groups of three digits of the
/// integer part of a formatted number (sign and decimals kept; `-0` is `0`).
pub fn group_thousands(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(frac);
    let zero = rest.bytes().all(|b| b == b'0' || b == b'.');
    if zero { out } else { format!("{sign}{out}") }
}

/// How an axis's ticks were chosen, so [`Axis::fit`] can choose fewer.
#[derive(Clone, Debug, PartialEq)]
enum Spacing {
    /// Every `step` over the range asked for, `lo..hi` (before `hi` was
    /// rounded up to a tick).
    Even { lo: f64, hi: f64, step: f64 },
    /// Round values on a log axis: these multiples of every `every`-th
    /// power of ten.
    Decades { mults: &'static [f64], every: i32 },
    /// Exactly the ticks given (e.g. the levels measured).
    Given,
}

/// One axis: linear or log10, a range, and the ticks to label.
///
/// The constructors choose ticks for a roomy axis; [`Axis::fit`] then
/// thins them (and shortens their labels) for the pixels the axis really
/// gets, so that no two labels overlap.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Log10 scale.
    pub log: bool,
    /// Smallest value shown (data units).
    pub lo: f64,
    /// Largest value shown (data units).
    pub hi: f64,
    /// Ticks (data units).
    pub ticks: Vec<f64>,
    /// How tick labels are written.
    pub format: TickFormat,
    spacing: Spacing,
}

impl Axis {
    /// A linear axis from `lo` to a little above `hi`, with round ticks.
    pub fn linear(lo: f64, hi: f64) -> Self {
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let mut hi = if hi.is_finite() && hi > lo {
            hi
        } else {
            lo + lo.abs().max(1.0) * 0.1
        };
        if hi <= lo {
            hi = lo + 1.0;
        }
        Self::even(lo, hi, nice_step((hi - lo) / 6.0)).0
    }

    /// A linear axis over `lo..hi` (finite, `lo < hi`) with ticks every
    /// `step`, `hi` rounded up to a tick; and the shorter label format to
    /// try if the first does not fit.
    fn even(lo: f64, hi: f64, step: f64) -> (Self, Option<TickFormat>) {
        let top = ((hi / step).ceil() * step).max(hi);
        let mut ticks = Vec::new();
        let mut t = (lo / step).ceil() * step;
        // Bounded: at extreme magnitudes `t += step` may not move `t`.
        while t <= top + step * 1e-9 && ticks.len() < 50 {
            ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
            t += step;
        }
        let max_abs = ticks.iter().map(|t| t.abs()).fold(0.0, f64::max);
        let (format, shorter) = TickFormat::for_step(step, max_abs);
        let axis = Self {
            log: false,
            lo,
            hi: top,
            ticks,
            format,
            spacing: Spacing::Even { lo, hi, step },
        };
        (axis, shorter)
    }

    /// A log axis covering `lo..hi` (both > 0) with 1-2-5 ticks.
    pub fn log(lo: f64, hi: f64) -> Self {
        let lo = lo.max(1e-9);
        let hi = hi.max(lo * 1.5);
        let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let mults: &'static [f64] = if d1 - d0 > 4 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        Self::decades(lo, hi, mults, 1)
    }

    /// A log axis over `lo..hi` with ticks at `mults` times every
    /// `every`-th power of ten.
    fn decades(lo: f64, hi: f64, mults: &'static [f64], every: i32) -> Self {
        let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let mut ticks = Vec::new();
        for d in (d0..=d1).filter(|d| d.rem_euclid(every) == 0) {
            for m in mults {
                let t = m * 10f64.powi(d);
                if t >= lo * 0.999 && t <= hi * 1.001 {
                    ticks.push(t);
                }
            }
        }
        Self {
            log: true,
            lo,
            hi,
            ticks,
            format: TickFormat::Compact,
            spacing: Spacing::Decades { mults, every },
        }
    }

    /// An axis of the load levels measured, sorted (`xs`): logarithmic
    /// when they span more than a factor of 8, with `desc` as its label
    /// (`, log scale` added inside the parentheses, or after it).
    pub fn levels(xs: &[f64], desc: &str) -> (Self, String) {
        if xs.len() > 1 && xs[xs.len() - 1] / xs[0].max(1e-9) > 8.0 {
            let desc = match desc.strip_suffix(')') {
                Some(d) => format!("{d}, log scale)"),
                None => format!("{desc} (log scale)"),
            };
            (Axis::log_at(xs), desc)
        } else {
            (Axis::linear_at(xs), desc.to_string())
        }
    }

    /// A log axis whose ticks are exactly `ticks` (e.g. the levels measured).
    pub fn log_at(ticks: &[f64]) -> Self {
        let lo = ticks
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(1e-9);
        let hi = ticks.iter().copied().fold(0.0, f64::max).max(lo * 2.0);
        Self {
            log: true,
            lo: lo / 1.3,
            hi: hi * 1.3,
            ticks: ticks.to_vec(),
            format: TickFormat::Compact,
            spacing: Spacing::Given,
        }
    }

    /// A linear axis with ticks exactly at `ticks`.
    pub fn linear_at(ticks: &[f64]) -> Self {
        let lo = ticks.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ticks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.05).max(0.5);
        Self {
            log: false,
            lo: (lo - pad).max(0.0),
            hi: hi + pad,
            ticks: ticks.to_vec(),
            format: TickFormat::Compact,
            spacing: Spacing::Given,
        }
    }

    /// Picks a y axis for positive values: from 0 linear, or log when the
    /// values span more than `max_ratio` (e.g. tail latencies).
    pub fn auto_y(values: &[f64], max_ratio: f64) -> Self {
        let pos: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        let hi = pos.iter().copied().fold(0.0, f64::max);
        let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
        if pos.is_empty() {
            return Self::linear(0.0, 1.0);
        }
        if hi / lo > max_ratio {
            Self::log(lo / 1.2, hi * 1.2)
        } else {
            Self::linear(0.0, hi * 1.08)
        }
    }

    /// This axis drawn `len` pixels long (`horizontal`: labels side by
    /// side; else stacked): the same axis if no two tick labels overlap,
    /// else the densest sparser one whose labels keep `LABEL_GAP` pixels
    /// apart, measured with the charts' own glyph metrics. Evenly spaced
    /// ticks get the next round step up (and the short `2.5k` labels before
    /// that); log ticks drop the 2s and 5s, then decades; ticks given one
    /// by one keep every second, third, ... one. At worst two ticks remain.
    pub fn fit(&self, len: f64, horizontal: bool) -> Self {
        if self.labels_fit(len, horizontal) {
            return self.clone();
        }
        let mut last = self.clone();
        let least = self.ticks.len().min(2);
        for candidate in self
            .sparser()
            .into_iter()
            .filter(|c| c.ticks.len() >= least)
        {
            if candidate.labels_fit(len, horizontal) {
                return candidate;
            }
            last = candidate;
        }
        last
    }

    /// Sparser versions of this axis, densest first, down to two ticks.
    fn sparser(&self) -> Vec<Self> {
        let mut out = Vec::new();
        match self.spacing {
            Spacing::Even { lo, hi, step } => {
                if let Some(shorter) = TickFormat::for_step(
                    step,
                    self.ticks.iter().map(|t| t.abs()).fold(0.0, f64::max),
                )
                .1
                .filter(|f| *f != self.format)
                {
                    out.push(Self {
                        format: shorter,
                        ..self.clone()
                    });
                }
                let mut step = step;
                // The next round step up until one step covers the range.
                while step < hi - lo && out.len() < 60 {
                    let next = nice_step(step * 1.0001);
                    step = if next > step {
                        next
                    } else {
                        nice_step(step * 2.0)
                    };
                    let (axis, shorter) = Self::even(lo, hi, step);
                    out.push(axis.clone());
                    if let Some(format) = shorter {
                        out.push(Self { format, ..axis });
                    }
                }
            }
            Spacing::Decades { mults, every } => {
                let (lo, hi) = (self.lo, self.hi);
                if mults.len() > 1 {
                    out.push(Self::decades(lo, hi, &[1.0], 1));
                }
                let mut every = every + 1;
                loop {
                    let a = Self::decades(lo, hi, &[1.0], every);
                    if a.ticks.len() < 2 || every > 400 {
                        break;
                    }
                    out.push(a);
                    every += 1;
                }
            }
            Spacing::Given => {
                for k in 2..self.ticks.len() {
                    out.push(Self {
                        ticks: self.ticks.iter().copied().step_by(k).collect(),
                        ..self.clone()
                    });
                }
            }
        }
        out
    }

    /// Whether the tick labels keep `LABEL_GAP` pixels apart on an axis
    /// `len` pixels long.
    fn labels_fit(&self, len: f64, horizontal: bool) -> bool {
        let boxes = self.label_extents(len, horizontal);
        boxes.windows(2).all(|w| w[1].0 - w[0].1 >= LABEL_GAP)
    }

    /// Each tick label's extent along an axis `len` pixels long, from its
    /// start: (first pixel, last pixel), in tick order. Labels are centred
    /// on their tick; along a vertical axis they take the label height.
    pub fn label_extents(&self, len: f64, horizontal: bool) -> Vec<(f64, f64)> {
        let (a, b) = (self.fwd(self.lo), self.fwd(self.hi));
        if b.partial_cmp(&a) != Some(std::cmp::Ordering::Greater) {
            return Vec::new();
        }
        let mut out: Vec<(f64, f64)> = self
            .ticks
            .iter()
            .map(|t| {
                let p = (self.fwd(*t) - a) / (b - a) * len;
                let size = if horizontal {
                    label_width(&self.format.format(*t))
                } else {
                    style::LABEL_PT / 1.24
                };
                (p - size / 2.0, p + size / 2.0)
            })
            .collect();
        out.sort_by(|x, y| x.0.total_cmp(&y.0));
        out
    }

    /// Maps a data value to the drawing coordinate.
    pub fn fwd(&self, v: f64) -> f64 {
        if self.log {
            v.max(self.lo * 1e-3).max(1e-12).log10()
        } else {
            v
        }
    }

    /// Drawing-coordinate range, with the chosen ticks as key points.
    pub fn coord(&self) -> Ticked {
        Ticked::new(
            self.fwd(self.lo)..self.fwd(self.hi),
            self.ticks.iter().map(|t| self.fwd(*t)).collect(),
        )
    }

    /// Formats a tick given in drawing coordinates.
    pub fn label(&self, t: f64) -> String {
        let v = if self.log {
            // The tick itself, not 10^log10(tick), which may be 999.99...
            self.ticks
                .iter()
                .copied()
                .find(|v| (self.fwd(*v) - t).abs() < 1e-9)
                .unwrap_or_else(|| 10f64.powf(t))
        } else {
            t
        };
        self.format.format(v)
    }
}

/// Width in pixels of a tick label (the font's advances and kerning).
fn label_width(text: &str) -> f64 {
    match crate::report::glyphs::layout(text, style::LABEL_PT, false) {
        Ok((w, _)) => w as f64,
        // Without the font: DejaVu Sans digits are 0.64 em wide.
        Err(_) => text.chars().count() as f64 * style::LABEL_PT * 0.64,
    }
}

/// The length in pixels of a chart's axis: `total` pixels of the area the
/// chart is built on, less what its margins and label areas along the axis
/// take.
pub(crate) fn axis_len(total: u32, taken: &[u32]) -> f64 {
    total.saturating_sub(taken.iter().sum::<u32>()) as f64
}

/// A linear f64 coordinate whose labelled ticks are exactly the ones given
/// (plotters' own key-point wrapper loses the default label formatting).
#[derive(Clone)]
pub struct Ticked {
    inner: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    /// A coordinate over `range` with ticks at `ticks` (same units).
    pub fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Self {
            inner: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A round step near `raw`: 1, 2, 2.5 or 5 times a power of ten.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * p
}

/// Formats a tick value compactly: `0.25`, `12`, `1,500`, `12k`, `1.5M`.
pub fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| trim_zeros(&s).to_string();
    if a >= 1e9 {
        format!("{}G", group_thousands(&trim(format!("{:.2}", v / 1e9))))
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 100.0 || a == 0.0 {
        group_thousands(&format!("{}", v.round() as i64))
    } else if a >= 1.0 {
        trim(format!("{v:.1}"))
    } else if a >= 0.01 {
        trim(format!("{v:.3}"))
    } else {
        format!("{v:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::slug;

    #[test]
    fn level_axes_go_logarithmic_past_a_factor_of_eight() {
        let (a, d) = Axis::levels(&[16.0, 64.0, 256.0], "concurrency (open connections)");
        assert!(a.log);
        assert_eq!(d, "concurrency (open connections, log scale)");
        let (a, d) = Axis::levels(&[100.0, 400.0], "offered load");
        assert!(!a.log);
        assert_eq!(d, "offered load");
        assert_eq!(Axis::levels(&[1.0, 9.0], "rate").1, "rate (log scale)");
    }

    #[test]
    fn ticks_are_round() {
        let a = Axis::linear(0.0, 9400.0);
        assert_eq!(a.ticks.first(), Some(&0.0));
        assert!(a.ticks.iter().all(|t| (t / 2000.0).fract() == 0.0), "{a:?}");
        let l = Axis::log(0.8, 1200.0);
        assert!(l.ticks.contains(&1.0) && l.ticks.contains(&1000.0));
        assert_eq!(fmt_tick(12_000.0), "12k");
        assert_eq!(fmt_tick(2.5), "2.5");
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(slug("io sleep/c=64"), "io-sleep-c-64");
        let r = Axis::linear(0.95, 1.3);
        let labels: Vec<String> = r.ticks.iter().map(|t| r.label(*t)).collect();
        let mut dedup = labels.clone();
        dedup.dedup();
        assert_eq!(labels, dedup, "neighbouring ticks must differ: {labels:?}");
        // Degenerate and extreme ranges terminate with a usable axis.
        for (lo, hi) in [(1e20, 1e20), (5.0, 5.0), (0.0, f64::NAN), (-3.0, -7.0)] {
            let a = Axis::linear(lo, hi);
            assert!(a.hi > a.lo && a.ticks.len() <= 50, "{lo} {hi}: {a:?}");
        }
        let l = Axis::log(0.0, 0.0);
        assert!(l.hi > l.lo);
    }

    /// The labels of `axis` drawn `len` pixels long: each label with its
    /// first and last pixel, measured with the glyph metrics the charts
    /// draw with (independently of `Axis::fit`'s own bookkeeping).
    fn drawn_labels(axis: &Axis, len: f64) -> Vec<(String, f64, f64)> {
        let (a, b) = (axis.fwd(axis.lo), axis.fwd(axis.hi));
        axis.ticks
            .iter()
            .map(|t| {
                let label = axis.label(axis.fwd(*t));
                let (w, _) = crate::report::glyphs::layout(&label, style::LABEL_PT, false).unwrap();
                let p = (axis.fwd(*t) - a) / (b - a) * len;
                (label, p - w as f64 / 2.0, p + w as f64 / 2.0)
            })
            .collect()
    }

    fn assert_apart(labels: &[(String, f64, f64)], what: &str) {
        assert!(labels.len() >= 2, "{what}: {labels:?}");
        for w in labels.windows(2) {
            assert!(
                w[1].1 - w[0].2 >= 4.0,
                "{what}: {:?} and {:?} overlap: {labels:?}",
                w[0].0,
                w[1].0
            );
        }
    }

    #[test]
    fn tick_labels_never_overlap_and_have_no_useless_decimals() {
        // The claim charts' throughput axes: 0..8000 and 0..15000 req/s on
        // axes as narrow as a claim chart's panel (and narrower).
        for hi in [
            8000.0,
            8000.0 * 1.08,
            15_000.0,
            14_500.0 * 1.08,
            2_700_000.0,
        ] {
            for len in [90.0, 120.0, 150.0, 200.0, 320.0, 600.0, 1000.0] {
                let axis = Axis::linear(0.0, hi).fit(len, true);
                let what = format!("0..{hi} on {len} px");
                let labels = drawn_labels(&axis, len);
                assert_apart(&labels, &what);
                assert!(axis.hi >= hi, "{what}: {axis:?}");
                for (l, _, _) in &labels {
                    assert!(!l.contains(".0"), "{what}: {l:?} in {labels:?}");
                }
            }
        }
        // Roomy axes keep their round ticks and write them plainly.
        let wide = |hi: f64| {
            let a = Axis::linear(0.0, hi).fit(1000.0, true);
            a.ticks.iter().map(|t| a.label(*t)).collect::<Vec<_>>()
        };
        assert_eq!(wide(8000.0), ["0", "2,000", "4,000", "6,000", "8,000"]);
        assert_eq!(
            wide(15_000.0),
            ["0", "2.5k", "5k", "7.5k", "10k", "12.5k", "15k"]
        );
        assert_eq!(wide(3.0), ["0", "0.5", "1", "1.5", "2", "2.5", "3"]);
        // Narrower: the same ticks in shorter labels, then fewer ticks.
        let labels = |len: f64| {
            let a = Axis::linear(0.0, 8000.0).fit(len, true);
            a.ticks.iter().map(|t| a.label(*t)).collect::<Vec<_>>()
        };
        assert_eq!(labels(400.0), ["0", "2,000", "4,000", "6,000", "8,000"]);
        assert_eq!(labels(150.0), ["0", "2k", "4k", "6k", "8k"]);
        assert_eq!(labels(90.0), ["0", "5k", "10k"]);
        // Log axes drop their 2s and 5s, then decades; given ticks thin out.
        for (axis, len) in [
            (Axis::log(1.0, 100_000.0), 110.0),
            (Axis::log(0.9, 1200.0), 160.0),
            (
                Axis::log_at(&[1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0]),
                90.0,
            ),
            (Axis::linear_at(&[100.0, 1000.0, 1500.0, 2000.0]), 120.0),
        ] {
            let fitted = axis.fit(len, true);
            assert_apart(&drawn_labels(&fitted, len), &format!("{axis:?}"));
            assert!(fitted.ticks.iter().all(|t| axis.ticks.contains(t)));
        }
        // Too short for any two labels: two ticks still remain.
        assert_eq!(Axis::log(2.0, 9.0).fit(20.0, true).ticks, [2.0, 5.0]);
        // Stacked labels on a short vertical axis keep a label's height apart.
        let short = Axis::linear(0.0, 8000.0).fit(60.0, false);
        let ext = short.label_extents(60.0, false);
        assert!(ext.windows(2).all(|w| w[1].0 > w[0].1), "{short:?}");
        assert!(short.ticks.len() >= 2 && short.ticks.len() < 5, "{short:?}");
    }

    #[test]
    fn tick_formats() {
        assert_eq!(group_thousands("-1234567.50"), "-1,234,567.50");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(group_thousands("-0.00"), "0.00");
        assert_eq!(decimals_for(2500.0), 0);
        assert_eq!(decimals_for(2.5), 1);
        assert_eq!(decimals_for(0.25), 2);
        assert_eq!(decimals_for(0.05), 2);
        assert_eq!(TickFormat::Fixed(0).format(7500.0), "7,500");
        assert_eq!(TickFormat::Fixed(2).format(1.5), "1.5");
        assert_eq!(TickFormat::Fixed(2).format(-0.0), "0");
        let k = TickFormat::Scaled {
            div: 1e3,
            decimals: 1,
        };
        assert_eq!(k.format(2500.0), "2.5k");
        assert_eq!(k.format(5000.0), "5k");
        assert_eq!(k.format(0.0), "0");
        let m = TickFormat::Scaled {
            div: 1e6,
            decimals: 2,
        };
        assert_eq!(m.format(1_250_000.0), "1.25M");
        assert_eq!(fmt_tick(1500.0), "1,500");
        assert_eq!(fmt_tick(2.0e9), "2G");
        // A log tick is labelled with its own value, not 10^log10 of it.
        let l = Axis::log(1.0, 100_000.0);
        assert_eq!(l.label(l.fwd(10_000.0)), "10k");
    }
}
