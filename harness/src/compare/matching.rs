//! Pairing the measurements of two results files by (target, scenario, level),
//! collecting their repetitions, and noticing what differs between the two
//! runs' machines and versions. Pure: takes parsed files, returns lists.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::results::schema::{Level, Measurement, ResultsFile};
use crate::sys::describe_cpus;

/// What identifies a measurement across two runs: target, scenario and level.
/// Repetitions of the same key are the samples the intervals come from.
#[derive(Clone, Debug, Serialize)]
pub struct Key {
    /// Target id.
    pub target: String,
    /// Scenario name.
    pub scenario: String,
    /// Load level.
    pub level: Level,
}

impl Key {
    /// The key of a measurement.
    pub fn of(m: &Measurement) -> Self {
        Self {
            target: m.target.clone(),
            scenario: m.scenario.clone(),
            level: m.level,
        }
    }

    /// `target / scenario / level`, for messages and tables.
    pub fn label(&self) -> String {
        format!(
            "{} / {} / {}",
            self.target,
            self.scenario,
            self.level.label()
        )
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.target
            .cmp(&other.target)
            .then_with(|| self.scenario.cmp(&other.scenario))
            .then_with(|| self.level.model.cmp(&other.level.model))
            .then_with(|| self.level.value.total_cmp(&other.level.value))
    }
}

/// The repetitions of one key in both files.
#[derive(Debug)]
pub struct Pair<'a> {
    /// The shared key.
    pub key: Key,
    /// Every baseline repetition, excluded ones included, in file order.
    pub baseline: Vec<&'a Measurement>,
    /// Every current repetition, excluded ones included, in file order.
    pub current: Vec<&'a Measurement>,
}

impl<'a> Pair<'a> {
    /// Baseline repetitions that may decide a change (not excluded).
    pub fn baseline_valid(&self) -> impl Iterator<Item = &'a Measurement> + '_ {
        self.baseline
            .iter()
            .copied()
            .filter(|m| m.excluded.is_none())
    }
    /// Current repetitions that may decide a change (not excluded).
    pub fn current_valid(&self) -> impl Iterator<Item = &'a Measurement> + '_ {
        self.current
            .iter()
            .copied()
            .filter(|m| m.excluded.is_none())
    }
}

/// Which file a listed measurement comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The baseline file.
    Baseline,
    /// The current file.
    Current,
}

impl Side {
    /// `baseline` or `current`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Baseline => "baseline",
            Side::Current => "current",
        }
    }
}

/// A repetition left out of the statistics because it was marked excluded.
#[derive(Clone, Debug, Serialize)]
pub struct ExcludedRepetition {
    /// Its key.
    pub key: Key,
    /// Which file.
    pub side: Side,
    /// Its repetition number.
    pub repetition: u32,
    /// Why the run excluded it.
    pub reason: String,
}

/// The two files' measurements, paired.
#[derive(Debug)]
pub struct Matched<'a> {
    /// Keys present in both files, sorted.
    pub pairs: Vec<Pair<'a>>,
    /// Keys only in the baseline (with their repetition count), sorted.
    pub only_baseline: Vec<(Key, usize)>,
    /// Keys only in the current file (with their repetition count), sorted.
    pub only_current: Vec<(Key, usize)>,
    /// Excluded repetitions of shared keys.
    pub excluded: Vec<ExcludedRepetition>,
}

/// Pairs the measurements of `baseline` and `current` by [`Key`].
pub fn pair<'a>(baseline: &'a ResultsFile, current: &'a ResultsFile) -> Matched<'a> {
    fn group(f: &ResultsFile) -> BTreeMap<Key, Vec<&Measurement>> {
        let mut map: BTreeMap<Key, Vec<&Measurement>> = BTreeMap::new();
        for m in &f.measurements {
            map.entry(Key::of(m)).or_default().push(m);
        }
        map
    }
    let mut base = group(baseline);
    let mut cur = group(current);
    let mut pairs = Vec::new();
    let mut only_baseline = Vec::new();
    let mut excluded = Vec::new();
    for (key, b) in std::mem::take(&mut base) {
        match cur.remove(&key) {
            Some(c) => {
                for (side, reps) in [(Side::Baseline, &b), (Side::Current, &c)] {
                    for m in reps {
                        if let Some(reason) = &m.excluded {
                            excluded.push(ExcludedRepetition {
                                key: key.clone(),
                                side,
                                repetition: m.repetition,
                                reason: reason.clone(),
                            });
                        }
                    }
                }
                pairs.push(Pair {
                    key,
                    baseline: b,
                    current: c,
                });
            }
            None => only_baseline.push((key, b.len())),
        }
    }
    let only_current = cur.into_iter().map(|(k, v)| (k, v.len())).collect();
    Matched {
        pairs,
        only_baseline,
        only_current,
        excluded,
    }
}

/// What differs between the two runs' conditions, one sentence each: the
/// machine (CPU model, logical CPUs, memory, kernel), the CPU split, the
/// harness version, and each shared target's versions, workers and CPUs.
/// Host names are not compared (CI runners differ by design), nor git commits
/// (comparing two commits is the point).
pub fn environment_differences(baseline: &ResultsFile, current: &ResultsFile) -> Vec<String> {
    let mut out = Vec::new();
    let mut diff = |what: &str, b: String, c: String| {
        if b != c {
            out.push(format!("{what} differs: baseline {b}, current {c}"));
        }
    };
    let (hb, hc) = (&baseline.host, &current.host);
    diff("CPU model", q(&hb.cpu_model), q(&hc.cpu_model));
    diff(
        "logical CPU count",
        hb.logical_cpus.to_string(),
        hc.logical_cpus.to_string(),
    );
    diff(
        "memory",
        format!("{} MiB", hb.memory_bytes >> 20),
        format!("{} MiB", hc.memory_bytes >> 20),
    );
    diff("kernel", q(&hb.kernel), q(&hc.kernel));
    diff(
        "generator CPUs",
        describe_cpus(&hb.generator_cpus),
        describe_cpus(&hc.generator_cpus),
    );
    diff(
        "target CPUs",
        describe_cpus(&hb.target_cpus),
        describe_cpus(&hc.target_cpus),
    );
    diff(
        "downstream CPUs",
        describe_cpus(&hb.downstream_cpus),
        describe_cpus(&hc.downstream_cpus),
    );
    diff(
        "claimbench version",
        q(&baseline.tool.version),
        q(&current.tool.version),
    );
    for tb in &baseline.targets {
        let Some(tc) = current.targets.iter().find(|t| t.id == tb.id) else {
            continue;
        };
        let id = &tb.id;
        let mut components: Vec<&String> = tb.versions.keys().chain(tc.versions.keys()).collect();
        components.sort();
        components.dedup();
        for comp in components {
            let v = |t: &crate::results::schema::TargetInfo| {
                t.versions
                    .get(comp)
                    .map(|v| q(v))
                    .unwrap_or_else(|| "(none)".into())
            };
            diff(&format!("{id}: {comp} version"), v(tb), v(tc));
        }
        diff(&format!("{id}: server"), q(&tb.server), q(&tc.server));
        diff(
            &format!("{id}: workers"),
            tb.workers.map_or("(unknown)".into(), |w| w.to_string()),
            tc.workers.map_or("(unknown)".into(), |w| w.to_string()),
        );
        diff(
            &format!("{id}: CPUs"),
            describe_cpus(&tb.cpus),
            describe_cpus(&tc.cpus),
        );
    }
    out
}

/// Quoted, for values that may be empty or hold spaces.
fn q(s: &str) -> String {
    format!("{s:?}")
}

/// One side of a comparison: one or more results files merged into one.
#[derive(Clone, Debug)]
pub struct Input {
    /// The paths as given, in order.
    pub paths: Vec<std::path::PathBuf>,
    /// When each file's run started, in the same order.
    pub started_at: Vec<chrono::DateTime<chrono::Utc>>,
    /// The merged results: every measurement of every file.
    pub results: ResultsFile,
    /// How the merged files differ from the first one (machine, versions).
    pub differences: Vec<String>,
}

impl Input {
    /// One file, as is.
    pub fn single(path: &std::path::Path, results: ResultsFile) -> Self {
        Self {
            paths: vec![path.to_path_buf()],
            started_at: vec![results.started_at],
            results,
            differences: Vec::new(),
        }
    }

    /// Merges several results files of one side (e.g. three `bench` runs, or
    /// `run`s interleaved with the other side's) into one: measurements are
    /// concatenated in file order and, when there is more than one file,
    /// renumbered 1, 2, ... per (target, scenario, level); targets are the
    /// union by id (first file wins); the host, tool and run kind are the
    /// first file's; `complete` only if every file is complete. Differences
    /// between each file and the first are recorded in `differences`.
    /// Returns `None` for an empty list.
    pub fn merge(files: Vec<(std::path::PathBuf, ResultsFile)>) -> Option<Self> {
        let mut it = files.into_iter();
        let (first_path, mut merged) = it.next()?;
        let mut paths = vec![first_path];
        let mut started_at = vec![merged.started_at];
        let mut differences = Vec::new();
        for (path, f) in it {
            started_at.push(f.started_at);
            for d in environment_differences(&merged, &f) {
                differences.push(format!("{} vs {}: {d}", paths[0].display(), path.display()));
            }
            merged.run_id = format!("{}+{}", merged.run_id, f.run_id);
            merged.complete &= f.complete;
            merged.finished_at = merged.finished_at.max(f.finished_at);
            for t in f.targets {
                if !merged.targets.iter().any(|m| m.id == t.id) {
                    merged.targets.push(t);
                }
            }
            merged.measurements.extend(f.measurements);
            merged.skipped.extend(f.skipped);
            paths.push(path);
        }
        if paths.len() > 1 {
            let mut next: BTreeMap<Key, u32> = BTreeMap::new();
            for m in &mut merged.measurements {
                let n = next.entry(Key::of(m)).or_insert(0);
                *n += 1;
                m.repetition = *n;
            }
        }
        Some(Self {
            paths,
            started_at,
            results: merged,
            differences,
        })
    }

    /// The paths, comma-separated, for messages.
    pub fn label(&self) -> String {
        let v: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        v.join(", ")
    }
}
