//! The raw file formats: serde types that mirror what the user wrote. They
//! only check structure (unknown keys, types); values are checked when they
//! are resolved ([`super::Scenario`], [`super::Suite`], [`super::Claims`]).

use serde::Deserialize;
use toml::Spanned;

/// A scenario file, `scenarios/<name>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Scenario name (used in results; must match the file's use in suites).
    pub name: Spanned<String>,
    /// What it measures and why.
    pub description: String,
    /// The request mix: one `[[request]]` or several with weights.
    #[serde(default, rename = "request")]
    pub requests: Vec<RawRequest>,
    /// The load model and its levels.
    pub load: Spanned<RawLoad>,
    /// Warm-up before each measurement, e.g. `1s` (discarded), or `auto`:
    /// until the target is steady.
    pub warmup: Option<Spanned<String>>,
    /// With `warmup = "auto"`: the longest warm-up, e.g. `30s`.
    pub warmup_max: Option<Spanned<String>>,
    /// Measured duration per level, e.g. `3s`.
    pub duration: Option<Spanned<String>>,
    /// The longest the measured phase may be stretched to, to last 20
    /// warm-up medians, e.g. `30s`.
    pub max_duration: Option<Spanned<String>>,
    /// Per-request timeout, e.g. `30s`.
    pub timeout: Option<Spanned<String>>,
    /// Repetitions of each level (a suite may override).
    pub repetitions: Option<Spanned<u32>>,
    /// Thresholds whose breach makes `run` exit 1, e.g. `p99 < 50ms`.
    #[serde(default)]
    pub thresholds: Vec<Spanned<String>>,
}

/// One request template.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// Name for per-template results (default `METHOD path`).
    pub name: Option<String>,
    /// HTTP method (default GET).
    pub method: Option<Spanned<String>>,
    /// Path and query, e.g. `/cpu/fib?n=27`.
    pub path: Spanned<String>,
    /// Relative weight in the mix (default 1).
    pub weight: Option<Spanned<u32>>,
    /// Extra headers, `Name: value`.
    #[serde(default)]
    pub headers: Vec<Spanned<String>>,
    /// Request body from a file, relative to the scenario file.
    pub body_file: Option<Spanned<String>>,
    /// Record gaps between body chunks (streaming endpoints).
    #[serde(default)]
    pub stream: bool,
    /// How the response is validated.
    pub expect: Option<RawExpect>,
}

/// The expected response.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Expected status (default 200).
    pub status: Option<u16>,
    /// One JSON pointer and its expected value, e.g. `{ "/value" = 196418 }`.
    pub json: Option<Spanned<toml::Table>>,
    /// The body contains this text.
    pub contains: Option<String>,
    /// The body equals this text.
    pub equals: Option<String>,
    /// The body is an SSE stream of exactly this many events.
    pub sse_events: Option<usize>,
}

/// The `[load]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    /// `closed` or `open`.
    pub model: Spanned<String>,
    /// Closed loop: concurrency levels.
    pub concurrency: Option<Spanned<Vec<usize>>>,
    /// Open loop: arrival rates, requests per second.
    pub rates: Option<Spanned<Vec<f64>>>,
    /// Open loop: `constant` or `poisson` (default constant).
    pub arrival: Option<Spanned<String>>,
    /// Open loop: the most connections the pool may open (default 256).
    pub max_connections: Option<Spanned<usize>>,
    /// Idle keep-alive connections held beside the active ones; a list makes
    /// this the sweep (the active part must then be a single value).
    pub idle_connections: Option<Spanned<Vec<usize>>>,
    /// Open loop: a connection sweep. Each level opens this many connections
    /// before the start and hands the (single) rate's arrivals to them in
    /// turn, so every connection is active.
    pub connections: Option<Spanned<Vec<usize>>>,
    /// How often each idle connection sends one request to stay open, e.g. `1s`.
    pub idle_ping: Option<Spanned<String>>,
    /// Reuse connections (default true).
    pub keepalive: Option<bool>,
}

/// A suite file, `scenarios/suites/<name>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSuite {
    /// What the suite is for.
    pub description: String,
    /// Default targets of every entry.
    #[serde(default)]
    pub targets: Vec<Spanned<String>>,
    /// Repetitions of every measurement (overrides the scenarios').
    pub repetitions: Option<Spanned<u32>>,
    /// Warm-up override for every scenario, e.g. `1s` or `auto`.
    pub warmup: Option<Spanned<String>>,
    /// Longest auto warm-up override for every scenario.
    pub warmup_max: Option<Spanned<String>>,
    /// Measured duration override for every scenario, e.g. `3s`.
    pub duration: Option<Spanned<String>>,
    /// Longest stretched measured phase override for every scenario.
    pub max_duration: Option<Spanned<String>>,
    /// Error rate above which a measurement is excluded from verdicts, e.g. `1%`.
    pub max_error_rate: Option<Spanned<String>>,
    /// The claims file, relative to the suite file (default: `claims.toml` in
    /// the suite's folder or its parent).
    pub claims: Option<Spanned<String>>,
    /// Also run every target folder the suite does not name (e.g. a user's
    /// own server added under `targets/`), in every entry without a worker
    /// sweep (default false).
    #[serde(default)]
    pub other_targets: bool,
    /// Target folders that `other_targets` leaves out on purpose (measured
    /// in another suite).
    #[serde(default)]
    pub leave_out: Vec<String>,
    /// The scenarios to run, in order.
    #[serde(default, rename = "run")]
    pub runs: Vec<RawRun>,
}

/// One `[[run]]` entry of a suite.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// Scenario name: `<name>.toml` in the suite's folder or its parent.
    pub scenario: Spanned<String>,
    /// Levels overriding the scenario's sweep (concurrency, rates or idle connections).
    pub levels: Option<Spanned<Vec<f64>>>,
    /// Targets overriding the suite's.
    pub targets: Option<Vec<Spanned<String>>>,
    /// Repetitions overriding the suite's.
    pub repetitions: Option<Spanned<u32>>,
    /// Warm-up override.
    pub warmup: Option<Spanned<String>>,
    /// Longest auto warm-up override.
    pub warmup_max: Option<Spanned<String>>,
    /// Duration override.
    pub duration: Option<Spanned<String>>,
    /// Longest stretched measured phase override.
    pub max_duration: Option<Spanned<String>>,
    /// Worker counts to sweep (each target is started once per count); needs
    /// at least two target CPUs.
    pub workers: Option<Spanned<Vec<usize>>>,
}

/// The claims file, `scenarios/claims.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaims {
    /// Minimum effect, e.g. `5%` (default 5%), for metrics without their own.
    pub min_effect: Option<Spanned<String>>,
    /// Minimum effect per metric, e.g. `{ p99_us = "15%" }`.
    #[serde(default)]
    pub min_effects: std::collections::BTreeMap<String, Spanned<String>>,
    /// Confidence level, e.g. 0.95 (default).
    pub confidence: Option<Spanned<f64>>,
    /// Bootstrap resamples (default 10000).
    pub resamples: Option<usize>,
    /// The claims.
    #[serde(default, rename = "claim")]
    pub claims: Vec<RawClaim>,
}

/// One `[[claim]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaim {
    /// Stable id, e.g. `io-concurrency`.
    pub id: Spanned<String>,
    /// The claim, quoted or closely paraphrased.
    pub quote: String,
    /// `pairs` (default), `within` or `scaling`.
    pub kind: Option<Spanned<String>>,
    /// Metric names; the first is the headline.
    pub metrics: Spanned<Vec<String>>,
    /// Template name for `template_p99_us`.
    pub template: Option<String>,
    /// Scenarios that decide it.
    pub scenarios: Spanned<Vec<String>>,
    /// `highest`, `lowest` or a number (default highest).
    pub level: Option<Spanned<toml::Value>>,
    /// Favoured stacks.
    pub favoured: Spanned<Vec<String>>,
    /// Compared stacks (`pairs` only).
    #[serde(default)]
    pub others: Vec<String>,
    /// `within` only: the baseline scenario.
    pub baseline: Option<String>,
    /// `within` only: `increase` or `decrease` (what the claim predicts).
    pub direction: Option<Spanned<String>>,
    /// Parity inside the equivalence band counts as holding.
    #[serde(default)]
    pub parity_holds: bool,
    /// Fewest target CPUs needed to decide.
    #[serde(default)]
    pub requires_target_cpus: usize,
    /// Caveat printed with the verdict.
    pub note: Option<String>,
}
