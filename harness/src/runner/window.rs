//! One side's measured window: the load engine run against one target, with
//! the target's CPU and memory sampled, the other processes' CPU counted and
//! the machine's speed probed during the measured phase only (warm-up and
//! drain are not sampled). A duet run ([`super::duet`]) runs two at once.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{host_load, speed};
use crate::load::{self, LoadPlan, Phase};
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

impl Window<'_> {
    /// Runs the load; `tick` is called on every progress report.
    pub fn run(&self, stop: &Arc<AtomicBool>, tick: &dyn Fn()) -> Result<Outcome, String> {
        let started_at = Utc::now();
        let mut sampler = None;
        let mut resources = None;
        let mut measured_at = None;
        let mut probe = None;
        let mut host = None;
        let mut speed_sampler = None;
        let mut during = None;
        // Without the target's process group (an external target given
        // without --target-pid) its CPU cannot be told from other
        // processes': no check.
        let count_others = self.host_check && self.pgid.is_some();
        let load = load::run(&self.plan, stop.clone(), &mut |p| {
            tick();
            match p.phase {
                Phase::Measure if sampler.is_none() && resources.is_none() => {
                    measured_at = Some(Utc::now());
                    if count_others {
                        probe = host_load::Probe::start(self.groups);
                    }
                    // Once: without a process group this arm runs on every
                    // tick of the window.
                    if let Some(cpus) = self.probe_cpus
                        && self.host_check
                        && speed_sampler.is_none()
                        && during.is_none()
                    {
                        speed_sampler = Some(speed::Sampler::start(cpus));
                    }
                    if let Some(g) = self.pgid {
                        sampler = Some(Sampler::start(g, Duration::from_millis(100)));
                    }
                }
                Phase::Drain => {
                    if let Some(s) = sampler.take() {
                        resources = Some(s.finish());
                    }
                    if let Some(p) = probe.take() {
                        host = p.finish();
                    }
                    if let Some(s) = speed_sampler.take() {
                        during = Some(s.finish());
                    }
                }
                _ => {}
            }
        })
        .map_err(|e| e.to_string())?;
        if let Some(s) = sampler.take() {
            resources = Some(s.finish());
        }
        if let Some(p) = probe.take() {
            host = p.finish();
        }
        if let Some(s) = speed_sampler.take() {
            during = Some(s.finish());
        }
        Ok(Outcome {
            load,
            resources,
            host,
            during,
            started_at: measured_at.unwrap_or(started_at),
        })
    }
}
