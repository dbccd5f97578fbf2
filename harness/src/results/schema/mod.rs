//! The results schema: the one contract between measuring, analysing,
//! comparing and reporting.
//!
//! Every file that `claimbench bench` or `claimbench run` writes is a
//! [`ResultsFile`]. Its `schema_version` changes whenever a field changes
//! meaning or disappears; readers refuse other versions with a message that
//! names both. `results/schema.json` is generated from these types (a test
//! keeps it in step) and `results/README.md` explains the fields.
//!
//! Units are in the field names: `_us` microseconds, `_ms` milliseconds,
//! `_s` seconds, `_bytes` bytes, `_rps` requests per second.
#![warn(missing_docs)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of this schema. Bump it when a field changes meaning or is removed.
pub const SCHEMA_VERSION: u32 = 1;

/// One results file, written by `bench` (one measurement) or `run` (a suite).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsFile {
    /// Version of this schema; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `run`: the seed of the measurement order within each round of
    /// repetitions (`run --order-seed` repeats it); absent for `bench` and
    /// in older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_seed: Option<u64>,
    /// What produced the file.
    pub kind: RunKind,
    /// Identifier of the run: its UTC start time, `YYYYMMDDTHHMMSSZ`.
    pub run_id: String,
    /// When the run started (UTC).
    pub started_at: DateTime<Utc>,
    /// When the run ended (UTC); absent while it is still being written.
    pub finished_at: Option<DateTime<Utc>>,
    /// False when the run was interrupted or failed part-way: the measurements
    /// present are real, but some planned ones are missing.
    pub complete: bool,
    /// The command line that produced this file.
    pub command_line: Vec<String>,
    /// The harness that measured.
    pub tool: ToolInfo,
    /// The machine it ran on and how its CPUs were split.
    pub host: HostInfo,
    /// Every target measured (or planned), with its configuration and versions.
    pub targets: Vec<TargetInfo>,
    /// Every measurement, in the order they were taken.
    pub measurements: Vec<Measurement>,
    /// Targets or measurements that were planned but could not run, and why.
    pub skipped: Vec<Skipped>,
    /// Claim verdicts computed from the measurements (empty for `bench`).
    pub verdicts: Vec<Verdict>,
    /// `run --duet`: this file is one side of a duet run, whose every
    /// measurement ran at the same time as the other side's; absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duet: Option<Duet>,
}

/// One side of a duet run (`run --duet DIR`): every target measured at the
/// same time as its twin from another targets folder, on the same CPUs,
/// each loaded by its own generator, so a slow stretch of the machine
/// falls on both sides alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Duet {
    /// `head` (the run's own folder, `--targets-dir`) or `baseline` (the
    /// `--duet` folder).
    pub side: String,
    /// This side's targets folder.
    pub targets_dir: String,
    /// The other side's results file, relative to this file's folder.
    pub partner: String,
    /// Whether each side ran in a CPU control group of its own, so the
    /// shared CPUs were split equally between the sides (false: split
    /// between their threads by the scheduler, without groups).
    pub cpu_groups: bool,
}

impl ResultsFile {
    /// A new file of this kind started now-ish at `started_at`, with no
    /// targets, measurements or verdicts yet, `complete: false`, and this
    /// process's command line: the one skeleton `run` and `bench` fill in.
    pub fn new(
        kind: RunKind,
        started_at: DateTime<Utc>,
        tool: ToolInfo,
        host: HostInfo,
    ) -> ResultsFile {
        ResultsFile {
            schema_version: SCHEMA_VERSION,
            order_seed: None,
            kind,
            run_id: started_at.format("%Y%m%dT%H%M%SZ").to_string(),
            started_at,
            finished_at: None,
            complete: false,
            command_line: std::env::args().collect(),
            tool,
            host,
            targets: Vec::new(),
            measurements: Vec::new(),
            skipped: Vec::new(),
            verdicts: Vec::new(),
            duet: None,
        }
    }
}

/// What produced a results file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// `claimbench bench URL`: one ad-hoc measurement.
    Bench,
    /// `claimbench run`: a suite of scenarios over targets.
    Suite,
}

/// The harness build that measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    /// Always `claimbench`.
    pub name: String,
    /// Crate version.
    pub version: String,
    /// Git commit of the harness source, when it was built from a checkout.
    pub git_commit: Option<String>,
    /// Whether the checkout had uncommitted changes when built.
    pub git_dirty: Option<bool>,
}

/// Facts about the machine and the CPU split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub os: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Logical CPUs online.
    pub logical_cpus: usize,
    /// Physical memory in bytes.
    pub memory_bytes: u64,
    /// CPUs the load generator ran on (empty: not pinned).
    pub generator_cpus: Vec<usize>,
    /// CPUs the targets ran on (empty: not pinned or not supervised).
    pub target_cpus: Vec<usize>,
    /// CPUs the downstream service ran on (empty: none or not pinned).
    pub downstream_cpus: Vec<usize>,
}

/// One target configuration as measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// Target id: the folder name, with `:variant` for a variant (e.g. `python-django:asgi`).
    pub id: String,
    /// Language (python, javascript, typescript, rust, or `unknown` for an external URL).
    pub language: String,
    /// Framework name.
    pub framework: String,
    /// Server and its options, human-readable.
    pub server: String,
    /// Concurrency model: async, sync, threaded, multi-threaded.
    pub concurrency_model: String,
    /// Worker processes or threads the target was started with (None: not supervised).
    pub workers: Option<usize>,
    /// CPUs the target was pinned to (empty: not pinned).
    pub cpus: Vec<usize>,
    /// Installed versions of the runtime and framework, by component.
    pub versions: BTreeMap<String, String>,
    /// Whether claimbench started and sampled this target (false for `--target-url`).
    pub supervised: bool,
    /// Base URL the load went to.
    pub url: String,
}

impl TargetInfo {
    /// A server claimbench did not start (`bench`, `run --target-url`):
    /// nothing known about it but where it answers.
    pub fn external(id: &str, url: &str, server: String) -> TargetInfo {
        TargetInfo {
            id: id.to_string(),
            language: "unknown".into(),
            framework: "unknown".into(),
            server,
            concurrency_model: "unknown".into(),
            workers: None,
            cpus: Vec::new(),
            versions: BTreeMap::new(),
            supervised: false,
            url: url.to_string(),
        }
    }
}

/// A planned measurement or target that did not run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Skipped {
    /// Target id.
    pub target: String,
    /// Scenario name, when only one scenario was skipped.
    pub scenario: Option<String>,
    /// Why it did not run.
    pub reason: String,
}

/// One measurement: one target, one scenario, one load level, one repetition.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Target id (see [`TargetInfo::id`]).
    pub target: String,
    /// Scenario name.
    pub scenario: String,
    /// The load level of this measurement.
    pub level: Level,
    /// Repetition number, from 1.
    pub repetition: u32,
    /// When the measured phase started (UTC).
    pub started_at: DateTime<Utc>,
    /// How the target reached a clean state before this measurement:
    /// `started` (fresh process), `restarted`, `idle` (waited until idle) or `external`.
    pub clean_state: String,
    /// What the load generator measured.
    pub load: LoadResult,
    /// The target's own CPU and memory while it was measured (supervised targets only).
    pub resources: Option<ResourceUsage>,
    /// Why this measurement must not decide a verdict (generator-bound, errors, ...); None when valid.
    pub excluded: Option<String>,
    /// CPU that processes other than claimbench and the target used during
    /// the measured window (absent in results written before this check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostLoad>,
}

/// What the rest of the machine did during a measured window: the kernel's
/// count of busy CPU time (`/proc/stat`) minus claimbench's, its children's
/// and the target's own (`/proc/PID/stat`); the time the hypervisor took
/// from this virtual machine; and how fast a fixed CPU loop ran around the
/// measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostLoad {
    /// Mean CPUs used by other processes (0.5 = half of one CPU).
    pub other_cpus: f64,
    /// Length of the window it was counted over, seconds.
    pub window_s: f64,
    /// Mean CPUs the hypervisor ran something else on instead of this
    /// machine (`/proc/stat`'s steal time) during the window (absent in
    /// results written before this was counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_cpus: Option<f64>,
    /// A fixed CPU loop's time on the measurement's CPUs, before the target
    /// started and after it stopped, as a multiple of its median time in
    /// the two minutes before (1.0 = full speed; the slowest CPU counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowdown: Option<f64>,
}

/// A load level: concurrency for closed loop, arrival rate for open loop.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Closed or open loop.
    pub model: LoadModelKind,
    /// Connections (closed loop) or requests per second (open loop).
    pub value: f64,
}

impl Level {
    /// A short label, e.g. `c=64` or `r=1000/s`.
    pub fn label(&self) -> String {
        match self.model {
            LoadModelKind::Closed => format!("c={}", self.value),
            LoadModelKind::Open => format!("r={}/s", self.value),
        }
    }
}

mod load;
mod resources;
mod verdict;

pub use load::*;
pub use resources::*;
pub use verdict::*;
