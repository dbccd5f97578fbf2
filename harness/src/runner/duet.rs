//! Duet runs (`run --duet DIR`): every measurement runs a target and its
//! twin from another targets folder (the baseline) at the same time, on the
//! same CPUs, each loaded by its own generator from the same start instant.
//! A slow stretch of a shared machine then falls on both sides alike, and
//! the ratio of the two sides' throughputs keeps only what differs between
//! them: Bulej et al., "Duet Benchmarking: Improving Measurement Accuracy in
//! the Cloud" (ICPE 2020). Each side runs in a CPU control group of its own
//! ([`crate::target::cgroup`]), so the scheduler gives the sides equal CPU
//! time whatever number of processes each runs.
//!
//! The baseline side's results go to `baseline/results.json` under the
//! run's folder, with the same repetition numbers as the run's own, so
//! `compare OUT/baseline OUT` pairs repetition i with repetition i.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Slot;
use super::plan::{DuetSetup, Setup};
use crate::results::schema::{Duet, ResultsFile};
use crate::target::cgroup::CpuGroup;

/// The folder, under the run's, that holds the baseline side's results.
pub(super) const BASELINE_DIR: &str = "baseline";

/// Which side of a duet a target belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// The run's own targets (`--targets-dir`).
    Head,
    /// The `--duet` folder's.
    Baseline,
}

/// The baseline side: its targets, its results and both sides' CPU groups.
pub(super) struct Baseline {
    pub(super) slots: std::collections::BTreeMap<String, Slot>,
    pub(super) results: ResultsFile,
    dir: PathBuf,
    /// The head's and the baseline's CPU groups (none when they could not
    /// be made: the sides then share the CPUs thread by thread).
    groups: Option<(CpuGroup, CpuGroup)>,
}

impl Baseline {
    /// The baseline side of a run writing to `run_dir`; marks `head` (the
    /// run's own results) as the head side.
    pub(super) fn new(
        d: &DuetSetup,
        setup: &Setup,
        run_dir: &Path,
        head: &mut ResultsFile,
    ) -> anyhow::Result<Baseline> {
        let dir = run_dir.join(BASELINE_DIR);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let groups = match CpuGroup::create("head")
            .and_then(|h| Ok((h, CpuGroup::create("baseline")?)))
        {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!(
                    "warning: --duet without CPU groups ({e}): the sides share the target CPUs thread by thread, so a side that runs more threads gets more CPU"
                );
                None
            }
        };
        let cpu_groups = groups.is_some();
        let file = crate::results::io::RESULTS_FILE_NAME;
        head.duet = Some(Duet {
            side: "head".into(),
            targets_dir: setup.targets_dir.display().to_string(),
            partner: format!("{BASELINE_DIR}/{file}"),
            cpu_groups,
        });
        let mut results = head.clone();
        results.duet = Some(Duet {
            side: "baseline".into(),
            targets_dir: d.dir.display().to_string(),
            partner: format!("../{file}"),
            cpu_groups,
        });
        Ok(Baseline {
            slots: super::slots(&d.targets),
            results,
            dir,
            groups,
        })
    }

    /// The CPU group's `cgroup.procs` a side's targets join.
    pub(super) fn procs_file(&self, side: Side) -> Option<PathBuf> {
        self.groups.as_ref().map(|(h, b)| match side {
            Side::Head => h.procs_file(),
            Side::Baseline => b.procs_file(),
        })
    }

    /// The baseline side's results file.
    pub(super) fn results_path(&self) -> PathBuf {
        self.dir.join(crate::results::io::RESULTS_FILE_NAME)
    }

    /// Writes the baseline side's results file.
    pub(super) fn save(&self) {
        if let Err(e) = crate::results::io::write(&self.results_path(), &self.results) {
            eprintln!("warning: {e}");
        }
    }

    /// Stops the baseline side's kept-running targets.
    pub(super) fn stop_targets(&mut self) {
        for slot in self.slots.values_mut() {
            slot.source.stop_kept();
        }
    }
}
