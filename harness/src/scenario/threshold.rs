//! Thresholds such as `p99 < 50ms` or `error_rate < 0.1%`: parsed from
//! scenario files, checked against the median over a target's repetitions;
//! and from `bench --threshold`, checked against the one run.

use crate::results::schema::{LoadResult, Measurement};

/// What a threshold constrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdMetric {
    /// Latency percentile of successful requests (p50, p90, p99, p999, max), microseconds.
    Latency(u16),
    /// Time-to-first-byte p99, microseconds.
    TtfbP99,
    /// Successful requests per second.
    Throughput,
    /// Failed / all requests, as a fraction.
    ErrorRate,
}

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
    pub metric: ThresholdMetric,
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
            "p50" => ThresholdMetric::Latency(50),
            "p90" => ThresholdMetric::Latency(90),
            "p99" => ThresholdMetric::Latency(99),
            "p999" | "p99.9" => ThresholdMetric::Latency(999),
            "max" => ThresholdMetric::Latency(1000),
            "ttfb_p99" => ThresholdMetric::TtfbP99,
            "throughput" | "rps" => ThresholdMetric::Throughput,
            "error_rate" | "errors" => ThresholdMetric::ErrorRate,
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
            ThresholdMetric::Latency(_) | ThresholdMetric::TtfbP99 => match unit {
                "us" | "µs" => n,
                "ms" => n * 1e3,
                "s" => n * 1e6,
                _ => return Err(ThresholdError::LatencyUnit(t.to_string())),
            },
            ThresholdMetric::Throughput => match unit {
                "" | "rps" | "/s" | "req/s" => n,
                _ => return Err(ThresholdError::ThroughputUnit(t.to_string())),
            },
            ThresholdMetric::ErrorRate => match unit {
                "%" => n / 100.0,
                "" if n <= 1.0 => n,
                _ => return Err(ThresholdError::ErrorRateUnit(t.to_string())),
            },
        };
        Ok(Threshold {
            text: t.to_string(),
            metric,
            op,
            value,
        })
    }

    /// The metric's value in one measurement, in the base unit.
    pub fn measure(&self, m: &Measurement) -> f64 {
        self.measure_load(&m.load)
    }

    /// The metric's value in one load result (e.g. a `bench` run), in the
    /// base unit.
    pub fn measure_load(&self, load: &LoadResult) -> f64 {
        let s = &load.summary;
        match self.metric {
            ThresholdMetric::Latency(p) => {
                (match p {
                    50 => s.latency.p50_us,
                    90 => s.latency.p90_us,
                    99 => s.latency.p99_us,
                    999 => s.latency.p999_us,
                    _ => s.latency.max_us,
                }) as f64
            }
            ThresholdMetric::TtfbP99 => s.ttfb.p99_us as f64,
            ThresholdMetric::Throughput => s.throughput_rps,
            ThresholdMetric::ErrorRate => s.error_rate,
        }
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

    /// A value in the threshold's display unit, e.g. `42.1ms` or `0.05%`.
    pub fn display(&self, v: f64) -> String {
        match self.metric {
            ThresholdMetric::Latency(_) | ThresholdMetric::TtfbP99 => format!("{:.2}ms", v / 1e3),
            ThresholdMetric::Throughput => format!("{v:.0} req/s"),
            ThresholdMetric::ErrorRate => format!("{:.3}%", v * 100.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse() {
        let t = Threshold::parse("p99 < 50ms").unwrap();
        assert_eq!(
            (t.metric, t.op, t.value),
            (ThresholdMetric::Latency(99), Comparator::Lt, 50_000.0)
        );
        assert!(t.holds(49_999.0) && !t.holds(50_000.0));
        let t = Threshold::parse("error_rate < 0.1%").unwrap();
        assert!((t.value - 0.001).abs() < 1e-12);
        let t = Threshold::parse("throughput >= 1000").unwrap();
        assert_eq!((t.op, t.value), (Comparator::Ge, 1000.0));
        assert_eq!(Threshold::parse("ttfb_p99 <= 1s").unwrap().value, 1e6);
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
