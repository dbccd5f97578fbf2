//! Thresholds such as `p99 < 50ms` or `error_rate < 0.1%`: parsed from
//! scenario files, checked against the median over a target's repetitions;
//! and from `bench --threshold`, checked against the one run. The metric
//! is the claims' [`Metric`]: read and formatted the same way everywhere.

use crate::analysis::claim::{Metric, Pct};
use crate::results::schema::{LoadResult, Measurement};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparator {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Why a threshold did not parse; each names the threshold as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// No `<`, `<=`, `>` or `>=`.
    #[error(
        "threshold `{0}` has no comparison (expected e.g. `p99 < 50ms` or `error_rate < 0.1%`)"
    )]
    NoComparison(String),
    /// A metric the grammar does not know.
    #[error(
        "threshold `{text}`: unknown metric `{metric}` (known: p50, p90, p99, p999, max, ttfb_p99, throughput, error_rate)"
    )]
    UnknownMetric {
        /// The threshold.
        text: String,
        /// The metric as written.
        metric: String,
    },
    /// The bound is not a number (with a unit).
    #[error("threshold `{text}`: `{bound}` is not a number with a unit")]
    NotANumber {
        /// The threshold.
        text: String,
        /// The bound as written.
        bound: String,
    },
    /// A latency bound without a time unit.
    #[error("threshold `{0}`: a latency needs a unit: us, ms or s (e.g. `50ms`)")]
    LatencyUnit(String),
    /// A throughput bound in another unit than req/s.
    #[error("threshold `{0}`: throughput is in req/s (e.g. `1000` or `1000rps`)")]
    ThroughputUnit(String),
    /// An error-rate bound that is neither a percentage nor a fraction.
    #[error(
        "threshold `{0}`: an error rate is a percentage (e.g. `0.1%`) or a fraction from 0 to 1"
    )]
    ErrorRateUnit(String),
}

/// One threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// As written, e.g. `p99 < 50ms`.
    pub text: String,
    /// The metric.
    pub metric: Metric,
    /// The operator.
    pub op: Comparator,
    /// The bound in the metric's base unit (µs, req/s, fraction).
    pub value: f64,
}

impl Threshold {
    /// Parses `METRIC OP VALUE[UNIT]`. Metrics: `p50`, `p90`, `p99`, `p999`,
    /// `max` (latency; units `us`, `ms`, `s`), `ttfb_p99`, `throughput`
    /// (req/s; optional unit `rps` or `/s`), `error_rate` (`%` or a fraction).
    pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
        let t = text.trim();
        let ops = [
            ("<=", Comparator::Le),
            (">=", Comparator::Ge),
            ("<", Comparator::Lt),
            (">", Comparator::Gt),
        ];
        let (lhs, op, rhs) = ops
            .iter()
            .find_map(|(s, op)| t.split_once(s).map(|(l, r)| (l.trim(), *op, r.trim())))
            .ok_or_else(|| ThresholdError::NoComparison(t.to_string()))?;
        let metric = match lhs {
            "p50" => Metric::Latency(Pct::P50),
            "p90" => Metric::Latency(Pct::P90),
            "p99" => Metric::Latency(Pct::P99),
            "p999" | "p99.9" => Metric::Latency(Pct::P999),
            "max" => Metric::Latency(Pct::Max),
            "ttfb_p99" => Metric::Ttfb(Pct::P99),
            "throughput" | "rps" => Metric::Throughput,
            "error_rate" | "errors" => Metric::ErrorRate,
            other => {
                return Err(ThresholdError::UnknownMetric {
                    text: t.to_string(),
                    metric: other.to_string(),
                });
            }
        };
        let split = rhs
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rhs.len());
        let (num, unit) = rhs.split_at(split);
        let n: f64 = num.parse().map_err(|_| ThresholdError::NotANumber {
            text: t.to_string(),
            bound: rhs.to_string(),
        })?;
        let unit = unit.trim();
        let value = match metric {
            Metric::Throughput => match unit {
                "" | "rps" | "/s" | "req/s" => n,
                _ => return Err(ThresholdError::ThroughputUnit(t.to_string())),
            },
            Metric::ErrorRate => match unit {
                "%" => n / 100.0,
                "" if n <= 1.0 => n,
                _ => return Err(ThresholdError::ErrorRateUnit(t.to_string())),
            },
            // Latencies.
            _ => match unit {
                "us" | "µs" => n,
                "ms" => n * 1e3,
                "s" => n * 1e6,
                _ => return Err(ThresholdError::LatencyUnit(t.to_string())),
            },
        };
        Ok(Threshold {
            text: t.to_string(),
            metric,
            op,
            value,
        })
    }

    /// The metric's value in one measurement, in the base unit (None
    /// without data: no successful request to take a latency of).
    pub fn measure(&self, m: &Measurement) -> Option<f64> {
        self.metric.value(m)
    }

    /// The metric's value in one load result (e.g. a `bench` run).
    pub fn measure_load(&self, load: &LoadResult) -> Option<f64> {
        self.metric.of_load(load)
    }

    /// Whether `actual` satisfies the threshold.
    pub fn holds(&self, actual: f64) -> bool {
        match self.op {
            Comparator::Lt => actual < self.value,
            Comparator::Le => actual <= self.value,
            Comparator::Gt => actual > self.value,
            Comparator::Ge => actual >= self.value,
        }
    }

    /// A measured value as the threshold's outcome shows it, e.g. `42.10 ms`
    /// or `0.050%`; `none` when nothing was measured.
    pub fn display(&self, v: Option<f64>) -> String {
        match v {
            Some(v) => self.metric.format(v),
            None => "none (no successful request)".into(),
        }
    }

    /// Whether a measured value satisfies the threshold: a value that is
    /// not there does not.
    pub fn holds_for(&self, v: Option<f64>) -> bool {
        v.is_some_and(|v| self.holds(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse() {
        let t = Threshold::parse("p99 < 50ms").unwrap();
        assert_eq!(
            (t.metric.clone(), t.op, t.value),
            (Metric::Latency(Pct::P99), Comparator::Lt, 50_000.0)
        );
        assert!(t.holds(49_999.0) && !t.holds(50_000.0));
        let t = Threshold::parse("error_rate < 0.1%").unwrap();
        assert!((t.value - 0.001).abs() < 1e-12);
        let t = Threshold::parse("throughput >= 1000").unwrap();
        assert_eq!((t.op, t.value), (Comparator::Ge, 1000.0));
        assert_eq!(Threshold::parse("ttfb_p99 <= 1s").unwrap().value, 1e6);
        // Read and shown through the claims' metric; nothing measured breaks it.
        let t = Threshold::parse("max < 2ms").unwrap();
        assert_eq!(t.metric, Metric::Latency(Pct::Max));
        assert_eq!(t.display(Some(1_500.0)), "1.50 ms");
        assert!(t.holds_for(Some(1_500.0)));
        assert!(!t.holds_for(None));
        let t = Threshold::parse("error_rate < 0.1%").unwrap();
        assert_eq!(t.display(Some(0.0005)), "0.050%");
        for bad in [
            "p99",
            "p99 < 50",
            "speed < 3ms",
            "error_rate < 5",
            "p99 < fast",
        ] {
            assert!(Threshold::parse(bad).is_err(), "{bad}");
        }
    }
}
