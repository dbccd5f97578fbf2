//! Integration tests: `claimbench report` and the report module, on a fixed
//! synthetic results file built here (fixed seeds, fixed timestamps, real
//! HDR histograms) and committed under `tests/fixtures/report/`:
//! every chart is a valid SVG and PNG of the expected size with its series
//! names and provenance footer; `summary.md` is snapshot-tested; the CSV has
//! one row per measurement; `report.html` is opened in headless Chromium;
//! old, truncated and missing results files give clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use chrono::{DateTime, Duration, TimeZone, Utc};
use claimbench::Cli;
use claimbench::report::charts::{self, ChartKind};
use claimbench::report::data::Model;
use claimbench::report::style::{self, Colours};
use claimbench::results::schema::*;
use claimbench::results::{Latency, SCHEMA_VERSION};
use clap::Parser;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::support::repo_root;

// ---------------------------------------------------------------------------
// The synthetic results file.

const TARGETS: [(&str, &str, &str, f64, f64, f64); 3] = [
    // id, language, framework, capacity req/s, base RSS MB, RSS KB per connection
    ("node-express", "javascript", "express", 9000.0, 48.0, 3.0),
    ("python-fastapi", "python", "fastapi", 5200.0, 62.0, 6.0),
    ("python-django", "python", "django", 2100.0, 85.0, 45.0),
];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 7, 0, 0).unwrap()
}

fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.gen_range(1e-12..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A latency distribution around `mean_us` with a 1% slow tail.
fn latency(rng: &mut SmallRng, mean_us: f64, n: usize) -> Latency {
    let mut l = Latency::default();
    for _ in 0..n {
        let mut v = mean_us * (0.35 * normal(rng)).exp();
        if rng.gen_range(0.0..1.0) < 0.01 {
            v *= 4.0 + 6.0 * rng.gen_range(0.0..1.0);
        }
        l.record(v.max(1.0) as u64);
    }
    l
}

struct Shape {
    throughput: f64,
    mean_us: f64,
    cpu: f64,
    rss_mb: f64,
}

#[allow(clippy::too_many_arguments)]
fn measurement(
    rng: &mut SmallRng,
    target: &str,
    scenario: &str,
    level: Level,
    rep: u32,
    at: DateTime<Utc>,
    shape: Shape,
    idle: usize,
    excluded: Option<&str>,
) -> Measurement {
    let duration = 8.0;
    let noise = 1.0 + 0.03 * normal(rng);
    let throughput = shape.throughput * noise;
    let ok = (throughput * duration) as u64;
    let errors = if target == "python-django" && level.value >= 256.0 {
        ok / 500
    } else {
        0
    };
    let lat = latency(rng, shape.mean_us * (2.0 - noise), 1000);
    let ttfb = latency(rng, shape.mean_us * 0.9, 100);
    let mut timeline = Vec::new();
    for i in 0..8 {
        let jitter = 1.0 + 0.05 * normal(rng);
        let w = latency(rng, shape.mean_us * jitter, 25);
        let ok_w = (throughput * (1.0 + 0.04 * normal(rng))).max(0.0) as u64;
        timeline.push(Window {
            t_s: i as f64,
            len_s: 1.0,
            requests: ok_w + errors / 8,
            ok: ok_w,
            errors: errors / 8,
            p50_us: w.quantile_us(0.5),
            p99_us: w.quantile_us(0.99),
            max_us: w.max_seen_us,
            latency: w,
        });
    }
    let samples: Vec<ResourceSample> = (0..16)
        .map(|i| ResourceSample {
            t_ms: i * 500,
            cpu_percent: ((shape.cpu * (1.0 + 0.05 * normal(rng))).max(0.0) * 10.0).round() / 10.0,
            rss_bytes: ((shape.rss_mb * (0.97 + 0.003 * i as f64)) * 1e6) as u64,
            threads: 8,
            processes: 1,
        })
        .collect();
    let rss_peak = samples.iter().map(|s| s.rss_bytes).max().unwrap();
    let rss_mean = samples.iter().map(|s| s.rss_bytes).sum::<u64>() / samples.len() as u64;
    let cpu_mean = samples.iter().map(|s| s.cpu_percent).sum::<f64>() / samples.len() as f64;
    let cpu_peak = samples.iter().map(|s| s.cpu_percent).fold(0.0, f64::max);
    let open = level.model == LoadModelKind::Open;
    let connections = match level.model {
        LoadModelKind::Closed => level.value as usize,
        LoadModelKind::Open => 256,
    };
    let requests = ok + errors;
    let summary = Summary {
        requests,
        ok,
        errors,
        error_rate: errors as f64 / requests.max(1) as f64,
        not_started: 0,
        in_flight_at_end: 0,
        duration_s: duration,
        throughput_rps: ok as f64 / duration,
        requests_rps: requests as f64 / duration,
        bytes_read: ok * 20,
        latency: lat.percentiles(),
        service: open.then(|| lat.percentiles()),
        ttfb: ttfb.percentiles(),
        schedule_lag: None,
    };
    Measurement {
        target: target.into(),
        scenario: scenario.into(),
        level,
        repetition: rep,
        started_at: at,
        clean_state: "restarted".into(),
        load: LoadResult {
            options: LoadOptions {
                base_url: "http://127.0.0.1:18080".into(),
                templates: vec![TemplateOptions {
                    name: "GET /io/sleep".into(),
                    method: "GET".into(),
                    path: "/io/sleep?ms=20".into(),
                    weight: 1,
                    headers: vec![],
                    body_bytes: 0,
                    check: "status 200".into(),
                }],
                model: level.model,
                connections: if idle > 0 { 10 } else { connections },
                rate_rps: open.then_some(level.value),
                arrival: open.then_some(Arrival::Constant),
                duration_s: Some(duration),
                max_requests: None,
                warmup_s: 2.0,
                warmup_max_s: None,
                max_duration_s: None,
                timeout_ms: 10_000,
                threads: 1,
                pin_cpus: vec![0],
                keepalive: true,
                idle_connections: idle,
                preopen: false,
                http_client: HttpClient::Lean,
                protocol: Default::default(),
                streams: 1,
                tls: false,
            },
            summary,
            latency: lat.clone(),
            service: open.then(|| lat.clone()),
            ttfb,
            schedule_lag: None,
            chunk_gap: None,
            templates: vec![],
            errors: ErrorCounts {
                timeout: errors,
                ..Default::default()
            },
            status_codes: [("200".to_string(), ok)].into_iter().collect(),
            timeline,
            generator: GeneratorUsage {
                threads: 1,
                cpus: vec![0],
                cpu_s: 3.1,
                cpu_percent: if excluded.is_some() { 97.0 } else { 31.0 },
                max_rss_bytes: 20_000_000,
                saturated: excluded.is_some(),
                warnings: excluded.iter().map(|s| s.to_string()).collect(),
            },
            connections: ConnectionStats {
                opened: (connections + idle) as u64,
                reconnects: 0,
                idle_requested: idle,
                idle_held: idle,
                tls_handshake: None,
            },
            phases: None,
            little: None,
            warnings: vec![],
            started_wall: None,
            shard: None,
            merged: None,
        },
        resources: Some(ResourceUsage {
            interval_ms: 500,
            cpu_s: cpu_mean / 100.0 * duration,
            cpu_percent_mean: cpu_mean,
            cpu_percent_peak: cpu_peak,
            rss_mean_bytes: rss_mean,
            rss_peak_bytes: rss_peak,
            threads_peak: 8,
            processes_peak: 1,
            samples,
        }),
        excluded: excluded.map(str::to_string),
        host: None,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median of a metric over the included repetitions, and how many there were.
fn med_of(r: &ResultsFile, target: &str, scenario: &str, value: f64, metric: &str) -> (f64, usize) {
    let v: Vec<f64> = r
        .measurements
        .iter()
        .filter(|m| {
            m.target == target
                && m.scenario == scenario
                && m.level.value == value
                && m.excluded.is_none()
        })
        .map(|m| claimbench::report::data::metric(m, metric).unwrap())
        .collect();
    let n = v.len();
    (median(v), n)
}

#[allow(clippy::too_many_arguments)]
fn comparison(
    r: &ResultsFile,
    fav: &str,
    other: &str,
    scenario: &str,
    level: Level,
    metric: &str,
    higher_is_better: bool,
    result: PairResult,
) -> Comparison {
    let (f, nf) = med_of(r, fav, scenario, level.value, metric);
    let (o, no) = med_of(r, other, scenario, level.value, metric);
    let ratio = if higher_is_better { f / o } else { o / f };
    let (lo, hi) = match result {
        PairResult::NoDifference => ((ratio * 0.9).min(0.97), (ratio * 1.1).max(1.03)),
        _ => (ratio * 0.94, ratio * 1.06),
    };
    Comparison {
        favoured: fav.into(),
        other: other.into(),
        scenario: scenario.into(),
        level,
        metric: metric.into(),
        favoured_median: f,
        other_median: o,
        ratio,
        ci_low: lo,
        ci_high: hi,
        repetitions: (nf, no),
        result,
        failed: None,
    }
}

/// The fixed synthetic suite result the report tests draw.
pub fn synthetic() -> ResultsFile {
    let mut rng = SmallRng::seed_from_u64(20261128);
    let mut r = ResultsFile {
        order_seed: None,
        schema_version: SCHEMA_VERSION,
        kind: RunKind::Suite,
        run_id: "20261128T070000Z".into(),
        started_at: t0(),
        finished_at: Some(t0() + Duration::minutes(42)),
        complete: true,
        command_line: vec![
            "claimbench".into(),
            "run".into(),
            "--suite".into(),
            "claims".into(),
        ],
        tool: ToolInfo {
            name: "claimbench".into(),
            version: "0.1.0".into(),
            git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            git_dirty: Some(false),
        },
        host: HostInfo {
            hostname: "bench-host".into(),
            os: "linux x86_64".into(),
            kernel: "6.1.0-test".into(),
            cpu_model: "Test CPU Model 9000 @ 3.00GHz".into(),
            logical_cpus: 4,
            memory_bytes: 8_000_000_000,
            generator_cpus: vec![0],
            target_cpus: vec![1, 2],
            downstream_cpus: vec![3],
        },
        targets: TARGETS
            .iter()
            .map(|(id, lang, fw, ..)| TargetInfo {
                id: (*id).into(),
                language: (*lang).into(),
                framework: (*fw).into(),
                server: match *id {
                    "node-express" => "node cluster, 2 workers".into(),
                    "python-fastapi" => "uvicorn --workers 2".into(),
                    _ => "gunicorn --workers 5 (sync)".into(),
                },
                concurrency_model: if *id == "python-django" {
                    "sync"
                } else {
                    "async"
                }
                .into(),
                workers: Some(if *id == "python-django" { 5 } else { 2 }),
                cpus: vec![1, 2],
                versions: match *id {
                    "node-express" => [("node", "22.11.0"), ("express", "4.21.1")],
                    "python-fastapi" => [("python", "3.11.2"), ("fastapi", "0.115.5")],
                    _ => [("python", "3.11.2"), ("django", "5.1.3")],
                }
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                supervised: true,
                url: "http://127.0.0.1:18080".into(),
            })
            .collect(),
        measurements: vec![],
        skipped: vec![Skipped {
            target: "python-flask".into(),
            scenario: None,
            reason: "setup failed: pip could not reach the package index".into(),
        }],
        verdicts: vec![],
        duet: None,
    };
    let mut at = t0();
    let mut next = || {
        at += Duration::seconds(15);
        at
    };
    // Closed-loop I/O sweep.
    for c in [1.0f64, 16.0, 64.0, 256.0] {
        for (id, _, _, cap, rss, _) in TARGETS {
            for rep in 1..=3 {
                let base_us: f64 = 21_000.0;
                let throughput = (c / (base_us / 1e6)).min(cap);
                let excluded = (id == "python-django" && c == 256.0 && rep == 3)
                    .then_some("generator saturated: 97% CPU on its one thread");
                let m = measurement(
                    &mut rng,
                    id,
                    "io-sleep",
                    Level {
                        model: LoadModelKind::Closed,
                        value: c,
                    },
                    rep,
                    next(),
                    Shape {
                        throughput,
                        mean_us: c / throughput * 1e6,
                        cpu: 100.0 * throughput / cap * 1.6,
                        rss_mb: rss + c * 0.02,
                    },
                    0,
                    excluded,
                );
                r.measurements.push(m);
            }
        }
    }
    // Open-loop rate sweep on JSON.
    for rate in [500.0, 1000.0, 2000.0, 4000.0] {
        for (id, _, _, cap, rss, _) in TARGETS {
            for rep in 1..=3 {
                let u = rate / cap;
                let mean_us = if u < 0.95 {
                    900.0 / (1.0 - u)
                } else {
                    900.0 * 60.0 * u
                };
                let m = measurement(
                    &mut rng,
                    id,
                    "json-open",
                    Level {
                        model: LoadModelKind::Open,
                        value: rate,
                    },
                    rep,
                    next(),
                    Shape {
                        throughput: rate.min(cap),
                        mean_us,
                        cpu: 160.0 * u.min(1.0),
                        rss_mb: rss + 4.0,
                    },
                    0,
                    None,
                );
                r.measurements.push(m);
            }
        }
    }
    // Many idle connections.
    for conns in [100.0, 1000.0, 4000.0] {
        for (id, _, _, _, rss, per_conn_kb) in TARGETS {
            for rep in 1..=2 {
                let m = measurement(
                    &mut rng,
                    id,
                    "connections",
                    Level {
                        model: LoadModelKind::Closed,
                        value: conns,
                    },
                    rep,
                    next(),
                    Shape {
                        throughput: 450.0,
                        mean_us: 10_000.0 / 450.0 * 1e3,
                        cpu: 20.0,
                        rss_mb: rss + conns * per_conn_kb / 1000.0,
                    },
                    conns as usize - 10,
                    None,
                );
                r.measurements.push(m);
            }
        }
    }
    let closed = |v| Level {
        model: LoadModelKind::Closed,
        value: v,
    };
    let open = |v| Level {
        model: LoadModelKind::Open,
        value: v,
    };
    let io = vec![
        comparison(
            &r,
            "node-express",
            "python-fastapi",
            "io-sleep",
            closed(256.0),
            "throughput_rps",
            true,
            PairResult::FavouredBetter,
        ),
        comparison(
            &r,
            "node-express",
            "python-django",
            "io-sleep",
            closed(256.0),
            "throughput_rps",
            true,
            PairResult::FavouredBetter,
        ),
    ];
    let conns = vec![
        comparison(
            &r,
            "node-express",
            "python-fastapi",
            "connections",
            closed(4000.0),
            "rss_peak_bytes",
            false,
            PairResult::NoDifference,
        ),
        comparison(
            &r,
            "node-express",
            "python-django",
            "connections",
            closed(4000.0),
            "rss_peak_bytes",
            false,
            PairResult::FavouredBetter,
        ),
    ];
    let raw = vec![comparison(
        &r,
        "node-express",
        "python-fastapi",
        "json-open",
        open(1000.0),
        "p50_us",
        false,
        PairResult::NoDifference,
    )];
    r.verdicts = vec![
        Verdict {
            claim: "io-concurrency".into(),
            quote: "Node.js is often considered faster for handling concurrent requests due to its event-driven, non-blocking I/O model".into(),
            outcome: Outcome::Supported,
            answer: String::new(),
            summary: "Express served more I/O-bound requests per second than FastAPI and Django at 256 connections, beyond the run-to-run noise.".into(),
            metric: "throughput_rps".into(),
            comparisons: io,
            conditions: vec!["targets on CPUs 1-2, generator on CPU 0".into(), "node cluster 2 workers; uvicorn 2 workers; gunicorn 5 sync workers".into()],
            missing: vec![],
        },
        Verdict {
            claim: "many-connections".into(),
            quote: "Node.js excels in building scalable network applications ... handling many simultaneous connections".into(),
            outcome: Outcome::Mixed,
            answer: String::new(),
            summary: "With 4000 open connections Express used less memory than Django but not clearly less than FastAPI.".into(),
            metric: "rss_peak_bytes".into(),
            comparisons: conns,
            conditions: vec!["10 active + idle keep-alive connections".into()],
            missing: vec![],
        },
        Verdict {
            claim: "raw-speed".into(),
            quote: "Python | is generally slower in raw execution speed because it is an interpreted language".into(),
            outcome: Outcome::Inconclusive,
            answer: String::new(),
            summary: "The JSON p50 latency of Express and FastAPI at 1000 req/s is the same within the noise; the CPU-bound scenario was not measured.".into(),
            metric: "p50_us".into(),
            comparisons: raw,
            conditions: vec![],
            missing: vec!["cpu-fib: not in this suite".into()],
        },
    ];
    for v in &mut r.verdicts {
        v.answer = claimbench::analysis::verdict::answer(v);
    }
    r
}

// ---------------------------------------------------------------------------
// Helpers.

fn fixture_dir() -> PathBuf {
    repo_root().join("harness/tests/fixtures/report")
}

/// PNG width and height from the IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "PNG too short: {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

/// Checks that an SVG is a single well-nested `<svg>` element (tags balance).
fn check_svg(svg: &str, what: &str) {
    assert!(svg.starts_with("<svg "), "{what}: does not start with <svg");
    assert!(
        svg.trim_end().ends_with("</svg>"),
        "{what}: does not end with </svg>"
    );
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let j = after
            .find('>')
            .unwrap_or_else(|| panic!("{what}: unterminated tag"));
        let tag = &after[..j];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("{what}: stray </{name}>"));
            assert_eq!(open, name.trim(), "{what}: </{name}> closes <{open}>");
        } else if !tag.ends_with('/') && !tag.starts_with('!') && !tag.starts_with('?') {
            let name = tag.split_whitespace().next().unwrap_or("");
            stack.push(name);
        }
        assert!(!tag.contains('<'), "{what}: '<' inside a tag");
        rest = &after[j + 1..];
    }
    assert!(stack.is_empty(), "{what}: unclosed tags {stack:?}");
    assert!(
        !svg.contains("<text"),
        "{what}: text must be glyph outlines, not <text>"
    );
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// The reports of `synthetic()`, drawn once per test run into
/// `target/tmp/report-synthetic/` (kept for a human look after the tests).
fn shared_report() -> &'static claimbench::report::ReportFiles {
    static FILES: std::sync::OnceLock<claimbench::report::ReportFiles> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        // Not cleared first: another test process may be reading it. Text
        // reports are written atomically and stale charts are removed by
        // write_all itself.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-synthetic");
        claimbench::report::write_all(&synthetic(), &dir).unwrap()
    })
}

fn report_cli(args: &[&str]) -> anyhow::Result<ExitCode> {
    let mut v = vec!["claimbench", "report"];
    v.extend_from_slice(args);
    claimbench::run(Cli::parse_from(v))
}

// ---------------------------------------------------------------------------
// Tests.

/// The committed fixture is what `synthetic()` builds; set
/// CLAIMBENCH_UPDATE_FIXTURES=1 to rewrite it (and the old/truncated copies).
#[test]
fn fixture_is_current() {
    let json = serde_json::to_string(&synthetic()).unwrap();
    let dir = fixture_dir();
    let path = dir.join("results.json");
    if std::env::var_os("CLAIMBENCH_UPDATE_FIXTURES").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, &json).unwrap();
        // An older file: only the head matters, the version is checked first.
        let old =
            "{\"schema_version\": 0, \"kind\": \"suite\", \"run_id\": \"20251001T000000Z\"}\n";
        std::fs::write(dir.join("old-schema.json"), old).unwrap();
        std::fs::write(dir.join("truncated.json"), &json.as_bytes()[..4096]).unwrap();
    }
    let committed = String::from_utf8(read(&path)).unwrap();
    assert!(
        committed == json,
        "{} is stale: rerun with CLAIMBENCH_UPDATE_FIXTURES=1",
        path.display()
    );
    // And it reads back through the one reader.
    claimbench::results::io::read(&path).unwrap();
}

/// The fixture, which has every kind of field (resource samples included),
/// matches the committed JSON Schema.
#[test]
fn fixture_matches_the_committed_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("results/schema.json")).unwrap(),
    )
    .unwrap();
    let compiled = jsonschema::JSONSchema::compile(&schema).expect("committed schema compiles");
    let instance: serde_json::Value = serde_json::from_str(
        &String::from_utf8(read(&fixture_dir().join("results.json"))).unwrap(),
    )
    .unwrap();
    if let Err(errors) = compiled.validate(&instance) {
        let msgs: Vec<String> = errors
            .map(|e| format!("{} at {}", e, e.instance_path))
            .take(10)
            .collect();
        panic!("the fixture does not match results/schema.json: {msgs:#?}");
    };
}

#[test]
fn every_chart_kind_is_a_valid_svg_and_png_with_names_and_footer() {
    let r = synthetic();
    let model = Model::new(&r);
    let colours = Colours::new(model.targets.iter().copied());
    let dir = tempfile::tempdir().unwrap();
    let w = style::SIZE.0;
    let mut drawn: Vec<(PathBuf, (u32, u32), Vec<String>)> = Vec::new();

    let d = charts::throughput_vs_concurrency::data(&model, &colours, "io-sleep", w).unwrap();
    let stem = dir.path().join("throughput");
    charts::throughput_vs_concurrency::draw(&d, &stem, style::SIZE).unwrap();
    drawn.push((
        stem,
        style::SIZE,
        d.series.iter().map(|s| s.name.clone()).collect(),
    ));

    let lvl = Level {
        model: LoadModelKind::Closed,
        value: 256.0,
    };
    let d = charts::latency_spectrum::data(&model, &colours, "io-sleep", &lvl, w).unwrap();
    let stem = dir.path().join("spectrum");
    charts::latency_spectrum::draw(&d, &stem, style::SIZE).unwrap();
    let mut names: Vec<String> = d.lines.iter().map(|s| s.name.clone()).collect();
    names.extend(["99.99%".to_string(), "99.9%".into(), "50%".into()]);
    drawn.push((stem, style::SIZE, names));

    let d = charts::latency_vs_rate::data(&model, &colours, "json-open", w).unwrap();
    let stem = dir.path().join("rate");
    charts::latency_vs_rate::draw(&d, &stem, style::SIZE).unwrap();
    drawn.push((
        stem,
        style::SIZE,
        d.series.iter().map(|s| s.name.clone()).collect(),
    ));

    let d = charts::memory_vs_connections::data(&model, &colours, "connections", w).unwrap();
    let stem = dir.path().join("memory");
    charts::memory_vs_connections::draw(&d, &stem, style::SIZE).unwrap();
    drawn.push((
        stem,
        style::SIZE,
        d.series.iter().map(|s| s.name.clone()).collect(),
    ));

    let g = model.group("python-django", "io-sleep", &lvl).unwrap();
    let (d, rep) = charts::timeline::data(&r, &colours, g, w).unwrap();
    assert_ne!(
        rep, 3,
        "the excluded repetition is not the representative one"
    );
    let stem = dir.path().join("timeline");
    charts::timeline::draw(&d, &stem, style::TIMELINE_SIZE).unwrap();
    drawn.push((
        stem,
        style::TIMELINE_SIZE,
        vec![
            "python-django ok req/s".into(),
            "p99".into(),
            "RSS MB (right axis)".into(),
        ],
    ));

    let d = charts::claim::data(&model, &colours, &r.verdicts[0], w);
    assert!(d.title.contains("SUPPORTED"), "{}", d.title);
    let size = charts::claim::size_for(&d, w);
    let stem = dir.path().join("claim");
    charts::claim::draw(&d, &stem, size).unwrap();
    drawn.push((
        stem,
        size,
        vec![
            "Claim io-concurrency: SUPPORTED".into(),
            "node-express vs python-django · throughput".into(),
        ],
    ));

    for (stem, size, names) in drawn {
        let what = stem.display().to_string();
        let svg = String::from_utf8(read(&stem.with_extension("svg"))).unwrap();
        check_svg(&svg, &what);
        assert!(
            svg.contains(&format!("width=\"{}\" height=\"{}\"", size.0, size.1)),
            "{what}: SVG size"
        );
        for n in names {
            assert!(
                svg.contains(&format!("aria-label=\"{n}\"")),
                "{what}: series/label {n:?} missing"
            );
        }
        // Provenance footer: date, run id, harness version + commit, CPU and split, versions.
        for f in [
            "2026-11-28 07:00 UTC · run 20261128T070000Z",
            "claimbench 0.1.0 (0123456789)",
            "Test CPU Model 9000 @ 3.00GHz (4 CPUs), generator CPUs 0 / target CPUs 1-2",
        ] {
            assert!(svg.contains(f), "{what}: footer text {f:?} missing");
        }
        assert!(
            svg.contains("python 3.11.2") || svg.contains("node 22.11.0"),
            "{what}: versions missing from footer"
        );
        let png = read(&stem.with_extension("png"));
        assert_eq!(png_size(&png), size, "{what}: PNG size");
    }
}

#[test]
fn write_all_writes_every_report_and_chart() {
    let r = synthetic();
    let dir = tempfile::tempdir().unwrap();
    let files = claimbench::report::write_all(&r, dir.path()).unwrap();
    let stems: Vec<&str> = files.charts.iter().map(|c| c.stem.as_str()).collect();
    for s in [
        "claim-io-concurrency",
        "claim-many-connections",
        "claim-raw-speed",
        "throughput-io-sleep",
        "latency-spectrum-io-sleep-c256",
        "latency-vs-rate-json-open",
        "latency-spectrum-json-open-r4000",
        "memory-connections",
        "timeline-io-sleep-node-express-c256",
    ] {
        assert!(stems.contains(&s), "chart {s} missing from {stems:?}");
    }
    // One timeline per target and scenario (at the highest level), not per measurement.
    let timelines = files
        .charts
        .iter()
        .filter(|c| c.kind == ChartKind::Timeline)
        .count();
    assert_eq!(timelines, 9);
    for c in &files.charts {
        assert!(c.svg.is_file() && c.png.is_file(), "{} not written", c.stem);
        assert!(
            c.caption.ends_with('.') && c.caption.len() > 40,
            "caption of {}",
            c.stem
        );
    }
    assert!(files.summary_md.is_file());
    assert!(files.report_html.is_file());

    // CSV: header with units, one row per measurement, excluded shown with its reason.
    let csv = String::from_utf8(read(&files.results_csv)).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), r.measurements.len() + 1);
    assert!(lines[0].starts_with("run_id,target,scenario,model,level,repetition,excluded_reason"));
    for col in [
        "throughput_rps",
        "latency_p99_ms",
        "target_cpu_percent_mean",
        "target_rss_peak_mb",
    ] {
        assert!(lines[0].split(',').any(|c| c == col), "column {col}");
    }
    let excluded: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("generator saturated"))
        .collect();
    assert_eq!(excluded.len(), 1);
    assert!(excluded[0].starts_with("20261128T070000Z,python-django,io-sleep,closed,256,3,"));
    let n_cols = lines[0].split(',').count();
    assert!(
        lines.iter().all(|l| l.split(',').count() == n_cols),
        "ragged CSV"
    );

    // Drawing again gives the same files (the report is a pure function),
    // and a chart the new results no longer have is removed.
    let first_svg = std::fs::read_to_string(&files.charts[0].svg).unwrap();
    let stale = dir.path().join("charts/timeline-io-sleep-gone-c1.png");
    let keep = dir.path().join("charts/notes.txt");
    std::fs::write(&stale, b"old").unwrap();
    std::fs::write(&keep, b"mine").unwrap();
    let again = claimbench::report::write_all(&r, dir.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&again.charts[0].svg).unwrap(),
        first_svg
    );
    assert!(!stale.exists(), "stale chart left behind");
    assert!(keep.exists(), "a file that is not a chart was removed");
}

#[test]
fn summary_md_snapshot() {
    let files = shared_report();
    let md = std::fs::read_to_string(&files.summary_md).unwrap();
    // Every chart is linked with its caption.
    for c in &files.charts {
        assert!(
            md.contains(&format!("charts/{}.png", c.stem)),
            "{} not linked",
            c.stem
        );
    }
    insta::assert_snapshot!(md);
}

#[test]
fn report_command_redraws_from_a_directory_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture_dir().join("results.json"),
        dir.path().join("results.json"),
    )
    .unwrap();
    let code = report_cli(&[dir.path().to_str().unwrap()]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(dir.path().join("report.html").is_file());
    assert!(dir.path().join("charts/throughput-io-sleep.svg").is_file());

    let out = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.json");
    report_cli(&[
        file.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ])
    .unwrap();
    assert!(out.path().join("summary.md").is_file());
    assert!(out.path().join("results.csv").is_file());
}

#[test]
fn old_schema_version_fails_naming_the_version() {
    let e = report_cli(&[fixture_dir().join("old-schema.json").to_str().unwrap()]).unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("schema version 0"), "{msg}");
    assert!(
        msg.contains(&format!("reads version {SCHEMA_VERSION}")),
        "{msg}"
    );
    assert!(msg.contains("old-schema.json"), "{msg}");
}

#[test]
fn truncated_or_missing_results_fail_clearly() {
    let e = report_cli(&[fixture_dir().join("truncated.json").to_str().unwrap()]).unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("truncated.json"), "{msg}");
    assert!(
        msg.contains("not valid JSON (truncated or corrupt?)"),
        "{msg}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("results.json"),
        "{\"schema_version\": 1, \"kind\": 7}",
    )
    .unwrap();
    let msg = format!(
        "{:#}",
        report_cli(&[dir.path().to_str().unwrap()]).unwrap_err()
    );
    assert!(msg.contains("does not match schema version"), "{msg}");

    let missing = dir.path().join("nope");
    let msg = format!(
        "{:#}",
        report_cli(&[missing.to_str().unwrap()]).unwrap_err()
    );
    assert!(
        msg.contains("cannot read results") && msg.contains("nope"),
        "{msg}"
    );
}

#[test]
fn claim_chart_handles_within_stack_comparisons_and_slope_metrics() {
    let r = synthetic();
    let model = Model::new(&r);
    let colours = Colours::new(model.targets.iter().copied());
    let lvl = Level {
        model: LoadModelKind::Closed,
        value: 256.0,
    };
    // A claim about an effect inside one stack: the other side is the same
    // target in a baseline scenario, recorded as `<target>@<scenario>`.
    let mut v = r.verdicts[0].clone();
    v.claim = "event-loop-blocking".into();
    v.outcome = Outcome::Refuted;
    v.metric = "rss_per_connection_bytes".into();
    for c in &mut v.comparisons {
        c.other = format!("{}@connections", c.favoured);
        c.metric = "rss_per_connection_bytes".into();
        c.level = lvl;
    }
    let d = charts::claim::data(&model, &colours, &v, style::SIZE.0);
    assert!(d.title.contains("REFUTED"));
    assert_eq!(d.metric_panels.len(), 1);
    assert_eq!(d.metric_panels[0].desc, "RSS per open connection (KB)");
    // The slope is not a per-measurement value: the verdict's medians are shown.
    assert!(
        d.metric_panels[0].rows.iter().all(|row| row.stat.n == 0),
        "{:?}",
        d.metric_panels[0].rows
    );
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("within");
    let size = charts::claim::size_for(&d, style::SIZE.0);
    charts::claim::draw(&d, &stem, size).unwrap();
    let svg = String::from_utf8(read(&stem.with_extension("svg"))).unwrap();
    check_svg(&svg, "within");
    assert!(svg.contains(
        "aria-label=\"node-express vs node-express@connections · RSS per open connection\""
    ));
    assert_eq!(png_size(&read(&stem.with_extension("png"))), size);
}

#[test]
fn verdict_without_comparisons_gets_its_sentence_and_no_chart() {
    let mut r = synthetic();
    r.verdicts.push(Verdict {
        claim: "asyncio-helps".into(),
        quote: "asynchronous programming (asyncio)".into(),
        outcome: Outcome::Inconclusive,
        answer: String::new(),
        summary: "No comparison could be made: python-django:asgi was not measured.".into(),
        metric: "throughput_rps".into(),
        comparisons: vec![],
        conditions: vec![],
        missing: vec!["python-django:asgi: not measured".into()],
    });
    r.measurements.truncate(12);
    let dir = tempfile::tempdir().unwrap();
    let files = claimbench::report::write_all(&r, dir.path()).unwrap();
    assert!(!files.charts.iter().any(|c| c.stem == "claim-asyncio-helps"));
    let md = std::fs::read_to_string(&files.summary_md).unwrap();
    assert!(md.contains("| asyncio-helps | INCONCLUSIVE |"), "{md}");
    assert!(md.contains("No comparison could be made: python-django:asgi was not measured."));
}

#[test]
fn bench_results_and_empty_results_still_report() {
    // A `bench` file: one measurement of an unsupervised URL, no targets, no verdicts.
    let mut r = synthetic();
    r.kind = RunKind::Bench;
    r.targets.clear();
    r.verdicts.clear();
    r.skipped.clear();
    r.measurements.truncate(1);
    r.measurements[0].resources = None;
    let dir = tempfile::tempdir().unwrap();
    let files = claimbench::report::write_all(&r, dir.path()).unwrap();
    let kinds: Vec<ChartKind> = files.charts.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&ChartKind::Throughput));
    assert!(kinds.contains(&ChartKind::LatencySpectrum));
    assert!(kinds.contains(&ChartKind::Timeline));
    let md = std::fs::read_to_string(&files.summary_md).unwrap();
    assert!(md.contains("No claim verdicts"), "{md}");

    // Degenerate numbers: nothing succeeded, empty histograms and timeline,
    // a zero level, a huge level. Reports, no panic.
    let mut odd = r.measurements[0].clone();
    odd.load.summary.throughput_rps = 0.0;
    odd.load.summary.ok = 0;
    odd.load.latency = Latency::default();
    odd.load.timeline.clear();
    odd.level.value = 0.0;
    let mut huge = odd.clone();
    huge.level.value = 1e15;
    huge.repetition = 2;
    r.measurements.push(odd);
    r.measurements.push(huge);
    let dir = tempfile::tempdir().unwrap();
    claimbench::report::write_all(&r, dir.path()).unwrap();

    // No measurements at all (an interrupted run): reports, no charts, no panic.
    r.measurements.clear();
    r.complete = false;
    let dir = tempfile::tempdir().unwrap();
    let files = claimbench::report::write_all(&r, dir.path()).unwrap();
    assert!(files.charts.is_empty());
    let html = std::fs::read_to_string(&files.report_html).unwrap();
    assert!(html.contains("Incomplete run"));
    let csv = std::fs::read_to_string(&files.results_csv).unwrap();
    assert_eq!(csv.lines().count(), 1);
}

/// Runs a command to completion, killing it (and failing the test) if it
/// takes longer than `limit`: a hung browser must not hang the test suite.
fn output_within(cmd: &mut Command, limit: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("chromium starts");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    }
}

/// Every `src=` / `href=` in the page points inside it (`#...`) or at a
/// file of the run directory; there are no scripts, images, frames or links
/// to fetch.
fn assert_self_contained(html: &str) {
    for bad in [
        "<script", "<img", "<link", "<iframe", "<object", "<embed", "url(", "@import",
    ] {
        assert!(!html.contains(bad), "report.html contains {bad}");
    }
    for attr in [" src=\"", " href=\"", "xlink:href=\""] {
        for (i, _) in html.match_indices(attr) {
            let v = &html[i + attr.len()..];
            let v = &v[..v.find('"').unwrap()];
            let local = v.starts_with('#')
                || v.starts_with("charts/")
                || v == "results.csv"
                || v == "results.json";
            assert!(local, "report.html references {v:?}");
        }
    }
}

/// The first Chromium on PATH; the report tests need one.
fn chromium() -> &'static str {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| {
            panic!("headless Chromium is needed for this test: run scripts/install-deps.sh")
        })
}

/// Opens `page` in headless Chromium (a fresh profile, no host resolves) with
/// `extra` arguments and returns its output; fails the test if the browser
/// fails or hangs.
fn run_chromium(page: &Path, extra: &[String]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        // Any host name fails to resolve: nothing leaves the machine.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend_from_slice(extra);
    args.push(format!("file://{}", page.display()));
    let out = output_within(
        Command::new(chromium()).args(args),
        std::time::Duration::from_secs(90),
    );
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Everything `page` tried to load or complained about when Chromium opened
/// it: the URL requests the page initiated, and every console message (a CSP
/// violation, a failed load, an uncaught error). The browser's own traffic
/// (component updates, time sync, accounts) is told apart by its initiator,
/// not by host: NetLog gives a request the page started the page's origin as
/// `initiator` (`"null"` for a file), and a request the browser started
/// itself has none (`"not an origin"`). Returns the page's DOM too.
fn page_loads(page: &Path) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let netlog = dir.path().join("netlog.json");
    let out = run_chromium(
        page,
        &[
            "--dump-dom".into(),
            format!("--log-net-log={}", netlog.display()),
        ],
    );
    let log: serde_json::Value = serde_json::from_slice(&read(&netlog))
        .unwrap_or_else(|e| panic!("chromium's NetLog is not JSON: {e}"));
    let mut problems = Vec::new();
    for event in log["events"].as_array().expect("NetLog has events") {
        let params = &event["params"];
        let (Some(url), Some(initiator)) = (params["url"].as_str(), params["initiator"].as_str())
        else {
            continue;
        };
        if initiator != "not an origin" && !url.starts_with("file://") {
            problems.push(format!("request {url} (initiator {initiator})"));
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        if line.contains(":CONSOLE") || line.contains("Uncaught") || line.contains("net::ERR") {
            problems.push(format!("console: {line}"));
        }
    }
    (problems, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The browser check can fail: a report that references one remote image is
/// caught, with the page's Content-Security-Policy (a CSP violation on the
/// console) and without it (a request the page initiated, in the NetLog).
#[test]
fn browser_check_catches_a_report_that_fetches() {
    let html = std::fs::read_to_string(&shared_report().report_html).unwrap();
    let csp = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        claimbench::report::html::CSP
    );
    assert!(html.contains(&csp), "report.html lacks its CSP");
    let img = "<img src=\"http://claimbench-fixture.invalid/pixel.png\" alt=\"\"></body>";
    let dir = tempfile::tempdir().unwrap();
    for (name, fixture) in [
        ("with-csp.html", html.replace("</body>", img)),
        (
            "without-csp.html",
            html.replace(&csp, "").replace("</body>", img),
        ),
    ] {
        let page = dir.path().join(name);
        std::fs::write(&page, fixture).unwrap();
        let (problems, _) = page_loads(&page);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("claimbench-fixture.invalid")),
            "{name}: the remote image went unnoticed: {problems:?}"
        );
    }
}

#[test]
fn report_html_is_self_contained_and_renders_in_headless_chromium() {
    let files = shared_report();
    let dir = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(&files.report_html).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("<meta name=\"viewport\""));
    // Verdicts come first, then claims, scenarios and the environment.
    let pos = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(pos("id=\"verdict-table\"") < pos("id=\"claims\""));
    assert!(pos("id=\"claims\"") < pos("id=\"scenarios\""));
    assert!(pos("id=\"scenarios\"") < pos("id=\"environment\""));
    // Every chart inline, described by its one-sentence caption.
    for c in &files.charts {
        assert!(html.contains(&format!("<figure id=\"fig-{}\">", c.stem)));
        assert!(html.contains(&format!("aria-describedby=\"cap-{}\"", c.stem)));
        assert!(html.contains(&format!("<figcaption id=\"cap-{}\">", c.stem)));
    }
    assert_eq!(
        html.matches("<svg xmlns").count(),
        files.charts.len(),
        "one inline SVG per chart"
    );

    // A fetch the static check missed would show as a request the page
    // initiated, or as a CSP violation on the console.
    let (problems, dom_text) = page_loads(&files.report_html);
    assert!(problems.is_empty(), "report.html loaded: {problems:?}");
    assert!(
        dom_text.contains("id=\"verdict-table\""),
        "DOM lacks the verdict table"
    );
    assert!(dom_text.contains("io-concurrency") && dom_text.contains("SUPPORTED"));

    let shot = dir.path().join("screenshot.png");
    run_chromium(
        &files.report_html,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
            "--hide-scrollbars".into(),
        ],
    );
    let png = read(&shot);
    assert_eq!(png_size(&png), (1280, 2000));
    // A blank page of this size compresses to about 10 KB; the rendered
    // report (text, verdict badges, charts) to several hundred.
    assert!(
        png.len() > 100_000,
        "screenshot looks blank ({} bytes)",
        png.len()
    );
    // Keep a copy for a human look when asked.
    if let Some(keep) = std::env::var_os("CLAIMBENCH_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let phone = dir.path().join("phone.png");
    run_chromium(
        &files.report_html,
        &[
            format!("--screenshot={}", phone.display()),
            "--window-size=390,1600".into(),
            "--hide-scrollbars".into(),
        ],
    );
    let phone_png = read(&phone);
    assert_eq!(png_size(&phone_png), (390, 1600));
    assert!(
        phone_png.len() > 30_000,
        "phone screenshot looks blank ({} bytes)",
        phone_png.len()
    );
    if let Some(keep) = std::env::var_os("CLAIMBENCH_KEEP_PHONE_SCREENSHOT") {
        std::fs::copy(&phone, keep).unwrap();
    }
}
