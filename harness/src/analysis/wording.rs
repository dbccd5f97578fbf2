//! The words of a verdict: its one-paragraph answer, the sentence for each
//! comparison, its conditions and its summary. Pure string builders over
//! the verdict and the claim.

use std::collections::BTreeSet;

use super::claim::{ClaimSpec, VerdictRules, format_value};
use crate::results::schema::{Comparison, Outcome, PairResult, ResultsFile, Verdict};

/// The answer in one plain sentence, for writers: the outcome and the one
/// or two comparisons that decide it (the strongest for the claim and, when
/// mixed, the strongest against it), each with its ratio and interval.
pub fn answer(v: &Verdict) -> String {
    let strongest = |r: PairResult| {
        v.comparisons
            .iter()
            .filter(|c| c.result == r)
            .max_by(|a, b| {
                let strength = |c: &Comparison| {
                    if c.failed.is_some() {
                        f64::INFINITY
                    } else {
                        c.ratio.ln().abs()
                    }
                };
                strength(a).total_cmp(&strength(b))
            })
    };
    let win = strongest(PairResult::FavouredBetter);
    let loss = strongest(PairResult::OtherBetter);
    let tie = strongest(PairResult::NoDifference);
    let first = |c: Option<&Comparison>| c.map(plain).unwrap_or_default();
    match v.outcome {
        // With `parity_holds`, proven parity supports a claim: the tie is
        // then the deciding comparison.
        Outcome::Supported => format!("Supported: {}.", first(win.or(tie))),
        Outcome::Refuted => format!("Refuted: {}.", first(loss.or(tie))),
        Outcome::Mixed => format!(
            "Mixed: {}, but {}.",
            first(win.or(tie)),
            first(loss.or(tie))
        ),
        Outcome::Inconclusive => match tie {
            Some(c) if c.repetitions.0 < 2 || c.repetitions.1 < 2 => format!(
                "Inconclusive: one repetition a side gives no interval to decide on, e.g. {}.",
                plain(c)
            ),
            Some(c) => format!(
                "Inconclusive: no difference beyond the noise and the minimum effect, e.g. {}.",
                plain(c)
            ),
            None => format!(
                "Inconclusive: {}.",
                v.missing
                    .first()
                    .map_or("nothing was measured for it", String::as_str)
            ),
        },
    }
}

/// One comparison in plain words: who did how much better, where.
fn plain(c: &Comparison) -> String {
    let place = match c.level.model {
        crate::results::schema::LoadModelKind::Closed => format!(
            "`{}` at {} connection{}",
            c.scenario,
            c.level.value,
            if c.level.value == 1.0 { "" } else { "s" }
        ),
        crate::results::schema::LoadModelKind::Open => {
            format!("`{}` at {} requests/s", c.scenario, c.level.value)
        }
    };
    if let Some(why) = &c.failed {
        return format!("on {place}, {why}");
    }
    // One stack in two scenarios (`<target>@<baseline>`): say how the
    // metric moved.
    if let Some(baseline) = c.other.strip_prefix(&format!("{}@", c.favoured)) {
        let change = if c.other_median > 0.0 {
            format!(" (×{:.2})", c.favoured_median / c.other_median)
        } else {
            String::new()
        };
        return format!(
            "on {place}, {}'s {} was {} against {} in `{baseline}`{change}",
            c.favoured,
            c.metric.trim_end_matches("_us").replace('_', " "),
            format_value(&c.metric, c.favoured_median),
            format_value(&c.metric, c.other_median)
        );
    }
    if c.result == PairResult::NoDifference && (c.repetitions.0 < 2 || c.repetitions.1 < 2) {
        return format!(
            "on {place}, {} and {} cannot be told apart in {} ({} vs {}, but {} valid repetition{} against {}: no interval)",
            c.favoured,
            c.other,
            c.metric,
            format_value(&c.metric, c.favoured_median),
            format_value(&c.metric, c.other_median),
            c.repetitions.0,
            if c.repetitions.0 == 1 { "" } else { "s" },
            c.repetitions.1
        );
    }
    if c.result == PairResult::NoDifference {
        return format!(
            "on {place}, {} and {} are not shown to differ in {} by more than the minimum effect ({} vs {}; ratio {:.2}, interval {:.2}–{:.2})",
            c.favoured,
            c.other,
            c.metric,
            format_value(&c.metric, c.favoured_median),
            format_value(&c.metric, c.other_median),
            c.ratio,
            c.ci_low,
            c.ci_high
        );
    }
    // Oriented: > 1 favours `favoured`. Name the better side first.
    let (better, worse, r, bv, wv) = if c.ratio >= 1.0 {
        (
            &c.favoured,
            &c.other,
            c.ratio,
            c.favoured_median,
            c.other_median,
        )
    } else {
        (
            &c.other,
            &c.favoured,
            1.0 / c.ratio,
            c.other_median,
            c.favoured_median,
        )
    };
    let (lo, hi) = if c.ratio >= 1.0 {
        (c.ci_low, c.ci_high)
    } else {
        (
            1.0 / c.ci_high.max(f64::MIN_POSITIVE),
            1.0 / c.ci_low.max(f64::MIN_POSITIVE),
        )
    };
    let what = match c.metric.as_str() {
        "throughput_rps" => format!("served {r:.2}× the requests per second of"),
        "rss_per_connection_bytes" => format!("used {r:.2}× less memory per connection than"),
        m if m.ends_with("_bytes") => format!("used {r:.2}× less memory ({m}) than"),
        m if m.ends_with("_us") => {
            format!(
                "had a {r:.2}× lower {} than",
                m.trim_end_matches("_us").replace('_', " ")
            )
        }
        m => format!("did {r:.2}× better on {m} than"),
    };
    let interval = if hi.is_finite() {
        format!("interval {lo:.2}–{hi:.2}")
    } else {
        format!("interval {lo:.2}–∞")
    };
    format!(
        "on {place}, {better} {what} {worse} ({} vs {}; {interval})",
        format_value(&c.metric, bv),
        format_value(&c.metric, wv)
    )
}

pub(super) fn conditions(
    claim: &ClaimSpec,
    rules: &VerdictRules,
    results: &ResultsFile,
) -> Vec<String> {
    let h = &results.host;
    // One wording for a CPU set everywhere (`unpinned` when empty).
    let fmt = |c: &[usize]| {
        if c.is_empty() {
            crate::sys::describe_cpus(c)
        } else {
            format!("CPU {}", crate::sys::describe_cpus(c))
        }
    };
    let mut out = vec![format!(
        "core split: generator {}, downstream {}, target {} ({} logical CPUs, {})",
        fmt(&h.generator_cpus),
        fmt(&h.downstream_cpus),
        fmt(&h.target_cpus),
        h.logical_cpus,
        h.cpu_model
    )];
    let mut involved: Vec<&String> = claim.favoured.iter().chain(&claim.others).collect();
    involved.dedup();
    let mut workers = Vec::new();
    let mut versions = BTreeSet::new();
    for t in involved {
        if let Some(info) = results.targets.iter().find(|i| &i.id == t) {
            workers.push(format!(
                "{} {} worker{} ({})",
                info.id,
                info.workers.map_or("?".into(), |w| w.to_string()),
                if info.workers == Some(1) { "" } else { "s" },
                info.server
            ));
            for (k, v) in &info.versions {
                versions.insert(format!("{k} {v}"));
            }
        }
    }
    if !workers.is_empty() {
        out.push(format!("workers: {}", workers.join("; ")));
    }
    if !versions.is_empty() {
        out.push(format!(
            "versions: {}",
            versions.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    out.push(format!(
        "rule: {}; ratio of medians over repetitions with a percentile bootstrap interval ({} resamples; rounds resampled in pairs when both sides have every round), each at {} so the claim's comparisons hold together at {:.0}% (Bonferroni); {}",
        repetitions_phrase(claim, results),
        rules.resamples,
        "1 − (1 − confidence)/k for k comparisons",
        rules.confidence * 100.0,
        min_effects_phrase(claim, rules)
    ));
    if let Some(n) = &claim.note {
        out.push(n.clone());
    }
    out
}

/// `n = 5 repetitions a side` (or the range when stacks differ).
fn repetitions_phrase(claim: &ClaimSpec, results: &ResultsFile) -> String {
    let mut counts = BTreeSet::new();
    for t in claim.favoured.iter().chain(&claim.others) {
        for s in &claim.scenarios {
            let n = results
                .measurements
                .iter()
                .filter(|m| &m.target == t && &m.scenario == s && m.excluded.is_none())
                .map(|m| m.repetition)
                .collect::<BTreeSet<_>>()
                .len();
            if n > 0 {
                counts.insert(n);
            }
        }
    }
    match (counts.first(), counts.last()) {
        (Some(a), Some(b)) if a == b => format!("n = {a} repetitions a side"),
        (Some(a), Some(b)) => format!("n = {a} to {b} repetitions a side"),
        _ => "no repetitions".into(),
    }
}

/// `minimum effect: throughput_rps 5%, p99_us 15%`.
fn min_effects_phrase(claim: &ClaimSpec, rules: &VerdictRules) -> String {
    let parts: Vec<String> = claim
        .metrics
        .iter()
        .map(|m| {
            format!(
                "{} {:.0}%",
                m.name(),
                rules.min_effect_for(&m.kind_name()) * 100.0
            )
        })
        .collect();
    format!("minimum effect: {}", parts.join(", "))
}

/// One comparison in words: `node-express vs python-fastapi, throughput_rps at io-sleep c=256: 5200 req/s vs 2100 req/s, ×2.48 [2.31, 2.60]`.
pub fn describe(c: &Comparison) -> String {
    if let Some(why) = &c.failed {
        return format!(
            "{} vs {}, {} at {} {}: {why}",
            c.favoured,
            c.other,
            c.metric,
            c.scenario,
            c.level.label()
        );
    }
    format!(
        "{} vs {}, {} at {} {}: {} vs {}, ×{:.2} [{:.2}, {:.2}]",
        c.favoured,
        c.other,
        c.metric,
        c.scenario,
        c.level.label(),
        format_value(&c.metric, c.favoured_median),
        format_value(&c.metric, c.other_median),
        c.ratio,
        c.ci_low,
        c.ci_high
    )
}

pub(super) fn summary(
    claim: &ClaimSpec,
    rules: &VerdictRules,
    v: &Verdict,
    holding: &[bool],
) -> String {
    let n = v.comparisons.len();
    if n == 0 {
        return format!(
            "No comparison could be made: {}.",
            if v.missing.is_empty() {
                "nothing was measured for this claim".to_string()
            } else {
                v.missing.join("; ")
            }
        );
    }
    let wins = v
        .comparisons
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            c.result == PairResult::FavouredBetter || holding.get(*i).copied().unwrap_or(false)
        })
        .count();
    let losses = v
        .comparisons
        .iter()
        .filter(|c| c.result == PairResult::OtherBetter)
        .count();
    let ties = n - wins - losses;
    let one_rep = v
        .comparisons
        .iter()
        .all(|c| c.repetitions.0 < 2 || c.repetitions.1 < 2);
    let mut s = format!(
        "{wins} of {n} comparison{} favour the claim{}, {losses} go against it, {ties} show no difference beyond the noise ({}; intervals at {:.2}% each, {:.0}% together).",
        if n == 1 { "" } else { "s" },
        if claim.parity_holds {
            " (parity counts)"
        } else {
            ""
        },
        min_effects_phrase(claim, rules),
        rules.per_comparison_confidence(n) * 100.0,
        rules.confidence * 100.0
    );
    if one_rep {
        s.push_str(" One repetition per side gives no confidence interval, so nothing is decided: run more repetitions.");
    }
    // The deciding numbers: the strongest comparisons first.
    let mut sorted: Vec<&Comparison> = v.comparisons.iter().collect();
    sorted.sort_by(|a, b| (b.ratio.ln().abs()).total_cmp(&a.ratio.ln().abs()));
    let shown: Vec<String> = sorted.iter().take(3).map(|c| describe(c)).collect();
    s.push(' ');
    s.push_str(&shown.join("; "));
    if n > 3 {
        s.push_str(&format!("; and {} more", n - 3));
    }
    s.push('.');
    if !v.missing.is_empty() {
        s.push_str(&format!(" Missing: {}.", v.missing.join("; ")));
    }
    s
}
