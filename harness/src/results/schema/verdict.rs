//! Claim verdicts as a results file records them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Level;

/// The verdict on one claim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Claim id, e.g. `io-concurrency`.
    pub claim: String,
    /// The claim, quoted or closely paraphrased from the article.
    pub quote: String,
    /// supported, refuted, mixed or inconclusive.
    pub outcome: Outcome,
    /// One plain sentence that answers the claim, with the one or two
    /// numbers that decide it (for writers; absent in older results).
    #[serde(default)]
    pub answer: String,
    /// One or two sentences with the deciding numbers.
    pub summary: String,
    /// The deciding metric, e.g. `throughput_rps` or `p99_us`.
    pub metric: String,
    /// Per-pair comparisons behind the verdict.
    pub comparisons: Vec<Comparison>,
    /// Conditions the verdict holds under (core split, worker counts, versions).
    pub conditions: Vec<String>,
    /// Targets the claim needed but that were not measured (or were excluded), and why.
    pub missing: Vec<String>,
}

/// A claim verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The claim holds for every pair compared, beyond the noise.
    Supported,
    /// The opposite holds for every pair compared, beyond the noise (or no pair supports it).
    Refuted,
    /// Holds for some pairs or levels, not for others.
    Mixed,
    /// The differences are inside the noise, or the data needed is missing.
    Inconclusive,
}

impl Outcome {
    /// Its word, as the JSON, the terminal and the reports write it:
    /// `supported`, `refuted`, `mixed`, `inconclusive`.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Supported => "supported",
            Outcome::Refuted => "refuted",
            Outcome::Mixed => "mixed",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// One comparison between two targets on one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// The target the claim favours (e.g. `node-express`).
    pub favoured: String,
    /// The target it is compared with.
    pub other: String,
    /// Scenario.
    pub scenario: String,
    /// Load level.
    pub level: Level,
    /// Metric compared.
    pub metric: String,
    /// Median of the metric over the favoured target's repetitions.
    pub favoured_median: f64,
    /// Median of the metric over the other target's repetitions.
    pub other_median: f64,
    /// favoured / other, oriented so that > 1 means the favoured target is better.
    pub ratio: f64,
    /// Lower bound of the 95% bootstrap confidence interval of `ratio`.
    pub ci_low: f64,
    /// Upper bound of the 95% bootstrap confidence interval of `ratio`.
    pub ci_high: f64,
    /// Repetitions behind each median (favoured, other).
    pub repetitions: (usize, usize),
    /// `favoured-better`, `other-better` or `no-difference`.
    pub result: PairResult,
    /// Set when one side failed at this level (errors, no successful
    /// response, did not start): that side loses, and this says which and
    /// why. The medians are then of whatever the failed side measured (0
    /// when nothing), and the ratio and its interval mean nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// The outcome of one pair comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PairResult {
    /// The favoured target is better beyond the noise and the minimum effect.
    FavouredBetter,
    /// The other target is better beyond the noise and the minimum effect.
    OtherBetter,
    /// The interval includes "no difference" or the effect is below the minimum.
    NoDifference,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_word_is_its_json() {
        for o in [
            Outcome::Supported,
            Outcome::Refuted,
            Outcome::Mixed,
            Outcome::Inconclusive,
        ] {
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.word())
            );
        }
    }
}
