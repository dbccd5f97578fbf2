//! One side's measured window: the load engine run against one target, with
//! the target's CPU and memory sampled, the other processes' CPU counted and
//! the machine's speed probed during the measured phase only (warm-up and
//! drain are not sampled). A duet run ([`super::duet`]) runs two at once.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{host_load, speed};
use crate::load::{self, LoadError, LoadPlan, Phase};
use crate::results::schema::{HostLoad, LoadResult, ResourceUsage};
use crate::target::Sampler;

/// What to run and what to watch.
pub(super) struct Window<'a> {
    /// The load.
    pub plan: LoadPlan,
    /// The target's process group, to sample (none: an external target
    /// given without `--target-pid`).
    pub pgid: Option<i32>,
    /// The process groups of every target running now: what is not in them
    /// (or the harness) counts as another process's CPU.
    pub groups: &'a [i32],
    /// Count other processes' CPU ([`host_load`]).
    pub host_check: bool,
    /// Probe these CPUs' speed during the window ([`speed::Sampler`]);
    /// none: no probe (the other side of a duet probes).
    pub probe_cpus: Option<&'a [usize]>,
}

/// What one window gave.
pub(super) struct Outcome {
    pub load: LoadResult,
    pub resources: Option<ResourceUsage>,
    pub host: Option<HostLoad>,
    pub during: Option<speed::Probe>,
    /// When the measured phase began (the load's start without one).
    pub started_at: DateTime<Utc>,
}

/// What watches a window: started when the measured phase begins, stopped
/// when it ends (or when the load returns).
#[derive(Default)]
struct Watch {
    sampler: Option<crate::target::SamplerHandle>,
    probe: Option<host_load::Probe>,
    speed: Option<speed::Sampler>,
    measured_at: Option<DateTime<Utc>>,
    resources: Option<ResourceUsage>,
    host: Option<HostLoad>,
    during: Option<speed::Probe>,
}

impl Watch {
    /// Starts watching, once.
    fn start(&mut self, w: &Window<'_>) {
        if self.measured_at.is_some() {
            return;
        }
        self.measured_at = Some(Utc::now());
        // Without the target's process group (an external target given
        // without --target-pid) its CPU cannot be told from other
        // processes': no check.
        if w.host_check && w.pgid.is_some() {
            self.probe = host_load::Probe::start(w.groups);
        }
        if let Some(cpus) = w.probe_cpus
            && w.host_check
        {
            self.speed = Some(speed::Sampler::start(cpus));
        }
        if let Some(g) = w.pgid {
            self.sampler = Some(Sampler::start(g, Duration::from_millis(100)));
        }
    }

    /// Stops whatever still runs and keeps what it saw.
    fn stop(&mut self) {
        if let Some(s) = self.sampler.take() {
            self.resources = Some(s.finish());
        }
        if let Some(p) = self.probe.take() {
            self.host = p.finish();
        }
        if let Some(s) = self.speed.take() {
            self.during = Some(s.finish());
        }
    }
}

impl Window<'_> {
    /// Runs the load; `tick` is called on every progress report.
    pub fn run(&self, stop: &Arc<AtomicBool>, tick: &dyn Fn()) -> Result<Outcome, LoadError> {
        let started_at = Utc::now();
        let mut watch = Watch::default();
        let load = load::run(&self.plan, stop.clone(), &mut |p| {
            tick();
            match p.phase {
                Phase::Measure => watch.start(self),
                Phase::Drain => watch.stop(),
                _ => {}
            }
        })?;
        watch.stop();
        Ok(Outcome {
            load,
            resources: watch.resources,
            host: watch.host,
            during: watch.during,
            started_at: watch.measured_at.unwrap_or(started_at),
        })
    }
}
