//! Checks on a run's measurements that are not claim verdicts: why a
//! measurement must not decide anything ([`exclusion`]), and which of a
//! suite's thresholds the run broke ([`threshold_breaches`]).

use std::collections::BTreeMap;

use crate::analysis::stats;
use crate::results::schema::{LoadResult, Measurement};
use crate::scenario::Suite;

/// Why a measurement must not decide a verdict, if it must not.
pub fn exclusion(load: &LoadResult, max_error_rate: f64) -> Option<String> {
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

/// Threshold breaches: the median over each target's repetitions at each
/// level, per threshold of each suite entry's scenario.
pub fn threshold_breaches(suite: &Suite, measurements: &[Measurement]) -> Vec<String> {
    let mut out = Vec::new();
    for e in &suite.entries {
        for t in &e.scenario.thresholds {
            let mut groups: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
            for m in measurements
                .iter()
                .filter(|m| m.scenario == e.scenario.name)
            {
                groups
                    .entry((m.target.clone(), m.level.label()))
                    .or_default()
                    .extend(t.measure(m));
            }
            for ((target, level), values) in groups {
                let med = stats::median(&values);
                if !t.holds_for(med) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
