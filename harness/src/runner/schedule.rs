//! The order of measurements: pure, so it can be tested without a network.
//!
//! For each suite entry and each of its levels, repetitions are interleaved
//! across targets (A B C A B C, not A A B B C C), so slow drift of the machine
//! (thermal, background work) spreads evenly over the stacks compared.

/// One planned measurement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Index of the suite entry.
    pub entry: usize,
    /// Index of the level in the entry's scenario.
    pub level: usize,
    /// Repetition, from 1.
    pub repetition: u32,
    /// Target id as configured (e.g. `python-django:asgi`).
    pub target: String,
    /// Worker count for a worker sweep (None: the target's own rule).
    pub workers: Option<usize>,
}

impl Job {
    /// The id measurements are recorded under: the target id, with
    /// `@w<N>` for a worker sweep.
    pub fn instance(&self) -> String {
        match self.workers {
            Some(n) => format!("{}@w{n}", self.target),
            None => self.target.clone(),
        }
    }
}

/// What the scheduler needs to know about one suite entry.
#[derive(Clone, Debug)]
pub struct EntryShape {
    /// Levels in the scenario.
    pub levels: usize,
    /// Repetitions.
    pub repetitions: u32,
    /// Targets, in suite order.
    pub targets: Vec<String>,
    /// Worker counts to sweep (None: no sweep).
    pub workers: Option<Vec<usize>>,
}

/// Every measurement, in run order: entries in suite order, levels in sweep
/// order, then repetition-major over targets (and worker counts).
pub fn schedule(entries: &[EntryShape]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (e, shape) in entries.iter().enumerate() {
        let workers: Vec<Option<usize>> = match &shape.workers {
            Some(ws) => ws.iter().map(|w| Some(*w)).collect(),
            None => vec![None],
        };
        for level in 0..shape.levels {
            for repetition in 1..=shape.repetitions {
                for target in &shape.targets {
                    for w in &workers {
                        jobs.push(Job {
                            entry: e,
                            level,
                            repetition,
                            target: target.clone(),
                            workers: *w,
                        });
                    }
                }
            }
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetitions_are_interleaved_across_targets() {
        let jobs = schedule(&[EntryShape {
            levels: 2,
            repetitions: 2,
            targets: vec!["a".into(), "b".into(), "c".into()],
            workers: None,
        }]);
        let order: Vec<String> = jobs
            .iter()
            .map(|j| format!("{}{}{}", j.level, j.target, j.repetition))
            .collect();
        assert_eq!(
            order,
            [
                "0a1", "0b1", "0c1", "0a2", "0b2", "0c2", "1a1", "1b1", "1c1", "1a2", "1b2", "1c2"
            ]
        );
    }

    #[test]
    fn worker_sweeps_name_instances() {
        let jobs = schedule(&[EntryShape {
            levels: 1,
            repetitions: 1,
            targets: vec!["py".into()],
            workers: Some(vec![1, 2]),
        }]);
        let ids: Vec<String> = jobs.iter().map(Job::instance).collect();
        assert_eq!(ids, ["py@w1", "py@w2"]);
    }
}
