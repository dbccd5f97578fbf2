//! Measuring: every job of the schedule in order ([`Runner::measure_all`]).
//! Each job gets a clean target ([`Runner::lease`]), is measured with the
//! machine's speed probed around it ([`Runner::measure_checked`]), is
//! measured again while another process or a slow machine disturbed it, and
//! its outcome is recorded: a measurement, a failed repetition, or a target
//! that cannot start and is skipped for the rest of the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::duet::Side;
use super::output::{self, Progress};
use super::schedule::Job;
use super::source::Lease;
use super::window::{self, Window};
use super::{Runner, host_load, speed};
use crate::analysis::checks::exclusion;
use crate::load::Endpoint;
use crate::results::schema::{Measurement, ResultsFile, Skipped, TargetInfo};
use crate::target;

/// Why a job produced no measurement.
pub(super) enum Failure {
    /// The target could not start: skip it for the rest of the run.
    Target(String),
    /// This measurement failed; the target stays in.
    Measurement(String),
}

/// A measurement and, in a duet run, the baseline side's taken at the same
/// time; when either is excluded, both are (compare pairs them).
pub(super) struct Measured {
    head: Measurement,
    baseline: Option<Measurement>,
}

impl Measured {
    /// Excludes each side when the other is excluded, so the pair stays
    /// whole: the reason names the other side's.
    fn exclude_together(&mut self) {
        let Some(b) = &mut self.baseline else { return };
        let h = &mut self.head;
        let (hr, br) = (h.excluded.clone(), b.excluded.clone());
        if let (None, Some(r)) = (&hr, &br) {
            h.excluded = Some(format!("its baseline twin (--duet) was excluded: {r}"));
        }
        if let (Some(r), None) = (&hr, &br) {
            b.excluded = Some(format!("its head twin (--duet) was excluded: {r}"));
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
            slot.source.stop_kept();
        }
        if let Some(d) = &mut self.duet {
            d.stop_targets();
        }
        progress.finish();
    }

    /// Why this job, one of a worker-count sweep, cannot run here: a sweep
    /// needs CPUs to spread workers over, and a target claimbench starts.
    fn cannot_sweep_workers(&self, job: &Job) -> Option<String> {
        job.workers?;
        let external = self
            .slots
            .get(&job.target)
            .is_some_and(|s| !s.source.supervised());
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
    /// each disturbed repetition stays in `skipped` with the reason. Not in
    /// a duet run: a disturbance falls on both of its sides at once, and
    /// the sides' ratio is what it measures.
    fn measure_undisturbed(
        &mut self,
        index: usize,
        job: &Job,
        stop: &Arc<AtomicBool>,
        tick: &dyn Fn(),
        say: &dyn Fn(&str),
        speed: &mut speed::SpeedCheck,
    ) -> Result<Measured, Failure> {
        let scenario_name = self.setup.suite.entries[job.entry].scenario.name.clone();
        let mut outcome = self.measure_checked(job, stop, tick, speed);
        let mut again = 0;
        let limit = match self.duet {
            Some(_) => 0,
            None => host_load::MAX_REMEASURE,
        };
        while again < limit && !stop.load(Ordering::SeqCst) {
            let Ok(m) = &outcome else { break };
            let Some(busy) = [Some(&m.head), m.baseline.as_ref()]
                .into_iter()
                .flatten()
                .find_map(|m| m.host.as_ref().and_then(host_load::disturbed))
            else {
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
            let baseline_slots = self.duet.iter().flat_map(|d| d.slots.values());
            let groups: Vec<i32> = self
                .slots
                .values()
                .chain(baseline_slots)
                .flat_map(|s| s.source.kept_groups())
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
        outcome: Result<Measured, Failure>,
        say: &dyn Fn(&str),
    ) {
        let total = self.jobs.len();
        let scenario = &self.setup.suite.entries[job.entry].scenario;
        match outcome {
            Ok(Measured { head, baseline }) => {
                say(&output::measurement_line(
                    index + 1,
                    total,
                    &head,
                    scenario.repetitions,
                ));
                self.results.measurements.push(head);
                if let (Some(b), Some(d)) = (baseline, &mut self.duet) {
                    say(&format!(
                        "        baseline: {}",
                        output::measurement_line(index + 1, total, &b, scenario.repetitions)
                    ));
                    d.results.measurements.push(b);
                }
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
    ) -> Result<Measured, Failure> {
        if !self.setup.host_check {
            return self.measure(job, stop, tick).map(|(mut m, _)| {
                m.exclude_together();
                m
            });
        }
        let cpus = self.probe_cpus();
        let before = speed.probe_settled(&cpus);
        let outcome = self.measure(job, stop, tick);
        let after = speed.probe_settled(&cpus);
        let mut outcome = outcome.map(|(m, during)| {
            let during = during.and_then(|p| speed.record_during(Instant::now(), &p));
            (m, during)
        });
        let duet = self.duet.is_some();
        if let Ok((measured, during)) = &mut outcome {
            let slowdown = [speed.slowdown(&[&before, &after]), *during]
                .into_iter()
                .flatten()
                .max_by(f64::total_cmp);
            let sides = [Some(&mut measured.head), measured.baseline.as_mut()];
            for m in sides.into_iter().flatten() {
                let Some(host) = &mut m.host else { continue };
                host.slowdown = slowdown;
                // A duet's sides share the slow stretch: recorded, not excluded.
                if let Some(slow) = slowdown.and_then(speed::slow)
                    && !duet
                {
                    m.excluded = Some(match m.excluded.take() {
                        Some(e) => format!("{e}; {slow}"),
                        None => slow,
                    });
                }
            }
        }
        outcome.map(|(mut m, _)| {
            m.exclude_together();
            m
        })
    }

    /// The job's target (of `side`) in a clean state (its
    /// [`TargetSource`](super::source::TargetSource) says how), recorded in
    /// that side's results when it was started for it.
    fn lease(&mut self, job: &Job, side: Side) -> Result<Lease, Failure> {
        let instance = job.instance();
        let opts = target::StartOptions {
            cpus: self.setup.target_cpus.clone(),
            workers: job.workers,
            downstream_url: self.downstream_url.clone(),
            log_dir: self.dir.join("logs"),
            cpu_group: self.duet.as_ref().and_then(|d| d.procs_file(side)),
            ..target::StartOptions::default()
        };
        let (slots, results) = match (side, self.duet.as_mut()) {
            (Side::Head, _) => (&mut self.slots, &mut self.results),
            (Side::Baseline, Some(d)) => (&mut d.slots, &mut d.results),
            (Side::Baseline, None) => {
                return Err(Failure::Measurement("no baseline side in this run".into()));
            }
        };
        let slot = slots
            .get_mut(&job.target)
            .ok_or_else(|| Failure::Target("unknown target".into()))?;
        let mut lease = slot
            .source
            .lease(&instance, opts)
            .map_err(|e| match (side, e) {
                (Side::Baseline, Failure::Target(e)) => {
                    Failure::Target(format!("the baseline side (--duet): {e}"))
                }
                (_, e) => e,
            })?;
        if let Some(info) = lease.started.take() {
            record_target(results, info);
        }
        Ok(lease)
    }

    /// The job's target and, in a duet run, its baseline twin, each in a
    /// clean state; the twins start in turns (head first in odd
    /// repetitions, baseline first in even ones), so neither always starts
    /// on a machine the other has just warmed.
    fn lease_sides(&mut self, job: &Job) -> Result<(Lease, Option<Lease>), Failure> {
        if self.duet.is_none() {
            return Ok((self.lease(job, Side::Head)?, None));
        }
        let order = match job.repetition % 2 {
            1 => [Side::Head, Side::Baseline],
            _ => [Side::Baseline, Side::Head],
        };
        let mut first = self.lease(job, order[0])?;
        let second = match self.lease(job, order[1]) {
            Ok(l) => l,
            Err(e) => {
                first.stop();
                return Err(e);
            }
        };
        Ok(match order[0] {
            Side::Head => (first, Some(second)),
            Side::Baseline => (second, Some(first)),
        })
    }

    /// One measurement (two at once in a duet run), and what the speed
    /// [`speed::Sampler`] saw on the probed CPUs during its window (with the
    /// host check on).
    fn measure(
        &mut self,
        job: &Job,
        stop: &Arc<AtomicBool>,
        tick: &dyn Fn(),
    ) -> Result<(Measured, Option<speed::Probe>), Failure> {
        let scenario = self.setup.suite.entries[job.entry].scenario.clone();
        let level = scenario.levels()[job.level];
        let gen_cpus = self.setup.generator_cpus.clone();
        let threads = gen_cpus.len().max(1);
        let (mut head, mut baseline) = self.lease_sides(job)?;
        let groups: Vec<i32> = [&Some(&head), &baseline.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|l| l.pgid)
            .collect();
        // Both sides of a duet start their warm-ups at the same instant.
        let start_at = baseline
            .is_some()
            .then(|| std::time::SystemTime::now() + Duration::from_millis(200));
        let probe_cpus = self.probe_cpus();
        let window = |l: &Lease, probe: bool| -> Result<Window<'_>, String> {
            let (endpoint, _) = Endpoint::parse(&l.url).map_err(|e| e.to_string())?;
            let mut plan = scenario.plan(endpoint, &level, threads, &gen_cpus);
            plan.start_at = start_at;
            Ok(Window {
                plan,
                pgid: l.pgid,
                groups: &groups,
                host_check: self.setup.host_check,
                probe_cpus: probe.then_some(probe_cpus.as_slice()),
            })
        };
        let (head_out, baseline_out) = std::thread::scope(|s| {
            let other = baseline.as_ref().map(|l| {
                let w = window(l, false);
                s.spawn(move || w?.run(stop, &|| {}).map_err(|e| e.to_string()))
            });
            let mine =
                window(&head, true).and_then(|w| w.run(stop, tick).map_err(|e| e.to_string()));
            let other = other.map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the baseline side's load panicked".into()))
            });
            (mine, other)
        });
        head.stop();
        if let Some(b) = &mut baseline {
            b.stop();
        }
        let mut head_out = head_out.map_err(Failure::Measurement)?;
        let during = head_out.during.take();
        // Each side's generator CPU is the whole process's (both
        // generators), so its generator-bound check covers the CPU the
        // two share.
        let baseline_out =
            match baseline_out {
                Some(out) => Some(out.map_err(|e| {
                    Failure::Measurement(format!("the baseline side (--duet): {e}"))
                })?),
                None => None,
            };
        let make = |out: window::Outcome, l: &Lease| {
            let clean_state = l.clean_state.as_str().to_string();
            self.measurement(job, &scenario, level.level, out, clean_state, stop)
        };
        let measured = Measured {
            head: make(head_out, &head),
            baseline: baseline_out
                .zip(baseline.as_ref())
                .map(|(out, l)| make(out, l)),
        };
        Ok((measured, during))
    }

    /// A window's outcome as a measurement, excluded when the generator
    /// limited it, its errors passed the suite's limit, another process
    /// disturbed it (not in a duet run: both sides were) or Ctrl-C cut it
    /// short.
    fn measurement(
        &self,
        job: &Job,
        scenario: &crate::scenario::Scenario,
        level: crate::results::schema::Level,
        out: window::Outcome,
        clean_state: String,
        stop: &Arc<AtomicBool>,
    ) -> Measurement {
        let mut excluded = exclusion(&out.load, self.setup.suite.max_error_rate);
        if let Some(busy) = out.host.as_ref().and_then(host_load::disturbed)
            && self.duet.is_none()
        {
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
        Measurement {
            target: job.instance(),
            scenario: scenario.name.clone(),
            level,
            repetition: job.repetition,
            started_at: out.started_at,
            clean_state,
            load: out.load,
            resources: out.resources,
            excluded,
            host: out.host,
        }
    }
}

/// Records or updates a target's info in `results`.
fn record_target(results: &mut ResultsFile, info: TargetInfo) {
    match results.targets.iter_mut().find(|t| t.id == info.id) {
        Some(t) => *t = info,
        None => results.targets.push(info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(excluded: Option<&str>) -> Measurement {
        let file: ResultsFile =
            serde_json::from_str(include_str!("../../tests/fixtures/report/results.json"))
                .expect("the fixture parses");
        let mut m = file.measurements[0].clone();
        m.excluded = excluded.map(str::to_string);
        m
    }

    #[test]
    fn a_duet_pair_is_excluded_whole() {
        let mut pair = Measured {
            head: measurement(None),
            baseline: Some(measurement(Some("generator-bound"))),
        };
        pair.exclude_together();
        let head = pair.head.excluded.as_deref().unwrap();
        assert!(head.contains("baseline twin") && head.contains("generator-bound"));

        let mut pair = Measured {
            head: measurement(Some("host busy")),
            baseline: Some(measurement(None)),
        };
        pair.exclude_together();
        let base = pair.baseline.unwrap().excluded.unwrap();
        assert!(base.contains("head twin") && base.contains("host busy"));

        // Both excluded or neither: each keeps its own reason.
        let mut pair = Measured {
            head: measurement(Some("a")),
            baseline: Some(measurement(Some("b"))),
        };
        pair.exclude_together();
        assert_eq!(pair.head.excluded.as_deref(), Some("a"));
        assert_eq!(pair.baseline.unwrap().excluded.as_deref(), Some("b"));
        let mut single = Measured {
            head: measurement(None),
            baseline: None,
        };
        single.exclude_together();
        assert!(single.head.excluded.is_none());
    }
}
