//! What the load engine measured: the options a load ran with, its
//! summary, latency histograms, phases, per-second windows, errors and the
//! generator's own cost.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::histogram::Latency;

/// Closed loop (fixed concurrency) or open loop (fixed arrival rate).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LoadModelKind {
    /// Each connection sends its next request when the last response is read.
    Closed,
    /// Requests start on a schedule, whatever the server does.
    Open,
}

/// How open-loop arrivals are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Arrival {
    /// Evenly spaced: one every 1/rate seconds.
    Constant,
    /// Exponentially distributed gaps with mean 1/rate (a Poisson process).
    Poisson,
}

/// Which HTTP client the generator used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HttpClient {
    /// claimbench's lean clients (the default): requests encoded once;
    /// HTTP/1.1 responses parsed in place with httparse, HTTP/2 frames
    /// parsed in place with only `:status` kept from the header block.
    /// (HTTP/2 results written before the lean HTTP/2 client existed say
    /// `lean` but used the `h2` crate's client.)
    Lean,
    /// The references: hyper's connection-level HTTP/1.1 client
    /// (`hyper::client::conn::http1`), the `h2` crate's HTTP/2 client.
    Hyper,
}

/// The HTTP version spoken on each connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// HTTP/1.1: one request at a time per connection (the default).
    #[default]
    Http1,
    /// HTTP/2 (ALPN `h2` over TLS, prior knowledge `h2c` over plain TCP):
    /// each connection carries up to `streams` requests at once.
    Http2,
}

/// Results written before the client was recorded all used hyper's.
fn client_of_older_results() -> HttpClient {
    HttpClient::Hyper
}

/// The options a load run used, fully resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadOptions {
    /// Base URL (scheme, host, port) the requests went to.
    pub base_url: String,
    /// The request templates, with their weights.
    pub templates: Vec<TemplateOptions>,
    /// Closed or open loop.
    pub model: LoadModelKind,
    /// Closed loop: concurrent connections. Open loop: the most connections the pool may open.
    pub connections: usize,
    /// Open loop: requests per second (None in closed loop).
    pub rate_rps: Option<f64>,
    /// Open loop: how arrivals are spaced (None in closed loop).
    pub arrival: Option<Arrival>,
    /// Measured duration limit in seconds (None: limited by `max_requests` only).
    pub duration_s: Option<f64>,
    /// Measured request limit (None: limited by duration only).
    pub max_requests: Option<u64>,
    /// Warm-up run before measuring, seconds (its results are discarded);
    /// with `warmup_max_s`, the minimum of a warm-up that lasts until the
    /// target is steady. The warm-up actually run is `LoadResult::phases`.
    pub warmup_s: f64,
    /// Warm up until steady, at most this long (None: a fixed warm-up).
    #[serde(default)]
    pub warmup_max_s: Option<f64>,
    /// Stretch the measured phase to at least 20 × the warm-up's p50
    /// latency, at most this long (None: exactly `duration_s`).
    #[serde(default)]
    pub max_duration_s: Option<f64>,
    /// Per-request timeout in milliseconds.
    pub timeout_ms: u64,
    /// Generator threads (one single-threaded runtime each).
    pub threads: usize,
    /// CPUs the generator threads were pinned to (empty: not pinned).
    pub pin_cpus: Vec<usize>,
    /// Whether connections are reused (false: a new connection per request).
    pub keepalive: bool,
    /// Extra idle keep-alive connections held open beside the active ones.
    pub idle_connections: usize,
    /// Open loop: every connection of the pool was opened before the start
    /// and the arrivals went to them in turn (a connection sweep).
    #[serde(default)]
    pub preopen: bool,
    /// The HTTP/1.1 client that sent the requests (absent in results from
    /// before it was recorded, which all used `hyper`).
    #[serde(default = "client_of_older_results")]
    pub http_client: HttpClient,
    /// The HTTP version (absent in results from before HTTP/2: HTTP/1.1).
    #[serde(default)]
    pub protocol: Protocol,
    /// HTTP/2: concurrent requests (streams) per connection; 1 for HTTP/1.1.
    #[serde(default = "one")]
    pub streams: usize,
    /// Whether the connections used TLS (an `https://` URL).
    #[serde(default)]
    pub tls: bool,
}

fn one() -> usize {
    1
}

/// One request template of a load run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateOptions {
    /// Name, used to label per-template results (defaults to `METHOD path`).
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Relative weight in the mix.
    pub weight: u32,
    /// Extra request headers, `Name: value`.
    pub headers: Vec<String>,
    /// Request body size in bytes.
    pub body_bytes: usize,
    /// How responses are validated, human-readable (e.g. `status 200, json value == 196418`).
    pub check: String,
}

/// What the load generator measured in one run.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadResult {
    /// The options used.
    pub options: LoadOptions,
    /// The figures ready to read.
    pub summary: Summary,
    /// Latency of successful requests. Open loop: from the *intended* start
    /// time (coordinated-omission corrected). Closed loop: from the send.
    pub latency: Latency,
    /// Open loop only: latency from the actual send (service time).
    pub service: Option<Latency>,
    /// Time to the response head (status line and headers), from the send.
    pub ttfb: Latency,
    /// Open loop only: how late each send ran behind its schedule.
    pub schedule_lag: Option<Latency>,
    /// Gaps between body chunks of streamed responses (None when nothing streamed).
    pub chunk_gap: Option<Latency>,
    /// Per-template results (one entry per template, in template order).
    pub templates: Vec<TemplateResult>,
    /// Failed requests by class.
    pub errors: ErrorCounts,
    /// Responses by HTTP status code (keys are the codes as strings).
    pub status_codes: BTreeMap<String, u64>,
    /// Per-second windows of the measured phase.
    pub timeline: Vec<Window>,
    /// The generator's own resource use, and whether it limited the run.
    pub generator: GeneratorUsage,
    /// Connection counts.
    pub connections: ConnectionStats,
    /// How long the warm-up and the measured phase actually were, and why
    /// (absent in results from before it was recorded).
    #[serde(default)]
    pub phases: Option<Phases>,
    /// Closed loop: Little's law, connections = throughput × mean latency,
    /// checked on the measured window.
    #[serde(default)]
    pub little: Option<LittleCheck>,
    /// Why these figures may not be what they seem (not steady, Little's law
    /// off); the suite excludes such a measurement from verdicts with the reason.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The wall-clock time of the run's start (the first send of a closed
    /// loop, the schedule's origin of an open loop), read once from the
    /// system clock and carried on by the monotonic one. Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_wall: Option<chrono::DateTime<chrono::Utc>>,
    /// One shard of a load spread over several generators (`bench --shard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The shards this result was merged from (`claimbench merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergedInfo>,
}

/// How a merged result came about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergedInfo {
    /// Shards the run had.
    pub count: usize,
    /// Some shards were missing (`merge --allow-partial`).
    pub partial: bool,
    /// Latest minus earliest start of a shard's measured window, by each
    /// host's own clock, ms.
    pub max_start_skew_ms: f64,
    /// The window every shard was measuring: the latest start...
    pub overlap_start: chrono::DateTime<chrono::Utc>,
    /// ...to the earliest end.
    pub overlap_end: chrono::DateTime<chrono::Utc>,
    /// Each merged shard's record, by index.
    pub shards: Vec<ShardInfo>,
}

/// What a shard records so `merge` can check and combine the set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    /// 0-based index of this shard.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
    /// The run all shards belong to (`--run-id`, or derived from the options).
    pub run_id: String,
    /// SHA-256 of every option that must be the same on all shards.
    pub options_hash: String,
    /// When all shards were to start (`--start-at`).
    pub start_at: chrono::DateTime<chrono::Utc>,
    /// How late this shard's start came after `start_at` by its own clock, ms
    /// (negative: early).
    pub start_lag_ms: f64,
    /// The measured window by this host's wall clock.
    pub window_start: chrono::DateTime<chrono::Utc>,
    /// Its end.
    pub window_end: chrono::DateTime<chrono::Utc>,
    /// The kernel's clock state (`adjtimex`): false when unsynchronised.
    pub clock_synchronized: bool,
    /// The kernel's maximum clock error estimate, µs.
    pub clock_maxerror_us: i64,
    /// The kernel's estimated clock error, µs.
    pub clock_esterror_us: i64,
}

/// The warm-up and the measured phase as they were run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    /// Warm-up actually run, seconds.
    pub warmup_s: f64,
    /// Whether the target was steady when the warm-up ended: the last three
    /// one-second windows' throughput within ±10% of their mean (or 2/√n
    /// for n responses a window) and p50 within ±20% (or ±0.5 ms). None when the warm-up was fixed and too short to tell.
    pub steady: Option<bool>,
    /// Responses per second in each of the warm-up's last (up to three) windows.
    pub warmup_throughput_rps: Vec<f64>,
    /// p50 latency in each of the warm-up's last (up to three) windows, µs
    /// (0 where no response finished).
    pub warmup_p50_us: Vec<u64>,
    /// Length of the measured phase, seconds (`Summary::duration_s` unless cut short).
    pub measured_s: f64,
    /// Why the measured phase has that length.
    pub measured_reason: String,
}

/// Little's law on a closed-loop measurement: with `connections` always
/// busy, throughput × mean latency (all finished requests, connect time
/// included) must equal `connections`. A stall that leaves requests in
/// flight at the end, or a generator that leaves connections idle, breaks it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LittleCheck {
    /// Closed-loop connections.
    pub connections: usize,
    /// Requests per second × mean time a request held its connection.
    pub throughput_x_latency: f64,
    /// `throughput_x_latency / connections`; 1 is exact.
    pub ratio: f64,
}

/// The headline figures of a load run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Requests finished inside the measured window (successes and errors),
    /// whenever they were sent: `requests / duration_s == requests_rps`.
    pub requests: u64,
    /// Requests that got the expected status and body.
    pub ok: u64,
    /// Requests that failed (see [`LoadResult::errors`]).
    pub errors: u64,
    /// errors / requests (0 when no request finished).
    pub error_rate: f64,
    /// Open loop: requests the schedule asked for but that never started (the run ended first).
    pub not_started: u64,
    /// Requests sent but not finished when the measured window closed: not
    /// counted in `requests`, `ok` or the latency (absent in older results).
    #[serde(default)]
    pub in_flight_at_end: u64,
    /// Length of the measured phase in seconds.
    pub duration_s: f64,
    /// Successful requests per second (goodput).
    pub throughput_rps: f64,
    /// All finished requests per second.
    pub requests_rps: f64,
    /// Response bytes read (bodies only).
    pub bytes_read: u64,
    /// Latency of successful requests (corrected in open loop).
    pub latency: Percentiles,
    /// Open loop: service time of successful requests.
    pub service: Option<Percentiles>,
    /// Time to first byte of successful requests.
    pub ttfb: Percentiles,
    /// Open loop: lateness of sends behind schedule.
    pub schedule_lag: Option<Percentiles>,
}

/// Percentiles of a distribution, microseconds. These are true order
/// statistics from the HDR histogram (3 significant digits), not means of tails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Smallest value.
    pub min_us: u64,
    /// Arithmetic mean.
    pub mean_us: f64,
    /// Standard deviation.
    pub stdev_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 75th percentile.
    pub p75_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// 99.99th percentile.
    pub p9999_us: u64,
    /// Largest value.
    pub max_us: u64,
    /// Values above the histogram's upper bound (one hour).
    pub overflow: u64,
}

/// Results for one request template.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateResult {
    /// Template name.
    pub name: String,
    /// Requests finished.
    pub requests: u64,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Latency percentiles of successful requests.
    pub latency_summary: Percentiles,
    /// Latency histogram of successful requests.
    pub latency: Latency,
}

/// Failed requests by class. A request counts in exactly one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorCounts {
    /// The TCP connection could not be opened (refused, unreachable).
    pub connect: u64,
    /// No complete response within the timeout.
    pub timeout: u64,
    /// The connection was reset (also while opening), closed early, or sent bad HTTP.
    pub read: u64,
    /// The status was not the expected one.
    pub status: u64,
    /// The status was right but the body failed the check.
    pub body_mismatch: u64,
    /// HTTP/2: the server reset the request's stream (RST_STREAM).
    #[serde(default)]
    pub reset: u64,
    /// HTTP/2: the server ended the connection (GOAWAY) before answering.
    #[serde(default)]
    pub goaway: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect
            + self.timeout
            + self.read
            + self.status
            + self.body_mismatch
            + self.reset
            + self.goaway
    }
}

impl std::ops::AddAssign for ErrorCounts {
    fn add_assign(&mut self, o: Self) {
        self.connect += o.connect;
        self.timeout += o.timeout;
        self.read += o.read;
        self.status += o.status;
        self.body_mismatch += o.body_mismatch;
        self.reset += o.reset;
        self.goaway += o.goaway;
    }
}

/// One second (or other fixed window) of the measured phase.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start of the window, seconds from the start of the measured phase.
    pub t_s: f64,
    /// Length of the window in seconds.
    pub len_s: f64,
    /// Requests finished in the window.
    pub requests: u64,
    /// Successful requests finished in the window.
    pub ok: u64,
    /// Failed requests finished in the window.
    pub errors: u64,
    /// Median latency of successful requests in the window.
    pub p50_us: u64,
    /// 99th percentile latency of successful requests in the window.
    pub p99_us: u64,
    /// Largest latency in the window.
    pub max_us: u64,
    /// Latency histogram of the window.
    pub latency: Latency,
}

/// The generator's own resource use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorUsage {
    /// Generator threads.
    pub threads: usize,
    /// CPUs the generator could run on.
    pub cpus: Vec<usize>,
    /// CPU time (user + system) used by the generator process during the measured phase, seconds.
    pub cpu_s: f64,
    /// `cpu_s` as a percentage of what its threads could use (threads × duration), 0..100.
    pub cpu_percent: f64,
    /// Peak resident memory of the generator process, bytes.
    pub max_rss_bytes: u64,
    /// True when the generator itself probably limited the run (see `warnings`).
    pub saturated: bool,
    /// Why the run may have been limited by the generator, in words.
    pub warnings: Vec<String>,
}

/// Connection counts of a load run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionStats {
    /// TCP connections opened (including reconnects and idle ones).
    pub opened: u64,
    /// Reconnects after the server closed a keep-alive connection.
    pub reconnects: u64,
    /// Idle keep-alive connections asked for.
    pub idle_requested: usize,
    /// Idle keep-alive connections actually held open at the end of the run.
    pub idle_held: usize,
    /// TLS: how long each connection's handshake took (every connection
    /// opened, warm-up included; None over plain TCP). Its `count` is the
    /// number of handshakes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_handshake: Option<Percentiles>,
}
