//! A resolved scenario: request templates (with bodies and checks), the load
//! model, its levels, timings and thresholds; the load plan of one level.
//! Reading one from its file is [`super::parse`].

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use super::parse::set_warmup;
pub use super::parse::{load_scenario, parse_scenario};
use super::threshold::Threshold;
use crate::load::{Endpoint, LoadModel, LoadPlan, RequestTemplate};
use crate::results::schema::{Arrival, Level, LoadModelKind};

/// Default warm-up when a scenario does not say.
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(1);
/// `warmup = "auto"`: the least warm-up.
pub const AUTO_WARMUP_MIN: Duration = crate::bench::AUTO_WARMUP_MIN;
/// `warmup = "auto"`: the longest warm-up when `warmup_max` does not say.
pub const DEFAULT_WARMUP_MAX: Duration = Duration::from_secs(30);
/// The longest the measured phase is stretched to (to last 20 warm-up
/// medians) when `max_duration` does not say.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(30);

/// How many times the measured window of a connection sweep goes round
/// every pre-opened connection, at least.
pub const MEASURED_ROUNDS: f64 = 2.0;
/// Default measured duration when a scenario does not say.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(3);
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default open-loop connection pool.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Most connections (active + idle) one level may ask for.
pub const MAX_LEVEL_CONNECTIONS: usize = 100_000;

/// What a scenario sweeps over.
#[derive(Clone, Debug, PartialEq)]
pub enum Sweep {
    /// Closed loop at each concurrency.
    Concurrency(Vec<usize>),
    /// Open loop at each rate (requests per second).
    Rates(Vec<f64>),
    /// Open loop at one rate over each number of connections, all opened
    /// before the start and used in turn (every connection active).
    Connections {
        /// Requests per second, the same at every level.
        rate: f64,
        /// Connection counts.
        counts: Vec<usize>,
    },
    /// A fixed active load with each number of extra idle keep-alive connections.
    Idle {
        /// The active load.
        active: LoadModel,
        /// Idle connection counts.
        counts: Vec<usize>,
    },
}

/// One load level of a scenario, ready to become a [`LoadPlan`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevelPlan {
    /// The level as recorded in results (for an idle sweep: closed, with the
    /// total of active and idle connections as its value).
    pub level: Level,
    /// The active load.
    pub model: LoadModel,
    /// Extra idle connections.
    pub idle: usize,
}

/// A resolved scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The file it came from.
    pub file: PathBuf,
    /// The request mix.
    pub templates: Vec<RequestTemplate>,
    /// The levels swept.
    pub sweep: Sweep,
    /// Open loop: arrival spacing.
    pub arrival: Arrival,
    /// Open loop: connection pool size.
    pub max_connections: usize,
    /// Warm-up before each measurement (the least, with `warmup_max`).
    pub warmup: Duration,
    /// Warm up until steady, at most this long (None: exactly `warmup`).
    pub warmup_max: Option<Duration>,
    /// Measured duration (the least).
    pub duration: Duration,
    /// The longest the measured phase is stretched to, to last 20 warm-up medians.
    pub max_duration: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Repetitions of each level.
    pub repetitions: u32,
    /// Idle connection ping interval.
    pub idle_ping: Option<Duration>,
    /// Reuse connections.
    pub keepalive: bool,
    /// Thresholds (breach: exit 1).
    pub thresholds: Vec<Threshold>,
}

/// Why a suite's `levels` cannot replace a scenario's sweep.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LevelsError {
    /// An empty list.
    #[error("at least one level is needed")]
    Empty,
    /// A count that is not a whole number in range.
    #[error("{what} must be whole numbers from 0 to {MAX_LEVEL_CONNECTIONS}, got {value}")]
    NotWhole {
        /// What the values count.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// A zero where at least 1 is needed.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// A rate that is not a positive number.
    #[error("rates must be positive numbers, got {0}")]
    Rate(f64),
}

impl Scenario {
    /// Whether any request goes to `/io/downstream` (the runner then starts
    /// the downstream service).
    pub fn needs_downstream(&self) -> bool {
        self.templates
            .iter()
            .any(|t| t.path.path().starts_with("/io/downstream"))
    }

    /// The levels, in sweep order.
    pub fn levels(&self) -> Vec<LevelPlan> {
        match &self.sweep {
            Sweep::Concurrency(cs) => cs
                .iter()
                .map(|&c| LevelPlan {
                    level: Level {
                        model: LoadModelKind::Closed,
                        value: c as f64,
                    },
                    model: LoadModel::Closed { connections: c },
                    idle: 0,
                })
                .collect(),
            Sweep::Rates(rs) => rs
                .iter()
                .map(|&r| LevelPlan {
                    level: Level {
                        model: LoadModelKind::Open,
                        value: r,
                    },
                    model: LoadModel::Open {
                        rate: r,
                        arrival: self.arrival,
                        max_connections: self.max_connections,
                    },
                    idle: 0,
                })
                .collect(),
            Sweep::Connections { rate, counts } => counts
                .iter()
                .map(|&n| LevelPlan {
                    level: Level {
                        model: LoadModelKind::Closed,
                        value: n as f64,
                    },
                    model: LoadModel::Open {
                        rate: *rate,
                        arrival: self.arrival,
                        max_connections: n,
                    },
                    idle: 0,
                })
                .collect(),
            Sweep::Idle { active, counts } => {
                let base = match active {
                    LoadModel::Closed { connections } => *connections,
                    LoadModel::Open {
                        max_connections, ..
                    } => *max_connections,
                };
                counts
                    .iter()
                    .map(|&n| LevelPlan {
                        level: Level {
                            model: LoadModelKind::Closed,
                            value: (base + n) as f64,
                        },
                        model: *active,
                        idle: n,
                    })
                    .collect()
            }
        }
    }

    /// Replaces the sweep's values (from a suite's `levels`). Values must be
    /// positive whole numbers except open-loop rates.
    pub fn set_levels(&mut self, values: &[f64]) -> Result<(), LevelsError> {
        if values.is_empty() {
            return Err(LevelsError::Empty);
        }
        let whole = |v: f64, what: &'static str| -> Result<usize, LevelsError> {
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_LEVEL_CONNECTIONS as f64 {
                Ok(v as usize)
            } else {
                Err(LevelsError::NotWhole { what, value: v })
            }
        };
        match &mut self.sweep {
            Sweep::Concurrency(cs) => {
                let mut out = Vec::new();
                for &v in values {
                    let c = whole(v, "concurrency levels")?;
                    if c == 0 {
                        return Err(LevelsError::Zero("a concurrency level"));
                    }
                    out.push(c);
                }
                *cs = out;
            }
            Sweep::Rates(rs) => {
                if let Some(v) = values.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
                    return Err(LevelsError::Rate(*v));
                }
                *rs = values.to_vec();
            }
            Sweep::Idle { counts, .. } => {
                *counts = values
                    .iter()
                    .map(|&v| whole(v, "idle connection counts"))
                    .collect::<Result<_, _>>()?;
            }
            Sweep::Connections { counts, .. } => {
                let mut out = Vec::new();
                for &v in values {
                    let n = whole(v, "connection counts")?;
                    if n == 0 {
                        return Err(LevelsError::Zero("a connection count"));
                    }
                    out.push(n);
                }
                *counts = out;
            }
        }
        Ok(())
    }

    /// The load plan for one level against `endpoint`, with the generator on
    /// `threads` threads pinned to `pin_cpus`.
    pub fn plan(
        &self,
        endpoint: Endpoint,
        level: &LevelPlan,
        threads: usize,
        pin_cpus: &[usize],
    ) -> LoadPlan {
        let mut p = LoadPlan::closed(endpoint, self.templates.clone(), 1);
        p.model = level.model;
        p.idle_connections = level.idle;
        p.idle_ping = self.idle_ping;
        p.preopen = matches!(self.sweep, Sweep::Connections { .. });
        p.duration = Some(self.duration);
        p.max_duration = Some(self.max_duration.max(self.duration));
        p.warmup = self.warmup;
        p.warmup_max = self.warmup_max;
        // Over pre-opened connections, one round is the time the rate takes
        // to reach every connection once.
        if p.preopen
            && let LoadModel::Open {
                rate,
                max_connections,
                ..
            } = p.model
            && rate > 0.0
        {
            let round_s = max_connections as f64 / rate;
            // An auto warm-up lasts at least one round, so every connection
            // has served a request (and the server holds its state) before
            // the measured window.
            if let Some(max) = p.warmup_max {
                p.warmup = p.warmup.max(Duration::from_secs_f64(round_s)).min(max);
            }
            // The measured window covers every connection
            // [`MEASURED_ROUNDS`] times (at 10,000 connections and 3000
            // req/s a 3 s window would leave a tenth of them unmeasured, and
            // the p99 would rest on whichever stalls fell in it).
            let rounds = Duration::from_secs_f64(
                (MEASURED_ROUNDS * round_s).min(crate::load::plan::MAX_DURATION.as_secs_f64()),
            );
            let d = p.duration.unwrap_or_default().max(rounds);
            p.duration = Some(d);
            p.max_duration = p.max_duration.map(|m| m.max(d));
        }
        p.timeout = self.timeout;
        p.threads = threads;
        p.pin_cpus = pin_cpus.to_vec();
        p.keepalive = self.keepalive;
        p
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::ScenarioError;
    use super::*;
    use crate::load::BodyCheck;

    const GOOD: &str = r#"
name = "mixed"
description = "I/O with a few CPU requests"
warmup = "500ms"
duration = "2s"
repetitions = 2
thresholds = ["p99 < 50ms", "error_rate < 0.1%"]

[load]
model = "closed"
concurrency = [1, 64]

[[request]]
name = "io"
path = "/io/downstream?ms=20"
weight = 95
expect = { json = { "/downstream/delayed_ms" = 20 } }

[[request]]
name = "cpu"
path = "/cpu/fib?n=27"
weight = 5
expect = { status = 200, json = { "/value" = 196418 } }
"#;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        parse_scenario(Path::new("scenarios/test.toml"), text)
    }

    #[test]
    fn a_good_scenario_resolves() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.name, "mixed");
        assert_eq!(s.templates.len(), 2);
        assert_eq!(s.templates[0].weight, 95);
        assert_eq!(s.templates[1].name, "cpu");
        assert_eq!(
            s.templates[1].check.body,
            BodyCheck::JsonField {
                pointer: "/value".into(),
                value: serde_json::json!(196418)
            }
        );
        assert!(s.needs_downstream());
        assert_eq!(s.warmup, Duration::from_millis(500));
        assert_eq!(s.repetitions, 2);
        assert_eq!(s.thresholds.len(), 2);
        let levels = s.levels();
        assert_eq!(levels.len(), 2);
        assert_eq!(levels[1].level.label(), "c=64");
    }

    #[test]
    fn idle_sweeps_count_all_connections() {
        let text = r#"
name = "connections"
description = "many idle connections"
[load]
model = "open"
rates = [100]
max_connections = 16
idle_connections = [100, 1000]
idle_ping = "1s"
[[request]]
path = "/plaintext"
"#;
        let mut s = parse(text).unwrap();
        let l = s.levels();
        assert_eq!(l[0].idle, 100);
        assert_eq!(l[0].level.value, 116.0);
        assert_eq!(l[1].level.value, 1016.0);
        s.set_levels(&[10.0]).unwrap();
        assert_eq!(s.levels()[0].idle, 10);
        assert!(s.set_levels(&[1.5]).is_err());
    }

    #[test]
    fn connection_sweeps_spread_one_rate_over_each_pool() {
        let text = r#"
name = "connections"
description = "many active connections"
[load]
model = "open"
rates = [2500]
connections = [100, 1000, 10000]
[[request]]
path = "/plaintext"
"#;
        let mut s = parse(text).unwrap();
        let l = s.levels();
        assert_eq!(l.len(), 3);
        assert_eq!(l[2].level.value, 10000.0);
        assert_eq!(
            l[2].model,
            LoadModel::Open {
                rate: 2500.0,
                arrival: Arrival::Constant,
                max_connections: 10000
            }
        );
        let ep = Endpoint::parse("http://127.0.0.1:1/").unwrap().0;
        assert!(s.plan(ep.clone(), &l[0], 1, &[]).preopen);
        // An auto warm-up lasts at least one round over the pool: 10,000
        // connections at 2500 req/s is 4 s; 100 of them take the usual 2 s.
        s.warmup_max = Some(Duration::from_secs(15));
        s.warmup = AUTO_WARMUP_MIN;
        assert_eq!(
            s.plan(ep.clone(), &l[2], 1, &[]).warmup,
            Duration::from_secs(4)
        );
        assert_eq!(s.plan(ep.clone(), &l[0], 1, &[]).warmup, AUTO_WARMUP_MIN);
        // The measured window goes twice round the pool: 8 s at 10,000
        // connections and 2500 req/s (its cap grows with it); 100 keep the
        // configured length.
        s.duration = Duration::from_secs(3);
        s.max_duration = Duration::from_secs(6);
        let p = s.plan(ep.clone(), &l[2], 1, &[]);
        assert_eq!(p.duration, Some(Duration::from_secs(8)));
        assert_eq!(p.max_duration, Some(Duration::from_secs(8)));
        let p = s.plan(ep.clone(), &l[0], 1, &[]);
        assert_eq!(p.duration, Some(Duration::from_secs(3)));
        assert_eq!(p.max_duration, Some(Duration::from_secs(6)));
        // A fixed warm-up is the user's choice and stays as written.
        s.warmup_max = None;
        s.warmup = Duration::from_secs(1);
        assert_eq!(s.plan(ep, &l[2], 1, &[]).warmup, Duration::from_secs(1));
        s.set_levels(&[10.0, 20.0]).unwrap();
        assert_eq!(s.levels()[1].level.value, 20.0);
        assert!(s.set_levels(&[0.0]).is_err());

        for (from, to, says) in [
            (
                "rates = [2500]",
                "rates = [100, 2500]",
                "with a single rate",
            ),
            (
                "rates = [2500]",
                "rates = [2500]\nmax_connections = 8",
                "leave out `max_connections`",
            ),
            (
                "rates = [2500]",
                "rates = [2500]\nidle_connections = [8]",
                "two different sweeps",
            ),
            ("[100, 1000, 10000]", "[100, 0]", "at least 1"),
        ] {
            let e = parse(&text.replace(from, to)).unwrap_err().to_string();
            assert!(
                e.contains("key `load.connections`") && e.contains(says),
                "{e}"
            );
        }
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = parse(&GOOD.replace(
            "concurrency = [1, 64]",
            "concurrency = [1, 64]\nconcurency = 3",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("scenarios/test.toml: line 12, key `load.concurency`"),
            "{e}"
        );
        assert!(e.contains("unknown field"), "{e}");

        let e = parse(&GOOD.replace("repetitions = 2", "repetitions = \"two\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 6, key `repetitions`"), "{e}");

        let e = parse(&GOOD.replace("p99 < 50ms", "p99 < fast"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 7, key `thresholds`"), "{e}");

        let e = parse(&GOOD.replace("model = \"closed\"", "model = \"sideways\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 10, key `load.model`") && e.contains("sideways"),
            "{e}"
        );

        let e = parse(&GOOD.replace(
            "weight = 5\n",
            "weight = 5\nbody_file = \"data/nope.json\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("key `request.body_file`") && e.contains("data/nope.json"),
            "{e}"
        );

        let e = parse(&GOOD.replace("duration = \"2s\"", "duration = \"0s\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("key `duration`") && e.contains("above zero"),
            "{e}"
        );
    }
}
