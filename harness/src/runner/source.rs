//! Where a job's target comes from: a [`TargetSource`] hands the runner a
//! target in a clean state (a [`Lease`]: its URL, its process group and
//! how it was made clean). A server claimbench starts and supervises is a
//! [`Supervised`] source; one already running that it only loads is an
//! [`External`] one. The runner's skip and failure logic sees only the
//! trait, so its unit tests use sources that need no server.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::measure::Failure;
use super::plan::TargetKind;
use crate::results::schema::TargetInfo;
use crate::target::{self, BetweenRuns, RunningTarget, StartOptions, TargetSpec};

/// How a leased target was made clean (the results' `clean_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CleanState {
    /// Its first start in this run.
    Started,
    /// Started again for this measurement (`between_runs = "restart"`).
    Restarted,
    /// Kept running and waited for until idle (`between_runs = "idle"`).
    Idle,
    /// An external server, as it is.
    External,
}

impl CleanState {
    /// The word the results file records.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CleanState::Started => "started",
            CleanState::Restarted => "restarted",
            CleanState::Idle => "idle",
            CleanState::External => "external",
        }
    }
}

/// A target in a clean state, ready to be measured.
pub(super) struct Lease {
    /// Where it answers.
    pub(super) url: String,
    /// Its process group, to sample (none for an external target given
    /// without `--target-pid`).
    pub(super) pgid: Option<i32>,
    /// How it was made clean.
    pub(super) clean_state: CleanState,
    /// The process just started, as the results file records it.
    pub(super) started: Option<TargetInfo>,
    /// The process to stop after the measurement (none when it is kept
    /// running between measurements, or external).
    fresh: Option<RunningTarget>,
}

impl Lease {
    /// A lease on a server this run does not own.
    pub(super) fn external(url: String, pgid: Option<i32>) -> Lease {
        Lease {
            url,
            pgid,
            clean_state: CleanState::External,
            started: None,
            fresh: None,
        }
    }

    /// Stops the process started for this measurement, if any.
    pub(super) fn stop(&mut self) {
        if let Some(t) = self.fresh.take()
            && let Err(e) = t.stop()
        {
            eprintln!("warning: {e}");
        }
    }
}

/// One target of the run, as the runner uses it.
pub(super) trait TargetSource {
    /// Whether claimbench starts it (a worker sweep and the downstream
    /// service need that; it also takes longer per measurement).
    fn supervised(&self) -> bool;

    /// Reads what is known before anything is measured, and returns the
    /// target's record when it is complete already (an external server's).
    fn prepare(&mut self, id: &str) -> Option<TargetInfo>;

    /// The target instance `instance` in a clean state; `opts` says how to
    /// start it when it has to be started.
    fn lease(&mut self, instance: &str, opts: StartOptions) -> Result<Lease, Failure>;

    /// The process groups kept running between measurements.
    fn kept_groups(&self) -> Vec<i32>;

    /// Stops every process kept running between measurements.
    fn stop_kept(&mut self);
}

/// The source of a resolved target.
pub(super) fn source(kind: &TargetKind) -> Box<dyn TargetSource> {
    match kind {
        TargetKind::Supervised { spec, .. } => Box::new(Supervised {
            spec: spec.clone(),
            versions: BTreeMap::new(),
            running: HashMap::new(),
            started: Vec::new(),
        }),
        TargetKind::External { url, pid } => Box::new(External {
            url: url.clone(),
            pid: *pid,
        }),
    }
}

/// A target claimbench starts, stops and restarts.
struct Supervised {
    spec: Box<TargetSpec>,
    /// Its installed versions (read once, by [`TargetSource::prepare`]).
    versions: BTreeMap<String, String>,
    /// Processes kept running (`between_runs = "idle"`), by instance.
    running: HashMap<String, RunningTarget>,
    /// Instances started at least once.
    started: Vec<String>,
}

impl TargetSource for Supervised {
    fn supervised(&self) -> bool {
        true
    }

    fn prepare(&mut self, _id: &str) -> Option<TargetInfo> {
        self.versions = target::versions(&self.spec);
        None
    }

    fn lease(&mut self, instance: &str, opts: StartOptions) -> Result<Lease, Failure> {
        let keep = self.spec.start.between_runs == BetweenRuns::Idle;
        if keep && let Some(t) = self.running.get(instance) {
            t.wait_idle(Duration::from_secs(30))
                .map_err(|e| Failure::Measurement(e.to_string()))?;
            return Ok(Lease {
                url: t.url(),
                pgid: Some(t.pgid()),
                clean_state: CleanState::Idle,
                started: None,
                fresh: None,
            });
        }
        let clean_state = if self.started.iter().any(|s| s == instance) {
            CleanState::Restarted
        } else {
            CleanState::Started
        };
        let t = target::start(&self.spec, &opts).map_err(|e| Failure::Target(e.to_string()))?;
        self.started.push(instance.to_string());
        let mut info = t.info(self.versions.clone());
        info.id = instance.to_string();
        let (url, pgid) = (t.url(), t.pgid());
        let fresh = if keep {
            self.running.insert(instance.to_string(), t);
            None
        } else {
            Some(t)
        };
        Ok(Lease {
            url,
            pgid: Some(pgid),
            clean_state,
            started: Some(info),
            fresh,
        })
    }

    fn kept_groups(&self) -> Vec<i32> {
        self.running.values().map(RunningTarget::pgid).collect()
    }

    fn stop_kept(&mut self) {
        for (_, t) in self.running.drain() {
            if let Err(e) = t.stop() {
                eprintln!("warning: {e}");
            }
        }
    }
}

/// A server already running (`--target-url`), loaded as it is.
struct External {
    url: String,
    /// Its process (`--target-pid`), whose group is sampled.
    pid: Option<i32>,
}

impl TargetSource for External {
    fn supervised(&self) -> bool {
        false
    }

    fn prepare(&mut self, id: &str) -> Option<TargetInfo> {
        let server = format!(
            "external server{}",
            self.pid
                .map(|p| format!(" (pid {p} sampled)"))
                .unwrap_or_default()
        );
        Some(TargetInfo::external(id, &self.url, server))
    }

    fn lease(&mut self, _instance: &str, _opts: StartOptions) -> Result<Lease, Failure> {
        Ok(Lease::external(
            self.url.clone(),
            self.pid.and_then(crate::sys::process_group_of),
        ))
    }

    fn kept_groups(&self) -> Vec<i32> {
        Vec::new()
    }

    fn stop_kept(&mut self) {}
}
