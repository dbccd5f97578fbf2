//! Integration tests: `claimbench compare`, in-process through
//! `claimbench::run`, on results files built here (synthetic measurements with
//! real HDR histograms) and, in `real_servers`, on results that `claimbench
//! bench` measured against an in-process hyper server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use claimbench::Cli;
use claimbench::results::io;
use claimbench::results::schema::*;
use claimbench::results::{Latency, SCHEMA_VERSION};
use clap::Parser;

const EXIT_REGRESSED: u8 = claimbench::EXIT_GATE_FAILED;

/// One repetition's headline numbers.
#[derive(Clone, Copy)]
struct Rep {
    throughput: f64,
    /// Median latency; the histogram spreads ±10% around it.
    latency_us: u64,
    error_rate: f64,
}

fn rep(throughput: f64, latency_us: u64) -> Rep {
    Rep {
        throughput,
        latency_us,
        error_rate: 0.0,
    }
}

fn host() -> HostInfo {
    HostInfo {
        hostname: "ci-runner".into(),
        os: "linux x86_64".into(),
        kernel: "6.1.0".into(),
        cpu_model: "Test CPU @ 3.0GHz".into(),
        logical_cpus: 2,
        memory_bytes: 8 << 30,
        generator_cpus: vec![0],
        target_cpus: vec![1],
        downstream_cpus: vec![],
    }
}

fn options() -> LoadOptions {
    LoadOptions {
        base_url: "http://127.0.0.1:8080".into(),
        templates: vec![TemplateOptions {
            name: "GET /plaintext".into(),
            method: "GET".into(),
            path: "/plaintext".into(),
            weight: 1,
            headers: vec![],
            body_bytes: 0,
            check: "status 200".into(),
        }],
        model: LoadModelKind::Closed,
        connections: 64,
        rate_rps: None,
        arrival: None,
        duration_s: Some(10.0),
        max_requests: None,
        warmup_s: 2.0,
        warmup_max_s: None,
        max_duration_s: None,
        timeout_ms: 10_000,
        threads: 1,
        pin_cpus: vec![0],
        keepalive: true,
        idle_connections: 0,
        preopen: false,
        http_client: HttpClient::Lean,
        protocol: Default::default(),
        streams: 1,
        tls: false,
    }
}

/// A load result whose latency histogram really holds ~1000 values spread
/// ±10% around `r.latency_us`, so the percentiles come from a real histogram.
fn load_result(r: Rep) -> LoadResult {
    let mut lat = Latency::default();
    for i in 0..1000u64 {
        let f = 0.9 + 0.2 * (i as f64 / 999.0);
        lat.record((r.latency_us as f64 * f) as u64);
    }
    let p = lat.percentiles();
    let duration_s = 10.0;
    let ok = (r.throughput * duration_s) as u64;
    let requests = if r.error_rate > 0.0 {
        (ok as f64 / (1.0 - r.error_rate)).round() as u64
    } else {
        ok
    };
    let errors = requests - ok;
    LoadResult {
        options: options(),
        summary: Summary {
            requests,
            ok,
            errors,
            error_rate: r.error_rate,
            not_started: 0,
            in_flight_at_end: 0,
            duration_s,
            throughput_rps: r.throughput,
            requests_rps: requests as f64 / duration_s,
            bytes_read: ok * 13,
            latency: p.clone(),
            service: None,
            ttfb: p,
            schedule_lag: None,
        },
        latency: lat.clone(),
        service: None,
        ttfb: lat,
        schedule_lag: None,
        chunk_gap: None,
        templates: vec![],
        errors: ErrorCounts {
            status: errors,
            ..Default::default()
        },
        status_codes: Default::default(),
        timeline: vec![],
        generator: GeneratorUsage {
            threads: 1,
            cpus: vec![0],
            cpu_s: 1.0,
            cpu_percent: 10.0,
            max_rss_bytes: 10 << 20,
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
    }
}

fn measurement(target: &str, scenario: &str, c: f64, repetition: u32, r: Rep) -> Measurement {
    Measurement {
        target: target.into(),
        scenario: scenario.into(),
        level: Level {
            model: LoadModelKind::Closed,
            value: c,
        },
        repetition,
        started_at: Utc::now(),
        clean_state: "restarted".into(),
        load: load_result(r),
        resources: None,
        excluded: None,
        host: None,
    }
}

fn target_info(id: &str) -> TargetInfo {
    TargetInfo {
        id: id.into(),
        language: "rust".into(),
        framework: "hyper".into(),
        server: "hyper".into(),
        concurrency_model: "multi-threaded".into(),
        workers: Some(1),
        cpus: vec![1],
        versions: [("hyper".to_string(), "1.6.0".to_string())].into(),
        supervised: true,
        url: "http://127.0.0.1:8080".into(),
    }
}

/// A suite results file: one measurement per repetition of `reps`, for
/// target `svc`, scenario `plaintext`, c=64.
fn results(reps: &[Rep]) -> ResultsFile {
    let measurements = reps
        .iter()
        .enumerate()
        .map(|(i, r)| measurement("svc", "plaintext", 64.0, i as u32 + 1, *r))
        .collect();
    file_with(measurements)
}

fn file_with(measurements: Vec<Measurement>) -> ResultsFile {
    ResultsFile {
        order_seed: None,
        schema_version: SCHEMA_VERSION,
        kind: RunKind::Suite,
        run_id: "20260101T000000Z".into(),
        started_at: Utc::now(),
        finished_at: Some(Utc::now()),
        complete: true,
        command_line: vec!["claimbench".into(), "run".into()],
        tool: ToolInfo {
            name: "claimbench".into(),
            version: "0.1.0".into(),
            git_commit: None,
            git_dirty: None,
        },
        host: host(),
        targets: vec![target_info("svc")],
        measurements,
        skipped: vec![],
        verdicts: vec![],
        duet: None,
    }
}

fn write(dir: &Path, name: &str, f: &ResultsFile) -> PathBuf {
    let p = dir.join(name);
    io::write(&p, f).unwrap();
    p
}

fn compare(args: &[&str]) -> anyhow::Result<ExitCode> {
    let mut argv = vec!["claimbench", "compare", "--quiet"];
    argv.extend_from_slice(args);
    claimbench::run(Cli::parse_from(argv))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn base_reps() -> Vec<Rep> {
    vec![
        rep(1000.0, 1000),
        rep(1010.0, 990),
        rep(990.0, 1010),
        rep(1005.0, 995),
        rep(995.0, 1005),
    ]
}

#[test]
fn a_clear_slowdown_is_regressed_exit_1_with_the_row_in_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let slow = [
        rep(800.0, 1250),
        rep(805.0, 1240),
        rep(795.0, 1260),
        rep(802.0, 1245),
        rep(798.0, 1255),
    ];
    let cur = write(dir.path(), "cur.json", &results(&slow));
    let md = dir.path().join("out/compare.md");
    let json = dir.path().join("out/compare.json");
    let code = compare(&[s(&base), s(&cur), "--markdown", s(&md), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::from(EXIT_REGRESSED));

    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("1 regressed"), "{md}");
    let row = md
        .lines()
        .find(|l| l.starts_with("| svc | plaintext | c=64 | 5/5 |"))
        .unwrap_or_else(|| panic!("no row for svc in\n{md}"));
    assert!(row.ends_with("| **regressed** |"), "{row}");
    assert!(row.contains("**-20.0% ["), "{row}");
    assert!(md.contains("Gate **failed**"), "{md}");

    let j = read_json(&json);
    assert_eq!(j["schema"], "claimbench-compare/2");
    assert_eq!(j["gate_failed"], true);
    assert_eq!(j["counts"]["regressed"], 1);
    let m = &j["measurements"][0];
    assert_eq!(m["target"], "svc");
    assert_eq!(m["verdict"], "regressed");
    let tp = &m["metrics"][0];
    assert_eq!(tp["metric"], "throughput");
    assert_eq!(tp["gated"], true);
    assert_eq!(tp["verdict"], "regressed");
    let high = tp["ratio"]["high"].as_f64().unwrap();
    assert!(high < 0.95, "{tp}");
    // Latency rose 25%, right on p99's default 25% threshold: its interval
    // straddles it, so p99 alone would be `noisy`; throughput decides.
    assert_eq!(m["metrics"][3]["metric"], "p99");
    assert_eq!(m["metrics"][3]["verdict"], "noisy");
}

#[test]
fn noise_within_the_threshold_is_unchanged_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let same = [
        rep(995.0, 1005),
        rep(1012.0, 995),
        rep(1001.0, 1000),
        rep(998.0, 1002),
        rep(1006.0, 998),
    ];
    let cur = write(dir.path(), "cur.json", &results(&same));
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let j = read_json(&json);
    assert_eq!(j["measurements"][0]["verdict"], "unchanged");
    assert_eq!(j["gate_failed"], false);
    assert_eq!(j["warnings"].as_array().unwrap().len(), 0, "{j}");
}

#[test]
fn a_faster_run_is_improved_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let fast = [
        rep(1300.0, 800),
        rep(1310.0, 790),
        rep(1290.0, 810),
        rep(1305.0, 795),
        rep(1295.0, 805),
    ];
    let cur = write(dir.path(), "cur.json", &results(&fast));
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(read_json(&json)["measurements"][0]["verdict"], "improved");
}

#[test]
fn a_straddling_interval_is_noisy_and_fails_only_with_fail_on_noisy() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let wobbly = [
        rep(700.0, 1000),
        rep(1000.0, 1000),
        rep(1200.0, 1000),
        rep(850.0, 1000),
        rep(1100.0, 1000),
    ];
    let cur = write(dir.path(), "cur.json", &results(&wobbly));
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(read_json(&json)["measurements"][0]["verdict"], "noisy");
    let code = compare(&[s(&base), s(&cur), "--fail-on-noisy"]).unwrap();
    assert_eq!(code, ExitCode::from(EXIT_REGRESSED));
}

/// One repetition a side has no interval: the gate is not decided (exit 2,
/// the point estimate shown but never deciding), unless --allow-ungated lets
/// it pass loudly.
#[test]
fn too_few_repetitions_are_not_gated() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&[rep(1000.0, 1000)]));
    let cur = write(dir.path(), "cur.json", &results(&[rep(700.0, 1000)]));
    let md = dir.path().join("c.md");
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--markdown", s(&md), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::from(claimbench::EXIT_INPUT_ERROR));
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("-30.0% (no interval)"), "{md}");
    assert!(
        md.contains("Gate **not decided (too few repetitions)**"),
        "{md}"
    );
    assert!(
        md.contains("### Not gated: too few repetitions (4 a side needed)"),
        "{md}"
    );
    let j = read_json(&json);
    let m = &j["measurements"][0];
    assert_eq!(m["metrics"][0]["ratio"]["has_interval"], false);
    assert_eq!(m["metrics"][0]["verdict"], serde_json::Value::Null);
    assert_eq!(m["verdict"], serde_json::Value::Null);
    assert_eq!(j["gate_failed"], false);
    assert_eq!(j["family"]["tests"], 2);
    assert_eq!(j["family"]["min_repetitions"], 4);
    assert_eq!(j["not_gated"].as_array().unwrap().len(), 2);
    let code = compare(&[s(&base), s(&cur), "--allow-ungated"]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    // Three a side are still too few for 2 tests at 95% together; four do.
    let three = write(dir.path(), "b3.json", &results(&base_reps()[..3]));
    let code = compare(&[s(&three), s(&three)]).unwrap();
    assert_eq!(code, ExitCode::from(claimbench::EXIT_INPUT_ERROR));
    let four = write(dir.path(), "b4.json", &results(&base_reps()[..4]));
    assert_eq!(compare(&[s(&four), s(&four)]).unwrap(), ExitCode::SUCCESS);
}

/// `--max-regression` per metric: throughput 3% down passes the default 5%
/// and fails at 2%; p99 keeps its own default.
#[test]
fn per_metric_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let down: Vec<Rep> = base_reps()
        .into_iter()
        .map(|r| Rep {
            throughput: r.throughput * 0.97,
            ..r
        })
        .collect();
    let cur = write(dir.path(), "cur.json", &results(&down));
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let j = read_json(&json);
    assert_eq!(j["settings"]["max_regression"]["throughput"], 5.0);
    assert_eq!(j["settings"]["max_regression"]["p99"], 25.0);
    assert_eq!(j["measurements"][0]["metrics"][0]["paired"], true);
    let code = compare(&[s(&base), s(&cur), "--max-regression", "throughput=2"]).unwrap();
    assert_eq!(code, ExitCode::from(EXIT_REGRESSED));
    let err = Cli::try_parse_from([
        "claimbench",
        "compare",
        s(&base),
        s(&cur),
        "--max-regression",
        "latency=5",
    ])
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown metric `latency`"),
        "{err}"
    );
}

/// Many measurements gate together: with 30 keys and 2 gated metrics each
/// (60 tests), each interval is at 1 - 0.05/60 and 5 repetitions a side are
/// needed; a few percent of round-to-round noise on every key then fails
/// nothing.
#[test]
fn a_whole_suite_is_gated_with_family_wise_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let side = |shift: f64| {
        let mut ms = Vec::new();
        for k in 0..30 {
            for (i, r) in base_reps().into_iter().enumerate() {
                // Each round's noise, a few percent either way.
                let wiggle = 1.0 + shift * (((k * 7 + i * 3) % 5) as f64 - 2.0) / 100.0;
                ms.push(measurement(
                    &format!("svc{k}"),
                    "plaintext",
                    64.0,
                    i as u32 + 1,
                    Rep {
                        throughput: r.throughput * wiggle,
                        ..r
                    },
                ));
            }
        }
        file_with(ms)
    };
    let base = write(dir.path(), "base.json", &side(0.0));
    let cur = write(dir.path(), "cur.json", &side(2.0));
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let j = read_json(&json);
    assert_eq!(j["family"]["method"], "bonferroni");
    assert_eq!(j["family"]["tests"], 60);
    assert_eq!(j["family"]["min_repetitions"], 5);
    let per = j["family"]["per_test_confidence"].as_f64().unwrap();
    assert!((per - (1.0 - 0.05 / 60.0)).abs() < 1e-12, "{per}");
}

#[test]
fn only_gated_metrics_decide() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    // Throughput steady, latency up 20% everywhere.
    let slow = [
        rep(1000.0, 1200),
        rep(1010.0, 1190),
        rep(990.0, 1210),
        rep(1005.0, 1195),
        rep(995.0, 1205),
    ];
    let cur = write(dir.path(), "cur.json", &results(&slow));
    let code = compare(&[s(&base), s(&cur), "--metrics", "throughput"]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let code = compare(&[s(&base), s(&cur), "--metrics", "throughput,p50"]).unwrap();
    assert_eq!(code, ExitCode::from(EXIT_REGRESSED));
    // p99.9 tolerates 40% by default; 20% is within it unless told otherwise.
    let code = compare(&[s(&base), s(&cur), "--metrics", "p99.9"]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let code = compare(&[
        s(&base),
        s(&cur),
        "--metrics",
        "p99.9",
        "--max-regression",
        "p99.9=10",
    ])
    .unwrap();
    assert_eq!(code, ExitCode::from(EXIT_REGRESSED));
}

#[test]
fn an_error_rate_increase_is_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let errs: Vec<Rep> = base_reps()
        .into_iter()
        .map(|r| Rep {
            error_rate: 0.02,
            ..r
        })
        .collect();
    let cur = write(dir.path(), "cur.json", &results(&errs));
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::from(EXIT_REGRESSED));
    let j = read_json(&json);
    let m = &j["measurements"][0];
    assert_eq!(m["error_rate"]["verdict"], "regressed");
    assert!(
        m["reasons"][0].as_str().unwrap().contains("error rate"),
        "{m}"
    );
    // A looser limit lets it pass.
    let code = compare(&[s(&base), s(&cur), "--max-error-increase", "3"]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
}

#[test]
fn measurements_in_one_file_only_and_excluded_repetitions_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = results(&base_reps());
    b.measurements
        .push(measurement("svc", "json", 64.0, 1, rep(500.0, 2000)));
    let mut c = results(&base_reps());
    c.measurements
        .push(measurement("svc", "plaintext", 256.0, 1, rep(900.0, 4000)));
    // A wildly slow repetition, excluded by the run: must not count.
    c.measurements.push(Measurement {
        excluded: Some("generator saturated".into()),
        repetition: 6,
        ..measurement("svc", "plaintext", 64.0, 6, rep(10.0, 100_000))
    });
    let base = write(dir.path(), "base.json", &b);
    let cur = write(dir.path(), "cur.json", &c);
    let md = dir.path().join("c.md");
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--markdown", s(&md), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let j = read_json(&json);
    assert_eq!(j["only_in_baseline"][0]["scenario"], "json");
    assert_eq!(j["only_in_current"][0]["level"]["value"], 256.0);
    assert_eq!(j["excluded"][0]["repetition"], 6);
    assert_eq!(j["excluded"][0]["side"], "current");
    assert_eq!(j["measurements"][0]["repetitions"]["current"], 6);
    assert_eq!(j["measurements"][0]["repetitions"]["current_valid"], 5);
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("### Only in the baseline"), "{md}");
    assert!(md.contains("svc / json / c=64 (1 repetition(s))"), "{md}");
    assert!(md.contains("### Only in the current run"), "{md}");
    assert!(
        md.contains("current repetition 6: generator saturated"),
        "{md}"
    );
}

#[test]
fn all_repetitions_excluded_on_one_side_is_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let mut c = results(&base_reps());
    for m in &mut c.measurements {
        m.excluded = Some("generator saturated".into());
    }
    let cur = write(dir.path(), "cur.json", &c);
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let j = read_json(&json);
    assert_eq!(j["measurements"][0]["verdict"], serde_json::Value::Null);
    assert_eq!(j["counts"]["not_compared"], 1);
}

#[test]
fn different_hardware_and_versions_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let mut c = results(&base_reps());
    c.host.cpu_model = "Other CPU".into();
    c.host.logical_cpus = 4;
    c.host.target_cpus = vec![1, 2, 3];
    c.targets[0].versions.insert("hyper".into(), "1.7.0".into());
    let cur = write(dir.path(), "cur.json", &c);
    let md = dir.path().join("c.md");
    let json = dir.path().join("c.json");
    let code = compare(&[s(&base), s(&cur), "--markdown", s(&md), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let warnings: Vec<String> = read_json(&json)["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(
        has("CPU model differs: baseline \"Test CPU @ 3.0GHz\", current \"Other CPU\""),
        "{warnings:?}"
    );
    assert!(
        has("logical CPU count differs: baseline 2, current 4"),
        "{warnings:?}"
    );
    assert!(has("target CPUs differs"), "{warnings:?}");
    assert!(
        has("svc: hyper version differs: baseline \"1.6.0\", current \"1.7.0\""),
        "{warnings:?}"
    );
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("### Warnings"), "{md}");
    assert!(md.contains("CPU model differs"), "{md}");
}

#[test]
fn a_different_http_client_is_warned_about() {
    // Results from before the client was recorded were all made with hyper's.
    let dir = tempfile::tempdir().unwrap();
    let mut old = serde_json::to_value(results(&base_reps())).unwrap();
    for m in old["measurements"].as_array_mut().unwrap() {
        m["load"]["options"]
            .as_object_mut()
            .unwrap()
            .remove("http_client");
    }
    let base = dir.path().join("base.json");
    std::fs::write(&base, serde_json::to_vec(&old).unwrap()).unwrap();
    let cur = write(dir.path(), "cur.json", &results(&base_reps()));
    let json = dir.path().join("c.json");
    compare(&[s(&base), s(&cur), "--json", s(&json)]).unwrap();
    let warnings = read_json(&json)["warnings"].to_string();
    assert!(
        warnings.contains("load options differ")
            && warnings.contains("client=Hyper")
            && warnings.contains("client=Lean"),
        "{warnings}"
    );
}

#[test]
fn a_run_directory_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("20260101T000000Z");
    write(&run_dir, io::RESULTS_FILE_NAME, &results(&base_reps()));
    let code = compare(&[s(&run_dir), s(&run_dir)]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let missing = dir.path().join("nope.json");
    let err = compare(&[s(&base), s(&missing)]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("nope.json"), "{msg}");
    assert!(msg.contains("current"), "{msg}");
    let err = compare(&[s(&missing), s(&base)]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("nope.json") && msg.contains("baseline"),
        "{msg}"
    );
}

#[test]
fn a_wrong_schema_version_is_an_error_naming_file_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let mut v = serde_json::to_value(results(&base_reps())).unwrap();
    v["schema_version"] = 99.into();
    let old = dir.path().join("old.json");
    std::fs::write(&old, serde_json::to_vec(&v).unwrap()).unwrap();
    let msg = format!("{:#}", compare(&[s(&base), s(&old)]).unwrap_err());
    assert!(msg.contains("old.json"), "{msg}");
    assert!(msg.contains("schema version 99"), "{msg}");
    assert!(
        msg.contains(&format!("reads version {SCHEMA_VERSION}")),
        "{msg}"
    );

    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, b"{\"measurements\": []}").unwrap();
    let msg = format!("{:#}", compare(&[s(&junk), s(&base)]).unwrap_err());
    assert!(
        msg.contains("junk.json") && msg.contains("not a claimbench results file"),
        "{msg}"
    );
}

#[test]
fn nothing_in_common_is_an_error_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let other = file_with(vec![measurement("other", "json", 16.0, 1, rep(10.0, 10))]);
    let cur = write(dir.path(), "cur.json", &other);
    let msg = format!("{:#}", compare(&[s(&base), s(&cur)]).unwrap_err());
    assert!(msg.contains("nothing to compare"), "{msg}");
    assert!(
        msg.contains("base.json") && msg.contains("cur.json"),
        "{msg}"
    );
    assert!(msg.contains("svc / plaintext / c=64"), "{msg}");
    assert!(msg.contains("other / json / c=16"), "{msg}");
    // An empty file has nothing in common with anything.
    let empty = write(dir.path(), "empty.json", &file_with(vec![]));
    let msg = format!("{:#}", compare(&[s(&empty), s(&base)]).unwrap_err());
    assert!(
        msg.contains("empty.json") && msg.contains("0 measurement(s)"),
        "{msg}"
    );
}

#[test]
fn bad_options_are_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    for (flag, value) in [
        ("--confidence", "1.5"),
        ("--confidence", "0"),
        ("--max-error-increase", "-1"),
    ] {
        let msg = format!(
            "{:#}",
            compare(&[s(&base), s(&base), flag, value]).unwrap_err()
        );
        assert!(msg.contains(flag), "{flag} {value}: {msg}");
    }
    // Thresholds are checked while the command line is read.
    for value in ["0", "-5", "NaN", "throughput=100", "p99="] {
        let err = Cli::try_parse_from([
            "claimbench",
            "compare",
            s(&base),
            s(&base),
            "--max-regression",
            value,
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("--max-regression"), "{value}: {err}");
    }
    assert!(Cli::try_parse_from(["claimbench", "compare", "a", "b", "--metrics", "p42"]).is_err());
}

#[test]
fn the_same_inputs_give_the_same_json() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.json", &results(&base_reps()));
    let cur = write(
        dir.path(),
        "cur.json",
        &results(&[
            rep(960.0, 1030),
            rep(1001.0, 1000),
            rep(940.0, 1080),
            rep(980.0, 1040),
            rep(1010.0, 990),
        ]),
    );
    let (j1, j2) = (dir.path().join("1.json"), dir.path().join("2.json"));
    compare(&[s(&base), s(&cur), "--json", s(&j1)]).unwrap();
    compare(&[s(&base), s(&cur), "--json", s(&j2)]).unwrap();
    assert_eq!(std::fs::read(&j1).unwrap(), std::fs::read(&j2).unwrap());
}

#[test]
fn several_files_per_side_are_merged_as_repetitions() {
    let dir = tempfile::tempdir().unwrap();
    let one = |name: &str, r: Rep| write(dir.path(), name, &results(&[r]));
    let base: Vec<PathBuf> = base_reps()
        .into_iter()
        .enumerate()
        .map(|(i, r)| one(&format!("b{i}.json"), r))
        .collect();
    let slow = [
        rep(800.0, 1250),
        rep(805.0, 1240),
        rep(795.0, 1260),
        rep(802.0, 1245),
        rep(798.0, 1255),
    ];
    let cur: Vec<PathBuf> = slow
        .into_iter()
        .enumerate()
        .map(|(i, r)| one(&format!("c{i}.json"), r))
        .collect();
    let join = |v: &[PathBuf]| {
        v.iter()
            .map(|p| s(p).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let json = dir.path().join("c.json");
    let code = compare(&[&join(&base), &join(&cur), "--json", s(&json)]).unwrap();
    assert_eq!(code, ExitCode::from(EXIT_REGRESSED));
    let j = read_json(&json);
    assert_eq!(j["baseline"]["paths"].as_array().unwrap().len(), 5);
    let m = &j["measurements"][0];
    assert_eq!(m["repetitions"]["baseline_valid"], 5);
    assert_eq!(m["repetitions"]["current_valid"], 5);
    // File i of each side is round i: paired.
    assert_eq!(m["metrics"][0]["paired"], true);
    assert_eq!(m["metrics"][0]["ratio"]["has_interval"], true);
    assert_eq!(m["verdict"], "regressed");
}

#[test]
fn exactly_two_sides_are_required() {
    assert!(Cli::try_parse_from(["claimbench", "compare", "a"]).is_err());
    assert!(Cli::try_parse_from(["claimbench", "compare", "a", "b", "c"]).is_err());
    let cli = Cli::try_parse_from(["claimbench", "compare", "a,b", "c"]).unwrap();
    let claimbench::cli::Command::Compare(args) = cli.command else {
        panic!("not compare")
    };
    assert_eq!(args.baseline.0.len(), 2);
    assert_eq!(args.current.0, vec![PathBuf::from("c")]);
    assert!(Cli::try_parse_from(["claimbench", "compare", "a,", "b"]).is_err());
}

#[test]
fn terminal_and_markdown_snapshots() {
    use claimbench::compare::{Settings, compare, matching::Input, render};
    let mut b = results(&base_reps());
    b.measurements
        .push(measurement("svc", "json", 64.0, 1, rep(500.0, 2000)));
    let slow = [
        rep(800.0, 1250),
        rep(805.0, 1240),
        rep(795.0, 1260),
        rep(802.0, 1245),
        rep(798.0, 1255),
    ];
    let mut c = results(&slow);
    c.host.cpu_model = "Other CPU".into();
    c.measurements
        .push(measurement("svc", "plaintext", 16.0, 1, rep(900.0, 4000)));
    let settings = Settings {
        max_regression: claimbench::compare::MaxRegression::parse("5").unwrap(),
        max_error_increase_pp: 1.0,
        confidence: 0.95,
        resamples: 10_000,
        seed: claimbench::compare::DEFAULT_SEED,
        gate: claimbench::compare::Metric::DEFAULT_GATE.to_vec(),
        fail_on_noisy: false,
        unpaired: false,
    };
    let report = compare(
        &Input::single(Path::new("base.json"), b),
        &Input::single(Path::new("cur.json"), c),
        &settings,
    )
    .unwrap();
    assert!(report.gate_failed);
    insta::assert_snapshot!("compare_terminal", render::terminal(&report));
    insta::assert_snapshot!("compare_markdown", render::markdown(&report));
}

/// Sensitivity and specificity against a real server: `claimbench bench`
/// measures an in-process hyper server whose `/sleep?ms=N` answers after N ms
/// (tokio sleep), then `compare` judges. Sides alternate (base, current, base,
/// ...) so machine drift hits both equally.
mod real_servers {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::time::Duration;

    use bytes::Bytes;
    use claimbench::Cli;
    use claimbench::results::io;
    use clap::Parser;
    use http::{Request, Response};
    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    /// A hyper HTTP/1.1 server on 127.0.0.1:0 with one endpoint,
    /// `/sleep?ms=N`, on its own thread and runtime; stopped on drop.
    struct SleepServer {
        addr: SocketAddr,
        shutdown: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl SleepServer {
        fn start() -> Self {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
            let thread = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    loop {
                        tokio::select! {
                            _ = &mut rx => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                tokio::spawn(async move {
                                    let _ = hyper::server::conn::http1::Builder::new()
                                        .serve_connection(TokioIo::new(stream), service_fn(sleep))
                                        .await;
                                });
                            }
                        }
                    }
                });
            });
            Self {
                addr,
                shutdown: Some(tx),
                thread: Some(thread),
            }
        }

        fn url(&self, ms: u64) -> String {
            format!("http://{}/sleep?ms={ms}", self.addr)
        }
    }

    impl Drop for SleepServer {
        fn drop(&mut self) {
            if let Some(tx) = self.shutdown.take() {
                let _ = tx.send(());
            }
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    async fn sleep(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let ms = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("ms="))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            .min(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
    }

    /// One short `claimbench bench` run (1 s, 4 connections, 1 thread).
    fn bench(url: &str, out: &Path) {
        let code = claimbench::run(Cli::parse_from([
            "claimbench",
            "bench",
            url,
            "-c",
            "4",
            "-d",
            "1s",
            "--warmup",
            "200ms",
            "-t",
            "1",
            "-q",
            "--json",
            out.to_str().unwrap(),
        ]))
        .expect("bench runs");
        assert_eq!(code, ExitCode::SUCCESS);
    }

    /// Repetitions per side. Six: the gate needs four a side for its two
    /// gated tests, and a run the generator could not keep up with (this
    /// machine is shared) is excluded, leaving the rest to decide.
    const REPS: usize = 6;

    /// The two tests measure one after the other, not at the same time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// `REPS` alternating bench runs per side; the current side's scenario is
    /// relabelled to the baseline's (bench names the scenario after the URL)
    /// so the two pair up. Returns compare's exit code and its JSON.
    fn measure_and_compare(dir: &Path, base_ms: u64, cur_ms: u64) -> (ExitCode, serde_json::Value) {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let server = SleepServer::start();
        let (mut base, mut cur): (Vec<PathBuf>, Vec<PathBuf>) = (vec![], vec![]);
        for rep in 1..=REPS {
            let b = dir.join(format!("base-{rep}.json"));
            let c = dir.join(format!("cur-{rep}.json"));
            bench(&server.url(base_ms), &b);
            bench(&server.url(cur_ms), &c);
            base.push(b);
            cur.push(c);
        }
        drop(server);
        let scenario = io::read(&base[0]).unwrap().measurements[0].scenario.clone();
        for c in &cur {
            let mut f = io::read(c).unwrap();
            assert_eq!(f.measurements.len(), 1);
            assert!(f.measurements[0].load.summary.ok > 100, "too few requests");
            f.measurements[0].scenario = scenario.clone();
            io::write(c, &f).unwrap();
        }
        let join = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let json = dir.join("compare.json");
        let code = claimbench::run(Cli::parse_from([
            "claimbench",
            "compare",
            "--quiet",
            &join(&base),
            &join(&cur),
            "--json",
            json.to_str().unwrap(),
        ]))
        .expect("compare runs");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        (code, v)
    }

    /// The verdict and each metric's medians and interval, for failure messages.
    fn brief(m: &serde_json::Value) -> String {
        let mut out = format!("verdict {} ({})\n", m["verdict"], m["reasons"]);
        for x in m["metrics"].as_array().unwrap() {
            out.push_str(&format!(
                "  {} base {} cur {} ratio {} [{}, {}] {}\n",
                x["metric"],
                x["baseline_median"],
                x["current_median"],
                x["ratio"]["ratio"],
                x["ratio"]["low"],
                x["ratio"]["high"],
                x["verdict"]
            ));
        }
        out
    }

    /// A slowdown the gate must catch even on a machine busy with the other
    /// tests: 10 to 14 ms a request is about 0.72 of the throughput. (10 to
    /// 12 ms, 0.83, once came out `noisy` in a full parallel test run, its
    /// interval's top at 0.951 against the 0.95 bound: with one core shared
    /// by the whole test suite, a 17% effect is too close to the noise for a
    /// test that must not flake. The gate's sensitivity on a quiet machine
    /// is measured in BENCHMARKS.md, not asserted here.)
    #[test]
    fn a_real_slowdown_from_10_to_14_ms_is_regressed() {
        let dir = tempfile::tempdir().unwrap();
        let (code, j) = measure_and_compare(dir.path(), 10, 14);
        let m = &j["measurements"][0];
        eprintln!("{}", brief(m));
        assert_eq!(m["verdict"], "regressed", "{}", brief(m));
        for side in ["baseline_valid", "current_valid"] {
            let n = m["repetitions"][side].as_u64().unwrap() as usize;
            assert!(n + 2 >= REPS, "{side}: {n} of {REPS}: {}", brief(m));
        }
        // About 10/14 of the throughput: the whole interval below -5%.
        let tp = &m["metrics"][0];
        assert_eq!(tp["verdict"], "regressed", "{}", brief(m));
        let (low, high) = (
            tp["ratio"]["low"].as_f64().unwrap(),
            tp["ratio"]["high"].as_f64().unwrap(),
        );
        assert!(low > 0.5 && high < 0.95, "{}", brief(m));
        assert_eq!(code, ExitCode::from(claimbench::EXIT_GATE_FAILED));
    }

    #[test]
    fn the_identical_configuration_twice_is_not_regressed() {
        let dir = tempfile::tempdir().unwrap();
        let (code, j) = measure_and_compare(dir.path(), 10, 10);
        let m = &j["measurements"][0];
        eprintln!("{}", brief(m));
        assert_ne!(m["verdict"], "regressed", "{}", brief(m));
        assert_eq!(code, ExitCode::SUCCESS, "{}", brief(m));
    }
}

#[test]
fn merged_files_that_differ_among_themselves_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let b1 = write(dir.path(), "b1.json", &results(&[rep(1000.0, 1000)]));
    let mut other = results(&[rep(1005.0, 1000)]);
    other.host.kernel = "6.9.0".into();
    let b2 = write(dir.path(), "b2.json", &other);
    let cur = write(dir.path(), "cur.json", &results(&base_reps()));
    let json = dir.path().join("c.json");
    let both = format!("{},{}", s(&b1), s(&b2));
    // Two baseline repetitions are too few to gate; this is about warnings.
    let code = compare(&[&both, s(&cur), "--json", s(&json), "--allow-ungated"]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let j = read_json(&json);
    let warnings = j["warnings"].to_string();
    assert!(warnings.contains("baseline files differ"), "{warnings}");
    assert!(warnings.contains("b2.json: kernel differs"), "{warnings}");
    assert_eq!(j["measurements"][0]["repetitions"]["baseline"], 2);
}
