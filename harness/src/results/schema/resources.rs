//! The target's own CPU and memory over a measured window.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The target's own CPU and memory, summed over its whole process tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceUsage {
    /// Sampling interval, milliseconds.
    pub interval_ms: u64,
    /// CPU time (user + system) used during the measurement, seconds.
    pub cpu_s: f64,
    /// Mean CPU use, percent of one CPU (200 = two CPUs busy).
    pub cpu_percent_mean: f64,
    /// Peak CPU use over one interval, percent of one CPU.
    pub cpu_percent_peak: f64,
    /// Mean resident memory, bytes.
    pub rss_mean_bytes: u64,
    /// Peak resident memory, bytes.
    pub rss_peak_bytes: u64,
    /// Peak thread count over the tree.
    pub threads_peak: u64,
    /// Peak process count in the tree.
    pub processes_peak: u64,
    /// The time series.
    pub samples: Vec<ResourceSample>,
}

/// One sample of a target's resources.
///
/// Written as one array per sample, `[t_ms, cpu_percent, rss_bytes, threads,
/// processes]`, which the results writer keeps on one line: a run holds tens
/// of thousands of samples, and as objects they were most of the file.
/// Results written before this form hold an object per sample with the time
/// in seconds (`t_s`); they still read.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "ResourceSampleForm", into = "ResourceSampleRow")]
pub struct ResourceSample {
    /// Milliseconds from the start of the measured phase.
    pub t_ms: u64,
    /// CPU use over the last interval, percent of one CPU (the sampler
    /// rounds it to 0.1; `/proc` counts 10 ms ticks, 10% of a 100 ms interval).
    pub cpu_percent: f64,
    /// Resident memory summed over the tree, bytes.
    pub rss_bytes: u64,
    /// Threads summed over the tree.
    pub threads: u64,
    /// Processes in the tree.
    pub processes: u64,
}

/// A resource sample as written: `[t_ms, cpu_percent, rss_bytes, threads,
/// processes]`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
struct ResourceSampleRow(
    /// `t_ms`: milliseconds from the start of the measured phase.
    u64,
    /// `cpu_percent`: CPU use over the last interval, percent of one CPU.
    f64,
    /// `rss_bytes`: resident memory summed over the tree, bytes.
    u64,
    /// `threads`: threads summed over the tree.
    u64,
    /// `processes`: processes in the tree.
    u64,
);

/// A resource sample as read: the array written now, or the object of older results.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum ResourceSampleForm {
    /// `[t_ms, cpu_percent, rss_bytes, threads, processes]`.
    Row(ResourceSampleRow),
    /// The object older results hold.
    Object(ResourceSampleObject),
}

/// A resource sample as older results wrote it (time in seconds).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ResourceSampleObject {
    /// Seconds from the start of the measured phase.
    t_s: f64,
    /// CPU use over the last interval, percent of one CPU.
    cpu_percent: f64,
    /// Resident memory summed over the tree, bytes.
    rss_bytes: u64,
    /// Threads summed over the tree.
    threads: u64,
    /// Processes in the tree.
    processes: u64,
}

impl From<ResourceSampleForm> for ResourceSample {
    fn from(f: ResourceSampleForm) -> Self {
        match f {
            ResourceSampleForm::Row(ResourceSampleRow(
                t_ms,
                cpu_percent,
                rss_bytes,
                threads,
                processes,
            )) => ResourceSample {
                t_ms,
                cpu_percent,
                rss_bytes,
                threads,
                processes,
            },
            ResourceSampleForm::Object(o) => ResourceSample {
                t_ms: (o.t_s.max(0.0) * 1e3).round() as u64,
                cpu_percent: o.cpu_percent,
                rss_bytes: o.rss_bytes,
                threads: o.threads,
                processes: o.processes,
            },
        }
    }
}

impl From<ResourceSample> for ResourceSampleRow {
    fn from(s: ResourceSample) -> Self {
        ResourceSampleRow(s.t_ms, s.cpu_percent, s.rss_bytes, s.threads, s.processes)
    }
}
