//! Integration tests: scenario, suite and claims files (the shipped ones and
//! each kind of bad file), and `claimbench run` end to end over two real
//! targets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

use claimbench::results::schema::{Outcome, ResultsFile};
use claimbench::scenario::{self, ScenarioError};
use claimbench::target;

use crate::support::repo_root;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suite")
}

/// A target check backed by the real `targets/` folder.
fn known_targets() -> impl Fn(&str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let manifests = target::discover(&repo_root().join("targets")).expect("targets/ reads");
    move |id: &str| {
        let tid: target::TargetId = id.parse()?;
        target::find(&manifests, &tid)?;
        Ok(())
    }
}

#[test]
fn shipped_scenarios_suites_and_claims_parse() {
    let dir = repo_root().join("scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") && p.file_name().unwrap() != "claims.toml" {
            let s = scenario::load_scenario(&p).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                p.file_stem().unwrap().to_str().unwrap(),
                s.name,
                "file name and scenario name agree"
            );
            names.push(s.name);
        }
    }
    for required in [
        "plaintext",
        "json",
        "json-echo",
        "io-sleep",
        "io-downstream",
        "cpu-fib",
        "cpu-hash",
        "cpu-sha256",
        "cpu-matmul",
        "mixed",
        "io-paced",
        "connections",
        "stream",
        "workers",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "scenario {required} is shipped"
        );
    }
    let check = known_targets();
    for suite in ["default", "quick", "full", "gate"] {
        let s = scenario::load_suite(&dir.join(format!("suites/{suite}.toml")), &check)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.entries.is_empty());
        assert!(s.claims_file.is_some(), "{suite} finds claims.toml");
    }
    // The quick suite is one repetition a scenario, except cpu-fib, whose
    // repetitions give raw-speed an interval, so CI exercises a decision.
    let quick = scenario::load_suite(&dir.join("suites/quick.toml"), &check).unwrap();
    for e in &quick.entries {
        let reps = if e.scenario.name == "cpu-fib" { 3 } else { 1 };
        assert_eq!(e.scenario.repetitions, reps, "{}", e.scenario.name);
    }
    let claims = scenario::load_claims(&dir.join("claims.toml")).unwrap();
    let ids: Vec<&str> = claims.claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "io-concurrency",
            "raw-speed",
            "python-cpu-pure",
            "python-cpu-stdlib",
            "python-cpu-numpy",
            "asyncio-helps",
            "many-connections",
            "real-time",
            "api-heavy",
            "python-scales",
            "event-loop-blocking",
            "client-matters"
        ]
    );
    // Every claim names scenarios that exist.
    for c in &claims.claims {
        for s in &c.scenarios {
            assert!(
                names.contains(s),
                "claim {} names unknown scenario {s}",
                c.id
            );
        }
    }
}

/// Writes `files` into a fresh temp dir and returns it.
fn temp_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).unwrap();
    }
    d
}

const SCENARIO: &str = r#"name = "s"
description = "a scenario"
thresholds = ["p99 < 50ms"]

[load]
model = "closed"
concurrency = [1, 4]

[[request]]
path = "/plaintext"
expect = { equals = "Hello, World!" }
"#;

fn scenario_error(text: &str) -> String {
    let d = temp_with(&[("s.toml", text)]);
    let e = scenario::load_scenario(&d.path().join("s.toml")).unwrap_err();
    assert!(matches!(e, ScenarioError::Invalid { .. }), "{e:?}");
    e.to_string()
}

#[test]
fn bad_scenarios_name_file_line_and_key() {
    // Unknown key.
    let e = scenario_error(
        &SCENARIO.replace("concurrency = [1, 4]", "concurrency = [1, 4]\nthreads = 2"),
    );
    assert!(
        e.contains("s.toml: line 8, key `load.threads`: unknown field `threads`"),
        "{e}"
    );
    // Wrong type.
    let e = scenario_error(&SCENARIO.replace("concurrency = [1, 4]", "concurrency = \"many\""));
    assert!(e.contains("line 7, key `load.concurrency`"), "{e}");
    // Bad threshold.
    let e = scenario_error(&SCENARIO.replace("p99 < 50ms", "p99 < 50 parsecs"));
    assert!(
        e.contains("line 3, key `thresholds`") && e.contains("unit"),
        "{e}"
    );
    // Missing body file.
    let e = scenario_error(&SCENARIO.replace(
        "path = \"/plaintext\"",
        "path = \"/json/echo\"\nbody_file = \"data/missing.json\"",
    ));
    assert!(e.contains("line 11, key `request.body_file`"), "{e}");
    assert!(
        e.contains("cannot read body file") && e.contains("missing.json"),
        "{e}"
    );
    // Two body checks.
    let e = scenario_error(&SCENARIO.replace(
        "equals = \"Hello, World!\"",
        "equals = \"x\", contains = \"y\"",
    ));
    assert!(
        e.contains("at most one of json, contains, equals, sse_events"),
        "{e}"
    );
    // Closed loop with rates.
    let e = scenario_error(&SCENARIO.replace("concurrency = [1, 4]", "rates = [10]"));
    assert!(
        e.contains("key `load.rates`") && e.contains("closed loop takes `concurrency`"),
        "{e}"
    );
    // Warm-up: a duration or `auto`; a maximum only with `auto`; a window
    // cap not below the duration.
    let head = "description = \"a scenario\"";
    let e = scenario_error(&SCENARIO.replace(head, &format!("{head}\nwarmup = \"soon\"")));
    assert!(
        e.contains("line 3, key `warmup`") && e.contains("nor `auto`"),
        "{e}"
    );
    let e = scenario_error(&SCENARIO.replace(
        head,
        &format!("{head}\nwarmup = \"1s\"\nwarmup_max = \"9s\""),
    ));
    assert!(
        e.contains("line 4, key `warmup_max`") && e.contains("needs warmup = \"auto\""),
        "{e}"
    );
    let e = scenario_error(&SCENARIO.replace(
        head,
        &format!("{head}\nduration = \"5s\"\nmax_duration = \"2s\""),
    ));
    assert!(
        e.contains("key `max_duration`") && e.contains("shorter than `duration`"),
        "{e}"
    );
    let d = temp_with(&[(
        "s.toml",
        &SCENARIO.replace(
            head,
            &format!("{head}\nwarmup = \"auto\"\nwarmup_max = \"9s\""),
        ),
    )]);
    let s = scenario::load_scenario(&d.path().join("s.toml")).unwrap();
    assert_eq!(
        (s.warmup, s.warmup_max),
        (Duration::from_secs(2), Some(Duration::from_secs(9)))
    );
}

#[test]
fn bad_suites_and_claims_name_file_line_and_key() {
    let check = known_targets();
    // Unknown target.
    let d = temp_with(&[
        ("s.toml", SCENARIO),
        (
            "suite.toml",
            "description = \"x\"\ntargets = [\"node-express\", \"cobol-cics\"]\n\n[[run]]\nscenario = \"s\"\n",
        ),
    ]);
    let e = scenario::load_suite(&d.path().join("suite.toml"), &check)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("suite.toml: line 2, key `targets`")
            && e.contains("unknown target `cobol-cics`"),
        "{e}"
    );
    // Unknown variant.
    std::fs::write(
        d.path().join("suite.toml"),
        "description = \"x\"\ntargets = [\"python-django:fast\"]\n[[run]]\nscenario = \"s\"\n",
    )
    .unwrap();
    let e = scenario::load_suite(&d.path().join("suite.toml"), &check)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2") && e.contains("no variant `fast`"),
        "{e}"
    );
    // Unknown scenario.
    std::fs::write(
        d.path().join("suite.toml"),
        "description = \"x\"\ntargets = [\"node-express\"]\n[[run]]\nscenario = \"nope\"\n",
    )
    .unwrap();
    let e = scenario::load_suite(&d.path().join("suite.toml"), &check)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 4, key `run.scenario`") && e.contains("no scenario file for `nope`"),
        "{e}"
    );
    // Unknown key in a run.
    std::fs::write(
        d.path().join("suite.toml"),
        "description = \"x\"\ntargets = [\"node-express\"]\n[[run]]\nscenario = \"s\"\nlevel = [1]\n",
    )
    .unwrap();
    let e = scenario::load_suite(&d.path().join("suite.toml"), &check)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 5, key `run.level`: unknown field `level`"),
        "{e}"
    );
    // Claims: unknown metric, bad level.
    let d = temp_with(&[(
        "claims.toml",
        "[[claim]]\nid = \"c\"\nquote = \"q\"\nmetrics = [\"speed\"]\nscenarios = [\"s\"]\nfavoured = [\"a\"]\nothers = [\"b\"]\n",
    )]);
    let e = scenario::load_claims(&d.path().join("claims.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("claims.toml: line 4, key `claim.metrics`")
            && e.contains("unknown metric `speed`"),
        "{e}"
    );
    std::fs::write(
        d.path().join("claims.toml"),
        "[[claim]]\nid = \"c\"\nquote = \"q\"\nmetrics = [\"p99_us\"]\nscenarios = [\"s\"]\nlevel = \"middle\"\nfavoured = [\"a\"]\nothers = [\"b\"]\n",
    )
    .unwrap();
    let e = scenario::load_claims(&d.path().join("claims.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 6, key `claim.level`") && e.contains("not a level"),
        "{e}"
    );
}

/// `claimbench run ARGS`, in process. Without the host checks: beside the
/// other tests running in parallel the machine is busy by design, and
/// their exclusions and re-measurements are not what these tests test.
fn run(args: &[&str]) -> anyhow::Result<std::process::ExitCode> {
    let mut argv = vec!["--no-host-check"];
    argv.extend_from_slice(args);
    run_checked(&argv)
}

/// `claimbench run ARGS`, in process, with the host checks on.
fn run_checked(args: &[&str]) -> anyhow::Result<std::process::ExitCode> {
    let mut argv = vec!["claimbench", "run"];
    argv.extend_from_slice(args);
    claimbench::run(claimbench::Cli::parse_from(argv))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_bad_suite_is_an_input_error_before_anything_runs() {
    let d = temp_with(&[(
        "s.toml",
        &SCENARIO.replace("model = \"closed\"", "model = \"spiral\""),
    )]);
    std::fs::write(
        d.path().join("suite.toml"),
        "description = \"x\"\ntargets = [\"node-express\"]\n[[run]]\nscenario = \"s\"\n",
    )
    .unwrap();
    let targets = repo_root().join("targets");
    let e = run(&[
        "--suite",
        s(&d.path().join("suite.toml")),
        "--targets-dir",
        s(&targets),
        "--out",
        s(&d.path().join("out")),
    ])
    .unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("s.toml: line 6, key `load.model`") && msg.contains("spiral"),
        "{msg}"
    );
    assert!(!d.path().join("out/results.json").exists());
}

#[test]
fn tiny_suite_end_to_end_over_two_real_targets() {
    let out = tempfile::tempdir().unwrap();
    let targets = repo_root().join("targets");
    let code = run(&[
        "--suite",
        s(&fixtures().join("tiny.toml")),
        "--targets-dir",
        s(&targets),
        "--out",
        s(out.path()),
        "--no-report",
        "--quiet",
    ])
    .unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS);

    let r: ResultsFile = claimbench::results::io::read(out.path()).unwrap();
    assert!(r.complete);
    assert!(r.finished_at.is_some());
    // 2 scenarios x 1 level x 2 repetitions x 2 targets, in rounds: each
    // round one repetition of both targets, in an order drawn from the
    // recorded seed.
    assert_eq!(r.measurements.len(), 8, "skipped: {:?}", r.skipped);
    assert!(r.order_seed.is_some());
    for (i, round) in r.measurements.chunks(2).enumerate() {
        let mut ids: Vec<(&str, &str, u32)> = round
            .iter()
            .map(|m| (m.scenario.as_str(), m.target.as_str(), m.repetition))
            .collect();
        ids.sort();
        let scenario = if i < 2 { "tiny-io" } else { ids[0].0 };
        let rep = (i % 2) as u32 + 1;
        assert_eq!(
            ids,
            [
                (scenario, "node-express", rep),
                (scenario, "rust-hyper", rep)
            ],
            "round {i}"
        );
    }
    for m in &r.measurements {
        assert!(
            m.load.summary.ok > 0,
            "{} {}: no successful request",
            m.target,
            m.scenario
        );
        assert_eq!(
            m.load.summary.errors, 0,
            "{} {}: {:?}",
            m.target, m.scenario, m.load.errors
        );
        assert!(["started", "restarted"].contains(&m.clean_state.as_str()));
        let res = m
            .resources
            .as_ref()
            .expect("supervised targets are sampled");
        assert!(res.rss_peak_bytes > 0);
        assert_eq!(m.load.generator.threads, 1);
    }
    // A fresh process for the first measurement, unless the quiet-machine
    // check had it measured again (other tests run beside this one).
    let again = |m: &claimbench::results::schema::Measurement| {
        r.skipped.iter().any(|k| {
            k.target == m.target
                && k.reason
                    .starts_with(&format!("repetition {} measured again", m.repetition))
        })
    };
    if !again(&r.measurements[0]) {
        assert_eq!(r.measurements[0].clean_state, "started");
    }
    assert_eq!(r.measurements[2].clean_state, "restarted");
    let echo = r
        .measurements
        .iter()
        .find(|m| m.scenario == "tiny-echo")
        .unwrap();
    assert_eq!(echo.load.options.templates[0].body_bytes, 9993);
    assert_eq!(echo.load.options.rate_rps, Some(100.0));

    // Targets, versions and the CPU split.
    let ids: Vec<&str> = r.targets.iter().map(|t| t.id.as_str()).collect();
    assert!(
        ids.contains(&"rust-hyper") && ids.contains(&"node-express"),
        "{ids:?}"
    );
    for t in &r.targets {
        assert!(t.supervised);
        assert!(!t.versions.is_empty(), "{} has versions", t.id);
        assert_eq!(t.cpus, r.host.target_cpus);
    }
    if r.host.logical_cpus >= 2 {
        assert_eq!(r.host.generator_cpus.len(), 1);
        assert!(!r.host.target_cpus.is_empty());
        assert!(
            r.host
                .target_cpus
                .iter()
                .all(|c| !r.host.generator_cpus.contains(c))
        );
        assert_eq!(
            r.measurements[0].load.options.pin_cpus,
            r.host.generator_cpus
        );
    }

    // Verdicts: in the file and in the written table.
    let v: Vec<&str> = r.verdicts.iter().map(|v| v.claim.as_str()).collect();
    assert_eq!(v, ["tiny-io", "tiny-missing", "tiny-scales"]);
    let io = &r.verdicts[0];
    // The generator's CPU is the whole process's: other tests running in this
    // test binary at the same time can make a measurement look generator-bound.
    let all_valid = r
        .measurements
        .iter()
        .filter(|m| m.scenario == "tiny-io")
        .all(|m| m.excluded.is_none());
    if all_valid {
        assert_eq!(io.comparisons.len(), 2, "{}", io.summary);
        assert!(io.comparisons.iter().all(|c| c.repetitions == (2, 2)));
    } else {
        assert!(io.missing.iter().any(|m| m.contains("excluded")) || !io.comparisons.is_empty());
    }
    assert!(io.conditions[0].starts_with("core split"));
    let missing = &r.verdicts[1];
    assert_eq!(missing.outcome, Outcome::Inconclusive);
    assert!(
        missing.missing.iter().any(|m| m.contains("python-flask")),
        "{:?}",
        missing.missing
    );
    let scales = &r.verdicts[2];
    assert_eq!(scales.outcome, Outcome::Inconclusive);
    assert!(
        scales.summary.contains("at least 64 CPUs"),
        "{}",
        scales.summary
    );

    let table = std::fs::read_to_string(out.path().join("verdicts.txt")).unwrap();
    assert!(
        table.contains("CLAIM") && table.contains("VERDICT"),
        "{table}"
    );
    for id in ["tiny-io", "tiny-missing", "tiny-scales"] {
        assert!(table.contains(id), "{table}");
    }
    assert!(out.path().join("logs").is_dir());
}

#[test]
fn a_target_that_cannot_be_set_up_stops_the_run_before_measuring() {
    let out = tempfile::tempdir().unwrap();
    let e = run(&[
        "--suite",
        s(&fixtures().join("failing.toml")),
        "--targets-dir",
        s(&repo_root().join("harness/tests/fixtures/targets")),
        "--out",
        s(out.path()),
        "--no-report",
        "--quiet",
    ])
    .unwrap_err();
    let msg = format!("{e:#}");
    assert!(!msg.contains('\n'), "one line: {msg}");
    for part in [
        "nothing was measured",
        "fixture-missing-tool",
        "`claimbench-no-such-tool`",
        "apt-get install -y claimbench-no-such-tool",
        "--targets",
    ] {
        assert!(msg.contains(part), "{part} missing from: {msg}");
    }
    assert!(!out.path().join("results.json").exists());
}

#[test]
fn a_target_that_fails_to_start_is_skipped_and_an_external_server_is_measured() {
    // A real server, started here: for `run` it is external.
    let manifests = target::discover(&repo_root().join("targets")).unwrap();
    let (m, spec) = target::find(&manifests, &"rust-hyper".parse().unwrap()).unwrap();
    target::setup(
        m,
        &target::SetupOptions {
            force: false,
            quiet: true,
        },
    )
    .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let server = target::start(
        &spec,
        &target::StartOptions {
            log_dir: logs.path().to_path_buf(),
            ..target::StartOptions::default()
        },
    )
    .unwrap();

    let out = tempfile::tempdir().unwrap();
    let url = format!("ext={}", server.url());
    let pid = format!("ext={}", server.pid());
    let code = run_checked(&[
        "--suite",
        s(&fixtures().join("failing.toml")),
        "--targets-dir",
        s(&repo_root().join("harness/tests/fixtures/targets")),
        "--targets",
        "fixture-exits",
        "--target-url",
        &url,
        "--target-pid",
        &pid,
        "--out",
        s(out.path()),
        "--no-report",
        "--quiet",
    ])
    .unwrap();
    server.stop().unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS);

    let r: ResultsFile = claimbench::results::io::read(out.path()).unwrap();
    assert!(r.complete);
    assert_eq!(r.measurements.len(), 1, "{:?}", r.skipped);
    let m = &r.measurements[0];
    assert_eq!(
        (m.target.as_str(), m.clean_state.as_str()),
        ("ext", "external")
    );
    assert!(m.load.summary.ok > 0);
    assert!(
        m.resources.as_ref().is_some_and(|r| r.rss_peak_bytes > 0),
        "--target-pid is sampled"
    );
    // With its process group known, the quiet-machine check can tell the
    // external target's CPU from other processes', so it runs.
    assert!(m.host.is_some(), "{m:?}");
    let ext = r.targets.iter().find(|t| t.id == "ext").unwrap();
    assert!(!ext.supervised);

    let reason = |t: &str| {
        r.skipped
            .iter()
            .find(|s| s.target == t)
            .map(|s| s.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("fixture-exits").contains("start failed"),
        "{:?}",
        r.skipped
    );
    assert!(
        reason("fixture-exits").contains("exited during start"),
        "{:?}",
        r.skipped
    );
}

#[test]
fn a_breached_threshold_exits_1() {
    let out = tempfile::tempdir().unwrap();
    let code = run(&[
        "--suite",
        s(&fixtures().join("strict.toml")),
        "--targets-dir",
        s(&repo_root().join("targets")),
        "--out",
        s(out.path()),
        "--no-report",
        "--quiet",
    ])
    .unwrap();
    assert_eq!(
        code,
        std::process::ExitCode::from(claimbench::EXIT_GATE_FAILED)
    );
    let r: ResultsFile = claimbench::results::io::read(out.path()).unwrap();
    assert_eq!(r.measurements.len(), 1);
    assert!(r.complete);
}

/// Ctrl-C during `run`: the measurement in progress is cut short and kept
/// (marked excluded), everything measured before is kept, the results say
/// `complete: false`, the exit code is 130 and no target process is left.
#[test]
fn ctrl_c_keeps_what_was_measured_and_leaves_no_target_running() {
    use std::time::{Duration, Instant};
    let manifests = target::discover(&repo_root().join("targets")).unwrap();
    let (m, _) = target::find(&manifests, &"rust-hyper".parse().unwrap()).unwrap();
    target::setup(
        m,
        &target::SetupOptions {
            force: false,
            quiet: true,
        },
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .args(["run", "--no-host-check", "--suite"])
        .arg(fixtures().join("interrupt.toml"))
        .arg("--targets-dir")
        .arg(repo_root().join("targets"))
        .arg("--out")
        .arg(out.path())
        .args(["--no-report", "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first measurement is on disk (the second is running).
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = loop {
        if let Ok(r) = claimbench::results::io::read(out.path())
            && !r.measurements.is_empty()
        {
            break r;
        }
        assert!(Instant::now() < deadline, "no measurement written in 120 s");
        assert!(child.try_wait().unwrap().is_none(), "run ended early");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(first.measurements.len(), 1);
    // Into the second's 2 s window: before it, the machine's speed is
    // probed (about 0.2 s) and the target started.
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signalling the child this test started, by its PID.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "run did not stop within 60 s of Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");

    let r: ResultsFile = claimbench::results::io::read(out.path()).unwrap();
    assert!(!r.complete);
    assert_eq!(r.measurements.len(), 2, "the first, and the one cut short");
    assert_eq!(r.measurements[0].excluded, None);
    assert!(
        r.measurements[1]
            .excluded
            .as_deref()
            .is_some_and(|e| e.contains("interrupted")),
        "{:?}",
        r.measurements[1].excluded
    );
    assert!(r.measurements[1].load.summary.ok > 0);

    // The target (its port is in the results) is no longer running.
    let port = r.targets[0].url.rsplit(':').next().unwrap().to_string();
    let alive: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("claimbench-target-hyper") && c.contains(&format!(" {port}")))
        .collect();
    assert!(alive.is_empty(), "still running: {alive:?}");
}

/// `--scenarios` narrows the suite without turning the stacks that other
/// entries name into "targets the suite does not name": the default suite's
/// connection sweep is still Express and FastAPI only, and the folders the
/// suite leaves out on purpose stay out.
#[test]
fn narrowing_by_scenario_adds_no_other_targets() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .current_dir(repo_root())
        .args(["run", "--dry-run", "--scenarios", "connections"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" connections c="))
        .collect();
    assert_eq!(lines.len(), 3 * 5 * 2, "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l.ends_with("node-express:cluster") || l.ends_with("python-fastapi:single")),
        "{text}"
    );
    assert!(!text.contains("not named by the suite"), "{text}");
}

/// `run --duet`: each repetition measures rust-hyper and its twin at the
/// same time (their windows start together), each side's numbers agree
/// with the fixed 20 ms answer (Little's law at 2 connections), and
/// `compare` pairs the two files as one duet.
#[test]
fn a_duet_run_measures_both_sides_at_once_and_compare_pairs_them() {
    let out = tempfile::tempdir().unwrap();
    let targets = repo_root().join("targets");
    let code = run(&[
        "--suite",
        s(&fixtures().join("duet.toml")),
        "--targets-dir",
        s(&targets),
        "--duet",
        s(&targets),
        "--out",
        s(out.path()),
        "--no-report",
        "--quiet",
    ])
    .unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let head: ResultsFile = claimbench::results::io::read(out.path()).unwrap();
    let base: ResultsFile = claimbench::results::io::read(&out.path().join("baseline")).unwrap();
    assert!(head.complete && base.complete);
    let (hd, bd) = (head.duet.as_ref().unwrap(), base.duet.as_ref().unwrap());
    assert_eq!((hd.side.as_str(), bd.side.as_str()), ("head", "baseline"));
    assert!(out.path().join(&hd.partner).is_file(), "{}", hd.partner);
    assert!(
        out.path().join("baseline").join(&bd.partner).is_file(),
        "{}",
        bd.partner
    );
    assert_eq!(head.run_id, base.run_id);
    assert_eq!(head.measurements.len(), 2, "skipped: {:?}", head.skipped);
    assert_eq!(base.measurements.len(), 2, "skipped: {:?}", base.skipped);
    for (h, b) in head.measurements.iter().zip(&base.measurements) {
        assert_eq!(
            (&h.target, &h.scenario, h.repetition),
            (&b.target, &b.scenario, b.repetition)
        );
        // Both warm-ups start at one instant, so the measured windows
        // start together: the recorded starts are when each engine
        // reported the phase, within its 100 ms progress tick (and the
        // scheduling of a busy test machine), of 800 ms windows.
        let apart = (h.started_at - b.started_at).num_milliseconds().abs();
        assert!(apart < 250, "windows {apart} ms apart");
        for m in [h, b] {
            let sum = &m.load.summary;
            assert_eq!(sum.errors, 0, "{:?}", m.load.errors);
            // The server answers after 20 ms: no request is faster, and 2
            // connections in a closed loop complete at most 2 / 20 ms.
            assert!(sum.latency.min_us >= 20_000, "{:?}", sum.latency);
            assert!(sum.throughput_rps <= 100.0, "{}", sum.throughput_rps);
            // Little's law: requests in flight = throughput x latency = 2.
            let in_flight = sum.throughput_rps * sum.latency.mean_us / 1e6;
            assert!((1.7..=2.05).contains(&in_flight), "{in_flight}");
            assert!(m.resources.is_some(), "each side's target is sampled");
        }
    }

    // compare: the two files are one duet; repetitions pair up.
    let json = out.path().join("compare.json");
    let baseline = out.path().join("baseline");
    let argv = [
        "claimbench",
        "compare",
        s(&baseline),
        s(out.path()),
        "--allow-ungated",
        "-q",
        "--json",
        s(&json),
    ];
    let code = claimbench::run(claimbench::Cli::parse_from(argv)).unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["duet"], true, "{report}");
    // Paired when every repetition is valid on both sides. (The generator
    // CPU is this whole test process's, shared with the tests running
    // beside it, which can mark a repetition generator-bound; a pair is
    // then excluded whole.)
    let excluded: Vec<_> = head
        .measurements
        .iter()
        .chain(&base.measurements)
        .filter_map(|m| m.excluded.as_deref())
        .collect();
    let metrics = report["measurements"][0]["metrics"].as_array().unwrap();
    if excluded.is_empty() {
        assert!(metrics.iter().all(|m| m["paired"] == true), "{metrics:?}");
    } else {
        assert_eq!(excluded.len() % 2, 0, "excluded in pairs: {excluded:?}");
    }
}

#[test]
fn a_duet_folder_without_the_target_is_an_input_error() {
    let out = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let targets = repo_root().join("targets");
    let missing = out.path().join("no-such-folder");
    let e = run(&[
        "--suite",
        s(&fixtures().join("duet.toml")),
        "--targets-dir",
        s(&targets),
        "--duet",
        s(&missing),
        "--out",
        s(&out.path().join("out")),
    ])
    .unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("--duet") && msg.contains("no-such-folder"),
        "{msg}"
    );
    let e = run(&[
        "--suite",
        s(&fixtures().join("duet.toml")),
        "--targets-dir",
        s(&targets),
        "--duet",
        s(empty.path()),
        "--out",
        s(&out.path().join("out")),
    ])
    .unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("--duet") && msg.contains("rust-hyper"),
        "{msg}"
    );
    assert!(!out.path().join("out/results.json").exists());
}
