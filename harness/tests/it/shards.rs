//! `bench --shard` and `merge` with real processes against a real server:
//! shards started together split the load without loss (the merged count
//! is what the server saw), a late shard sends nothing and exits 3, and
//! every inconsistent set is refused with one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use claimbench::results::schema::ResultsFile;

use crate::test_server::{Behavior, TestServer};

fn claimbench(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .args(args)
        .output()
        .expect("run claimbench")
}

fn unix_ms(t: SystemTime) -> String {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string()
}

/// The arguments of shard `i/n` of an open-loop run at `rate` for 1 s.
fn shard_args(url: &str, i: usize, n: usize, rate: u32, at: &str, out: &Path) -> Vec<String> {
    [
        "bench",
        url,
        "-R",
        &rate.to_string(),
        "-c",
        "8",
        "-d",
        "1s",
        "-t",
        "1",
        "--shard",
        &format!("{i}/{n}"),
        "--start-at",
        at,
        "--allow-unsynced-clock",
        "-q",
        "--json",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn read(path: &Path) -> ResultsFile {
    claimbench::results::io::read(path).unwrap()
}

/// Runs shards 0..n at once and returns their files.
fn run_shards(url: &str, n: usize, rate: u32, dir: &Path) -> Vec<PathBuf> {
    let at = unix_ms(SystemTime::now() + Duration::from_millis(1500));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let out = dir.join(format!("shard-{i}.json"));
            let args = shard_args(url, i, n, rate, &at, &out);
            std::thread::spawn(move || (claimbench(&args), out))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            let (o, out) = h.join().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            out
        })
        .collect()
}

fn merge(files: &[PathBuf], extra: &[&str]) -> Output {
    let mut args = vec!["merge".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    claimbench(&args)
}

fn one_error_line(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    err
}

#[test]
fn two_shards_split_the_schedule_and_merge_to_what_the_server_saw() {
    let server = TestServer::start(Behavior::Ok);
    let dir = tempfile::tempdir().unwrap();
    let files = run_shards(&server.url("/"), 2, 400, dir.path());
    let merged_path = dir.path().join("merged.json");
    let o = merge(&files, &["--json", merged_path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let merged = read(&merged_path);
    let load = &merged.measurements[0].load;
    let s = &load.summary;
    // The schedule: 400 arrivals in the second, 200 to each shard; every
    // one reached the server, and each was counted once.
    let shards: Vec<_> = files.iter().map(|f| read(f)).collect();
    for f in &shards {
        let l = &f.measurements[0].load;
        assert_eq!(
            l.summary.requests + l.summary.in_flight_at_end + l.summary.not_started,
            200
        );
    }
    assert_eq!(s.requests + s.in_flight_at_end + s.not_started, 400);
    assert_eq!(s.requests + s.in_flight_at_end, server.seen());
    assert_eq!(s.ok, s.requests);
    assert!((s.throughput_rps - s.ok as f64 / s.duration_s).abs() < 1e-9);
    // The merged histogram holds every shard's values.
    assert_eq!(load.latency.count(), s.ok);
    let info = load.merged.as_ref().unwrap();
    assert_eq!(info.count, 2);
    assert!(!info.partial);
    assert!(info.max_start_skew_ms < 100.0, "{}", info.max_start_skew_ms);
    let timeline: u64 = load.timeline.iter().map(|w| w.requests).sum();
    assert_eq!(timeline, s.requests);

    // A threshold is judged on the merged result.
    let o = merge(&files, &["--threshold", "throughput>100000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("throughput>100000"));

    // Refused: the same shard twice, a missing shard.
    let e = one_error_line(&merge(&[files[0].clone(), files[0].clone()], &[]));
    assert!(e.contains("shard 0 appears twice"), "{e}");
    let e = one_error_line(&merge(&files[..1], &[]));
    assert!(e.contains("shard(s) 1 of 2 missing"), "{e}");
    let o = merge(&files[..1], &["--allow-partial", "--json", "-"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let partial: ResultsFile = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        partial.measurements[0]
            .load
            .merged
            .as_ref()
            .unwrap()
            .partial
    );

    // Refused: a shard of another run (other options).
    let other = dir.path().join("other.json");
    let at = unix_ms(SystemTime::now() + Duration::from_millis(300));
    let o = claimbench(&shard_args(&server.url("/"), 1, 2, 300, &at, &other));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e = one_error_line(&merge(&[files[0].clone(), other], &[]));
    assert!(
        e.contains("belongs to run") || e.contains("other options"),
        "{e}"
    );
}

#[test]
fn a_late_shard_sends_nothing_and_exits_3() {
    let server = TestServer::start(Behavior::Ok);
    let dir = tempfile::tempdir().unwrap();
    let at = unix_ms(SystemTime::now() - Duration::from_secs(2));
    let out = dir.path().join("late.json");
    let o = claimbench(&shard_args(&server.url("/"), 0, 2, 100, &at, &out));
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(server.seen(), 0);
    assert!(!out.exists());
}

#[test]
fn shard_input_is_checked_before_any_load() {
    let server = TestServer::start(Behavior::Ok);
    let at = unix_ms(SystemTime::now() + Duration::from_secs(60));
    let url = server.url("/");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--shard".into(),
                "2/2".into(),
                "--start-at".into(),
                at.clone(),
            ],
            "does not exist",
        ),
        (
            vec![
                "--shard".into(),
                "0/2".into(),
                "--start-at".into(),
                "tomorrow".into(),
            ],
            "not a time",
        ),
        (
            vec![
                "--shard".into(),
                "0/3".into(),
                "--start-at".into(),
                at.clone(),
                "-c".into(),
                "2".into(),
            ],
            "cannot be split over 3 shards",
        ),
        (
            vec![
                "--shard".into(),
                "0/2".into(),
                "--start-at".into(),
                at.clone(),
                "--warmup".into(),
                "auto".into(),
            ],
            "fixed warm-up",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec![
            "bench".to_string(),
            url.clone(),
            "--allow-unsynced-clock".into(),
        ];
        args.extend(extra.clone());
        let o = claimbench(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    assert_eq!(server.seen(), 0);
}
