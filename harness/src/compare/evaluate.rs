//! Turning two parsed results files into a [`CompareReport`]: per shared
//! measurement, a ratio with its bootstrap interval per metric, the error-rate
//! check and a change (rules in [`super::gate`]); plus everything that was
//! not compared and why, and the warnings. Pure: no I/O, no printing. The
//! report's types are in [`super::report`].

use super::gate::{self, Change, Metric};
use super::matching::{self, Input, Key, Pair};
use super::report::*;
use crate::analysis::stats::{self, RatioCi};
use crate::results::schema::{LoadOptions, ResultsFile};

/// Compares two sides (each one results file, or several merged). The paths
/// only name the files in the report and in errors. Fails when the settings
/// are invalid or the two sides share no (target, scenario, level).
pub fn compare(
    baseline_input: &Input,
    current_input: &Input,
    settings: &Settings,
) -> Result<CompareReport, CompareError> {
    settings.validate()?;
    let (baseline, current) = (&baseline_input.results, &current_input.results);
    let matched = matching::pair(baseline, current);
    if matched.pairs.is_empty() {
        return Err(nothing_in_common(baseline_input, current_input, &matched));
    }

    let mut warnings = matching::environment_differences(baseline, current);
    for (side, input) in [("baseline", baseline_input), ("current", current_input)] {
        for d in &input.differences {
            warnings.push(format!("{side} files differ: {d}"));
        }
    }
    for (side, f) in [("baseline", baseline), ("current", current)] {
        if !f.complete {
            warnings.push(format!(
                "the {side} run is incomplete (interrupted or failed part-way)"
            ));
        }
        for s in &f.skipped {
            let what = match &s.scenario {
                Some(sc) => format!("{} / {sc}", s.target),
                None => s.target.clone(),
            };
            warnings.push(format!("the {side} run skipped {what}: {}", s.reason));
        }
    }

    // The family: every gated metric of every shared measurement with data
    // on both sides is one test; each interval is wide enough for all of
    // them to hold together.
    let tests: usize = matched
        .pairs
        .iter()
        .map(|p| {
            settings
                .gate
                .iter()
                .filter(|m| {
                    p.baseline_valid().any(|x| m.value(x).is_some())
                        && p.current_valid().any(|x| m.value(x).is_some())
                })
                .count()
        })
        .sum();
    let per_test = gate::per_test_confidence(settings.confidence, tests);
    let family = Family {
        method: "bonferroni",
        tests,
        per_test_confidence: per_test,
        min_repetitions: gate::min_repetitions(per_test),
    };
    let order = run_order(baseline_input, current_input);
    if let Some(w) = order_warning(&order) {
        warnings.push(w);
    }

    let mut measurements = Vec::with_capacity(matched.pairs.len());
    let mut counts = Counts::default();
    let mut not_gated = Vec::new();
    for p in &matched.pairs {
        if let Some(w) = options_difference(p) {
            warnings.push(w);
        }
        let mc = compare_pair(p, settings, &family, &mut not_gated);
        match mc.change {
            Some(Change::Regressed) => counts.regressed += 1,
            Some(Change::Noisy) => counts.noisy += 1,
            Some(Change::Improved) => counts.improved += 1,
            Some(Change::Unchanged) => counts.unchanged += 1,
            None => counts.not_compared += 1,
        }
        measurements.push(mc);
    }
    let listed = |v: Vec<(Key, usize)>| {
        v.into_iter()
            .map(|(key, repetitions)| Listed { key, repetitions })
            .collect::<Vec<_>>()
    };
    let gate_failed = counts.regressed > 0 || (settings.fail_on_noisy && counts.noisy > 0);
    Ok(CompareReport {
        schema: REPORT_SCHEMA,
        baseline: FileSummary::new(baseline_input),
        current: FileSummary::new(current_input),
        settings: settings.clone(),
        warnings,
        family,
        order,
        duet: duet_partners(&baseline_input.results, &current_input.results),
        measurements,
        only_in_baseline: listed(matched.only_baseline),
        only_in_current: listed(matched.only_current),
        excluded: matched.excluded,
        counts,
        gate_failed,
        not_gated,
    })
}

/// Whether `a` and `b` are the two sides of one duet run: the same run,
/// different sides.
fn duet_partners(a: &ResultsFile, b: &ResultsFile) -> bool {
    match (&a.duet, &b.duet) {
        (Some(x), Some(y)) => a.run_id == b.run_id && x.side != y.side,
        _ => false,
    }
}

/// Both sides' runs in the order they started.
fn run_order(baseline: &Input, current: &Input) -> Vec<OrderedRun> {
    let mut v: Vec<OrderedRun> = [
        (matching::Side::Baseline, baseline),
        (matching::Side::Current, current),
    ]
    .into_iter()
    .flat_map(|(side, input)| {
        input
            .paths
            .iter()
            .zip(&input.started_at)
            .enumerate()
            .map(move |(i, (path, at))| OrderedRun {
                side,
                round: i + 1,
                path: path.clone(),
                started_at: *at,
            })
    })
    .collect();
    v.sort_by_key(|r| r.started_at);
    v
}

/// A warning when, over two or more rounds, the same side ran first in
/// every round: drift (a machine warming up, a cache filling) then always
/// favours the same side. Alternate (ABBA: base, head; head, base; ...).
fn order_warning(order: &[OrderedRun]) -> Option<String> {
    let first_of = |round: usize| {
        order
            .iter()
            .find(|r| r.round == round)
            .map(|r| (r.side, order.iter().filter(|x| x.round == round).count()))
    };
    let rounds = order.iter().map(|r| r.round).max().unwrap_or(0);
    let firsts: Vec<matching::Side> = (1..=rounds)
        .filter_map(first_of)
        .filter(|(_, n)| *n == 2)
        .map(|(s, _)| s)
        .collect();
    (firsts.len() >= 2 && firsts.iter().all(|s| *s == firsts[0])).then(|| {
        format!(
            "the {} side ran first in all {} rounds: alternate the order (base, head; head, base; ...) so drift does not always favour one side",
            firsts[0].name(),
            firsts.len()
        )
    })
}

/// Compares one shared measurement, each interval at the family's
/// per-test confidence; gated tests with too few repetitions go to
/// `not_gated` instead of deciding.
fn compare_pair(
    p: &Pair<'_>,
    s: &Settings,
    family: &Family,
    not_gated: &mut Vec<String>,
) -> MeasurementComparison {
    let valid_b: Vec<_> = p.baseline_valid().collect();
    let valid_c: Vec<_> = p.current_valid().collect();
    let mut metrics = Vec::with_capacity(Metric::ALL.len());
    let mut reasons = Vec::new();
    let mut gated_changes = Vec::new();
    let mut short = false;
    for metric in Metric::ALL {
        let t = s.threshold(metric);
        let series = |ms: &[&crate::results::schema::Measurement]| -> Vec<(u32, f64)> {
            ms.iter()
                .filter_map(|m| Some((m.repetition, metric.value(m)?)))
                .collect()
        };
        let (sb, sc) = (series(&valid_b), series(&valid_c));
        let b: Vec<f64> = sb.iter().map(|x| x.1).collect();
        let c: Vec<f64> = sc.iter().map(|x| x.1).collect();
        let gated = s.gate.contains(&metric);
        let rounds = if s.unpaired {
            None
        } else {
            stats::in_same_rounds(&sb, &sc)
        };
        let (ratio, mut note) = if b.is_empty() || c.is_empty() {
            let side = if b.is_empty() { "baseline" } else { "current" };
            (None, Some(format!("no valid repetition in the {side}")))
        } else {
            let conf = family.per_test_confidence;
            let ci = match &rounds {
                Some((rb, rc)) => {
                    stats::bootstrap_paired_ratio_ci(rc, rb, conf, s.resamples, s.seed)
                }
                None => stats::bootstrap_ratio_ci(&c, &b, conf, s.resamples, s.seed),
            };
            match ci {
                Some(ci) => (Some(ci), None),
                None => (None, Some("baseline median is zero: no ratio".to_string())),
            }
        };
        let n = b.len().min(c.len());
        let enough = n >= family.min_repetitions;
        let mut v = ratio
            .as_ref()
            .map(|ci| gate::classify_ci(ci, metric.direction(), t));
        if gated && ratio.is_some() && !enough {
            short = true;
            note = Some(format!(
                "not gated: {n} repetition(s) a side, {} needed for {} tests at {:.0}% together",
                family.min_repetitions,
                family.tests,
                s.confidence * 100.0
            ));
            not_gated.push(format!(
                "{} {}: {} baseline and {} current repetition(s), {} needed",
                p.key.label(),
                metric.name(),
                b.len(),
                c.len(),
                family.min_repetitions
            ));
            // Shown, but a change read from an interval this thin would be the
            // point estimate in disguise.
            if v == Some(Change::Regressed) {
                reasons.push(format!(
                    "{} looks {} but is not gated (too few repetitions)",
                    metric.name(),
                    ratio.as_ref().map(ratio_phrase).unwrap_or_default()
                ));
            }
            v = None;
        }
        if gated && let (Some(v), Some(ci)) = (v, &ratio) {
            gated_changes.push(v);
            if matches!(v, Change::Regressed | Change::Noisy | Change::Improved) {
                reasons.push(format!(
                    "{} {} {}",
                    metric.name(),
                    v.name(),
                    ratio_phrase(ci)
                ));
            }
        }
        metrics.push(MetricComparison {
            metric,
            direction: metric.direction(),
            gated,
            baseline_median: stats::median(&b),
            current_median: stats::median(&c),
            ratio,
            change: v,
            note,
            paired: rounds.is_some(),
        });
    }

    // The error rate counts every repetition, excluded ones too.
    let rate = |ms: &[&crate::results::schema::Measurement]| {
        let v: Vec<f64> = ms.iter().map(|m| m.load.summary.error_rate).collect();
        stats::median(&v).unwrap_or(0.0)
    };
    let (eb, ec) = (rate(&p.baseline), rate(&p.current));
    let ev = gate::classify_error_rate(eb, ec, s.max_error_increase_pp);
    let error_rate = ErrorRateComparison {
        baseline: eb,
        current: ec,
        change_pp: (ec - eb) * 100.0,
        change: ev,
    };
    if ev == Change::Regressed {
        reasons.push(format!(
            "error rate {:.2}% -> {:.2}% (+{:.2} pp, limit {} pp)",
            eb * 100.0,
            ec * 100.0,
            (ec - eb) * 100.0,
            s.max_error_increase_pp
        ));
    }

    let change = if ev == Change::Regressed {
        Some(Change::Regressed)
    } else if gated_changes.is_empty() {
        reasons.push(if valid_b.is_empty() || valid_c.is_empty() {
            "every repetition on one side was excluded".to_string()
        } else if short {
            format!(
                "too few repetitions to gate ({} a side needed)",
                family.min_repetitions
            )
        } else {
            "no gated metric could be compared".to_string()
        });
        None
    } else {
        Some(gate::overall(gated_changes.iter().copied()))
    };
    MeasurementComparison {
        key: p.key.clone(),
        repetitions: Repetitions {
            baseline: p.baseline.len(),
            current: p.current.len(),
            baseline_valid: valid_b.len(),
            current_valid: valid_c.len(),
        },
        metrics,
        error_rate,
        change,
        reasons,
    }
}

/// `-16.7% [-17.5%, -15.9%]`, or `-16.7% (no interval)`.
pub fn ratio_phrase(ci: &RatioCi) -> String {
    match ci.interval() {
        Some((lo, hi)) => format!("{} [{}, {}]", pct(ci.ratio), pct(lo), pct(hi)),
        None => format!("{} (no interval)", pct(ci.ratio)),
    }
}

/// A ratio as a signed percentage change: 0.833 → `-16.7%`.
pub fn pct(ratio: f64) -> String {
    if ratio.is_infinite() {
        return "+inf%".into();
    }
    let p = (ratio - 1.0) * 100.0;
    // Avoid "-0.0%".
    let p = if p.abs() < 0.05 { 0.0 } else { p };
    format!("{p:+.1}%")
}

/// A warning when the two sides of a pair were measured with different load
/// options (duration, connections, rate, requests, HTTP client), or `None`.
fn options_difference(p: &Pair<'_>) -> Option<String> {
    let (b, c) = (
        &p.baseline.first()?.load.options,
        &p.current.first()?.load.options,
    );
    let describe = |o: &LoadOptions| {
        let templates: Vec<String> = o
            .templates
            .iter()
            .map(|t| format!("{} {} x{} ({} B)", t.method, t.path, t.weight, t.body_bytes))
            .collect();
        format!(
            "{:?} c={} rate={:?} duration={:?}s max_requests={:?} warmup={}s threads={} keepalive={} client={:?} [{}]",
            o.model,
            o.connections,
            o.rate_rps,
            o.duration_s,
            o.max_requests,
            o.warmup_s,
            o.threads,
            o.keepalive,
            o.http_client,
            templates.join(", ")
        )
    };
    let (db, dc) = (describe(b), describe(c));
    (db != dc).then(|| {
        format!(
            "{}: load options differ: baseline {db}; current {dc}",
            p.key.label()
        )
    })
}

fn nothing_in_common(
    baseline: &Input,
    current: &Input,
    matched: &matching::Matched<'_>,
) -> CompareError {
    let sample = |keys: &[(Key, usize)]| {
        let mut names: Vec<String> = keys.iter().take(3).map(|(k, _)| k.label()).collect();
        if keys.len() > 3 {
            names.push(format!("and {} more", keys.len() - 3));
        }
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        }
    };
    CompareError::NothingInCommon {
        baseline: baseline.label(),
        baseline_count: baseline.results.measurements.len(),
        current: current.label(),
        current_count: current.results.measurements.len(),
        hint: format!(
            "; the baseline has {}; the current has {}",
            sample(&matched.only_baseline),
            sample(&matched.only_current)
        ),
    }
}
