//! Claim verdicts: pure functions from resolved claim definitions and a
//! results file to [`Verdict`]s. No I/O; the claims file is parsed by
//! [`crate::scenario`] into the [`ClaimSpec`]s defined here.
//!
//! # How a verdict is reached
//!
//! 1. Measurements flagged `excluded` (generator-bound, too many errors) are
//!    left out. A stack with no valid repetition at the deciding place is
//!    listed under `missing`, with the reason.
//! 2. Each **comparison** takes one metric at one scenario and load level for
//!    two sides (usually two stacks; for [`ClaimKind::Within`] one stack in
//!    two scenarios). It computes the median over repetitions of each side and
//!    the percentile-bootstrap 95% interval of the ratio of medians,
//!    oriented so that a ratio above 1 favours the claim. Two stacks
//!    measured in the same rounds of one scenario (every repetition on both
//!    sides) are paired: the bootstrap resamples rounds, both sides together
//!    ([`crate::analysis::stats::bootstrap_paired_ratio_ci`]), so a slow
//!    stretch of the machine that hit both sides of a round does not widen
//!    the interval; otherwise the sides are resampled apart
//!    ([`crate::analysis::stats::bootstrap_ratio_ci`]).
//! 3. A comparison is a **win** ([`PairResult::FavouredBetter`]) only if the
//!    whole interval lies above `1 + min_effect`, a **loss** only if it lies
//!    wholly below `1 / (1 + min_effect)`; anything else is
//!    [`PairResult::NoDifference`]. One repetition per side gives no interval,
//!    hence no difference.
//! 4. The **outcome** ([`decide`]), symmetric in the two roles: every
//!    comparison a win → `supported`; every comparison a loss → `refuted`;
//!    at least one win or loss together with anything else → `mixed` (the
//!    claim is shown for some pairs and not for others); only
//!    no-differences, or no data at all → `inconclusive`. For claims that say a stack "performs well"
//!    ([`ClaimSpec::parity_holds`]), a pair whose whole interval lies inside
//!    the equivalence band `[1/(1+e), 1+e]` counts as holding too (parity
//!    proven, not merely "inside the noise").
//! 5. A claim that needs more target CPUs than the run had
//!    ([`ClaimSpec::requires_target_cpus`]) is `inconclusive` with that
//!    reason, whatever was measured.

use std::collections::{BTreeMap, BTreeSet};

pub use super::claim::{ClaimKind, ClaimSpec, LevelChoice, Metric, Pct, VerdictRules};
pub use super::select::rss_slopes;
use super::select::{
    AtLevel, choose, common_levels, series, states, unequal_workers, valid, values, why_missing,
};
pub use super::wording::{answer, describe};
use super::wording::{conditions, summary};
use crate::analysis::stats::{self, RatioCi};
use crate::results::schema::{
    Comparison, Level, Measurement, Outcome, PairResult, ResultsFile, Verdict,
};

/// The most workers `<target>@w<N>` measured in `scenario`, if any besides 1.
fn most_workers(ms: &[Measurement], target: &str, scenario: &str) -> Option<String> {
    let prefix = format!("{target}@w");
    ms.iter()
        .filter(|m| m.scenario == scenario && m.excluded.is_none())
        .filter_map(|m| m.target.strip_prefix(&prefix)?.parse::<usize>().ok())
        .filter(|n| *n > 1)
        .max()
        .map(|n| format!("{prefix}{n}"))
}

/// A target's scaling efficiency in a worker sweep, one value per
/// repetition: throughput with its most workers N / (N × throughput with
/// one), repetition i of each (they ran in the same round). Returns N, the
/// level and the values (empty when no repetition has both).
fn scaling_efficiency(
    ms: &[Measurement],
    target: &str,
    scenario: &str,
) -> Option<(usize, Level, Vec<f64>)> {
    let most = most_workers(ms, target, scenario)?;
    let n: usize = most.rsplit_once("@w")?.1.parse().ok()?;
    let one = format!("{target}@w1");
    let level = *common_levels(ms, scenario, &[most.as_str(), one.as_str()]).last()?;
    let by_rep = |t: &str| -> BTreeMap<u32, f64> {
        valid(ms, t, scenario, Some(&level))
            .into_iter()
            .filter_map(|m| Some((m.repetition, Metric::Throughput.value(m)?)))
            .collect()
    };
    let (w, w1) = (by_rep(&most), by_rep(&one));
    let values = w
        .iter()
        .filter_map(|(r, tw)| {
            let t1 = w1.get(r).filter(|t| **t > 0.0)?;
            Some(tw / (n as f64 * t1))
        })
        .collect();
    Some((n, level, values))
}

/// Classifies one comparison from its interval (see the module docs).
pub fn classify(ci: &RatioCi, min_effect: f64) -> PairResult {
    let Some((low, high)) = ci.interval() else {
        return PairResult::NoDifference;
    };
    if low > 1.0 + min_effect {
        PairResult::FavouredBetter
    } else if high < 1.0 / (1.0 + min_effect) {
        PairResult::OtherBetter
    } else {
        PairResult::NoDifference
    }
}

/// Whether an interval lies wholly inside the equivalence band `[1/(1+e), 1+e]`.
pub fn equivalent(ci_low: f64, ci_high: f64, has_interval: bool, min_effect: f64) -> bool {
    has_interval && ci_low >= 1.0 / (1.0 + min_effect) && ci_high <= 1.0 + min_effect
}

/// The outcome from the comparisons' results. `holding[i]` says whether a
/// no-difference pair counts as holding (parity claims); pass all false otherwise.
pub fn decide(results: &[PairResult], holding: &[bool]) -> Outcome {
    let mut wins = 0;
    let mut losses = 0;
    let mut ties = 0;
    for (i, r) in results.iter().enumerate() {
        match r {
            PairResult::FavouredBetter => wins += 1,
            PairResult::OtherBetter => losses += 1,
            PairResult::NoDifference if holding.get(i).copied().unwrap_or(false) => wins += 1,
            PairResult::NoDifference => ties += 1,
        }
    }
    // Symmetric: with the roles swapped (wins <-> losses) supported and
    // refuted trade places and mixed and inconclusive stay.
    match (wins, losses, ties) {
        (0, 0, _) => Outcome::Inconclusive,
        (_, 0, 0) => Outcome::Supported,
        (0, _, 0) => Outcome::Refuted,
        _ => Outcome::Mixed,
    }
}

/// One comparison from two value sets. `a` is the side the claim favours,
/// already oriented: the ratio is `median(a)/median(b)` for higher-is-better
/// metrics and `median(b)/median(a)` for lower-is-better ones.
struct Pending {
    favoured: String,
    other: String,
    scenario: String,
    level: Level,
    metric: String,
    min_effect: f64,
    a: Vec<f64>,
    b: Vec<f64>,
    /// `a` and `b` in round order when both sides were measured in the same
    /// rounds of one scenario (resampled together).
    rounds: Option<(Vec<f64>, Vec<f64>)>,
    higher_is_better: bool,
}

fn compare(
    rules: &VerdictRules,
    confidence: f64,
    Pending {
        favoured,
        other,
        scenario,
        level,
        metric,
        min_effect,
        a,
        b,
        rounds,
        higher_is_better,
    }: &Pending,
) -> Option<(Comparison, bool)> {
    let (favoured, other, scenario, level, metric, a, b) =
        (favoured, other, scenario, *level, metric, a, b);
    let ci = match rounds {
        Some((ra, rb)) => {
            let (num, den) = if *higher_is_better {
                (ra, rb)
            } else {
                (rb, ra)
            };
            stats::bootstrap_paired_ratio_ci(num, den, confidence, rules.resamples, rules.seed)?
        }
        None => {
            let (num, den) = if *higher_is_better { (a, b) } else { (b, a) };
            stats::bootstrap_ratio_ci(num, den, confidence, rules.resamples, rules.seed)?
        }
    };
    let result = classify(&ci, *min_effect);
    let eq = equivalent(ci.low, ci.high, ci.has_interval, *min_effect);
    Some((
        Comparison {
            favoured: favoured.to_string(),
            other: other.to_string(),
            scenario: scenario.to_string(),
            level,
            metric: metric.to_string(),
            favoured_median: stats::median(a)?,
            other_median: stats::median(b)?,
            ratio: ci.ratio,
            ci_low: ci.low,
            ci_high: ci.high,
            repetitions: (a.len(), b.len()),
            result,
            failed: None,
        },
        eq,
    ))
}

/// A scaling claim with `others`: each favoured stack's scaling efficiency
/// against each other stack's, at the same number of workers.
fn efficiency_pairs(
    claim: &ClaimSpec,
    rules: &VerdictRules,
    ms: &[Measurement],
    scenario: &str,
    pending: &mut Vec<Pending>,
    missing: &mut BTreeSet<String>,
) {
    let eff = |t: &str, missing: &mut BTreeSet<String>| match scaling_efficiency(ms, t, scenario) {
        Some((n, level, v)) if !v.is_empty() => Some((n, level, v)),
        _ => {
            missing.insert(format!(
                "{t}: no repetition of `{scenario}` with valid measurements at one worker and at its most workers"
            ));
            None
        }
    };
    for f in &claim.favoured {
        for o in &claim.others {
            let (Some((nf, level, a)), Some((no, _, b))) = (eff(f, missing), eff(o, missing))
            else {
                continue;
            };
            if nf != no {
                missing.insert(format!(
                    "{f} and {o}: measured up to {nf} and {no} workers; scaling efficiencies compare at the same count"
                ));
                continue;
            }
            pending.push(Pending {
                favoured: format!("{f}@w{nf}"),
                other: format!("{o}@w{no}"),
                scenario: scenario.to_string(),
                level,
                metric: "scaling_efficiency".into(),
                min_effect: rules.min_effect_for("throughput_rps"),
                a,
                b,
                rounds: None,
                higher_is_better: true,
            });
        }
    }
}

/// Computes every claim's verdict from a results file.
pub fn evaluate(claims: &[ClaimSpec], rules: &VerdictRules, results: &ResultsFile) -> Vec<Verdict> {
    claims
        .iter()
        .map(|c| evaluate_one(c, rules, results))
        .collect()
}

/// Computes one claim's verdict.
pub fn evaluate_one(claim: &ClaimSpec, rules: &VerdictRules, results: &ResultsFile) -> Verdict {
    let ms = &results.measurements;
    let headline = claim
        .metrics
        .first()
        .map(Metric::name)
        .unwrap_or_else(|| "none".into());
    let mut verdict = Verdict {
        claim: claim.id.clone(),
        quote: claim.quote.clone(),
        outcome: Outcome::Inconclusive,
        answer: String::new(),
        summary: String::new(),
        metric: headline,
        comparisons: Vec::new(),
        conditions: conditions(claim, rules, results),
        missing: Vec::new(),
    };
    let target_cpus = results.host.target_cpus.len();
    if claim.requires_target_cpus > 0 && target_cpus < claim.requires_target_cpus {
        verdict.summary = format!(
            "Cannot be decided on this machine: it needs at least {} CPUs for the target besides the generator's, and this run gave the target {} (of {} logical CPUs). Run on a machine with more cores.",
            claim.requires_target_cpus,
            if target_cpus == 0 {
                "no dedicated CPU".to_string()
            } else {
                format!(
                    "{target_cpus} CPU{}",
                    if target_cpus == 1 { "" } else { "s" }
                )
            },
            results.host.logical_cpus
        );
        verdict.answer = format!(
            "Inconclusive: this machine cannot decide it (it needs at least {} CPUs for the target besides the generator's; this run gave the target {}).",
            claim.requires_target_cpus, target_cpus
        );
        return verdict;
    }

    let mut missing: BTreeSet<String> = BTreeSet::new();
    let mut holding: Vec<bool> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut failed_holding: Vec<bool> = Vec::new();
    // A scenario the run did not include at all (a suite that leaves it to
    // the full suite, or `--scenarios`) is one note, not one per stack, as
    // long as another of the claim's scenarios was measured.
    let in_run = |s: &str| {
        ms.iter().any(|m| m.scenario == s)
            || results
                .skipped
                .iter()
                .any(|k| k.scenario.as_deref() == Some(s))
    };
    let some_in_run = claim.scenarios.iter().any(|s| in_run(s));
    for scenario in &claim.scenarios {
        if some_in_run && !in_run(scenario) {
            missing.insert(format!("`{scenario}`: not in this run"));
            continue;
        }
        if claim.kind == ClaimKind::Scaling && !claim.others.is_empty() {
            efficiency_pairs(claim, rules, ms, scenario, &mut pending, &mut missing);
            continue;
        }
        let pairs: Vec<(String, String)> = match &claim.kind {
            ClaimKind::Pairs => claim
                .favoured
                .iter()
                .flat_map(|f| claim.others.iter().map(move |o| (f.clone(), o.clone())))
                .collect(),
            ClaimKind::Scaling => claim
                .favoured
                .iter()
                .map(|t| {
                    let most = most_workers(ms, t, scenario).unwrap_or_else(|| format!("{t}@w2"));
                    (most, format!("{t}@w1"))
                })
                .collect(),
            ClaimKind::Within { .. } => Vec::new(),
        };
        match &claim.kind {
            ClaimKind::Pairs | ClaimKind::Scaling => {
                for (f, o) in &pairs {
                    let both = [f.as_str(), o.as_str()];
                    if claim.kind == ClaimKind::Pairs
                        && let Some(reason) = unequal_workers(results, f, o)
                    {
                        missing.insert(reason);
                        continue;
                    }
                    // A stack that failed at a level (while the other was
                    // measured there) loses at that level: the deciding
                    // level is chosen among the levels where both were
                    // measured, failures included.
                    let (sf, so) = (states(results, f, scenario), states(results, o, scenario));
                    let mut decidable: Vec<Level> = sf
                        .iter()
                        .filter(|(l, a)| {
                            so.iter().any(|(m, b)| {
                                m == l && (*a == AtLevel::Valid || *b == AtLevel::Valid)
                            })
                        })
                        .map(|(l, _)| *l)
                        .collect();
                    decidable.sort_by(|a, b| a.value.total_cmp(&b.value));
                    if let Some(level) = choose(&decidable, claim.level) {
                        let at = |st: &[(Level, AtLevel)]| {
                            st.iter().find(|(l, _)| *l == level).map(|(_, a)| a.clone())
                        };
                        let failed = match (at(&sf), at(&so)) {
                            (Some(AtLevel::Failed(why)), _) => {
                                Some((f, why, PairResult::OtherBetter))
                            }
                            (_, Some(AtLevel::Failed(why))) => {
                                Some((o, why, PairResult::FavouredBetter))
                            }
                            _ => None,
                        };
                        if let Some((loser, why, result)) = failed {
                            for metric in &claim.metrics {
                                let med = |t: &str| {
                                    let v: Vec<f64> = ms
                                        .iter()
                                        .filter(|m| {
                                            m.target == t
                                                && &m.scenario == scenario
                                                && m.level == level
                                        })
                                        .filter_map(|m| metric.value(m))
                                        .collect();
                                    (stats::median(&v).unwrap_or(0.0), v.len())
                                };
                                let ((fm, nf), (om, no)) = (med(f), med(o));
                                verdict.comparisons.push(Comparison {
                                    favoured: f.clone(),
                                    other: o.clone(),
                                    scenario: scenario.clone(),
                                    level,
                                    metric: metric.name(),
                                    favoured_median: fm,
                                    other_median: om,
                                    ratio: 1.0,
                                    ci_low: 1.0,
                                    ci_high: 1.0,
                                    repetitions: (nf, no),
                                    result,
                                    failed: Some(format!(
                                        "{loser} failed {}: {why}",
                                        level.label()
                                    )),
                                });
                                failed_holding.push(false);
                            }
                            continue;
                        }
                    }
                    let levels = common_levels(ms, scenario, &both);
                    let Some(level) = choose(&levels, claim.level) else {
                        let before = missing.len();
                        for t in both {
                            if common_levels(ms, scenario, &[t]).is_empty() {
                                missing.insert(why_missing(results, t, scenario));
                            }
                        }
                        if missing.len() == before {
                            missing.insert(format!(
                                "{f} and {o}: no level of `{scenario}` with valid measurements of both{}",
                                match claim.level {
                                    LevelChoice::Exactly(v) => format!(" at {v}"),
                                    _ => String::new(),
                                }
                            ));
                        }
                        continue;
                    };
                    for metric in &claim.metrics {
                        let sa = series(ms, metric, f, scenario, &level);
                        let sb = series(ms, metric, o, scenario, &level);
                        let rounds = stats::in_same_rounds(&sa, &sb);
                        let a: Vec<f64> = sa.iter().map(|x| x.1).collect();
                        let b: Vec<f64> = sb.iter().map(|x| x.1).collect();
                        if a.is_empty() || b.is_empty() {
                            for (t, v) in [(f, &a), (o, &b)] {
                                if v.is_empty() {
                                    let hint = if *metric == Metric::RssPerConnection {
                                        " (needs a valid lower level of the connection sweep, same repetition)"
                                    } else {
                                        ""
                                    };
                                    missing.insert(format!(
                                        "{t}: no value of {} in `{scenario}` {}{hint}",
                                        metric.name(),
                                        level.label()
                                    ));
                                }
                            }
                            continue;
                        }
                        pending.push(Pending {
                            favoured: f.clone(),
                            other: o.clone(),
                            scenario: scenario.clone(),
                            level,
                            metric: metric.name(),
                            min_effect: rules.min_effect_for(&metric.kind_name()),
                            a,
                            b,
                            rounds,
                            higher_is_better: metric.higher_is_better(),
                        });
                    }
                }
            }
            ClaimKind::Within { baseline, increase } => {
                for t in &claim.favoured {
                    let in_s = common_levels(ms, scenario, &[t.as_str()]);
                    let in_b = common_levels(ms, baseline, &[t.as_str()]);
                    let levels: Vec<Level> = in_s
                        .into_iter()
                        .filter(|l| in_b.iter().any(|b| b == l))
                        .collect();
                    let Some(level) = choose(&levels, claim.level) else {
                        for s in [scenario, baseline] {
                            if common_levels(ms, s, &[t.as_str()]).is_empty() {
                                missing.insert(why_missing(results, t, s));
                            }
                        }
                        if !missing.iter().any(|m| m.starts_with(t.as_str())) {
                            missing.insert(format!(
                                "{t}: no level measured in both `{scenario}` and `{baseline}`"
                            ));
                        }
                        continue;
                    };
                    for metric in &claim.metrics {
                        let with = values(ms, metric, t, scenario, &level);
                        let mut without = values(ms, metric, t, baseline, &level);
                        if without.is_empty()
                            && let Metric::TemplateP99(_) = metric
                        {
                            // A one-template baseline scenario: its overall p99.
                            without = values(ms, &Metric::Latency(Pct::P99), t, baseline, &level);
                        }
                        if with.is_empty() || without.is_empty() {
                            missing.insert(format!(
                                "{t}: no value of {} in `{scenario}` and `{baseline}` {}",
                                metric.name(),
                                level.label()
                            ));
                            continue;
                        }
                        // Orientation: ratio > 1 supports the claim.
                        pending.push(Pending {
                            favoured: t.clone(),
                            other: format!("{t}@{baseline}"),
                            scenario: scenario.clone(),
                            level,
                            metric: metric.name(),
                            min_effect: rules.min_effect_for(&metric.kind_name()),
                            a: with,
                            b: without,
                            // Two scenarios measured apart: no common rounds.
                            rounds: None,
                            higher_is_better: *increase,
                        });
                    }
                }
            }
        }
    }
    // Family-wise error control: the claim's k intervals are each at
    // 1 - alpha/k (Bonferroni), so a claim with many comparisons is not
    // "mixed" merely because one of many intervals strayed.
    holding.append(&mut failed_holding);
    let confidence = rules.per_comparison_confidence(pending.len() + holding.len());
    for p in &pending {
        if let Some((c, eq)) = compare(rules, confidence, p) {
            holding.push(claim.parity_holds && eq);
            verdict.comparisons.push(c);
        }
    }
    verdict.missing = missing.into_iter().collect();
    let results_only: Vec<PairResult> = verdict.comparisons.iter().map(|c| c.result).collect();
    verdict.outcome = decide(&results_only, &holding);
    verdict.summary = summary(claim, rules, &verdict, &holding);
    verdict.answer = answer(&verdict);
    verdict
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::results::schema::*;

    fn host(target_cpus: Vec<usize>) -> HostInfo {
        HostInfo {
            hostname: "h".into(),
            os: "linux x86_64".into(),
            kernel: "6".into(),
            cpu_model: "test cpu".into(),
            logical_cpus: 2,
            memory_bytes: 1 << 30,
            generator_cpus: vec![0],
            target_cpus,
            downstream_cpus: vec![0],
        }
    }

    fn pct(p99: u64) -> Percentiles {
        Percentiles {
            count: 100,
            min_us: 1,
            mean_us: p99 as f64 / 2.0,
            stdev_us: 1.0,
            p50_us: p99 / 2,
            p75_us: p99 / 2,
            p90_us: p99,
            p99_us: p99,
            p999_us: p99,
            p9999_us: p99,
            max_us: p99,
            overflow: 0,
        }
    }

    /// A synthetic valid measurement (also used by the runner's tests).
    pub(crate) fn measurement(
        target: &str,
        scenario: &str,
        c: f64,
        rep: u32,
        rps: f64,
        p99: u64,
    ) -> Measurement {
        let lat = crate::results::histogram::Latency::default();
        let options = LoadOptions {
            base_url: "http://127.0.0.1:1".into(),
            templates: vec![],
            model: LoadModelKind::Closed,
            connections: c as usize,
            rate_rps: None,
            arrival: None,
            duration_s: Some(1.0),
            max_requests: None,
            warmup_s: 0.0,
            warmup_max_s: None,
            max_duration_s: None,
            timeout_ms: 1000,
            threads: 1,
            pin_cpus: vec![0],
            keepalive: true,
            idle_connections: 0,
            preopen: false,
            http_client: HttpClient::Lean,
            protocol: Default::default(),
            streams: 1,
            tls: false,
        };
        Measurement {
            target: target.into(),
            scenario: scenario.into(),
            level: Level {
                model: LoadModelKind::Closed,
                value: c,
            },
            repetition: rep,
            started_at: chrono::Utc::now(),
            clean_state: "started".into(),
            load: LoadResult {
                options,
                summary: Summary {
                    requests: 100,
                    ok: 100,
                    errors: 0,
                    error_rate: 0.0,
                    not_started: 0,
                    in_flight_at_end: 0,
                    duration_s: 1.0,
                    throughput_rps: rps,
                    requests_rps: rps,
                    bytes_read: 0,
                    latency: pct(p99),
                    service: None,
                    ttfb: pct(p99),
                    schedule_lag: None,
                },
                latency: lat.clone(),
                service: None,
                ttfb: lat,
                schedule_lag: None,
                chunk_gap: None,
                templates: vec![],
                errors: ErrorCounts::default(),
                status_codes: Default::default(),
                timeline: vec![],
                generator: GeneratorUsage {
                    threads: 1,
                    cpus: vec![0],
                    cpu_s: 0.1,
                    cpu_percent: 10.0,
                    max_rss_bytes: 0,
                    saturated: false,
                    warnings: vec![],
                },
                connections: ConnectionStats::default(),
                phases: None,
                little: None,
                warnings: vec![],
                started_wall: None,
                shard: None,
                merged: None,
            },
            resources: None,
            excluded: None,
            host: None,
        }
    }

    fn results(ms: Vec<Measurement>, target_cpus: Vec<usize>) -> ResultsFile {
        ResultsFile {
            order_seed: None,
            schema_version: SCHEMA_VERSION,
            kind: RunKind::Suite,
            run_id: "t".into(),
            started_at: chrono::Utc::now(),
            finished_at: None,
            complete: true,
            command_line: vec![],
            tool: crate::sys::tool_info(),
            host: host(target_cpus),
            targets: vec![],
            measurements: ms,
            skipped: vec![],
            verdicts: vec![],
            duet: None,
        }
    }

    /// Three repetitions per target with the given throughputs.
    fn reps(target: &str, rps: [f64; 3]) -> Vec<Measurement> {
        rps.iter()
            .enumerate()
            .map(|(i, r)| measurement(target, "io", 256.0, i as u32 + 1, *r, 1000))
            .collect()
    }

    fn claim(others: &[&str]) -> ClaimSpec {
        ClaimSpec {
            id: "io-concurrency".into(),
            quote: "Node is faster".into(),
            kind: ClaimKind::Pairs,
            metrics: vec![Metric::Throughput],
            scenarios: vec!["io".into()],
            level: LevelChoice::Highest,
            favoured: vec!["node".into()],
            others: others.iter().map(|s| s.to_string()).collect(),
            parity_holds: false,
            requires_target_cpus: 0,
            note: None,
        }
    }

    #[test]
    fn clear_win_is_supported() {
        let mut ms = reps("node", [1000.0, 1010.0, 990.0]);
        ms.extend(reps("py", [500.0, 505.0, 495.0]));
        let v = evaluate_one(
            &claim(&["py"]),
            &VerdictRules::default(),
            &results(ms, vec![1]),
        );
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        assert_eq!(v.comparisons.len(), 1);
        let c = &v.comparisons[0];
        assert_eq!(c.result, PairResult::FavouredBetter);
        assert!((c.ratio - 2.0).abs() < 1e-9);
        assert!(c.ci_low > 1.05 && c.ci_low <= c.ratio && c.ratio <= c.ci_high);
        assert!(v.summary.contains("×2.00"), "{}", v.summary);
        assert!(
            v.answer.starts_with(
                "Supported: on `io` at 256 connections, node served 2.00× the requests per second of py (1000 req/s vs 500 req/s; interval "
            ),
            "{}",
            v.answer
        );
        assert!(
            v.conditions[0].contains("target CPU 1"),
            "{:?}",
            v.conditions
        );
    }

    /// The machine ran 35% slow for everyone in rounds 4 and 5 (the
    /// schedule measures both stacks seconds apart in each round). Resampled
    /// apart, the slow rounds make the interval straddle the minimum effect;
    /// paired by round, node is 1.6× faster in every round and wins.
    #[test]
    fn rounds_are_paired_so_a_slow_stretch_of_the_machine_cancels() {
        let rounds = |t: &str, base: f64| -> Vec<Measurement> {
            [1.0, 1.01, 0.99, 0.65, 0.66]
                .iter()
                .enumerate()
                .map(|(i, k)| measurement(t, "io", 256.0, i as u32 + 1, base * k, 1000))
                .collect()
        };
        let mut ms = rounds("node", 1600.0);
        ms.extend(rounds("py", 1000.0));
        let rules = VerdictRules {
            min_effect: 0.25,
            ..VerdictRules::default()
        };
        let v = evaluate_one(&claim(&["py"]), &rules, &results(ms.clone(), vec![1]));
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        let c = &v.comparisons[0];
        assert!(c.ci_low > 1.55 && c.ci_high < 1.65, "{c:?}");
        // The same values with py's round 5 lost: no longer paired, the
        // sides are resampled apart and the slow rounds widen the interval.
        ms.retain(|m| !(m.target == "py" && m.repetition == 5));
        let v = evaluate_one(&claim(&["py"]), &rules, &results(ms, vec![1]));
        let c = &v.comparisons[0];
        assert!(c.ci_low < 1.25, "{c:?}");
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.summary);
    }

    /// A scenario of the claim that the run left out (the default suite
    /// leaves io-sleep to the full one) is one note, and the claim is
    /// decided on the scenario it measured.
    #[test]
    fn a_scenario_left_out_of_the_run_is_one_note() {
        let mut ms = reps("node", [1000.0, 1010.0, 990.0]);
        ms.extend(reps("py", [500.0, 505.0, 495.0]));
        let mut c = claim(&["py"]);
        c.scenarios.push("io-sleep".into());
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms, vec![1]));
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        assert_eq!(v.missing, vec!["`io-sleep`: not in this run".to_string()]);
        // With nothing of the claim in the run, each stack says why.
        let v = evaluate_one(&c, &VerdictRules::default(), &results(vec![], vec![1]));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(
            v.missing
                .iter()
                .any(|m| m.contains("node: not measured in `io`")),
            "{:?}",
            v.missing
        );
    }

    #[test]
    fn a_stack_that_fails_at_the_deciding_level_loses_there() {
        // py is valid at 16 connections and falls over at 256; node is
        // valid at both. The claim is decided at the highest level measured
        // for both, failures included: 256, where py loses.
        let mut ms = reps("node", [1000.0, 1010.0, 990.0]);
        for (i, r) in [500.0, 505.0, 495.0].iter().enumerate() {
            ms.push(measurement("node", "io", 16.0, i as u32 + 1, *r, 1000));
            ms.push(measurement("py", "io", 16.0, i as u32 + 1, *r * 2.0, 1000));
            let mut bad = measurement("py", "io", 256.0, i as u32 + 1, 40.0, 1000);
            bad.excluded = Some("error rate 34.00% above 1.00% (timeout 340)".into());
            ms.push(bad);
        }
        let v = evaluate_one(
            &claim(&["py"]),
            &VerdictRules::default(),
            &results(ms.clone(), vec![1]),
        );
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        assert!(v.missing.is_empty(), "{:?}", v.missing);
        let c = &v.comparisons[0];
        assert_eq!(
            (c.level.value, c.result),
            (256.0, PairResult::FavouredBetter)
        );
        assert!(
            c.failed
                .as_deref()
                .unwrap()
                .starts_with("py failed c=256: error rate 34.00%"),
            "{:?}",
            c.failed
        );
        assert_eq!(
            v.answer,
            "Supported: on `io` at 256 connections, py failed c=256: error rate 34.00% above 1.00% (timeout 340)."
        );
        // The same with the roles swapped: the favoured stack's failure refutes.
        let mut swapped = claim(&["node"]);
        swapped.favoured = vec!["py".into()];
        let v = evaluate_one(&swapped, &VerdictRules::default(), &results(ms, vec![1]));
        assert_eq!(v.outcome, Outcome::Refuted, "{}", v.summary);
        // A generator-bound measurement is not the stack's failure: missing.
        let mut ms = reps("node", [1000.0, 1010.0, 990.0]);
        for mut m in reps("py", [10.0, 10.0, 10.0]) {
            m.excluded = Some("generator-bound: the generator used 97%".into());
            ms.push(m);
        }
        let v = evaluate_one(
            &claim(&["py"]),
            &VerdictRules::default(),
            &results(ms, vec![1]),
        );
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.comparisons.is_empty() && !v.missing.is_empty());
    }

    #[test]
    fn several_workers_against_one_are_refused_on_a_multi_cpu_target() {
        let mut ms = reps("node", [1000.0, 1010.0, 990.0]);
        ms.extend(reps("py", [500.0, 505.0, 495.0]));
        let info = |id: &str, workers: usize| TargetInfo {
            id: id.into(),
            language: "x".into(),
            framework: "x".into(),
            server: "x".into(),
            concurrency_model: "async".into(),
            workers: Some(workers),
            cpus: vec![1, 2],
            versions: Default::default(),
            supervised: true,
            url: "http://127.0.0.1:1".into(),
        };
        let mut r = results(ms, vec![1, 2]);
        r.targets = vec![info("node", 2), info("py", 1)];
        let v = evaluate_one(&claim(&["py"]), &VerdictRules::default(), &r);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(
            v.missing[0].contains("refused, a pair must not pit several workers against one"),
            "{:?}",
            v.missing
        );
        // On one target CPU every stack has one worker's worth: compared.
        r.host.target_cpus = vec![1];
        let v = evaluate_one(&claim(&["py"]), &VerdictRules::default(), &r);
        assert_eq!(v.outcome, Outcome::Supported);
    }

    #[test]
    fn clear_loss_is_refuted() {
        let mut ms = reps("node", [500.0, 505.0, 495.0]);
        ms.extend(reps("py", [1000.0, 1010.0, 990.0]));
        let v = evaluate_one(
            &claim(&["py"]),
            &VerdictRules::default(),
            &results(ms, vec![1]),
        );
        assert_eq!(v.outcome, Outcome::Refuted);
        assert_eq!(v.comparisons[0].result, PairResult::OtherBetter);
        // The better side is named first, whichever the claim favours.
        assert!(
            v.answer
                .starts_with("Refuted: on `io` at 256 connections, py served 2.00× the requests per second of node"),
            "{}",
            v.answer
        );
    }

    #[test]
    fn overlap_is_inconclusive() {
        let mut ms = reps("node", [1000.0, 900.0, 1100.0]);
        ms.extend(reps("py", [950.0, 1050.0, 1000.0]));
        let v = evaluate_one(
            &claim(&["py"]),
            &VerdictRules::default(),
            &results(ms, vec![1]),
        );
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert_eq!(v.comparisons[0].result, PairResult::NoDifference);
    }

    #[test]
    fn small_but_certain_difference_below_min_effect_is_no_difference() {
        let mut ms = reps("node", [1030.0, 1031.0, 1029.0]);
        ms.extend(reps("py", [1000.0, 1001.0, 999.0]));
        let v = evaluate_one(
            &claim(&["py"]),
            &VerdictRules::default(),
            &results(ms, vec![1]),
        );
        assert_eq!(v.comparisons[0].result, PairResult::NoDifference);
        assert_eq!(v.outcome, Outcome::Inconclusive);
    }

    #[test]
    fn split_is_mixed() {
        let mut ms = reps("node", [1000.0, 1010.0, 990.0]);
        ms.extend(reps("slow", [500.0, 505.0, 495.0]));
        ms.extend(reps("fast", [2000.0, 2020.0, 1980.0]));
        let v = evaluate_one(
            &claim(&["slow", "fast"]),
            &VerdictRules::default(),
            &results(ms, vec![1]),
        );
        assert_eq!(v.outcome, Outcome::Mixed);
        let r: Vec<PairResult> = v.comparisons.iter().map(|c| c.result).collect();
        assert_eq!(r, vec![PairResult::FavouredBetter, PairResult::OtherBetter]);
    }

    #[test]
    fn outcome_rules() {
        use PairResult::*;
        assert_eq!(decide(&[], &[]), Outcome::Inconclusive);
        assert_eq!(
            decide(&[FavouredBetter, FavouredBetter], &[]),
            Outcome::Supported
        );
        assert_eq!(decide(&[OtherBetter, OtherBetter], &[]), Outcome::Refuted);
        // A loss beside a tie is no more "refuted" than a win beside a tie
        // is "supported": both are mixed.
        assert_eq!(decide(&[OtherBetter, NoDifference], &[]), Outcome::Mixed);
        assert_eq!(decide(&[FavouredBetter, NoDifference], &[]), Outcome::Mixed);
        assert_eq!(
            decide(&[NoDifference, NoDifference], &[]),
            Outcome::Inconclusive
        );
        // Parity claims: a proven-equivalent pair holds.
        assert_eq!(
            decide(&[OtherBetter, NoDifference], &[false, true]),
            Outcome::Mixed
        );
    }

    fn swapped(r: PairResult) -> PairResult {
        match r {
            PairResult::FavouredBetter => PairResult::OtherBetter,
            PairResult::OtherBetter => PairResult::FavouredBetter,
            PairResult::NoDifference => PairResult::NoDifference,
        }
    }

    proptest::proptest! {
        /// The rule reads the same with the roles swapped: supported and
        /// refuted trade places, mixed and inconclusive stay.
        #[test]
        fn the_rule_is_symmetric(results in proptest::collection::vec(0u8..3, 0..12)) {
            let r: Vec<PairResult> = results
                .iter()
                .map(|x| match x {
                    0 => PairResult::FavouredBetter,
                    1 => PairResult::OtherBetter,
                    _ => PairResult::NoDifference,
                })
                .collect();
            let s: Vec<PairResult> = r.iter().copied().map(swapped).collect();
            let expected = match decide(&r, &[]) {
                Outcome::Supported => Outcome::Refuted,
                Outcome::Refuted => Outcome::Supported,
                o => o,
            };
            proptest::prop_assert_eq!(decide(&s, &[]), expected);
        }
    }

    #[test]
    fn intervals_widen_with_the_number_of_comparisons() {
        let rules = VerdictRules::default();
        assert!((rules.per_comparison_confidence(1) - 0.95).abs() < 1e-12);
        assert!((rules.per_comparison_confidence(10) - 0.995).abs() < 1e-12);
        let mut per_metric = rules.clone();
        per_metric.min_effects.insert("p99_us".into(), 0.15);
        assert_eq!(per_metric.min_effect_for("p99_us"), 0.15);
        assert_eq!(per_metric.min_effect_for("throughput_rps"), 0.05);
        // A template's p99 takes the claims file's `template_p99_us` entry.
        assert_eq!(
            Metric::TemplateP99("io".into()).kind_name(),
            "template_p99_us"
        );
        assert_eq!(Metric::TemplateP99("io".into()).name(), "io_p99_us");
    }

    #[test]
    fn a_parity_claim_is_mixed_when_one_scenario_holds_and_one_does_not() {
        let mut ms: Vec<Measurement> = Vec::new();
        for (t, fib, hash) in [("py", 20.0, 100.0), ("node", 300.0, 100.5)] {
            for r in 1..=5u32 {
                let jitter = r as f64 * 0.001;
                let mut m = measurement(t, "cpu-fib", 1.0, r, fib * (1.0 + jitter), 1000);
                ms.push(m.clone());
                m.scenario = "cpu-hash".into();
                m.load.summary.throughput_rps = hash * (1.0 + jitter);
                ms.push(m);
            }
        }
        let mut c = claim(&["node"]);
        c.id = "python-cpu".into();
        c.favoured = vec!["py".into()];
        c.scenarios = vec!["cpu-fib".into(), "cpu-hash".into()];
        c.parity_holds = true;
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms, vec![1]));
        assert_eq!(v.comparisons[0].result, PairResult::OtherBetter);
        assert_eq!(v.comparisons[1].result, PairResult::NoDifference);
        assert_eq!(v.outcome, Outcome::Mixed, "{}", v.summary);
        // Parity alone supports it, and the answer names the tie that does.
        c.scenarios = vec!["cpu-hash".into()];
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms_again(), vec![1]));
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        assert!(
            v.answer.starts_with(
                "Supported: on `cpu-hash` at 1 connection, py and node are not shown to differ"
            ),
            "{}",
            v.answer
        );
    }

    fn ms_again() -> Vec<Measurement> {
        let mut ms = Vec::new();
        for (t, hash) in [("py", 100.0), ("node", 100.5)] {
            for r in 1..=5u32 {
                let mut m =
                    measurement(t, "cpu-hash", 1.0, r, hash * (1.0 + r as f64 * 0.001), 1000);
                m.scenario = "cpu-hash".into();
                ms.push(m);
            }
        }
        ms
    }

    #[test]
    fn lower_is_better_metrics_are_oriented() {
        let mut ms: Vec<Measurement> = Vec::new();
        for r in 1..=3u32 {
            ms.push(measurement("node", "io", 256.0, r, 1.0, 10_000 + r as u64));
            ms.push(measurement("py", "io", 256.0, r, 1.0, 40_000 + r as u64));
        }
        let mut c = claim(&["py"]);
        c.metrics = vec![Metric::Latency(Pct::P99)];
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms, vec![1]));
        assert_eq!(v.outcome, Outcome::Supported);
        assert!(v.comparisons[0].ratio > 3.9);
        assert_eq!(v.metric, "p99_us");
    }

    #[test]
    fn excluded_and_missing_targets_are_named() {
        let mut ms = reps("node", [1000.0, 1010.0, 990.0]);
        let mut py = reps("py", [500.0, 505.0, 495.0]);
        for m in &mut py {
            m.excluded = Some("generator-bound".into());
        }
        ms.extend(py);
        let v = evaluate_one(
            &claim(&["py", "gone"]),
            &VerdictRules::default(),
            &results(ms, vec![1]),
        );
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.comparisons.is_empty());
        let missing = v.missing.join("\n");
        assert!(
            missing.contains("py: every `io` measurement excluded (generator-bound)"),
            "{missing}"
        );
        assert!(missing.contains("gone: not measured"), "{missing}");
    }

    #[test]
    fn one_repetition_decides_nothing() {
        let mut ms = vec![measurement("node", "io", 256.0, 1, 1000.0, 1)];
        ms.push(measurement("py", "io", 256.0, 1, 100.0, 1));
        let v = evaluate_one(
            &claim(&["py"]),
            &VerdictRules::default(),
            &results(ms, vec![1]),
        );
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.summary.contains("One repetition"), "{}", v.summary);
    }

    #[test]
    fn python_scales_is_inconclusive_on_too_few_cpus() {
        let mut c = claim(&["node"]);
        c.id = "python-scales".into();
        c.requires_target_cpus = 2;
        let mut ms = reps("node", [1000.0, 1010.0, 990.0]);
        ms.extend(reps("py", [500.0, 505.0, 495.0]));
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms, vec![1]));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.comparisons.is_empty());
        assert!(
            v.summary.contains("at least 2 CPUs for the target"),
            "{}",
            v.summary
        );
        assert!(v.summary.contains("1 CPU (of 2"), "{}", v.summary);
    }

    #[test]
    fn within_claims_compare_a_stack_with_itself() {
        let mut ms: Vec<Measurement> = Vec::new();
        for r in 1..=3u32 {
            ms.push(measurement("node", "io", 64.0, r, 1.0, 20_000 + r as u64));
            ms.push(measurement(
                "node",
                "mixed",
                64.0,
                r,
                1.0,
                90_000 + r as u64,
            ));
        }
        let c = ClaimSpec {
            kind: ClaimKind::Within {
                baseline: "io".into(),
                increase: true,
            },
            metrics: vec![Metric::Latency(Pct::P99)],
            scenarios: vec!["mixed".into()],
            ..claim(&[])
        };
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms, vec![1]));
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        assert_eq!(v.comparisons[0].other, "node@io");
        assert!(v.comparisons[0].ratio > 4.0);
    }

    #[test]
    fn rss_per_connection_is_a_slope_between_levels() {
        let mut ms: Vec<Measurement> = Vec::new();
        for (t, per_conn) in [("node", 2_000.0), ("py", 10_000.0)] {
            for r in 1..=3u32 {
                for conns in [100.0, 1100.0] {
                    let mut m = measurement(t, "conns", conns, r, 1.0, 1);
                    let rss = 50e6 + per_conn * conns + r as f64 * 1000.0;
                    m.resources = Some(ResourceUsage {
                        interval_ms: 100,
                        cpu_s: 0.0,
                        cpu_percent_mean: 0.0,
                        cpu_percent_peak: 0.0,
                        rss_mean_bytes: rss as u64,
                        rss_peak_bytes: rss as u64,
                        threads_peak: 1,
                        processes_peak: 1,
                        samples: vec![],
                    });
                    ms.push(m);
                }
            }
        }
        let mut c = claim(&["py"]);
        c.scenarios = vec!["conns".into()];
        c.metrics = vec![Metric::RssPerConnection];
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms, vec![1]));
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        let cmp = &v.comparisons[0];
        assert!((cmp.favoured_median - 2_000.0).abs() < 1.0);
        assert!((cmp.ratio - 5.0).abs() < 0.01);
        assert_eq!(cmp.level.value, 1100.0);
    }

    #[test]
    fn scaling_compares_most_workers_with_one() {
        let mut ms: Vec<Measurement> = Vec::new();
        for r in 1..=3u32 {
            let j = r as f64;
            ms.push(measurement("py@w1", "workers", 64.0, r, 1000.0 + j, 1));
            ms.push(measurement("py@w2", "workers", 64.0, r, 1900.0 + j, 1));
            ms.push(measurement("py@w4", "workers", 64.0, r, 3500.0 + j, 1));
        }
        let c = ClaimSpec {
            kind: ClaimKind::Scaling,
            scenarios: vec!["workers".into()],
            favoured: vec!["py".into()],
            requires_target_cpus: 2,
            ..claim(&[])
        };
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms, vec![1, 2, 3, 4]));
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        assert_eq!(v.comparisons[0].favoured, "py@w4");
        assert_eq!(v.comparisons[0].other, "py@w1");
        assert!((v.comparisons[0].ratio - 3.5).abs() < 0.01);
    }

    #[test]
    fn scaling_with_others_compares_efficiencies_at_the_same_worker_count() {
        let mut ms: Vec<Measurement> = Vec::new();
        for r in 1..=5u32 {
            let j = r as f64;
            // py: 1000 -> 1900 (efficiency 0.95); node: 2000 -> 2400 (0.6).
            ms.push(measurement("py@w1", "workers", 64.0, r, 1000.0 + j, 1));
            ms.push(measurement(
                "py@w2",
                "workers",
                64.0,
                r,
                1900.0 + 2.0 * j,
                1,
            ));
            ms.push(measurement("node@w1", "workers", 64.0, r, 2000.0 + j, 1));
            ms.push(measurement("node@w2", "workers", 64.0, r, 2400.0 + j, 1));
        }
        let c = ClaimSpec {
            kind: ClaimKind::Scaling,
            scenarios: vec!["workers".into()],
            favoured: vec!["py".into()],
            others: vec!["node".into()],
            requires_target_cpus: 2,
            ..claim(&[])
        };
        let v = evaluate_one(
            &c,
            &VerdictRules::default(),
            &results(ms.clone(), vec![1, 2]),
        );
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.summary);
        let cmp = &v.comparisons[0];
        assert_eq!(
            (cmp.favoured.as_str(), cmp.other.as_str()),
            ("py@w2", "node@w2")
        );
        assert_eq!(cmp.metric, "scaling_efficiency");
        assert!((cmp.favoured_median - 0.95).abs() < 0.01, "{cmp:?}");
        assert!((cmp.other_median - 0.6).abs() < 0.01, "{cmp:?}");
        // Node measured up to 4 workers, Python up to 2: no comparison.
        for r in 1..=5u32 {
            ms.push(measurement("node@w4", "workers", 64.0, r, 4000.0, 1));
        }
        let v = evaluate_one(&c, &VerdictRules::default(), &results(ms, vec![1, 2, 3, 4]));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(
            v.missing.iter().any(|m| m.contains("same count")),
            "{:?}",
            v.missing
        );
    }

    #[test]
    fn a_claim_this_machine_cannot_decide_still_answers() {
        let c = ClaimSpec {
            kind: ClaimKind::Scaling,
            scenarios: vec!["workers".into()],
            favoured: vec!["py".into()],
            requires_target_cpus: 2,
            ..claim(&[])
        };
        let v = evaluate_one(&c, &VerdictRules::default(), &results(Vec::new(), vec![1]));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert_eq!(
            v.answer,
            "Inconclusive: this machine cannot decide it (it needs at least 2 CPUs for the target besides the generator's; this run gave the target 1)."
        );
    }

    #[test]
    fn metric_names_round_trip() {
        for n in [
            "throughput_rps",
            "p99_us",
            "p50_us",
            "ttfb_p99_us",
            "chunk_gap_jitter_us",
            "rss_per_connection_bytes",
        ] {
            assert_eq!(Metric::parse(n, None).unwrap().name(), n);
        }
        assert_eq!(
            Metric::parse("template_p99_us", Some("io")).unwrap().name(),
            "io_p99_us"
        );
        assert_eq!(
            Metric::parse("template_p99_us", None),
            Err(crate::analysis::claim::MetricError::NoTemplate)
        );
        assert!(
            Metric::parse("speed", None)
                .unwrap_err()
                .to_string()
                .contains("unknown metric `speed`")
        );
    }
}
