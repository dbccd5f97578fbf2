//! Resolving the plan of a run before anything runs: the suite, scenario,
//! claims and target files, the `--targets`, `--scenarios`,
//! `--repetitions` and `--target-url` flags, the CPU split, and the output
//! folder ([`Setup::resolve`]); setting up the targets it needs
//! ([`set_up_targets`]); and `--dry-run`'s schedule ([`print_plan`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use super::RunArgs;
use super::schedule::{self, EntryShape};
use crate::load::Endpoint;
use crate::scenario::{self, Claims, Suite};
use crate::target::{self, Manifest, TargetId, TargetSpec};

#[derive(Clone, Debug)]
pub(super) enum TargetKind {
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
    pub(super) suite: Suite,
    pub(super) claims: Option<Claims>,
    pub(super) manifests: Vec<Manifest>,
    /// The targets folder the manifests came from.
    pub(super) targets_dir: PathBuf,
    pub(super) targets: BTreeMap<String, TargetKind>,
    pub(super) generator_cpus: Vec<usize>,
    pub(super) target_cpus: Vec<usize>,
    pub(super) out: PathBuf,
    pub(super) link_latest: bool,
    pub(super) order_seed: u64,
    pub(super) host_check: bool,
    /// `--duet`: the baseline side's targets, measured beside these.
    pub(super) duet: Option<DuetSetup>,
}

/// The baseline side of a duet run (`--duet DIR`): the same target ids,
/// from another targets folder.
pub struct DuetSetup {
    /// The folder, as given.
    pub(super) dir: PathBuf,
    pub(super) manifests: Vec<Manifest>,
    /// Every target of the suite, from `dir` (all supervised).
    pub(super) targets: BTreeMap<String, TargetKind>,
}

/// A supervised target `id` from `manifests`.
fn supervised(manifests: &[Manifest], id: &str) -> anyhow::Result<TargetKind> {
    let tid: TargetId = id.parse()?;
    let (m, spec) = target::find(manifests, &tid)?;
    let index = manifests
        .iter()
        .position(|x| x.name == m.name)
        .expect("found in this list");
    Ok(TargetKind::Supervised {
        manifest: index,
        spec: Box::new(spec),
    })
}

/// `--duet DIR`: every target of the run from DIR as well; each must be a
/// supervised target found there.
fn resolve_duet(dir: &Path, targets: &BTreeMap<String, TargetKind>) -> anyhow::Result<DuetSetup> {
    if !dir.is_dir() {
        bail!("--duet {}: no such targets folder", dir.display());
    }
    let manifests = target::discover(dir).with_context(|| format!("--duet {}", dir.display()))?;
    let mut twins = BTreeMap::new();
    for (id, kind) in targets {
        if matches!(kind, TargetKind::External { .. }) {
            bail!(
                "--duet measures targets claimbench starts; {id} is an external server (--target-url) and has no twin in {}",
                dir.display()
            );
        }
        let twin = supervised(&manifests, id)
            .with_context(|| format!("--duet {}: target {id}", dir.display()))?;
        twins.insert(id.clone(), twin);
    }
    Ok(DuetSetup {
        dir: dir.to_path_buf(),
        manifests,
        targets: twins,
    })
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
        let check = |id: &str| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            if ext_names.iter().any(|n| n == id) {
                return Ok(());
            }
            let tid: TargetId = id.parse()?;
            target::find(&manifests, &tid)?;
            Ok(())
        };
        let mut suite = scenario::load_suite(&suite_file, &check)?;
        let named = named_folders(&suite);
        keep_scenarios(&mut suite, &args.scenarios, &suite_file)?;
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
        choose_targets(&mut suite, &chosen, &manifests, &named);
        set_repetitions(&mut suite, args.repetitions)?;
        let targets = resolve_targets(&suite, &external, &pids, &manifests)?;

        let duet = match &args.duet {
            Some(dir) => Some(resolve_duet(dir, &targets)?),
            None => None,
        };
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
            targets_dir,
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
            duet,
        })
    }
}

/// The target folders the whole suite names, before `--scenarios` narrows
/// it (a stack named by another entry is not "another target"), and those
/// it leaves out on purpose.
fn named_folders(suite: &Suite) -> Vec<String> {
    let mut named: Vec<String> = suite
        .targets()
        .iter()
        .map(|t| t.split(':').next().unwrap_or(t).to_string())
        .collect();
    named.extend(suite.leave_out.iter().cloned());
    named
}

/// `--scenarios`: keeps only these entries; a name the suite does not have
/// is an error naming the suite file and the names it has.
fn keep_scenarios(suite: &mut Suite, names: &[String], file: &Path) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let known: Vec<String> = suite
        .entries
        .iter()
        .map(|e| e.scenario.name.clone())
        .collect();
    if let Some(s) = names.iter().find(|s| !known.contains(s)) {
        bail!(
            "--scenarios: `{s}` is not in suite {} (it has: {})",
            file.display(),
            known.join(", ")
        );
    }
    suite.entries.retain(|e| names.contains(&e.scenario.name));
    Ok(())
}

/// `--targets` and `--target-url` (`chosen`) replace every entry's targets;
/// without them, a target folder the suite does not name (a user's own
/// server) joins every entry without a worker sweep, when the suite says so.
fn choose_targets(suite: &mut Suite, chosen: &[String], manifests: &[Manifest], named: &[String]) {
    if !chosen.is_empty() {
        for e in &mut suite.entries {
            e.targets = chosen.to_vec();
        }
        return;
    }
    if !suite.other_targets {
        return;
    }
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

/// `--repetitions`: every entry's, from 1 to 1000.
fn set_repetitions(suite: &mut Suite, repetitions: Option<u32>) -> anyhow::Result<()> {
    let Some(r) = repetitions else {
        return Ok(());
    };
    if r == 0 || r > 1000 {
        bail!("--repetitions must be from 1 to 1000");
    }
    for e in &mut suite.entries {
        e.scenario.repetitions = r;
    }
    Ok(())
}

/// Every target the suite measures: an external server (`--target-url`,
/// sampled with `--target-pid`) or one found in `manifests`.
fn resolve_targets(
    suite: &Suite,
    external: &[(String, String)],
    pids: &[(String, String)],
    manifests: &[Manifest],
) -> anyhow::Result<BTreeMap<String, TargetKind>> {
    if let Some((n, _)) = pids
        .iter()
        .find(|(n, _)| !external.iter().any(|(e, _)| e == n))
    {
        bail!("--target-pid {n}: there is no --target-url {n}=URL");
    }
    let mut targets = BTreeMap::new();
    for id in suite.targets() {
        let kind = match external.iter().find(|(n, _)| *n == id) {
            Some((_, url)) => {
                let (endpoint, _) =
                    Endpoint::parse(url).with_context(|| format!("--target-url {id}={url}"))?;
                let pid = match pids.iter().find(|(n, _)| *n == id) {
                    Some((_, p)) => Some(
                        p.parse::<i32>()
                            .map_err(|_| anyhow!("--target-pid {id}={p}: not a process id"))?,
                    ),
                    None => None,
                };
                TargetKind::External {
                    url: endpoint.base_url,
                    pid,
                }
            }
            None => supervised(manifests, &id)?,
        };
        targets.insert(id, kind);
    }
    Ok(targets)
}

/// Sets up every supervised target the run will measure, before anything is
/// measured: a target that cannot be set up (a missing runtime or Debian
/// package) stops the run with the reason, rather than leaving its claims
/// unmeasured in a run that looks complete. `--targets` leaves it out.
pub(super) fn set_up_targets(setup: &Setup) -> anyhow::Result<()> {
    set_up_used(&setup.manifests, &setup.targets)?;
    if let Some(d) = &setup.duet {
        set_up_used(&d.manifests, &d.targets)?;
    }
    Ok(())
}

/// Sets up the manifests of `manifests` that `targets` use.
fn set_up_used(
    manifests: &[Manifest],
    targets: &BTreeMap<String, TargetKind>,
) -> anyhow::Result<()> {
    let used: std::collections::BTreeSet<usize> = targets
        .values()
        .filter_map(|k| match k {
            TargetKind::Supervised { manifest, .. } => Some(*manifest),
            TargetKind::External { .. } => None,
        })
        .collect();
    for i in used {
        let m = &manifests[i];
        if target::is_set_up(m) {
            continue;
        }
        println!("setting up {} (first run only) ...", m.dir.display());
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
pub(super) fn print_plan(setup: &Setup) {
    let shapes: Vec<EntryShape> = setup.suite.entries.iter().map(shape).collect();
    let jobs = schedule::schedule(&shapes, setup.order_seed);
    let mut total = 0.0;
    for (i, j) in jobs.iter().enumerate() {
        let s = &setup.suite.entries[j.entry].scenario;
        if j.workers.is_some() && setup.target_cpus.len() < 2 {
            continue;
        }
        let supervised = matches!(
            setup.targets.get(&j.target),
            Some(TargetKind::Supervised { .. })
        );
        total += estimate(s, supervised);
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

pub(super) fn shape(e: &scenario::SuiteEntry) -> EntryShape {
    EntryShape {
        levels: e.scenario.levels().len(),
        repetitions: e.scenario.repetitions,
        targets: e.targets.clone(),
        workers: e.workers.clone(),
    }
}

/// Estimated seconds for one measurement: start, warm-up, measure, drain, stop.
pub(super) fn estimate(s: &scenario::Scenario, supervised: bool) -> f64 {
    let start = if supervised { 1.5 } else { 0.2 };
    // An auto warm-up needs at least three whole windows after its minimum.
    let warmup = match s.warmup_max {
        Some(_) => s.warmup.as_secs_f64().max(3.2),
        None => s.warmup.as_secs_f64(),
    };
    start + warmup + s.duration.as_secs_f64() + 0.5
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
    fn flag_pairs_parse() {
        let p = pairs("--target-url", &["mine=http://127.0.0.1:1".into()]).unwrap();
        assert_eq!(p[0], ("mine".into(), "http://127.0.0.1:1".into()));
        assert!(pairs("--target-url", &["nope".into()]).is_err());
        assert!(pairs("--target-url", &["=x".into()]).is_err());
    }
}
