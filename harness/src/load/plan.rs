//! The resolved load plan: what the engine runs. Built by `bench` from flags
//! and by the suite runner from scenario files; validated here so that the
//! engine itself never sees a bad value.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Uri};

pub use super::endpoint::{Endpoint, TlsOptions};
use crate::results::schema::{Arrival, LoadModelKind, LoadOptions, TemplateOptions};
pub use crate::results::schema::{HttpClient, Protocol};

/// Why a plan is not runnable. Every variant names the offending input.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The URL could not be parsed.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// What the user wrote.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL's host did not resolve.
    #[error("cannot resolve host of {url:?}: {reason}")]
    Resolve {
        /// The URL.
        url: String,
        /// The resolver's message.
        reason: String,
    },
    /// A numeric option is out of range.
    #[error("invalid {option}: {reason}")]
    Value {
        /// The option, e.g. `--rate`.
        option: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header could not be parsed.
    #[error("invalid header {header:?}: {reason}")]
    Header {
        /// What the user wrote.
        header: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// How a response is judged successful.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Expected status code.
    pub status: u16,
    /// What the body must satisfy.
    pub body: BodyCheck,
}

impl Default for Check {
    fn default() -> Self {
        Self {
            status: 200,
            body: BodyCheck::Any,
        }
    }
}

/// A condition on the response body.
#[derive(Clone, Debug, PartialEq)]
pub enum BodyCheck {
    /// Any body (it is still read in full and counted).
    Any,
    /// The body equals these bytes exactly.
    Equals(Bytes),
    /// The body contains this text.
    Contains(String),
    /// The body is JSON and the value at this JSON pointer (RFC 6901, e.g.
    /// `/value`) equals the given value.
    JsonField {
        /// JSON pointer.
        pointer: String,
        /// Expected value.
        value: serde_json::Value,
    },
    /// The body is a server-sent-events stream of exactly this many `data:` events.
    SseEvents(usize),
}

impl BodyCheck {
    /// Whether the body must be kept in memory to be checked.
    pub fn needs_body(&self) -> bool {
        !matches!(self, BodyCheck::Any)
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status {}", self.status)?;
        match &self.body {
            BodyCheck::Any => Ok(()),
            BodyCheck::Equals(b) => write!(f, ", body == {:?}", String::from_utf8_lossy(b)),
            BodyCheck::Contains(s) => write!(f, ", body contains {s:?}"),
            BodyCheck::JsonField { pointer, value } => write!(f, ", json {pointer} == {value}"),
            BodyCheck::SseEvents(n) => write!(f, ", {n} SSE events"),
        }
    }
}

/// One kind of request in the mix.
#[derive(Clone, Debug)]
pub struct RequestTemplate {
    /// Name for per-template results (default `METHOD path`).
    pub name: String,
    /// HTTP method.
    pub method: Method,
    /// Path and query, e.g. `/cpu/fib?n=27`.
    pub path: Uri,
    /// Extra headers (Host is added by the engine).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Request body (empty for none).
    pub body: Bytes,
    /// Relative weight in the mix (> 0).
    pub weight: u32,
    /// How the response is validated.
    pub check: Check,
    /// Whether to record gaps between body chunks (streaming endpoints).
    pub stream: bool,
}

impl RequestTemplate {
    /// A GET template with default check (status 200, any body).
    pub fn get(path: &str) -> Result<Self, PlanError> {
        Self::new(Method::GET, path, Bytes::new())
    }

    /// A template with the given method, path and body.
    pub fn new(method: Method, path: &str, body: Bytes) -> Result<Self, PlanError> {
        let uri: Uri = path
            .parse()
            .map_err(|e: http::uri::InvalidUri| PlanError::Url {
                url: path.to_string(),
                reason: e.to_string(),
            })?;
        if uri.scheme().is_some() || !path.starts_with('/') {
            return Err(PlanError::Url {
                url: path.to_string(),
                reason: "a request path must start with `/`".into(),
            });
        }
        Ok(Self {
            name: format!("{method} {path}"),
            method,
            path: uri,
            headers: Vec::new(),
            body,
            weight: 1,
            check: Check::default(),
            stream: false,
        })
    }

    /// Parses `Name: value` and adds it as a header.
    pub fn add_header(&mut self, raw: &str) -> Result<(), PlanError> {
        let bad = |reason: &str| PlanError::Header {
            header: raw.to_string(),
            reason: reason.to_string(),
        };
        let (name, value) = raw
            .split_once(':')
            .ok_or_else(|| bad("expected `Name: value`"))?;
        let name =
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| bad(&e.to_string()))?;
        let value = HeaderValue::from_str(value.trim()).map_err(|e| bad(&e.to_string()))?;
        // One Host: a later one replaces the earlier (and the URL's).
        if name == http::header::HOST {
            self.headers.retain(|(n, _)| n != http::header::HOST);
        }
        self.headers.push((name, value));
        Ok(())
    }

    fn options(&self) -> TemplateOptions {
        TemplateOptions {
            name: self.name.clone(),
            method: self.method.to_string(),
            path: self.path.to_string(),
            weight: self.weight,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
                .collect(),
            body_bytes: self.body.len(),
            check: self.check.to_string(),
        }
    }
}

/// Closed loop or open loop, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoadModel {
    /// `connections` connections, each sending its next request when the last response is read.
    Closed {
        /// Concurrent connections.
        connections: usize,
    },
    /// Requests start at `rate` per second whatever the server does, over a
    /// pool of at most `max_connections` connections.
    Open {
        /// Requests per second.
        rate: f64,
        /// Spacing of arrivals.
        arrival: Arrival,
        /// Most connections the pool may open.
        max_connections: usize,
    },
}

/// A fully resolved load run.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// Where requests go.
    pub endpoint: Endpoint,
    /// The request mix (at least one).
    pub templates: Vec<RequestTemplate>,
    /// Closed or open loop.
    pub model: LoadModel,
    /// Measured duration (None: until `max_requests`).
    pub duration: Option<Duration>,
    /// Measured request limit (None: until `duration`).
    pub max_requests: Option<u64>,
    /// Warm-up before measuring; its results are discarded. With
    /// `warmup_max`, the least warm-up of one that lasts until steady.
    pub warmup: Duration,
    /// Warm up until the target is steady (see [`super::phase`]), at most
    /// this long (None: exactly `warmup`).
    pub warmup_max: Option<Duration>,
    /// Stretch the measured phase to at least [`super::phase::LATENCIES_PER_WINDOW`]
    /// × the warm-up's p50 latency, at most this long (None: exactly `duration`).
    pub max_duration: Option<Duration>,
    /// Per-request timeout (send to last body byte).
    pub timeout: Duration,
    /// Generator threads, one single-threaded runtime each.
    pub threads: usize,
    /// CPUs to pin the generator threads to (empty: no pinning).
    pub pin_cpus: Vec<usize>,
    /// Reuse connections (false: a new connection per request).
    pub keepalive: bool,
    /// Extra idle keep-alive connections to hold open beside the active ones.
    pub idle_connections: usize,
    /// How often each idle connection sends one request to stay open (None: never).
    pub idle_ping: Option<Duration>,
    /// Open loop: open all `max_connections` before the start (64 at a time)
    /// and hand the arrivals to them in turn, so every connection is active
    /// and sends a request every `max_connections / rate` seconds.
    pub preopen: bool,
    /// Length of a timeline window.
    pub window: Duration,
    /// The HTTP/1.1 client.
    pub http_client: HttpClient,
    /// HTTP/1.1 or HTTP/2.
    pub protocol: Protocol,
    /// HTTP/2: requests in flight at once on each connection (1 for HTTP/1.1).
    pub streams: usize,
    /// Certificate checks of `https://` endpoints.
    pub tls: TlsOptions,
    /// This process runs one shard of a load spread over several
    /// generators: its share of the connections and request budget, and
    /// (open loop) its stripe of the global schedule.
    pub shard: Option<Shard>,
    /// Start at this wall-clock time (all shards of a run share it): the
    /// run waits for it on the monotonic clock, and refuses to start
    /// ([`super::LoadError::LateStart`]) once it is more than
    /// `start_tolerance` past.
    pub start_at: Option<std::time::SystemTime>,
    /// How late after `start_at` a run may still start.
    pub start_tolerance: Duration,
}

/// Shard `index` of `count` ([`LoadPlan::shard`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// This shard's part of `total`, split as evenly as possible (the
    /// first `total mod count` shards get one more).
    pub fn share(&self, total: u64) -> u64 {
        let n = self.count as u64;
        total / n + u64::from((self.index as u64) < total % n)
    }
}

/// The most HTTP/2 streams per connection asked for (servers commonly
/// allow 100 to 256 at once).
pub const MAX_STREAMS: usize = 1024;

/// The longest run the engine accepts, so every load loop is bounded.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

impl LoadPlan {
    /// A closed-loop plan with defaults: 1 thread, 10 s, 30 s timeout, keep-alive.
    pub fn closed(endpoint: Endpoint, templates: Vec<RequestTemplate>, connections: usize) -> Self {
        Self {
            endpoint,
            templates,
            model: LoadModel::Closed { connections },
            duration: Some(Duration::from_secs(10)),
            max_requests: None,
            warmup: Duration::ZERO,
            warmup_max: None,
            max_duration: None,
            timeout: Duration::from_secs(30),
            threads: 1,
            pin_cpus: Vec::new(),
            keepalive: true,
            idle_connections: 0,
            idle_ping: None,
            preopen: false,
            window: Duration::from_secs(1),
            http_client: HttpClient::Lean,
            protocol: Protocol::Http1,
            streams: 1,
            tls: TlsOptions::default(),
            shard: None,
            start_at: None,
            start_tolerance: Duration::from_millis(500),
        }
    }

    /// Checks every value; the engine relies on this having passed.
    pub fn validate(&self) -> Result<(), PlanError> {
        let bad = |option: &str, reason: String| {
            Err(PlanError::Value {
                option: option.to_string(),
                reason,
            })
        };
        if self.templates.is_empty() {
            return bad("requests", "at least one request template is needed".into());
        }
        if let Some(t) = self.templates.iter().find(|t| t.weight == 0) {
            return bad("weight", format!("template `{}` has weight 0", t.name));
        }
        match self.model {
            LoadModel::Closed { connections: 0 } => {
                return bad("--connections", "must be at least 1".into());
            }
            LoadModel::Open {
                rate,
                max_connections,
                ..
            } => {
                if !(rate.is_finite() && rate > 0.0) {
                    return bad("--rate", format!("must be a positive number, got {rate}"));
                }
                if rate > 10_000_000.0 {
                    return bad(
                        "--rate",
                        format!("{rate} is above the supported 10,000,000/s"),
                    );
                }
                if max_connections == 0 {
                    return bad("--connections", "must be at least 1".into());
                }
            }
            _ => {}
        }
        match (self.duration, self.max_requests) {
            (None, None) => {
                return bad(
                    "--duration",
                    "a duration or a request count is needed".into(),
                );
            }
            (Some(d), _) if d.is_zero() => return bad("--duration", "must be above zero".into()),
            (Some(d), _) if d > MAX_DURATION => {
                return bad(
                    "--duration",
                    format!(
                        "must be at most {}",
                        humantime::format_duration(MAX_DURATION)
                    ),
                );
            }
            (_, Some(0)) => return bad("--requests", "must be at least 1".into()),
            _ => {}
        }
        if self.warmup > MAX_DURATION {
            return bad("--warmup", "too long".into());
        }
        if self.preopen && !(matches!(self.model, LoadModel::Open { .. }) && self.keepalive) {
            return bad(
                "connections",
                "a connection sweep needs an open loop with keep-alive".into(),
            );
        }
        if let Some(max) = self.warmup_max {
            if max > MAX_DURATION {
                return bad("warmup_max", "too long".into());
            }
            if max < self.warmup {
                return bad(
                    "warmup_max",
                    format!(
                        "{} is below the minimum warm-up {}",
                        humantime::format_duration(max),
                        humantime::format_duration(self.warmup)
                    ),
                );
            }
        }
        if let Some(max) = self.max_duration {
            match self.duration {
                None => {
                    return bad(
                        "max_duration",
                        "needs a duration (a run limited by a request count has no window to stretch)"
                            .into(),
                    );
                }
                Some(d) if max < d => {
                    return bad(
                        "max_duration",
                        format!(
                            "{} is below the duration {}",
                            humantime::format_duration(max),
                            humantime::format_duration(d)
                        ),
                    );
                }
                _ if max > MAX_DURATION => return bad("max_duration", "too long".into()),
                _ => {}
            }
        }
        if self.timeout.is_zero() {
            return bad("--timeout", "must be above zero".into());
        }
        if self.threads == 0 {
            return bad("--threads", "must be at least 1".into());
        }
        if self.streams == 0 || self.streams > MAX_STREAMS {
            return bad(
                "--streams",
                format!("must be between 1 and {MAX_STREAMS}, got {}", self.streams),
            );
        }
        if let Some(sh) = self.shard {
            if sh.count == 0 || sh.index >= sh.count {
                return bad(
                    "--shard",
                    format!(
                        "shard {}/{} does not exist (shards are 0..N-1)",
                        sh.index, sh.count
                    ),
                );
            }
            let conns = match self.model {
                LoadModel::Closed { connections } => connections,
                LoadModel::Open {
                    max_connections, ..
                } => max_connections,
            };
            if conns < sh.count {
                return bad(
                    "--shard",
                    format!(
                        "{conns} connections cannot be split over {} shards: shard {} would get none",
                        sh.count,
                        sh.count - 1
                    ),
                );
            }
            if let Some(n) = self.max_requests.filter(|&n| n < sh.count as u64) {
                return bad(
                    "--shard",
                    format!("{n} requests cannot be split over {} shards", sh.count),
                );
            }
            if self.warmup_max.is_some() || self.max_duration.is_some() {
                return bad(
                    "--shard",
                    "a shard needs a fixed warm-up and duration (not `auto`), so all shards measure the same window".into(),
                );
            }
        }
        if self.streams > 1 && self.protocol != Protocol::Http2 {
            return bad(
                "--streams",
                "several requests at once on one connection need HTTP/2 (--http2)".into(),
            );
        }
        if self.window.is_zero() {
            return bad("window", "must be above zero".into());
        }
        Ok(())
    }

    /// The plan as recorded in results.
    pub fn options(&self) -> LoadOptions {
        let (model, connections, rate_rps, arrival) = match self.model {
            LoadModel::Closed { connections } => (LoadModelKind::Closed, connections, None, None),
            LoadModel::Open {
                rate,
                arrival,
                max_connections,
            } => (
                LoadModelKind::Open,
                max_connections,
                Some(rate),
                Some(arrival),
            ),
        };
        LoadOptions {
            base_url: self.endpoint.base_url.clone(),
            templates: self
                .templates
                .iter()
                .map(RequestTemplate::options)
                .collect(),
            model,
            connections,
            rate_rps,
            arrival,
            duration_s: self.duration.map(|d| d.as_secs_f64()),
            max_requests: self.max_requests,
            warmup_s: self.warmup.as_secs_f64(),
            warmup_max_s: self.warmup_max.map(|d| d.as_secs_f64()),
            max_duration_s: self.max_duration.map(|d| d.as_secs_f64()),
            timeout_ms: self.timeout.as_millis() as u64,
            threads: self.threads,
            pin_cpus: self.pin_cpus.clone(),
            keepalive: self.keepalive,
            idle_connections: self.idle_connections,
            preopen: self.preopen,
            http_client: self.http_client,
            protocol: self.protocol,
            streams: self.streams,
            tls: self.endpoint.tls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let (e, path) = Endpoint::parse("http://127.0.0.1:8080/a?b=1").unwrap();
        assert_eq!(path, "/a?b=1");
        assert_eq!(e.base_url, "http://127.0.0.1:8080");
        assert_eq!(e.authority, "127.0.0.1:8080");
        let (e, path) = Endpoint::parse("http://[::1]:9/").unwrap();
        assert_eq!(path, "/");
        assert_eq!(e.addrs[0].port(), 9);
        assert_eq!(e.host, "::1");
        let (e, _) = Endpoint::parse("https://localhost/").unwrap();
        assert!(e.tls);
        assert_eq!(e.base_url, "https://localhost");
        assert_eq!(e.host, "localhost");
        assert!(e.addrs.iter().all(|a| a.port() == 443));
        for bad in [
            "127.0.0.1:80",
            "ftp://x/",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:0/",
            "http://user@127.0.0.1/",
            "http://",
            "not a url",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn plans_are_validated() {
        let (e, _) = Endpoint::parse("http://127.0.0.1:1/").unwrap();
        let t = vec![RequestTemplate::get("/").unwrap()];
        let mut p = LoadPlan::closed(e, t, 1);
        assert!(p.validate().is_ok());
        p.model = LoadModel::Open {
            rate: 0.0,
            arrival: Arrival::Constant,
            max_connections: 4,
        };
        assert!(p.validate().is_err());
        p.model = LoadModel::Closed { connections: 0 };
        assert!(p.validate().is_err());
        p.model = LoadModel::Closed { connections: 1 };
        p.duration = Some(Duration::ZERO);
        assert!(p.validate().is_err());
    }
}
