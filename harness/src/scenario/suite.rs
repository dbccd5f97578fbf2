//! A resolved suite: which scenarios (with level overrides), over which
//! targets, with how many repetitions.

use std::path::{Path, PathBuf};

use super::raw::{RawRun, RawSuite};
use super::spec::{Scenario, load_scenario};
use super::{ScenarioError, Source, parse_duration, read};

/// Default error rate above which a measurement is excluded from verdicts.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;

/// One scenario of a suite, with its targets.
#[derive(Clone, Debug)]
pub struct SuiteEntry {
    /// The scenario, with the suite's overrides applied.
    pub scenario: Scenario,
    /// Target ids (`name` or `name:variant`).
    pub targets: Vec<String>,
    /// Worker counts to sweep: each target runs once per count, recorded as
    /// `<id>@w<N>` (None: the manifest's worker rule).
    pub workers: Option<Vec<usize>>,
}

/// A resolved suite.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The suite file.
    pub file: PathBuf,
    /// What it is for.
    pub description: String,
    /// Entries, in run order.
    pub entries: Vec<SuiteEntry>,
    /// Error rate above which a measurement is excluded from verdicts.
    pub max_error_rate: f64,
    /// The claims file that goes with it, if any.
    pub claims_file: Option<PathBuf>,
    /// Also run target folders the suite does not name.
    pub other_targets: bool,
    /// Folders `other_targets` leaves out on purpose.
    pub leave_out: Vec<String>,
}

impl Suite {
    /// Every target id used, in first-use order.
    pub fn targets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            for t in &e.targets {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
        }
        out
    }
}

/// Whether a target id exists; the error says why not (the caller's own
/// error, e.g. a target manifest's) and goes into the suite's error.
pub type TargetCheck<'a> =
    dyn Fn(&str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + 'a;

/// Reads and resolves a suite file and every scenario it names. `check_target`
/// says whether a target id exists.
pub fn load_suite(file: &Path, check_target: &TargetCheck<'_>) -> Result<Suite, ScenarioError> {
    let text = read(file)?;
    parse_suite(file, &text, check_target)
}

/// Resolves a suite from its text; scenarios are read relative to `file`.
pub fn parse_suite(
    file: &Path,
    text: &str,
    check_target: &TargetCheck<'_>,
) -> Result<Suite, ScenarioError> {
    let src = Source { file, text };
    let raw: RawSuite = src.parse()?;
    let dir = file.parent().unwrap_or(Path::new("."));
    if raw.runs.is_empty() {
        return Err(src.error_at(None, Some("run"), "a suite needs at least one [[run]]"));
    }
    let suite_targets = targets(&src, &raw.targets, check_target)?;
    let max_error_rate = match &raw.max_error_rate {
        None => DEFAULT_MAX_ERROR_RATE,
        Some(v) => {
            let t = super::Threshold::parse(&format!("error_rate < {}", v.get_ref())).map_err(
                |_| {
                    src.error_span(
                        v,
                        format!("`{}` is not an error rate (e.g. \"1%\")", v.get_ref()),
                    )
                },
            )?;
            t.value
        }
    };
    let mut entries = Vec::new();
    for run in &raw.runs {
        entries.push(entry(&src, dir, &raw, run, &suite_targets, check_target)?);
    }
    let claims_file = match &raw.claims {
        Some(c) => {
            let p = dir.join(c.get_ref());
            if !p.is_file() {
                return Err(
                    src.error_span(c, format!("claims file {} does not exist", p.display()))
                );
            }
            Some(p)
        }
        None => [dir.join("claims.toml"), dir.join("..").join("claims.toml")]
            .into_iter()
            .find(|p| p.is_file())
            .map(|p| tidy(&p)),
    };
    Ok(Suite {
        file: file.to_path_buf(),
        description: raw.description.trim().to_string(),
        entries,
        max_error_rate,
        claims_file,
        other_targets: raw.other_targets,
        leave_out: raw.leave_out,
    })
}

/// `a/suites/../b.toml` as `a/b.toml` (for messages), when it exists.
fn tidy(p: &Path) -> PathBuf {
    match (
        p.parent().and_then(|d| std::fs::canonicalize(d).ok()),
        p.file_name(),
    ) {
        (Some(d), Some(f)) if p.components().any(|c| c == std::path::Component::ParentDir) => {
            d.join(f)
        }
        _ => p.to_path_buf(),
    }
}

fn targets(
    src: &Source<'_>,
    list: &[toml::Spanned<String>],
    check: &TargetCheck<'_>,
) -> Result<Vec<String>, ScenarioError> {
    let mut out = Vec::new();
    for t in list {
        let id = t.get_ref().trim();
        check(id).map_err(|e| src.error_span(t, e.to_string()))?;
        if !out.iter().any(|x: &String| x == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

fn entry(
    src: &Source<'_>,
    dir: &Path,
    suite: &RawSuite,
    run: &RawRun,
    suite_targets: &[String],
    check: &TargetCheck<'_>,
) -> Result<SuiteEntry, ScenarioError> {
    let name = run.scenario.get_ref();
    let candidates = [
        dir.join(format!("{name}.toml")),
        dir.join("..").join(format!("{name}.toml")),
    ];
    let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
        src.error_span(
            &run.scenario,
            format!(
                "no scenario file for `{name}` (looked for {} and {})",
                candidates[0].display(),
                candidates[1].display()
            ),
        )
    })?;
    let mut scenario = load_scenario(&tidy(path))?;
    if scenario.name != *name {
        return Err(src.error_span(
            &run.scenario,
            format!(
                "{} is named `{}`, not `{name}`",
                path.display(),
                scenario.name
            ),
        ));
    }
    if let Some(levels) = &run.levels {
        scenario
            .set_levels(levels.get_ref())
            .map_err(|e| src.error_span(levels, e.to_string()))?;
    }
    let reps = run.repetitions.as_ref().or(suite.repetitions.as_ref());
    if let Some(r) = reps {
        if *r.get_ref() == 0 || *r.get_ref() > 1000 {
            return Err(src.error_span(r, "must be from 1 to 1000"));
        }
        scenario.repetitions = *r.get_ref();
    }
    // A `warmup_max` applies to an auto warm-up; one in the suite's head does
    // not stop an entry from fixing its own warm-up.
    let warmup_max = run.warmup_max.as_ref().or(suite.warmup_max.as_ref());
    let warmup = run.warmup.as_ref().or(suite.warmup.as_ref());
    let fixed_here = match warmup {
        Some(w) => super::parse_warmup(src, w)?.is_some(),
        None => scenario.warmup_max.is_none(),
    };
    match (warmup, warmup_max) {
        (_, Some(m)) if fixed_here && run.warmup_max.is_some() => {
            return Err(src.error_span(
                m,
                format!(
                    "needs warmup = \"auto\" (scenario `{}` has a fixed warm-up here)",
                    scenario.name
                ),
            ));
        }
        (Some(w), m) => super::spec::set_warmup(
            src,
            w,
            m.filter(|_| !fixed_here),
            &mut scenario.warmup,
            &mut scenario.warmup_max,
        )?,
        (None, Some(m)) if !fixed_here => {
            let longest = parse_duration(src, m)?;
            scenario.warmup_max = Some(longest);
            scenario.warmup = scenario.warmup.min(longest);
        }
        (None, _) => {}
    }
    if let Some(d) = run.duration.as_ref().or(suite.duration.as_ref()) {
        let d2 = parse_duration(src, d)?;
        if d2.is_zero() {
            return Err(src.error_span(d, "must be above zero"));
        }
        scenario.duration = d2;
    }
    if let Some(m) = run.max_duration.as_ref().or(suite.max_duration.as_ref()) {
        let d = parse_duration(src, m)?;
        if d < scenario.duration {
            return Err(src.error_span(m, "is shorter than the measured duration"));
        }
        scenario.max_duration = d;
    }
    let targets = match &run.targets {
        Some(list) => targets(src, list, check)?,
        None => suite_targets.to_vec(),
    };
    if targets.is_empty() {
        return Err(src.error_span(
            &run.scenario,
            "no targets: give `targets = [..]` in the suite or in this [[run]]",
        ));
    }
    let workers = match &run.workers {
        None => None,
        Some(w) => {
            let list = w.get_ref();
            if list.is_empty() || list.iter().any(|n| *n == 0 || *n > 256) {
                return Err(src.error_span(w, "worker counts must be from 1 to 256, at least one"));
            }
            Some(list.clone())
        }
    };
    Ok(SuiteEntry {
        scenario,
        targets,
        workers,
    })
}
