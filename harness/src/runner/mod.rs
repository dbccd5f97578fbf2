//! `claimbench run`: the claims suite over the targets, end to end.
//!
//! The whole pipeline is [`run`]:
//!
//! 1. **Resolve** ([`plan`], [`Setup::resolve`]): find the suite, scenario, claims and
//!    target files, apply `--targets`, `--scenarios`, `--repetitions`,
//!    `--target-url`, and split the CPUs (generator and downstream on the
//!    first CPU(s), targets on the rest).
//! 2. **Prepare**: set up missing targets and read their versions; a target
//!    that fails is recorded in `skipped` and the rest continue. Start the
//!    downstream service (a child process pinned with the generator) when a
//!    scenario calls `/io/downstream`.
//! 3. **Measure** ([`measure`], [`Runner::measure_all`]): every job of the
//!    [`schedule`] (repetitions interleaved across targets). Before each
//!    measurement the target is brought to a clean state (a fresh process for
//!    `between_runs = "restart"`, wait-until-idle for `"idle"`). The target's
//!    CPU and memory are sampled during the measured phase only: the sampler
//!    starts when the load engine reports the measured phase and stops when it
//!    ends (warm-up and drain are not sampled). A measurement where the
//!    generator limited the run, or whose error rate is above the suite's
//!    `max_error_rate`, is kept but `excluded` from verdicts, with the reason
//!    ([`crate::analysis::checks::exclusion`]); one another process or a slow
//!    machine disturbed ([`host_load`], [`speed`]) is measured again.
//!    `results.json` is rewritten atomically after every measurement
//!    (`complete: false` until the end), so an interruption loses nothing.
//! 4. **Conclude** ([`conclude`]): claim verdicts
//!    ([`crate::analysis::verdict`]), thresholds ([`crate::analysis::checks`];
//!    a breach exits 1), the final results file, reports
//!    ([`crate::report::write_all`]), `results/latest`, and the verdict table.
//!
//! Ctrl-C once stops after the current measurement is cut short (targets
//! stopped, everything measured so far written, `complete: false`); twice
//! kills every target at once and exits.

mod conclude;
pub mod downstream;
mod duet;
pub mod host_load;
mod measure;
pub mod output;
mod plan;
pub mod schedule;
mod source;
pub mod speed;
#[cfg(test)]
mod tests;
mod window;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::results::schema::{ResultsFile, RunKind};
pub use plan::{Setup, split_cpus};
use plan::{TargetKind, estimate, print_plan, set_up_targets, shape};
use schedule::{EntryShape, Job};

/// Options of `run`.
#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// The CI-sized suite (scenarios/suites/quick.toml): one repetition, short levels, under 3 minutes.
    #[arg(long, conflicts_with = "suite")]
    pub quick: bool,
    /// The suite file to run (default: scenarios/suites/default.toml).
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// Run only these targets (comma-separated ids, e.g. node-express:cluster,python-fastapi);
    /// replaces every suite entry's target list.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub targets: Vec<String>,
    /// Run only these scenarios of the suite (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub scenarios: Vec<String>,
    /// Output folder (default: results/<run_id>/, with results/latest pointing at it).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Repetitions of every measurement (overrides the suite).
    #[arg(long, value_name = "N")]
    pub repetitions: Option<u32>,
    /// Measure an already-running server as target NAME (not supervised; repeatable).
    #[arg(long = "target-url", value_name = "NAME=URL")]
    pub target_urls: Vec<String>,
    /// Sample CPU and memory of an external target's process group (repeatable).
    #[arg(long = "target-pid", value_name = "NAME=PID")]
    pub target_pids: Vec<String>,
    /// The targets folder (default: targets/ here or in a parent folder).
    #[arg(long, value_name = "DIR")]
    pub targets_dir: Option<PathBuf>,
    /// The claims file (default: the suite's `claims`, or claims.toml beside the suite or one folder up).
    #[arg(long, value_name = "FILE")]
    pub claims: Option<PathBuf>,
    /// Do not draw charts and reports at the end.
    #[arg(long)]
    pub no_report: bool,
    /// No progress bar (one line per measurement is still printed).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print the plan (measurements, CPU split, estimated time) and every
    /// measurement in order, then stop without measuring or writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Seed of the measurement order within each round (default: from the
    /// clock; the seed used is recorded in the results as `order_seed`).
    #[arg(long, value_name = "N")]
    pub order_seed: Option<u64>,
    /// Skip the quiet-machine, steal and speed checks (no measurement is
    /// excluded or measured again for them, and none records `host`): for a
    /// machine you know is shared, such as a test run beside other tests.
    #[arg(long)]
    pub no_host_check: bool,
    /// Duet: measure every target at the same time as its twin from DIR
    /// (the baseline, e.g. the base commit's targets/), on the same CPUs,
    /// each side in a CPU control group of its own and loaded by its own
    /// generator; writes OUT/baseline/results.json beside OUT/results.json
    /// for `compare OUT/baseline OUT` (docs/compare.md).
    #[arg(long, value_name = "DIR")]
    pub duet: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let wall = Instant::now();
    let setup = Setup::resolve(&args)?;
    let stop = crate::interrupt::stop_flag(
        "interrupted: cutting this measurement short, stopping the targets and writing what was measured (Ctrl-C again to abort at once)",
    );

    if args.dry_run {
        print_plan(&setup);
        return Ok(ExitCode::SUCCESS);
    }
    set_up_targets(&setup)?;
    let mut runner = Runner::new(setup)?;
    runner.print_header();
    runner.prepare_targets();
    let _downstream = runner.start_downstream()?;
    runner.measure_all(&stop, args.quiet);
    let interrupted = stop.load(Ordering::SeqCst);
    let code = runner.conclude(interrupted, args.no_report, wall.elapsed())?;
    Ok(code)
}

/// Per-target state during the run.
struct Slot {
    source: Box<dyn source::TargetSource>,
    /// Why it cannot run (setup or start failed).
    failed: Option<String>,
}

/// The suite loop and its results.
pub struct Runner {
    setup: Setup,
    slots: BTreeMap<String, Slot>,
    results: ResultsFile,
    dir: PathBuf,
    jobs: Vec<Job>,
    downstream_url: Option<String>,
    /// `--duet`: the baseline side, measured beside this one.
    duet: Option<duet::Baseline>,
}

/// Slots for the targets of a plan, none started yet.
fn slots(targets: &BTreeMap<String, TargetKind>) -> BTreeMap<String, Slot> {
    targets
        .iter()
        .map(|(id, kind)| {
            (
                id.clone(),
                Slot {
                    source: source::source(kind),
                    failed: None,
                },
            )
        })
        .collect()
}

impl Runner {
    /// Creates the output folder and the results skeleton.
    pub fn new(setup: Setup) -> anyhow::Result<Runner> {
        let started_at = chrono::Utc::now();
        let run_id = started_at.format("%Y%m%dT%H%M%SZ").to_string();
        let dir = if setup.link_latest {
            let mut d = setup.out.join(&run_id);
            let mut n = 2;
            while d.exists() {
                d = setup.out.join(format!("{run_id}-{n}"));
                n += 1;
            }
            d
        } else {
            setup.out.clone()
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut host = crate::sys::host_info();
        host.generator_cpus = setup.generator_cpus.clone();
        host.target_cpus = setup.target_cpus.clone();
        let shapes: Vec<EntryShape> = setup.suite.entries.iter().map(shape).collect();
        let jobs = schedule::schedule(&shapes, setup.order_seed);
        let slots = slots(&setup.targets);
        let mut results =
            ResultsFile::new(RunKind::Suite, started_at, crate::sys::tool_info(), host);
        results.order_seed = Some(setup.order_seed);
        let duet = match &setup.duet {
            Some(d) => Some(duet::Baseline::new(d, &setup, &dir, &mut results)?),
            None => None,
        };
        Ok(Runner {
            setup,
            slots,
            results,
            dir,
            jobs,
            downstream_url: None,
            duet,
        })
    }

    fn results_path(&self) -> PathBuf {
        self.dir.join(crate::results::io::RESULTS_FILE_NAME)
    }

    /// Writes the results file (and the baseline side's, in a duet run).
    fn save(&self) {
        if let Err(e) = crate::results::io::write(&self.results_path(), &self.results) {
            eprintln!("warning: {e}");
        }
        if let Some(d) = &self.duet {
            d.save();
        }
    }

    /// Estimated seconds for one job (start, warm-up, measure, drain, stop).
    fn job_estimate(&self, job: &Job) -> f64 {
        if job.workers.is_some() && self.setup.target_cpus.len() < 2 {
            return 0.0;
        }
        estimate(
            &self.setup.suite.entries[job.entry].scenario,
            self.slots
                .get(&job.target)
                .is_some_and(|s| s.source.supervised()),
        )
    }

    /// Prints what will run.
    pub fn print_header(&self) {
        let s = &self.setup.suite;
        let est: f64 = self.jobs.iter().map(|j| self.job_estimate(j)).sum();
        println!("suite {}: {}", s.file.display(), s.description);
        println!(
            "{} measurements ({} scenarios, targets: {}), about {} (estimated)",
            self.jobs.len(),
            s.entries.len(),
            s.targets().join(", "),
            humantime::format_duration(Duration::from_secs(est.round() as u64))
        );
        let fmt = |c: &[usize]| {
            if c.is_empty() {
                crate::sys::describe_cpus(c)
            } else {
                format!("CPU {}", crate::sys::describe_cpus(c))
            }
        };
        println!(
            "CPU split: generator and downstream {}, targets {} ({} logical CPUs)",
            fmt(&self.setup.generator_cpus),
            fmt(&self.setup.target_cpus),
            self.results.host.logical_cpus
        );
        if self.setup.target_cpus.is_empty() {
            eprintln!(
                "warning: one CPU only: generator and targets share it, so results measure both at once"
            );
        }
        if let Some(d) = &self.setup.duet {
            println!(
                "duet: every target measured at the same time as its twin from {} (the baseline, written to {}), on the same CPUs, {}",
                d.dir.display(),
                self.dir.join(duet::BASELINE_DIR).display(),
                if self.results.duet.as_ref().is_some_and(|x| x.cpu_groups) {
                    "each side in a CPU group of its own (equal shares)"
                } else {
                    "without CPU groups"
                }
            );
        }
        println!("results: {}", self.dir.display());
    }

    /// Reads the supervised targets' installed versions (they were set up by
    /// [`set_up_targets`]) and records the external ones.
    pub fn prepare_targets(&mut self) {
        for (id, slot) in &mut self.slots {
            if let Some(info) = slot.source.prepare(id) {
                self.results.targets.push(info);
            }
        }
        if let Some(d) = &mut self.duet {
            for (id, slot) in &mut d.slots {
                slot.source.prepare(id);
            }
        }
        self.save();
    }

    /// Starts the downstream service if a scenario needs it and a supervised
    /// target will run.
    pub fn start_downstream(&mut self) -> anyhow::Result<Option<downstream::Downstream>> {
        let needed = self.setup.suite.entries.iter().any(|e| {
            e.scenario.needs_downstream()
                && e.targets.iter().any(|t| {
                    self.slots
                        .get(t)
                        .is_some_and(|s| s.failed.is_none() && s.source.supervised())
                })
        });
        if !needed {
            return Ok(None);
        }
        let cpus = self.setup.generator_cpus.clone();
        let ds = downstream::start(&cpus)?;
        self.results.host.downstream_cpus = cpus;
        println!(
            "downstream service: {} ({})",
            ds.url(),
            if ds.is_child() {
                "child process"
            } else {
                "in-process"
            }
        );
        self.downstream_url = Some(ds.url().to_string());
        Ok(Some(ds))
    }
}
