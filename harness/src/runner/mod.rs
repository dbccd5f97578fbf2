//! `claimbench run`: the claims suite over the targets, end to end.
//!
//! The whole pipeline is [`run`]:
//!
//! 1. **Resolve** ([`Setup::resolve`]): find the suite, scenario, claims and
//!    target files, apply `--targets`, `--scenarios`, `--repetitions`,
//!    `--target-url`, and split the CPUs (generator and downstream on the
//!    first CPU(s), targets on the rest).
//! 2. **Prepare**: set up missing targets and read their versions; a target
//!    that fails is recorded in `skipped` and the rest continue. Start the
//!    downstream service (a child process pinned with the generator) when a
//!    scenario calls `/io/downstream`.
//! 3. **Measure** ([`Runner::measure_all`]): every job of the
//!    [`schedule`] (repetitions interleaved across targets). Before each
//!    measurement the target is brought to a clean state (a fresh process for
//!    `between_runs = "restart"`, wait-until-idle for `"idle"`). The target's
//!    CPU and memory are sampled during the measured phase only: the sampler
//!    starts when the load engine reports the measured phase and stops when it
//!    ends (warm-up and drain are not sampled). A measurement where the
//!    generator limited the run, or whose error rate is above the suite's
//!    `max_error_rate`, is kept but `excluded` from verdicts, with the reason.
//!    `results.json` is rewritten atomically after every measurement
//!    (`complete: false` until the end), so an interruption loses nothing.
//! 4. **Conclude**: claim verdicts ([`crate::analysis::verdict`]), thresholds
//!    (a breach exits 1), the final results file, reports
//!    ([`crate::report::write_all`]), `results/latest`, and the verdict table.
//!
//! Ctrl-C once stops after the current measurement is cut short (targets
//! stopped, everything measured so far written, `complete: false`); twice
//! kills every target at once and exits.

pub mod downstream;
pub mod host_load;
pub mod output;
pub mod schedule;
pub mod speed;

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use crate::analysis::{stats, verdict};
use crate::load::{self, Endpoint, Phase};
use crate::results::schema::{
    Measurement, ResultsFile, RunKind, SCHEMA_VERSION, Skipped, TargetInfo, Verdict,
};
use crate::scenario::{self, Claims, Suite};
use crate::target::{self, BetweenRuns, Manifest, RunningTarget, Sampler, TargetId, TargetSpec};
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
}

/// The Ctrl-C flag shared with the load engine.
fn stop_flag() -> Arc<AtomicBool> {
    static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    STOP.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // Another handler in this process (tests, `bench`) is not an error.
        let _ = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                let n = target::kill_all_registered();
                eprintln!("\ninterrupted twice: killed {n} target process group(s)");
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupted: cutting this measurement short, stopping the targets and writing what was measured (Ctrl-C again to abort at once)"
            );
        });
        flag
    })
    .clone()
}

/// Runs the command.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let wall = Instant::now();
    let setup = Setup::resolve(&args)?;
    let stop = stop_flag();
    stop.store(false, Ordering::SeqCst);

    if args.dry_run {
        print_plan(&setup);
        return Ok(ExitCode::SUCCESS);
    }
    set_up_targets(&setup)?;
    let mut runner = Runner::new(setup, &args)?;
    runner.print_header();
    runner.prepare_targets();
    let _downstream = runner.start_downstream()?;
    runner.measure_all(&stop, args.quiet);
    let interrupted = stop.load(Ordering::SeqCst);
    let code = runner.conclude(interrupted, args.no_report, wall.elapsed())?;
    Ok(code)
}

/// Sets up every supervised target the run will measure, before anything is
/// measured: a target that cannot be set up (a missing runtime or Debian
/// package) stops the run with the reason, rather than leaving its claims
/// unmeasured in a run that looks complete. `--targets` leaves it out.
fn set_up_targets(setup: &Setup) -> anyhow::Result<()> {
    let used: std::collections::BTreeSet<usize> = setup
        .targets
        .values()
        .filter_map(|k| match k {
            TargetKind::Supervised { manifest, .. } => Some(*manifest),
            TargetKind::External { .. } => None,
        })
        .collect();
    for i in used {
        let m = &setup.manifests[i];
        if target::is_set_up(m) {
            continue;
        }
        println!("setting up {} (first run only) ...", m.name);
        target::setup(m, &target::SetupOptions::default()).with_context(|| {
            format!(
                "nothing was measured; install what `{}` needs, or leave it out with --targets",
                m.name
            )
        })?;
    }
    Ok(())
}

/// `--dry-run`: the schedule and its estimated length.
fn print_plan(setup: &Setup) {
    let shapes: Vec<EntryShape> = setup.suite.entries.iter().map(shape).collect();
    let jobs = schedule::schedule(&shapes, setup.order_seed);
    let mut total = 0.0;
    for (i, j) in jobs.iter().enumerate() {
        let s = &setup.suite.entries[j.entry].scenario;
        if j.workers.is_some() && setup.target_cpus.len() < 2 {
            continue;
        }
        total += estimate(s, setup.targets.get(&j.target));
        println!(
            "{:>4}. {} {} #{} {}",
            i + 1,
            s.name,
            s.levels()[j.level].level.label(),
            j.repetition,
            j.instance()
        );
    }
    println!(
        "{} measurements from {}, about {} (estimated; worker sweeps are skipped with fewer than 2 target CPUs)",
        jobs.iter()
            .filter(|j| j.workers.is_none() || setup.target_cpus.len() >= 2)
            .count(),
        setup.suite.file.display(),
        humantime::format_duration(Duration::from_secs(total.round() as u64))
    );
}

fn shape(e: &scenario::SuiteEntry) -> EntryShape {
    EntryShape {
        levels: e.scenario.levels().len(),
        repetitions: e.scenario.repetitions,
        targets: e.targets.clone(),
        workers: e.workers.clone(),
    }
}

/// Estimated seconds for one measurement: start, warm-up, measure, drain, stop.
fn estimate(s: &scenario::Scenario, kind: Option<&TargetKind>) -> f64 {
    let start = match kind {
        Some(TargetKind::Supervised { .. }) => 1.5,
        _ => 0.2,
    };
    // An auto warm-up needs at least three whole windows after its minimum.
    let warmup = match s.warmup_max {
        Some(_) => s.warmup.as_secs_f64().max(3.2),
        None => s.warmup.as_secs_f64(),
    };
    start + warmup + s.duration.as_secs_f64() + 0.5
}

/// A target of the run: supervised (from a manifest) or external (a URL).
#[derive(Clone, Debug)]
enum TargetKind {
    Supervised {
        manifest: usize,
        spec: Box<TargetSpec>,
    },
    External {
        url: String,
        pid: Option<i32>,
    },
}

/// Everything resolved before anything runs.
pub struct Setup {
    suite: Suite,
    claims: Option<Claims>,
    manifests: Vec<Manifest>,
    targets: BTreeMap<String, TargetKind>,
    generator_cpus: Vec<usize>,
    target_cpus: Vec<usize>,
    out: PathBuf,
    link_latest: bool,
    order_seed: u64,
    host_check: bool,
}

/// `NAME=VALUE` pairs from repeatable flags.
fn pairs(flag: &str, items: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| anyhow!("{flag} {s:?}: expected NAME=VALUE"))?;
            if k.trim().is_empty() {
                bail!("{flag} {s:?}: the name is empty");
            }
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// The folder holding `scenarios/` (and usually `targets/`): here or a parent.
fn find_root(targets_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current folder")?;
    if let Some(t) = targets_dir
        && let Some(parent) = std::path::absolute(t)?.parent()
        && parent.join("scenarios").is_dir()
    {
        return Ok(parent.to_path_buf());
    }
    cwd.ancestors()
        .find(|d| d.join("scenarios").is_dir() && d.join("targets").is_dir())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            anyhow!(
                "no scenarios/ and targets/ folders in {} or its parents; run from the claimbench checkout or pass --suite and --targets-dir",
                cwd.display()
            )
        })
}

/// Generator (and downstream) CPUs and target CPUs: on 2 or 3 CPUs the first
/// one for the generator and the rest for the target; on more, a quarter for
/// the generator. On 1 CPU nothing is pinned.
pub fn split_cpus(online: &[usize]) -> (Vec<usize>, Vec<usize>) {
    match online.len() {
        0 | 1 => (Vec::new(), Vec::new()),
        n => {
            let g = if n <= 3 { 1 } else { n / 4 };
            (online[..g].to_vec(), online[g..].to_vec())
        }
    }
}

impl Setup {
    /// Resolves files, flags and the CPU split.
    pub fn resolve(args: &RunArgs) -> anyhow::Result<Setup> {
        let external = pairs("--target-url", &args.target_urls)?;
        let pids = pairs("--target-pid", &args.target_pids)?;
        let needs_root = args.suite.is_none() || args.targets_dir.is_none();
        let root = if needs_root {
            find_root(args.targets_dir.as_deref())?
        } else {
            std::env::current_dir()?
        };
        let targets_dir = args
            .targets_dir
            .clone()
            .unwrap_or_else(|| root.join("targets"));
        let manifests = if targets_dir.is_dir() {
            target::discover(&targets_dir)?
        } else if external.is_empty() {
            bail!(
                "targets folder {} does not exist (pass --targets-dir)",
                targets_dir.display()
            );
        } else {
            Vec::new()
        };
        let suite_file = match (&args.suite, args.quick) {
            (Some(f), _) => f.clone(),
            (None, true) => root.join("scenarios/suites/quick.toml"),
            (None, false) => root.join("scenarios/suites/default.toml"),
        };
        let ext_names: Vec<String> = external.iter().map(|(n, _)| n.clone()).collect();
        let check = |id: &str| -> Result<(), String> {
            if ext_names.iter().any(|n| n == id) {
                return Ok(());
            }
            let tid: TargetId = id.parse().map_err(|e: target::TargetError| e.to_string())?;
            target::find(&manifests, &tid)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let mut suite = scenario::load_suite(&suite_file, &check)?;
        // The folders the whole suite names, before --scenarios narrows it:
        // a stack named by another entry is not "another target".
        let mut named: Vec<String> = suite
            .targets()
            .iter()
            .map(|t| t.split(':').next().unwrap_or(t).to_string())
            .collect();
        named.extend(suite.leave_out.iter().cloned());

        // --scenarios
        if !args.scenarios.is_empty() {
            let known: Vec<String> = suite
                .entries
                .iter()
                .map(|e| e.scenario.name.clone())
                .collect();
            for s in &args.scenarios {
                if !known.contains(s) {
                    bail!(
                        "--scenarios: `{s}` is not in suite {} (it has: {})",
                        suite_file.display(),
                        known.join(", ")
                    );
                }
            }
            suite
                .entries
                .retain(|e| args.scenarios.contains(&e.scenario.name));
        }
        // --targets and --target-url
        let mut chosen: Vec<String> = Vec::new();
        for t in &args.targets {
            check(t).map_err(|e| anyhow!("--targets: {e}"))?;
            chosen.push(t.clone());
        }
        for n in &ext_names {
            if !chosen.contains(n) {
                chosen.push(n.clone());
            }
        }
        if !chosen.is_empty() {
            for e in &mut suite.entries {
                e.targets = chosen.clone();
            }
        } else if suite.other_targets {
            // A target folder the suite does not name (a user's own server)
            // joins every entry without a worker sweep.
            for m in manifests.iter().filter(|m| !named.contains(&m.name)) {
                println!(
                    "{} is not named by the suite: measuring it in every scenario",
                    m.dir.display()
                );
                for e in suite.entries.iter_mut().filter(|e| e.workers.is_none()) {
                    e.targets.push(m.name.clone());
                }
            }
        }
        if let Some(r) = args.repetitions {
            if r == 0 || r > 1000 {
                bail!("--repetitions must be from 1 to 1000");
            }
            for e in &mut suite.entries {
                e.scenario.repetitions = r;
            }
        }

        let mut targets = BTreeMap::new();
        for id in suite.targets() {
            if let Some((_, url)) = external.iter().find(|(n, _)| *n == id) {
                let (endpoint, _) =
                    Endpoint::parse(url).with_context(|| format!("--target-url {id}={url}"))?;
                let pid = match pids.iter().find(|(n, _)| *n == id) {
                    Some((_, p)) => Some(
                        p.parse::<i32>()
                            .map_err(|_| anyhow!("--target-pid {id}={p}: not a process id"))?,
                    ),
                    None => None,
                };
                targets.insert(
                    id.clone(),
                    TargetKind::External {
                        url: endpoint.base_url,
                        pid,
                    },
                );
            } else {
                let tid: TargetId = id.parse()?;
                let (m, spec) = target::find(&manifests, &tid)?;
                let index = manifests
                    .iter()
                    .position(|x| x.name == m.name)
                    .expect("found above");
                targets.insert(
                    id.clone(),
                    TargetKind::Supervised {
                        manifest: index,
                        spec: Box::new(spec),
                    },
                );
            }
        }
        for (n, _) in &pids {
            if !ext_names.contains(n) {
                bail!("--target-pid {n}: there is no --target-url {n}=URL");
            }
        }

        let claims_file = args.claims.clone().or_else(|| suite.claims_file.clone());
        let claims = match claims_file {
            Some(f) => Some(scenario::load_claims(&f)?),
            None => None,
        };
        let (generator_cpus, target_cpus) = split_cpus(&crate::sys::online_cpus());
        let (out, link_latest) = match &args.out {
            Some(o) => (o.clone(), false),
            None => (root.join("results"), true),
        };
        Ok(Setup {
            suite,
            claims,
            manifests,
            targets,
            generator_cpus,
            target_cpus,
            out,
            link_latest,
            order_seed: args.order_seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            }),
            host_check: !args.no_host_check,
        })
    }
}

/// Per-target state during the run.
struct Slot {
    kind: TargetKind,
    /// Why it cannot run (setup or start failed).
    failed: Option<String>,
    versions: BTreeMap<String, String>,
    /// A kept-running process (targets with `between_runs = "idle"`), by instance.
    running: HashMap<String, RunningTarget>,
    /// Instances started at least once.
    started: Vec<String>,
}

/// The suite loop and its results.
pub struct Runner {
    setup: Setup,
    slots: BTreeMap<String, Slot>,
    results: ResultsFile,
    dir: PathBuf,
    jobs: Vec<Job>,
    downstream_url: Option<String>,
}

impl Runner {
    /// Creates the output folder and the results skeleton.
    pub fn new(setup: Setup, _args: &RunArgs) -> anyhow::Result<Runner> {
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
        let slots = setup
            .targets
            .iter()
            .map(|(id, kind)| {
                (
                    id.clone(),
                    Slot {
                        kind: kind.clone(),
                        failed: None,
                        versions: BTreeMap::new(),
                        running: HashMap::new(),
                        started: Vec::new(),
                    },
                )
            })
            .collect();
        let results = ResultsFile {
            order_seed: Some(setup.order_seed),
            schema_version: SCHEMA_VERSION,
            kind: RunKind::Suite,
            run_id,
            started_at,
            finished_at: None,
            complete: false,
            command_line: std::env::args().collect(),
            tool: crate::sys::tool_info(),
            host,
            targets: Vec::new(),
            measurements: Vec::new(),
            skipped: Vec::new(),
            verdicts: Vec::new(),
        };
        Ok(Runner {
            setup,
            slots,
            results,
            dir,
            jobs,
            downstream_url: None,
        })
    }

    fn results_path(&self) -> PathBuf {
        self.dir.join(crate::results::io::RESULTS_FILE_NAME)
    }

    fn save(&self) {
        if let Err(e) = crate::results::io::write(&self.results_path(), &self.results) {
            eprintln!("warning: {e}");
        }
    }

    /// Estimated seconds for one job (start, warm-up, measure, drain, stop).
    fn job_estimate(&self, job: &Job) -> f64 {
        if job.workers.is_some() && self.setup.target_cpus.len() < 2 {
            return 0.0;
        }
        estimate(
            &self.setup.suite.entries[job.entry].scenario,
            self.slots.get(&job.target).map(|s| &s.kind),
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
                "not pinned".to_string()
            } else {
                format!("CPU {}", crate::sys::format_cpu_list(c))
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
        println!("results: {}", self.dir.display());
    }

    /// Reads the supervised targets' installed versions (they were set up by
    /// [`set_up_targets`]).
    pub fn prepare_targets(&mut self) {
        for slot in self.slots.values_mut() {
            if let TargetKind::Supervised { spec, .. } = &slot.kind {
                slot.versions = target::versions(spec);
            }
        }
        // External targets are recorded up front.
        for (id, slot) in &self.slots {
            if let TargetKind::External { url, pid } = &slot.kind {
                self.results.targets.push(TargetInfo {
                    id: id.clone(),
                    language: "unknown".into(),
                    framework: "unknown".into(),
                    server: format!(
                        "external server{}",
                        pid.map(|p| format!(" (pid {p} sampled)"))
                            .unwrap_or_default()
                    ),
                    concurrency_model: "unknown".into(),
                    workers: None,
                    cpus: Vec::new(),
                    versions: BTreeMap::new(),
                    supervised: false,
                    url: url.clone(),
                });
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
                    self.slots.get(t).is_some_and(|s| {
                        s.failed.is_none() && matches!(s.kind, TargetKind::Supervised { .. })
                    })
                })
        });
        if !needed {
            return Ok(None);
        }
        let cpus = self.setup.generator_cpus.clone();
        let ds = downstream::start(&cpus)?;
        if ds.is_child() {
            self.results.host.downstream_cpus = cpus;
        } else {
            self.results.host.downstream_cpus = cpus.clone();
        }
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

    /// Runs every job, in order, until done or interrupted.
    pub fn measure_all(&mut self, stop: &Arc<AtomicBool>, quiet: bool) {
        let total = self.jobs.len();
        let bar = (!quiet && std::io::stderr().is_terminal() && total > 0).then(|| {
            let est_ms: f64 = self
                .jobs
                .iter()
                .map(|j| self.job_estimate(j) * 1000.0)
                .sum();
            let b = indicatif::ProgressBar::new(est_ms as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {percent:>3}% elapsed {elapsed_precise} ETA {eta_precise}  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        let say = |line: &str| match &bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        };
        let jobs = self.jobs.clone();
        let mut skipped_noted: Vec<String> = Vec::new();
        let mut speed = speed::SpeedCheck::default();
        // The bar counts estimated milliseconds, so its ETA is in time, and it
        // moves within a measurement too.
        let mut done_ms = 0u64;
        for (i, job) in jobs.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let est = (self.job_estimate(job) * 1000.0) as u64;
            if let Some(b) = &bar {
                b.set_position(done_ms);
            }
            done_ms += est;
            let entry = &self.setup.suite.entries[job.entry];
            let scenario_name = entry.scenario.name.clone();
            let reps = entry.scenario.repetitions;
            // Worker sweeps need CPUs to spread workers over, and a target
            // claimbench starts.
            let external = matches!(
                self.slots.get(&job.target).map(|s| &s.kind),
                Some(TargetKind::External { .. })
            );
            if job.workers.is_some() && (external || self.setup.target_cpus.len() < 2) {
                let key = format!("{}/{}", job.target, scenario_name);
                if !skipped_noted.contains(&key) {
                    skipped_noted.push(key);
                    let reason = if external {
                        "a worker-count sweep needs a target claimbench starts (not --target-url)"
                            .to_string()
                    } else {
                        format!(
                            "the worker-count sweep needs at least 2 CPUs for the target besides the generator's; this run has {}",
                            self.setup.target_cpus.len()
                        )
                    };
                    say(&format!(
                        "skipping {} in `{scenario_name}`: {reason}",
                        job.target
                    ));
                    self.results.skipped.push(Skipped {
                        target: job.target.clone(),
                        scenario: Some(scenario_name.clone()),
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
            if let Some(b) = &bar {
                b.set_message(format!(
                    "{} {} #{} {}",
                    scenario_name,
                    entry.scenario.levels()[job.level].level.label(),
                    job.repetition,
                    job.instance()
                ));
            }
            let base = done_ms - est;
            let job_start = Instant::now();
            let tick = || {
                if let Some(b) = &bar {
                    let within = (job_start.elapsed().as_millis() as u64).min(est * 95 / 100);
                    b.set_position(base + within);
                }
            };
            // A measurement another process disturbed is measured again
            // once the machine is quiet (kept in `skipped` with the reason).
            let mut outcome = self.measure_checked(job, stop, &tick, &mut speed);
            let mut again = 0;
            while again < host_load::MAX_REMEASURE && !stop.load(Ordering::SeqCst) {
                let Ok(m) = &outcome else { break };
                let Some(busy) = m.host.as_ref().and_then(host_load::disturbed) else {
                    break;
                };
                again += 1;
                say(&format!(
                    "[{}/{total}] {scenario_name} #{} {}: {busy}; waiting for the machine to be quiet and at full speed to measure it again",
                    i + 1,
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
                outcome = self.measure_checked(job, stop, &tick, &mut speed);
            }
            match outcome {
                Ok(m) => {
                    say(&output::measurement_line(i + 1, total, &m, reps));
                    self.results.measurements.push(m);
                }
                Err(Failure::Target(reason)) => {
                    say(&format!(
                        "[{}/{total}] {}: cannot start: {reason}",
                        i + 1,
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
                        "[{}/{total}] {scenario_name} #{} {}: measurement failed: {reason}",
                        i + 1,
                        job.repetition,
                        job.instance()
                    ));
                    self.results.skipped.push(Skipped {
                        target: job.instance(),
                        scenario: Some(scenario_name.clone()),
                        reason: format!("repetition {} failed: {reason}", job.repetition),
                    });
                }
            }
            self.save();
        }
        // Kept-running targets.
        for slot in self.slots.values_mut() {
            for (_, t) in slot.running.drain() {
                let _ = t.stop();
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
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
            return self.measure(job, stop, tick);
        }
        let cpus = self.probe_cpus();
        let before = speed.probe_settled(&cpus);
        let mut outcome = self.measure(job, stop, tick);
        let after = speed.probe_settled(&cpus);
        if let Ok(m) = &mut outcome
            && let Some(host) = &mut m.host
        {
            host.slowdown = speed.slowdown(&[&before, &after]);
            if let Some(slow) = host.slowdown.and_then(speed::slow) {
                m.excluded = Some(match m.excluded.take() {
                    Some(e) => format!("{e}; {slow}"),
                    None => slow,
                });
            }
        }
        outcome
    }

    /// One measurement.
    fn measure(
        &mut self,
        job: &Job,
        stop: &Arc<AtomicBool>,
        tick: &dyn Fn(),
    ) -> Result<Measurement, Failure> {
        let entry = &self.setup.suite.entries[job.entry];
        let scenario = entry.scenario.clone();
        let level = scenario.levels()[job.level];
        let instance = job.instance();
        let slot = self
            .slots
            .get_mut(&job.target)
            .ok_or_else(|| Failure::Target("unknown target".into()))?;
        let gen_cpus = self.setup.generator_cpus.clone();
        let threads = gen_cpus.len().max(1);

        // A clean target.
        let (url, pgid, clean_state, mut fresh): (
            String,
            Option<i32>,
            String,
            Option<RunningTarget>,
        ) = match &slot.kind {
            TargetKind::External { url, pid } => {
                // SAFETY: getpgid only reads.
                let pgid = pid.map(|p| unsafe { libc::getpgid(p) }).filter(|g| *g > 0);
                (url.clone(), pgid, "external".into(), None)
            }
            TargetKind::Supervised { spec, .. } => {
                let opts = target::StartOptions {
                    cpus: self.setup.target_cpus.clone(),
                    workers: job.workers,
                    downstream_url: self.downstream_url.clone(),
                    log_dir: self.dir.join("logs"),
                    ..target::StartOptions::default()
                };
                let before = slot.started.contains(&instance);
                let state = if before { "restarted" } else { "started" };
                match spec.start.between_runs {
                    BetweenRuns::Idle if slot.running.contains_key(&instance) => {
                        let t = &slot.running[&instance];
                        t.wait_idle(Duration::from_secs(30))
                            .map_err(|e| Failure::Measurement(e.to_string()))?;
                        (t.url(), Some(t.pgid()), "idle".into(), None)
                    }
                    kind => {
                        let t = target::start(spec, &opts)
                            .map_err(|e| Failure::Target(e.to_string()))?;
                        slot.started.push(instance.clone());
                        let mut info = t.info(slot.versions.clone());
                        info.id = instance.clone();
                        let (url, pgid) = (t.url(), t.pgid());
                        let keep = kind == BetweenRuns::Idle;
                        let fresh = if keep {
                            slot.running.insert(instance.clone(), t);
                            None
                        } else {
                            Some(t)
                        };
                        self.record_target(info);
                        (url, Some(pgid), state.into(), fresh)
                    }
                }
            }
        };

        let result = (|| {
            let (endpoint, _) = Endpoint::parse(&url).map_err(|e| e.to_string())?;
            let plan = scenario.plan(endpoint, &level, threads, &gen_cpus);
            let started_at = chrono::Utc::now();
            let mut sampler = None;
            let mut resources = None;
            let mut measured_at = None;
            let mut probe = None;
            let mut host = None;
            let groups: Vec<i32> = pgid.into_iter().collect();
            let host_check = self.setup.host_check;
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
            Ok::<_, String>((load, resources, host, measured_at.unwrap_or(started_at)))
        })();
        if let Some(t) = fresh.take()
            && let Err(e) = t.stop()
        {
            eprintln!("warning: {e}");
        }
        let (load, resources, host, started_at) = result.map_err(Failure::Measurement)?;
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
        Ok(Measurement {
            target: instance,
            scenario: scenario.name.clone(),
            level: level.level,
            repetition: job.repetition,
            started_at,
            clean_state,
            load,
            resources,
            excluded,
            host,
        })
    }

    /// Verdicts, thresholds, final files, reports and the printed summary.
    pub fn conclude(
        &mut self,
        interrupted: bool,
        no_report: bool,
        wall: Duration,
    ) -> anyhow::Result<ExitCode> {
        let verdicts: Vec<Verdict> = match &self.setup.claims {
            Some(c) => verdict::evaluate(&c.claims, &c.rules, &self.results),
            None => Vec::new(),
        };
        self.results.verdicts = verdicts;
        self.results.finished_at = Some(chrono::Utc::now());
        self.results.complete = !interrupted;
        self.save();
        let breaches = self.thresholds();

        println!();
        let ex = output::exclusions(&self.results);
        if !ex.is_empty() {
            println!("excluded from verdicts:\n{ex}");
        }
        for s in &self.results.skipped {
            println!(
                "skipped: {}{}: {}",
                s.target,
                s.scenario
                    .as_ref()
                    .map(|x| format!(" in `{x}`"))
                    .unwrap_or_default(),
                s.reason
            );
        }
        let table = output::verdict_table(&self.results.verdicts);
        if !self.results.verdicts.is_empty() {
            let header = match &self.setup.claims {
                Some(c) => {
                    let per_metric: Vec<String> = c
                        .rules
                        .min_effects
                        .iter()
                        .map(|(m, e)| format!("{m} {:.0}%", e * 100.0))
                        .collect();
                    format!(
                        "verdicts ({}; minimum effect {:.0}%{}; bootstrap intervals of the ratio of medians (rounds paired), {:.0}% per claim with Bonferroni across its comparisons):\n",
                        c.file.display(),
                        c.rules.min_effect * 100.0,
                        if per_metric.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", per_metric.join(", "))
                        },
                        c.rules.confidence * 100.0
                    )
                }
                None => String::new(),
            };
            print!("{header}{table}");
            let path = self.dir.join("verdicts.txt");
            if let Err(e) =
                crate::results::io::write_atomic(&path, format!("{header}{table}").as_bytes())
            {
                eprintln!("warning: {e}");
            }
        }
        for b in &breaches {
            println!("threshold breached: {b}");
        }
        println!();
        println!("wrote {}", self.results_path().display());
        if !self.results.verdicts.is_empty() {
            println!("wrote {}", self.dir.join("verdicts.txt").display());
        }
        if !no_report {
            match crate::report::write_all(&self.results, &self.dir) {
                Ok(files) => {
                    println!("wrote {}", files.summary_md.display());
                    println!("wrote {}", files.report_html.display());
                    println!("wrote {}", files.results_csv.display());
                    println!(
                        "wrote {} charts under {}",
                        files.charts.len(),
                        self.dir.join(crate::report::CHARTS_DIR).display()
                    );
                }
                Err(e) => eprintln!("warning: reports not written: {e}"),
            }
        }
        if self.setup.link_latest {
            match link_latest(&self.setup.out, &self.dir) {
                Ok(l) => println!("{} -> {}", l.display(), self.dir.display()),
                Err(e) => eprintln!("warning: cannot update results/latest: {e}"),
            }
        }
        println!(
            "{} measurements in {}{}",
            self.results.measurements.len(),
            humantime::format_duration(Duration::from_secs(wall.as_secs())),
            if interrupted {
                " (interrupted: results are partial, complete = false)"
            } else {
                ""
            }
        );
        if interrupted {
            return Ok(ExitCode::from(130));
        }
        if !breaches.is_empty() {
            return Ok(ExitCode::from(crate::EXIT_GATE_FAILED));
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Threshold breaches: the median over each target's repetitions at each level.
    fn thresholds(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.setup.suite.entries {
            for t in &e.scenario.thresholds {
                let mut groups: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
                for m in self
                    .results
                    .measurements
                    .iter()
                    .filter(|m| m.scenario == e.scenario.name)
                {
                    groups
                        .entry((m.target.clone(), m.level.label()))
                        .or_default()
                        .push(t.measure(m));
                }
                for ((target, level), values) in groups {
                    if let Some(med) = stats::median(&values)
                        && !t.holds(med)
                    {
                        out.push(format!(
                            "{} {level} {target}: `{}` but the median was {}",
                            e.scenario.name,
                            t.text,
                            t.display(med)
                        ));
                    }
                }
            }
        }
        out
    }
}

/// Why a job produced no measurement.
enum Failure {
    /// The target could not start: skip it for the rest of the run.
    Target(String),
    /// This measurement failed; the target stays in.
    Measurement(String),
}

/// Why a measurement must not decide a verdict, if it must not.
pub fn exclusion(load: &crate::results::schema::LoadResult, max_error_rate: f64) -> Option<String> {
    let mut why = Vec::new();
    if load.generator.saturated {
        why.push(format!(
            "generator-bound: {}",
            load.generator.warnings.join("; ")
        ));
    }
    if load.summary.ok == 0 {
        why.push("no successful request".to_string());
    } else if load.summary.error_rate > max_error_rate {
        let e = &load.errors;
        why.push(format!(
            "error rate {:.2}% above {:.2}% (connect {}, timeout {}, read {}, status {}, body-mismatch {})",
            load.summary.error_rate * 100.0,
            max_error_rate * 100.0,
            e.connect,
            e.timeout,
            e.read,
            e.status,
            e.body_mismatch
        ));
    }
    // Not steady after the longest warm-up; Little's law off.
    why.extend(load.warnings.iter().cloned());
    let c = &load.connections;
    if c.idle_requested > 0 && (c.idle_held as f64) < 0.95 * c.idle_requested as f64 {
        why.push(format!(
            "only {} of {} idle connections stayed open to the end",
            c.idle_held, c.idle_requested
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Points `<results>/latest` at `dir` (a relative symlink, replaced atomically).
fn link_latest(results: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let link = results.join("latest");
    let name = dir
        .file_name()
        .ok_or_else(|| std::io::Error::other("no run folder name"))?;
    let tmp = results.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(name, &tmp)?;
    std::fs::rename(&tmp, &link)?;
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_are_split() {
        assert_eq!(split_cpus(&[0, 1]), (vec![0], vec![1]));
        assert_eq!(split_cpus(&[0]), (vec![], vec![]));
        assert_eq!(
            split_cpus(&[0, 1, 2, 3, 4, 5, 6, 7]),
            (vec![0, 1], vec![2, 3, 4, 5, 6, 7])
        );
    }

    #[test]
    fn exclusions_say_why() {
        let m = crate::analysis::verdict::tests::measurement("t", "s", 1.0, 1, 100.0, 1);
        let mut load = m.load;
        assert_eq!(exclusion(&load, 0.01), None);
        load.summary.error_rate = 0.02;
        load.errors.status = 2;
        let why = exclusion(&load, 0.01).unwrap();
        assert!(
            why.contains("error rate 2.00% above 1.00%") && why.contains("status 2"),
            "{why}"
        );
        load.summary.error_rate = 0.0;
        load.generator.saturated = true;
        load.generator.warnings = vec!["the generator used 97% of its 1 CPU(s)".into()];
        let why = exclusion(&load, 0.01).unwrap();
        assert!(
            why.starts_with("generator-bound: the generator used 97%"),
            "{why}"
        );
        load.generator.saturated = false;
        load.connections.idle_requested = 1000;
        load.connections.idle_held = 500;
        let why = exclusion(&load, 0.01).unwrap();
        assert!(why.contains("only 500 of 1000 idle connections"), "{why}");
        load.connections.idle_held = 1000;
        load.warnings = vec!["not steady after 30 s: the last warm-up windows' throughput 10, 40, 20 req/s and p50 1 s, 2 s, 1 s".into()];
        let why = exclusion(&load, 0.01).unwrap();
        assert!(why.starts_with("not steady after 30 s"), "{why}");
        load.warnings.clear();
        load.summary.ok = 0;
        assert_eq!(exclusion(&load, 0.01).unwrap(), "no successful request");
    }

    #[test]
    fn the_verdict_table_lists_every_claim() {
        use crate::results::schema::{Outcome, Verdict};
        let v = Verdict {
            claim: "io-concurrency".into(),
            quote: "q".into(),
            outcome: Outcome::Mixed,
            answer: String::new(),
            summary: "1 of 2 comparisons favour the claim.".into(),
            metric: "throughput_rps".into(),
            comparisons: vec![],
            conditions: vec![],
            missing: vec![],
        };
        let t = output::verdict_table(&[v]);
        assert!(t.starts_with("CLAIM"), "{t}");
        assert!(t.contains("io-concurrency         mixed"), "{t}");
        assert!(t.contains("io-concurrency (mixed): 1 of 2"), "{t}");
    }

    #[test]
    fn flag_pairs_parse() {
        let p = pairs("--target-url", &["mine=http://127.0.0.1:1".into()]).unwrap();
        assert_eq!(p[0], ("mine".into(), "http://127.0.0.1:1".into()));
        assert!(pairs("--target-url", &["nope".into()]).is_err());
        assert!(pairs("--target-url", &["=x".into()]).is_err());
    }
}
