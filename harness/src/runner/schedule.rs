//! The order of measurements: pure, so it can be tested without a network.
//!
//! For each suite entry and each of its levels, repetitions are interleaved
//! across targets in rounds (one repetition of every target per round, not
//! A A B B C C), so slow drift of the machine (thermal, background work)
//! spreads evenly over the stacks compared. Within each round the order is
//! shuffled from a seed (recorded in the results), so carry-over from one
//! measurement to the next (TIME_WAIT sockets, page cache, heat) does not
//! always fall on the same stack.

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

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
/// order, then one round per repetition over the targets (and worker
/// counts), each round in an order shuffled from `seed`: the same seed gives
/// the same order.
pub fn schedule(entries: &[EntryShape], seed: u64) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (e, shape) in entries.iter().enumerate() {
        let workers: Vec<Option<usize>> = match &shape.workers {
            Some(ws) => ws.iter().map(|w| Some(*w)).collect(),
            None => vec![None],
        };
        for level in 0..shape.levels {
            for repetition in 1..=shape.repetitions {
                let mut round = Vec::new();
                for target in &shape.targets {
                    for w in &workers {
                        round.push(Job {
                            entry: e,
                            level,
                            repetition,
                            target: target.clone(),
                            workers: *w,
                        });
                    }
                }
                let round_seed = seed
                    ^ (e as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ (level as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
                    ^ u64::from(repetition).wrapping_mul(0x1656_67B1_9E37_79F9);
                round.shuffle(&mut SmallRng::seed_from_u64(round_seed));
                jobs.extend(round);
            }
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(targets: &[&str], repetitions: u32) -> EntryShape {
        EntryShape {
            levels: 2,
            repetitions,
            targets: targets.iter().map(|t| t.to_string()).collect(),
            workers: None,
        }
    }

    #[test]
    fn rounds_hold_every_target_once_in_a_seeded_order() {
        let targets = ["a", "b", "c", "d", "e"];
        let jobs = schedule(&[shape(&targets, 8)], 7);
        assert_eq!(jobs.len(), 2 * 8 * 5);
        let mut firsts = std::collections::BTreeSet::new();
        for (i, round) in jobs.chunks(5).enumerate() {
            let (level, rep) = (i / 8, i % 8 + 1);
            assert!(
                round
                    .iter()
                    .all(|j| j.level == level && j.repetition == rep as u32)
            );
            let mut ids: Vec<&str> = round.iter().map(|j| j.target.as_str()).collect();
            firsts.insert(ids[0]);
            ids.sort();
            assert_eq!(ids, targets, "round {i} has every target once");
        }
        assert!(firsts.len() > 1, "the same stack does not always go first");
        assert_eq!(jobs, schedule(&[shape(&targets, 8)], 7), "reproducible");
        assert_ne!(jobs, schedule(&[shape(&targets, 8)], 8), "seeded");
    }

    #[test]
    fn worker_sweeps_name_instances() {
        let jobs = schedule(
            &[EntryShape {
                levels: 1,
                repetitions: 1,
                targets: vec!["py".into()],
                workers: Some(vec![1, 2]),
            }],
            1,
        );
        let mut ids: Vec<String> = jobs.iter().map(Job::instance).collect();
        ids.sort();
        assert_eq!(ids, ["py@w1", "py@w2"]);
    }
}
