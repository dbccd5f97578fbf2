//! Claims as the verdicts read them: resolved from the claims file by
//! [`crate::scenario`] into [`ClaimSpec`]s, with the [`Metric`] each compares
//! and the [`VerdictRules`] every verdict shares.

use crate::results::schema::{LoadResult, Measurement};

/// Rules shared by every verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct VerdictRules {
    /// Smallest relative difference that counts, e.g. 0.05 for 5%, for a
    /// metric without its own entry in `min_effects`.
    pub min_effect: f64,
    /// Smallest relative difference that counts, per metric name (e.g.
    /// `p99_us`), from same-versus-same noise on the machine.
    pub min_effects: std::collections::BTreeMap<String, f64>,
    /// Family-wise confidence of a claim's intervals, e.g. 0.95: with k
    /// comparisons each interval is at `1 - (1 - confidence) / k`
    /// (Bonferroni), so the chance that any of them misleads is at most
    /// `1 - confidence`.
    pub confidence: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Bootstrap seed (fixed: the same results give the same verdicts).
    pub seed: u64,
}

impl Default for VerdictRules {
    fn default() -> Self {
        Self {
            min_effect: 0.05,
            min_effects: std::collections::BTreeMap::new(),
            confidence: 0.95,
            resamples: 10_000,
            seed: 0x00c1_a1b3,
        }
    }
}

impl VerdictRules {
    /// The minimum effect for `metric` (its own, or the default).
    pub fn min_effect_for(&self, metric: &str) -> f64 {
        self.min_effects
            .get(metric)
            .copied()
            .unwrap_or(self.min_effect)
    }

    /// Each interval's confidence when a claim makes `k` comparisons.
    pub fn per_comparison_confidence(&self, k: usize) -> f64 {
        1.0 - (1.0 - self.confidence) / k.max(1) as f64
    }
}

/// What a comparison measures.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// Successful requests per second (higher is better).
    Throughput,
    /// A latency percentile of successful requests, e.g. `p99_us` (lower is better).
    Latency(Pct),
    /// A time-to-first-byte percentile, e.g. `ttfb_p99_us` (lower is better).
    Ttfb(Pct),
    /// p99 minus p50 of the gaps between streamed chunks (lower is better).
    ChunkGapJitter,
    /// p99 latency of one request template of a mix, by template name (lower is better).
    TemplateP99(String),
    /// Target RSS added per open connection: the slope of peak RSS between the
    /// lowest and the deciding level of a connection sweep, per repetition
    /// (lower is better).
    RssPerConnection,
    /// Failed requests / all requests, a fraction (lower is better).
    ErrorRate,
}

/// A latency percentile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pct {
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
    /// The slowest.
    Max,
}

impl Pct {
    fn name(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
            Pct::P999 => "p999",
            Pct::Max => "max",
        }
    }
    fn of(self, p: &crate::results::schema::Percentiles) -> u64 {
        match self {
            Pct::P50 => p.p50_us,
            Pct::P90 => p.p90_us,
            Pct::P99 => p.p99_us,
            Pct::P999 => p.p999_us,
            Pct::Max => p.max_us,
        }
    }
}

/// Why a claim's metric name did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// `template_p99_us` without the template it is about.
    #[error("`template_p99_us` needs `template = \"NAME\"` in the claim")]
    NoTemplate,
    /// A name the claims do not know.
    #[error(
        "unknown metric `{0}` (known: throughput_rps, p50_us, p90_us, p99_us, p999_us, max_us, ttfb_p50_us, ttfb_p99_us, chunk_gap_jitter_us, template_p99_us, rss_per_connection_bytes, error_rate)"
    )]
    Unknown(String),
}

impl Metric {
    /// Parses a metric name as written in the claims file. `template` names the
    /// request template for `template_p99_us`.
    pub fn parse(name: &str, template: Option<&str>) -> Result<Metric, MetricError> {
        let pct = |s: &str| match s {
            "p50" => Some(Pct::P50),
            "p90" => Some(Pct::P90),
            "p99" => Some(Pct::P99),
            "p999" => Some(Pct::P999),
            "max" => Some(Pct::Max),
            _ => None,
        };
        if name == "throughput_rps" {
            return Ok(Metric::Throughput);
        }
        if name == "chunk_gap_jitter_us" {
            return Ok(Metric::ChunkGapJitter);
        }
        if name == "rss_per_connection_bytes" {
            return Ok(Metric::RssPerConnection);
        }
        if name == "error_rate" {
            return Ok(Metric::ErrorRate);
        }
        if name == "template_p99_us" {
            return match template {
                Some(t) => Ok(Metric::TemplateP99(t.to_string())),
                None => Err(MetricError::NoTemplate),
            };
        }
        if let Some(p) = name
            .strip_prefix("ttfb_")
            .and_then(|r| r.strip_suffix("_us"))
            && let Some(p) = pct(p)
        {
            return Ok(Metric::Ttfb(p));
        }
        if let Some(p) = name.strip_suffix("_us").and_then(pct) {
            return Ok(Metric::Latency(p));
        }
        Err(MetricError::Unknown(name.to_string()))
    }

    /// The name recorded in comparisons, e.g. `p99_us` or `io_p99_us`.
    pub fn name(&self) -> String {
        match self {
            Metric::Throughput => "throughput_rps".into(),
            Metric::Latency(p) => format!("{}_us", p.name()),
            Metric::Ttfb(p) => format!("ttfb_{}_us", p.name()),
            Metric::ChunkGapJitter => "chunk_gap_jitter_us".into(),
            Metric::TemplateP99(t) => format!("{t}_p99_us"),
            Metric::RssPerConnection => "rss_per_connection_bytes".into(),
            Metric::ErrorRate => "error_rate".into(),
        }
    }

    /// A value of this metric with its unit ([`format_value`]).
    pub fn format(&self, v: f64) -> String {
        format_value(&self.name(), v)
    }

    /// The name the claims file uses for it (`template_p99_us` for any
    /// template's p99): the key of its minimum effect.
    pub fn kind_name(&self) -> String {
        match self {
            Metric::TemplateP99(_) => "template_p99_us".into(),
            other => other.name(),
        }
    }

    /// Whether a larger value is better.
    pub fn higher_is_better(&self) -> bool {
        matches!(self, Metric::Throughput)
    }

    /// The value of this metric in one measurement (None when the data is not
    /// there, e.g. no streamed chunks, no such template, or a per-connection
    /// metric, which needs two levels: see [`rss_slopes`]).
    pub fn value(&self, m: &Measurement) -> Option<f64> {
        self.of_load(&m.load)
    }

    /// The value of this metric in one load result (a measurement's, or a
    /// `bench` run's); see [`Metric::value`].
    pub fn of_load(&self, load: &LoadResult) -> Option<f64> {
        let s = &load.summary;
        match self {
            Metric::Throughput => Some(s.throughput_rps),
            Metric::Latency(p) => (s.latency.count > 0).then(|| p.of(&s.latency) as f64),
            Metric::Ttfb(p) => (s.ttfb.count > 0).then(|| p.of(&s.ttfb) as f64),
            Metric::ChunkGapJitter => load.chunk_gap.as_ref().map(|g| {
                let p = g.percentiles();
                p.p99_us.saturating_sub(p.p50_us) as f64
            }),
            Metric::TemplateP99(name) => {
                let t = load.templates.iter().find(|t| &t.name == name)?;
                (t.latency_summary.count > 0).then_some(t.latency_summary.p99_us as f64)
            }
            Metric::RssPerConnection => None,
            Metric::ErrorRate => Some(s.error_rate),
        }
    }
}

/// A value of the metric named `metric` with its unit, by the name's
/// suffix: `_us` as milliseconds (`42.10 ms`), `_bytes` as KB or MB,
/// `_rps` as `812 req/s`, `error_rate` as a percentage (`0.050%`), and
/// anything else as a plain number. Verdict wording, thresholds and the
/// terminal use it.
pub fn format_value(metric: &str, v: f64) -> String {
    if metric.ends_with("_us") {
        format!("{:.2} ms", v / 1000.0)
    } else if metric.ends_with("_bytes") {
        if v >= 1e6 {
            format!("{:.1} MB", v / 1e6)
        } else {
            format!("{:.1} KB", v / 1e3)
        }
    } else if metric.ends_with("_rps") {
        format!("{v:.0} req/s")
    } else if metric == "error_rate" {
        format!("{:.3}%", v * 100.0)
    } else {
        format!("{v:.3}")
    }
}

/// Which load level of a scenario decides a claim.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LevelChoice {
    /// The highest level measured for every stack compared (e.g. the most connections).
    Highest,
    /// The lowest level measured (e.g. concurrency 1 for service time).
    Lowest,
    /// Exactly this level value (connections or requests per second).
    Exactly(f64),
}

/// How a claim's comparisons are formed.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimKind {
    /// Each favoured stack against each other stack, same scenario and level.
    Pairs,
    /// Each favoured stack against itself in a baseline scenario at the same
    /// level: ratio = value(scenario) / value(baseline), oriented by
    /// `increase` (true: the claim says the value goes up).
    Within {
        /// The scenario without the effect (e.g. `io-downstream` for `mixed`).
        baseline: String,
        /// True when the claim says the metric grows from baseline to scenario.
        increase: bool,
    },
    /// Each favoured stack run with its most workers (`<id>@w<N>`, the
    /// largest N measured) against itself with one worker (`<id>@w1`): does
    /// adding workers (and cores) add throughput?
    Scaling,
}

/// One claim, resolved from the claims file.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimSpec {
    /// Stable id, e.g. `io-concurrency`.
    pub id: String,
    /// The claim, quoted or closely paraphrased.
    pub quote: String,
    /// How comparisons are formed.
    pub kind: ClaimKind,
    /// Metrics compared (the first is the headline metric).
    pub metrics: Vec<Metric>,
    /// Scenarios that decide it.
    pub scenarios: Vec<String>,
    /// The deciding level in each scenario.
    pub level: LevelChoice,
    /// Stacks the claim favours.
    pub favoured: Vec<String>,
    /// Stacks they are compared with (unused for [`ClaimKind::Within`]).
    pub others: Vec<String>,
    /// A pair whose interval lies inside the equivalence band counts as holding
    /// (for claims that a stack "performs well", not "is faster").
    pub parity_holds: bool,
    /// Fewest CPUs the target must have had for the claim to be decidable (0: any).
    pub requires_target_cpus: usize,
    /// Extra condition or caveat printed with the verdict.
    pub note: Option<String>,
}
