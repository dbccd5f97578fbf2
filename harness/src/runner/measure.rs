//! Measuring: every job of the schedule in order ([`Runner::measure_all`]).
//! Each job gets a clean target ([`Runner::lease`]), is measured with the
//! machine's speed probed around it ([`Runner::measure_checked`]), is
//! measured again while another process or a slow machine disturbed it, and
//! its outcome is recorded: a measurement, a failed repetition, or a target
//! that cannot start and is skipped for the rest of the run.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::plan::TargetKind;
use super::schedule::Job;
use super::{Runner, host_load, output, speed};
use crate::analysis::checks::exclusion;
use crate::load::{self, Endpoint, Phase};
use crate::results::schema::{Measurement, Skipped, TargetInfo};
use crate::target::{self, BetweenRuns, RunningTarget, Sampler};

/// Why a job produced no measurement.
pub(super) enum Failure {
    /// The target could not start: skip it for the rest of the run.
    Target(String),
    /// This measurement failed; the target stays in.
    Measurement(String),
}

/// A target in a clean state, ready to be measured.
struct Lease {
    /// Where it answers.
    url: String,
    /// Its process group, to sample (none for an external target given
    /// without `--target-pid`).
    pgid: Option<i32>,
    /// How it was made clean: started, restarted, idle or external.
    clean_state: String,
    /// The process to stop after the measurement (none when it is kept
    /// running between measurements, or external).
    fresh: Option<RunningTarget>,
}

/// The progress bar, counting estimated milliseconds so that its ETA is a
/// time and it moves within a measurement too; plain lines without a
/// terminal or with `--quiet`.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(estimated_ms: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal() && estimated_ms > 0).then(|| {
            let b = indicatif::ProgressBar::new(estimated_ms);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {percent:>3}% elapsed {elapsed_precise} ETA {eta_precise}  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        Progress { bar }
    }

    /// Prints a line above the bar.
    fn say(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    }

    fn set_position(&self, ms: u64) {
        if let Some(b) = &self.bar {
            b.set_position(ms);
        }
    }

    fn set_message(&self, message: String) {
        if let Some(b) = &self.bar {
            b.set_message(message);
        }
    }

    fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

impl Runner {
    /// Runs every job, in order, until done or interrupted.
    pub fn measure_all(&mut self, stop: &Arc<AtomicBool>, quiet: bool) {
        let estimated_ms: f64 = self
            .jobs
            .iter()
            .map(|j| self.job_estimate(j) * 1000.0)
            .sum();
        // No jobs: the estimate is an empty sum, 0.
        let progress = Progress::new(estimated_ms as u64, quiet);
        let jobs = self.jobs.clone();
        let mut skipped_noted: Vec<String> = Vec::new();
        let mut speed = speed::SpeedCheck::default();
        let mut done_ms = 0u64;
        for (i, job) in jobs.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let est = (self.job_estimate(job) * 1000.0) as u64;
            progress.set_position(done_ms);
            let base = done_ms;
            done_ms += est;
            let entry = &self.setup.suite.entries[job.entry];
            let scenario_name = entry.scenario.name.clone();
            if let Some(reason) = self.cannot_sweep_workers(job) {
                let key = format!("{}/{}", job.target, scenario_name);
                if !skipped_noted.contains(&key) {
                    skipped_noted.push(key);
                    progress.say(&format!(
                        "skipping {} in `{scenario_name}`: {reason}",
                        job.target
                    ));
                    self.results.skipped.push(Skipped {
                        target: job.target.clone(),
                        scenario: Some(scenario_name),
                        reason,
                    });
                }
                continue;
            }
            if self
                .slots
                .get(&job.target)
                .is_some_and(|s| s.failed.is_some())
            {
                continue;
            }
            progress.set_message(format!(
                "{} {} #{} {}",
                scenario_name,
                entry.scenario.levels()[job.level].level.label(),
                job.repetition,
                job.instance()
            ));
            let job_start = Instant::now();
            let tick = || {
                let within = (job_start.elapsed().as_millis() as u64).min(est * 95 / 100);
                progress.set_position(base + within);
            };
            let say = |line: &str| progress.say(line);
            let outcome = self.measure_undisturbed(i, job, stop, &tick, &say, &mut speed);
            self.record_outcome(i, job, outcome, &say);
            self.save();
        }
        // Kept-running targets.
        for slot in self.slots.values_mut() {
            for (_, t) in slot.running.drain() {
                let _ = t.stop();
            }
        }
        progress.finish();
    }

    /// Why this job, one of a worker-count sweep, cannot run here: a sweep
    /// needs CPUs to spread workers over, and a target claimbench starts.
    fn cannot_sweep_workers(&self, job: &Job) -> Option<String> {
        job.workers?;
        let external = matches!(
            self.slots.get(&job.target).map(|s| &s.kind),
            Some(TargetKind::External { .. })
        );
        if external {
            Some(
                "a worker-count sweep needs a target claimbench starts (not --target-url)"
                    .to_string(),
            )
        } else if self.setup.target_cpus.len() < 2 {
            Some(format!(
                "the worker-count sweep needs at least 2 CPUs for the target besides the generator's; this run has {}",
                self.setup.target_cpus.len()
            ))
        } else {
            None
        }
    }

    /// One job, measured again (up to [`host_load::MAX_REMEASURE`] times)
    /// while another process, the hypervisor or a slow CPU disturbed it;
    /// each disturbed repetition stays in `skipped` with the reason.
    fn measure_undisturbed(
        &mut self,
        index: usize,
        job: &Job,
        stop: &Arc<AtomicBool>,
        tick: &dyn Fn(),
        say: &dyn Fn(&str),
        speed: &mut speed::SpeedCheck,
    ) -> Result<Measurement, Failure> {
        let scenario_name = self.setup.suite.entries[job.entry].scenario.name.clone();
        let mut outcome = self.measure_checked(job, stop, tick, speed);
        let mut again = 0;
        while again < host_load::MAX_REMEASURE && !stop.load(Ordering::SeqCst) {
            let Ok(m) = &outcome else { break };
            let Some(busy) = m.host.as_ref().and_then(host_load::disturbed) else {
                break;
            };
            again += 1;
            say(&format!(
                "[{}/{}] {scenario_name} #{} {}: {busy}; waiting for the machine to be quiet and at full speed to measure it again",
                index + 1,
                self.jobs.len(),
                job.repetition,
                job.instance()
            ));
            self.results.skipped.push(Skipped {
                target: job.instance(),
                scenario: Some(scenario_name.clone()),
                reason: format!("repetition {} measured again: {busy}", job.repetition),
            });
            let groups: Vec<i32> = self
                .slots
                .values()
                .flat_map(|s| s.running.values().map(|t| t.pgid()))
                .collect();
            host_load::wait_quiet(&groups, Duration::from_secs(60));
            speed.wait_fast(
                &self.probe_cpus(),
                Duration::from_secs(5),
                Duration::from_secs(30),
            );
            outcome = self.measure_checked(job, stop, tick, speed);
        }
        outcome
    }

    /// Keeps a job's outcome: the measurement, or why there is none.
    fn record_outcome(
        &mut self,
        index: usize,
        job: &Job,
        outcome: Result<Measurement, Failure>,
        say: &dyn Fn(&str),
    ) {
        let total = self.jobs.len();
        let scenario = &self.setup.suite.entries[job.entry].scenario;
        match outcome {
            Ok(m) => {
                say(&output::measurement_line(
                    index + 1,
                    total,
                    &m,
                    scenario.repetitions,
                ));
                self.results.measurements.push(m);
            }
            Err(Failure::Target(reason)) => {
                say(&format!(
                    "[{}/{total}] {}: cannot start: {reason}",
                    index + 1,
                    job.target
                ));
                say(&format!("skipping {} for the rest of the run", job.target));
                if let Some(slot) = self.slots.get_mut(&job.target) {
                    slot.failed = Some(reason.clone());
                }
                self.results.skipped.push(Skipped {
                    target: job.target.clone(),
                    scenario: None,
                    reason: format!("start failed: {reason}"),
                });
            }
            Err(Failure::Measurement(reason)) => {
                say(&format!(
                    "[{}/{total}] {} #{} {}: measurement failed: {reason}",
                    index + 1,
                    scenario.name,
                    job.repetition,
                    job.instance()
                ));
                self.results.skipped.push(Skipped {
                    target: job.instance(),
                    scenario: Some(scenario.name.clone()),
                    reason: format!("repetition {} failed: {reason}", job.repetition),
                });
            }
        }
    }

    /// Records or updates a target's info.
    fn record_target(&mut self, info: TargetInfo) {
        match self.results.targets.iter_mut().find(|t| t.id == info.id) {
            Some(t) => *t = info,
            None => self.results.targets.push(info),
        }
    }

    /// The CPUs the speed check probes: the generator's and the targets'.
    fn probe_cpus(&self) -> Vec<usize> {
        let mut cpus = self.setup.generator_cpus.clone();
        cpus.extend(&self.setup.target_cpus);
        cpus.sort_unstable();
        cpus.dedup();
        cpus
    }

    /// One measurement, with the machine's speed probed before the target
    /// starts and after it stops ([`speed`]); a slow machine excludes it.
    fn measure_checked(
        &mut self,
        job: &Job,
        stop: &Arc<AtomicBool>,
        tick: &dyn Fn(),
        speed: &mut speed::SpeedCheck,
    ) -> Result<Measurement, Failure> {
        if !self.setup.host_check {
            return self.measure(job, stop, tick).map(|(m, _)| m);
        }
        let cpus = self.probe_cpus();
        let before = speed.probe_settled(&cpus);
        let outcome = self.measure(job, stop, tick);
        let after = speed.probe_settled(&cpus);
        let mut outcome = outcome.map(|(m, during)| {
            let during = during.and_then(|p| speed.record_during(Instant::now(), &p));
            (m, during)
        });
        if let Ok((m, during)) = &mut outcome
            && let Some(host) = &mut m.host
        {
            host.slowdown = [speed.slowdown(&[&before, &after]), *during]
                .into_iter()
                .flatten()
                .max_by(f64::total_cmp);
            if let Some(slow) = host.slowdown.and_then(speed::slow) {
                m.excluded = Some(match m.excluded.take() {
                    Some(e) => format!("{e}; {slow}"),
                    None => slow,
                });
            }
        }
        outcome.map(|(m, _)| m)
    }

    /// The job's target in a clean state: a fresh process, or a kept one
    /// once idle (`between_runs`), or the external server as it is.
    fn lease(&mut self, job: &Job) -> Result<Lease, Failure> {
        let instance = job.instance();
        let slot = self
            .slots
            .get_mut(&job.target)
            .ok_or_else(|| Failure::Target("unknown target".into()))?;
        let spec = match &slot.kind {
            TargetKind::External { url, pid } => {
                return Ok(Lease {
                    url: url.clone(),
                    pgid: pid.and_then(crate::sys::process_group_of),
                    clean_state: "external".into(),
                    fresh: None,
                });
            }
            TargetKind::Supervised { spec, .. } => spec,
        };
        if spec.start.between_runs == BetweenRuns::Idle
            && let Some(t) = slot.running.get(&instance)
        {
            t.wait_idle(Duration::from_secs(30))
                .map_err(|e| Failure::Measurement(e.to_string()))?;
            return Ok(Lease {
                url: t.url(),
                pgid: Some(t.pgid()),
                clean_state: "idle".into(),
                fresh: None,
            });
        }
        let opts = target::StartOptions {
            cpus: self.setup.target_cpus.clone(),
            workers: job.workers,
            downstream_url: self.downstream_url.clone(),
            log_dir: self.dir.join("logs"),
            ..target::StartOptions::default()
        };
        let clean_state = if slot.started.contains(&instance) {
            "restarted"
        } else {
            "started"
        };
        let t = target::start(spec, &opts).map_err(|e| Failure::Target(e.to_string()))?;
        slot.started.push(instance.clone());
        let mut info = t.info(slot.versions.clone());
        info.id = instance.clone();
        let (url, pgid) = (t.url(), t.pgid());
        let fresh = if spec.start.between_runs == BetweenRuns::Idle {
            slot.running.insert(instance, t);
            None
        } else {
            Some(t)
        };
        self.record_target(info);
        Ok(Lease {
            url,
            pgid: Some(pgid),
            clean_state: clean_state.into(),
            fresh,
        })
    }

    /// One measurement, and what the speed [`speed::Sampler`] saw on the
    /// probed CPUs during its window (with the host check on).
    fn measure(
        &mut self,
        job: &Job,
        stop: &Arc<AtomicBool>,
        tick: &dyn Fn(),
    ) -> Result<(Measurement, Option<speed::Probe>), Failure> {
        let scenario = self.setup.suite.entries[job.entry].scenario.clone();
        let level = scenario.levels()[job.level];
        let gen_cpus = self.setup.generator_cpus.clone();
        let threads = gen_cpus.len().max(1);
        let Lease {
            url,
            pgid,
            clean_state,
            mut fresh,
        } = self.lease(job)?;

        let result = (|| {
            let (endpoint, _) = Endpoint::parse(&url).map_err(|e| e.to_string())?;
            let plan = scenario.plan(endpoint, &level, threads, &gen_cpus);
            let started_at = chrono::Utc::now();
            let mut sampler = None;
            let mut resources = None;
            let mut measured_at = None;
            let mut probe = None;
            let mut host = None;
            let mut speed_sampler = None;
            let mut during = None;
            let groups: Vec<i32> = pgid.into_iter().collect();
            let host_check = self.setup.host_check;
            let probe_cpus = self.probe_cpus();
            let load = load::run(&plan, stop.clone(), &mut |p| {
                tick();
                match p.phase {
                    Phase::Measure if sampler.is_none() && resources.is_none() => {
                        measured_at = Some(chrono::Utc::now());
                        // Without the target's process group (an external
                        // target given without --target-pid) its CPU cannot be
                        // told from other processes': no check.
                        if host_check && !groups.is_empty() {
                            probe = host_load::Probe::start(&groups);
                        }
                        // Once: without a process group this arm runs on
                        // every tick of the window.
                        if host_check && speed_sampler.is_none() && during.is_none() {
                            speed_sampler = Some(speed::Sampler::start(&probe_cpus));
                        }
                        if let Some(g) = pgid {
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
            Ok::<_, String>((
                load,
                resources,
                host,
                during,
                measured_at.unwrap_or(started_at),
            ))
        })();
        if let Some(t) = fresh.take()
            && let Err(e) = t.stop()
        {
            eprintln!("warning: {e}");
        }
        let (load, resources, host, during, started_at) = result.map_err(Failure::Measurement)?;
        let mut excluded = exclusion(&load, self.setup.suite.max_error_rate);
        if let Some(busy) = host.as_ref().and_then(host_load::disturbed) {
            excluded = Some(match excluded {
                Some(e) => format!("{e}; {busy}"),
                None => busy,
            });
        }
        if stop.load(Ordering::SeqCst) {
            let cut = "interrupted: the measured phase was cut short".to_string();
            excluded = Some(match excluded {
                Some(e) => format!("{cut}; {e}"),
                None => cut,
            });
        }
        let measurement = Measurement {
            target: job.instance(),
            scenario: scenario.name.clone(),
            level: level.level,
            repetition: job.repetition,
            started_at,
            clean_state,
            load,
            resources,
            excluded,
            host,
        };
        Ok((measurement, during))
    }
}
