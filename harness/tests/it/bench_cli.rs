//! The `bench` command line as wrk/oha/h2load/k6 users expect it: flags
//! mapped into the plan, hostile input as one clear error (never a panic),
//! `--json -`, `--threshold` exit codes, `-R`, `--latency` and the transfer
//! rate. Runs are short (0.3 s) against the in-process test server on
//! 127.0.0.1; nothing here resolves an external name.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, Output};

use claimbench::bench::{BenchArgs, plan_from_args};
use claimbench::cli::Command as Sub;
use claimbench::load::LoadPlan;
use claimbench::results::schema::Protocol;
use clap::Parser;
use proptest::prelude::*;

use crate::test_server::{Behavior, TestServer};

/// A URL nothing needs to listen on: the plan is built, never run.
const NOWHERE: &str = "http://127.0.0.1:1/";

/// The bench options of `claimbench bench ARGS…`, parsed in-process.
fn bench_args(args: &[&str]) -> Result<BenchArgs, clap::Error> {
    let argv = ["claimbench", "bench"].iter().chain(args);
    match claimbench::Cli::try_parse_from(argv)?.command {
        Sub::Bench(b) => Ok(*b),
        other => panic!("not bench: {other:?}"),
    }
}

/// The plan of `claimbench bench ARGS…`, or its error as printed (`{:#}`).
fn plan(args: &[&str]) -> Result<LoadPlan, String> {
    let args = bench_args(args).map_err(|e| e.to_string())?;
    plan_from_args(&args).map_err(|e| format!("{e:#}"))
}

/// Runs the binary.
fn claimbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .args(args)
        .output()
        .expect("run claimbench")
}

/// Stderr without blank lines and clap's "For more information" hint.
fn error_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
        .map(str::to_string)
        .collect()
}

/// A short quiet run of `bench URL ARGS…` with 2 connections on 1 thread.
fn short_run(url: &str, args: &[&str]) -> Output {
    let mut all = vec!["bench", url, "-c", "2", "-t", "1", "-d", "0.3s", "-q"];
    all.extend_from_slice(args);
    claimbench(&all)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---- hostile input ----

/// URLs at 127.0.0.1 or ::1 only (or no host at all), with every kind of
/// scheme, port and path trouble.
fn url() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("http://"),
        Just("https://"),
        Just("HTTP://"),
        Just("ftp://"),
        Just(""),
        Just("http:/"),
        Just("://"),
    ];
    let host = prop_oneof![Just("127.0.0.1"), Just("[::1]"), Just("")];
    let port = prop_oneof![
        Just(String::new()),
        Just(":".to_string()),
        Just(":0".to_string()),
        Just(":99999".to_string()),
        any::<u32>().prop_map(|p| format!(":{p}")),
        any::<i64>().prop_map(|p| format!(":{p}")),
        "[0-9]{6,30}".prop_map(|p| format!(":{p}")),
    ];
    let path = prop_oneof![
        Just(String::new()),
        Just("/?a=b".to_string()),
        "/[ -~]{0,20}",
        "/\\PC{0,10}",
    ];
    let built = (scheme, host, port, path).prop_map(|(s, h, p, q)| format!("{s}{h}{p}{q}"));
    let fixed = prop_oneof![
        Just("not a url".to_string()),
        Just(String::new()),
        Just("http://".to_string()),
        Just("http://user@127.0.0.1/".to_string()),
        Just("http://[::1".to_string()),
        Just("http://127.0.0.1/\n".to_string()),
        Just("\u{0}".to_string()),
    ];
    let plain = prop_oneof![
        Just("http://127.0.0.1:8080/".to_string()),
        Just("https://127.0.0.1/x?y=1".to_string()),
        Just("http://[::1]:1/".to_string()),
    ];
    prop_oneof![4 => plain, 3 => built, 1 => fixed]
}

/// Values that break parsers: huge, negative, NaN, inf, empty, Unicode,
/// control characters, and a few almost-right ones.
fn hostile() -> impl Strategy<Value = String> {
    let fixed = prop_oneof![
        Just(""),
        Just("0"),
        Just("-1"),
        Just("-0"),
        Just("NaN"),
        Just("inf"),
        Just("-inf"),
        Just("1e30"),
        Just("1e308"),
        Just("99999999999999999999999"),
        Just("18446744073709551616"),
        Just("0.0000001"),
        Just("auto"),
        Just("10s"),
        Just("-3s"),
        Just("25h"),
        Just("1000000000000000000000years"),
        Just("p99<50ms"),
        Just("error_rate<1%"),
        Just("throughput>"),
        Just("1:/"),
        Just("0:/"),
        Just("4294967295:/"),
        Just("Host: x"),
        Just("NoColon"),
        Just("ü"),
        Just("💥"),
        Just("\n"),
        Just("0-99999999999"),
        Just("/value=1"),
    ]
    .prop_map(str::to_string);
    prop_oneof![
        3 => fixed,
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => any::<u64>().prop_map(|n| format!("{n}ms")),
        1 => "\\PC{0,12}",
        1 => "[ -~]{0,16}",
        1 => "(?s).{0,8}",
    ]
}

/// Flags that take a value, each with values it accepts: a case mixes
/// these with hostile ones, so that many cases get past clap to the plan.
const VALUED: &[(&str, &[&str])] = &[
    ("-c", &["1", "64"]),
    ("--connections", &["2"]),
    ("-d", &["1s", "0.3", "24h"]),
    ("--duration", &["500ms"]),
    ("-n", &["1", "1000"]),
    ("--requests", &["5"]),
    ("-r", &["100"]),
    ("-R", &["2000.5"]),
    ("--rate", &["1"]),
    ("--arrival", &["poisson", "constant"]),
    ("--warmup", &["auto", "1s"]),
    ("--warmup-max", &["5s"]),
    ("-m", &["POST", "GET"]),
    ("-H", &["X-A: b", "Host: example.test"]),
    ("--host", &["example.test", "example.test:8080"]),
    ("--body", &["{}"]),
    ("--timeout", &["2s"]),
    ("-t", &["1", "2"]),
    ("--pin", &["0"]),
    ("--http-client", &["hyper", "lean"]),
    ("--streams", &["1", "8"]),
    ("--idle-connections", &["3"]),
    ("--idle-ping", &["1s"]),
    ("--mix", &["1:/a", "3:/b?x=1"]),
    ("--expect-status", &["204"]),
    ("--expect-contains", &["ok"]),
    ("--expect-json", &["/value=1", "/a=\"s\""]),
    (
        "--threshold",
        &["p99<50ms", "error_rate<1%", "throughput>1000"],
    ),
    ("--json", &["-", "/tmp/never-written.json"]),
    ("--nope", &["1"]),
    ("-Z", &["1"]),
];

/// One flag with its value (usually one it accepts, else a hostile one):
/// every `bench` flag, unknown ones, and files from a fixed set (a random
/// path could be a FIFO or `/dev/zero`).
fn flag() -> impl Strategy<Value = Vec<String>> {
    let valued = (0..VALUED.len(), any::<prop::sample::Index>(), hostile())
        .prop_flat_map(|(i, pick, bad)| {
            let (name, good) = VALUED[i];
            let good = good[pick.index(good.len())].to_string();
            (
                Just(name),
                prop_oneof![2 => Just(good), 1 => Just(bad)],
                any::<bool>(),
            )
        })
        .prop_map(|(f, v, joined)| {
            if joined && f.starts_with("--") {
                vec![format!("{f}={v}")]
            } else {
                vec![f.to_string(), v]
            }
        });
    let switch = prop_oneof![
        Just("--http2"),
        Just("-k"),
        Just("--insecure"),
        Just("--no-keepalive"),
        Just("--stream"),
        Just("--latency"),
        Just("-q"),
    ]
    .prop_map(|f| vec![f.to_string()]);
    let file = (
        prop_oneof![Just("--body-file"), Just("--cacert")],
        prop_oneof![Just("/nonexistent/file.pem"), Just("/"), Just("")],
    )
        .prop_map(|(f, v)| vec![f.to_string(), v.to_string()]);
    prop_oneof![6 => valued, 2 => switch, 1 => file]
}

/// Parses and plans one command line; panics (caught by the caller) are
/// the bug looked for. Errors must be one line: ours always, and clap's
/// must hold one `error:` line whose cause (our value parsers) is one line.
fn check_one_line_errors(argv: &[String]) -> Result<(), TestCaseError> {
    match claimbench::Cli::try_parse_from(argv) {
        Err(e) => {
            if !e.use_stderr() {
                return Ok(()); // --help or --version
            }
            let rendered = e.to_string();
            let errors = rendered.lines().filter(|l| l.starts_with("error:")).count();
            prop_assert_eq!(errors, 1, "{:?}: {}", argv, rendered);
            if let Some(cause) = std::error::Error::source(&e) {
                let cause = cause.to_string();
                prop_assert!(!cause.contains('\n'), "{:?}: {}", argv, cause);
            }
        }
        Ok(cli) => {
            if let Sub::Bench(args) = cli.command
                && let Err(e) = plan_from_args(&args)
            {
                let msg = format!("{e:#}");
                prop_assert!(!msg.contains('\n'), "{:?}: {}", argv, msg);
                prop_assert!(!msg.is_empty(), "{:?}: empty error", argv);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn hostile_flags_never_panic_and_each_error_is_one_line(
        url in url(),
        flags in proptest::collection::vec(flag(), 0..6),
    ) {
        let mut argv = vec!["claimbench".to_string(), "bench".to_string(), url];
        argv.extend(flags.into_iter().flatten());
        let outcome = catch_unwind(AssertUnwindSafe(|| check_one_line_errors(&argv)));
        match outcome {
            Ok(result) => result?,
            Err(_) => prop_assert!(false, "panicked on {:?}", argv),
        }
    }
}

/// Valid flags to build a plan around one hostile value; at most one each.
const BASE: &[&[&str]] = &[
    &["-d", "1s"],
    &["-n", "5"],
    &["-R", "100"],
    &["--warmup", "auto"],
    &["--warmup-max", "5s"],
    &["-m", "POST"],
    &["-H", "X-A: b"],
    &["--host", "example.test"],
    &["--timeout", "2s"],
    &["-t", "1"],
    &["--http2"],
    &["--streams", "8"],
    &["-k"],
    &["--mix", "2:/a"],
    &["--expect-json", "/value=1"],
    &["--idle-connections", "2"],
    &["--threshold", "p99<50ms"],
    &["--latency"],
];

/// Flags whose values clap takes as any string or number: the plan judges
/// them. Long names, so that `--flag=VALUE` passes a value starting with `-`.
const PLAN_LEVEL: &[&str] = &[
    "--method",
    "--header",
    "--host",
    "--mix",
    "--expect-json",
    "--expect-contains",
    "--body",
    "--connections",
    "--threads",
    "--requests",
    "--idle-connections",
    "--streams",
    "--rate",
    "--expect-status",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn one_hostile_value_among_valid_flags_is_a_plan_or_a_one_line_error(
        base in proptest::sample::subsequence(BASE.to_vec(), 0..5),
        which in 0..PLAN_LEVEL.len(),
        value in hostile(),
    ) {
        let target = PLAN_LEVEL[which];
        let mut argv = vec!["claimbench".to_string(), "bench".to_string(), NOWHERE.to_string()];
        let short = |f: &str| match f {
            "-m" => "--method",
            "-H" => "--header",
            "-t" => "--threads",
            "-n" => "--requests",
            "-R" => "--rate",
            other => other,
        }
        .to_string();
        for f in base.iter().filter(|f| short(f[0]) != target) {
            argv.extend(f.iter().map(|a| a.to_string()));
        }
        argv.push(format!("{target}={value}"));
        let outcome = catch_unwind(AssertUnwindSafe(|| check_one_line_errors(&argv)));
        match outcome {
            Ok(result) => result?,
            Err(_) => prop_assert!(false, "panicked on {:?}", argv),
        }
    }
}

#[test]
fn representative_bad_input_is_exit_code_2_and_one_stderr_line() {
    let cases: [(&[&str], &str); 6] = [
        (&["bench", NOWHERE, "-d", "1e30"], "too long"),
        (&["bench", NOWHERE, "--warmup", "1e30"], "too long"),
        (&["bench", NOWHERE, "--timeout", "25h"], "too long"),
        (&["bench", "http://127.0.0.1:99999/"], "out of range"),
        (&["bench", NOWHERE, "--threshold", "p99<fast"], "p99<fast"),
        (&["bench", NOWHERE, "-c", "99999999999999"], "--connections"),
    ];
    for (args, needle) in cases {
        let out = claimbench(args);
        let lines = error_lines(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {lines:?}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(needle),
            "{args:?}: expected {needle:?} in {lines:?}"
        );
    }
}

#[test]
fn durations_above_a_day_are_refused_for_every_duration_flag() {
    for flag in ["-d", "--warmup", "--warmup-max", "--timeout", "--idle-ping"] {
        for value in ["1e30", "25h", "86401", "1000000000000000000000years"] {
            let e = bench_args(&[NOWHERE, flag, value]).expect_err(value);
            let msg = e.to_string();
            assert!(
                msg.contains("too long: at most 24h"),
                "{flag} {value}: {msg}"
            );
        }
        assert!(bench_args(&[NOWHERE, flag, "24h"]).is_ok(), "{flag} 24h");
    }
    for bad in ["NaN", "inf", "-1", ""] {
        let msg = bench_args(&[NOWHERE, "-d", bad]).unwrap_err().to_string();
        assert!(msg.contains("is not a duration"), "{bad}: {msg}");
    }
}

#[test]
fn absurd_sizes_and_bad_values_name_their_flag() {
    let cases: [(&[&str], &str); 12] = [
        (&["-c", "0"], "--connections"),
        (
            &["-c", "1000001"],
            "--connections: 1000001 is above the supported 1000000",
        ),
        (&["--idle-connections", "99999999"], "--idle-connections"),
        (&["-t", "0"], "--threads"),
        (&["-t", "100000"], "--threads"),
        (&["-n", "0"], "--requests"),
        (&["--streams", "0"], "--streams"),
        (&["--streams", "4"], "--http2"),
        (&["--rate", "NaN"], "--rate"),
        (&["--idle-ping", "0s"], "--idle-ping"),
        (&["--mix", "4294967295:/a", "--mix", "1:/b"], "--mix"),
        (&["--mix", "1:nopath"], "must start with `/`"),
    ];
    for (args, needle) in cases {
        let mut all = vec![NOWHERE];
        all.extend_from_slice(args);
        let e = plan(&all).expect_err(needle);
        assert!(e.contains(needle), "{args:?}: {e}");
        assert!(!e.contains('\n'), "{args:?}: {e}");
    }
    let e = bench_args(&[NOWHERE, "--pin", "0-99999999999"]).unwrap_err();
    assert!(
        e.to_string().contains("above the largest CPU number"),
        "{e}"
    );
}

// ---- flags into the plan ----

#[test]
fn http2_streams_and_tls_flags_reach_the_plan() {
    let ca = tempfile::NamedTempFile::new().unwrap();
    let ca_path = ca.path().to_str().unwrap();
    let p = plan(&[
        "https://127.0.0.1:8443/",
        "--http2",
        "--streams",
        "8",
        "-k",
        "--cacert",
        ca_path,
    ])
    .unwrap();
    assert_eq!(p.protocol, Protocol::Http2);
    assert_eq!(p.streams, 8);
    assert!(p.tls.insecure);
    assert_eq!(p.tls.cacert.as_deref(), Some(ca.path()));
    assert!(p.endpoint.tls);

    let p = plan(&[NOWHERE]).unwrap();
    assert_eq!((p.protocol, p.streams), (Protocol::Http1, 1));
    assert!(!p.tls.insecure && p.tls.cacert.is_none());
    assert!(plan(&[NOWHERE, "--insecure"]).unwrap().tls.insecure);

    let e = plan(&[NOWHERE, "--cacert", "/nonexistent/ca.pem"]).unwrap_err();
    assert!(
        e.contains("--cacert") && e.contains("/nonexistent/ca.pem"),
        "{e}"
    );
}

/// The Host entries of each template.
fn hosts(p: &LoadPlan) -> Vec<Vec<String>> {
    p.templates
        .iter()
        .map(|t| {
            t.headers
                .iter()
                .filter(|(n, _)| *n == http::header::HOST)
                .map(|(_, v)| v.to_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn host_flag_and_host_header_give_each_template_exactly_one_host() {
    let mix = ["--mix", "1:/a", "--mix", "2:/b"];
    let mut args = vec![NOWHERE, "--host", "example.test:8080"];
    args.extend(mix);
    assert_eq!(
        hosts(&plan(&args).unwrap()),
        vec![vec!["example.test:8080".to_string()]; 2]
    );
    let mut args = vec![NOWHERE, "-H", "Host: example.test"];
    args.extend(mix);
    assert_eq!(
        hosts(&plan(&args).unwrap()),
        vec![vec!["example.test".to_string()]; 2]
    );
    assert_eq!(
        hosts(&plan(&[NOWHERE]).unwrap()),
        vec![Vec::<String>::new()]
    );

    for (args, needle) in [
        (
            &[NOWHERE, "--host", "a", "-H", "host: b"][..],
            "both set the Host header",
        ),
        (&[NOWHERE, "-H", "Host: a", "-H", "HOST: b"][..], "twice"),
        (&[NOWHERE, "--host", ""][..], "--host"),
        (&[NOWHERE, "--host", "a b"][..], "--host"),
        (&[NOWHERE, "--host", "bad\u{7f}"][..], "--host"),
    ] {
        let e = plan(args).expect_err(needle);
        assert!(e.contains(needle) && !e.contains('\n'), "{args:?}: {e}");
    }
}

#[test]
fn capital_r_is_rate_like_wrk2_and_small_r_still_works() {
    for flag in ["-R", "-r", "--rate"] {
        let args = bench_args(&[NOWHERE, flag, "250"]).unwrap();
        assert_eq!(args.rate, Some(250.0), "{flag}");
        let p = plan_from_args(&args).unwrap();
        assert!(
            matches!(p.model, claimbench::load::LoadModel::Open { rate, .. } if rate == 250.0),
            "{flag}: {:?}",
            p.model
        );
    }
    let server = TestServer::start(Behavior::Ok);
    let out = short_run(&server.url("/"), &["-R", "200"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("open loop, 200 req/s"), "{stdout}");
}

// ---- output and exit codes ----

#[test]
fn json_dash_writes_only_the_results_to_stdout_and_the_rest_to_stderr() {
    let server = TestServer::start(Behavior::Ok);
    let out = short_run(&server.url("/"), &["--json", "-"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The whole of stdout is one JSON value (trailing text would not parse).
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    assert_eq!(value["kind"], "bench");
    let file = claimbench::results::io::parse(stdout.as_bytes(), std::path::Path::new("-"))
        .expect("a results file");
    assert!(stderr.contains("requests in"), "{stderr}");
    assert!(
        stderr.contains("results written to standard output"),
        "{stderr}"
    );
    // The transfer rate is the byte count over the same window.
    let s = &file.measurements[0].load.summary;
    assert!(s.bytes_read > 0);
    let rate = format!(
        "{:.1} MB read, transfer {:.2} MB/s",
        s.bytes_read as f64 / 1e6,
        s.bytes_read as f64 / 1e6 / s.duration_s
    );
    assert!(stderr.contains(&rate), "{rate} not in {stderr}");
}

#[test]
fn a_threshold_that_holds_exits_0_and_says_so() {
    let server = TestServer::start(Behavior::Ok);
    let out = short_run(&server.url("/"), &["--threshold", "error_rate<1%"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("✓ error_rate<1%: 0.000%"), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn a_broken_threshold_exits_1_and_names_it() {
    let server = TestServer::start(Behavior::Ok);
    let out = short_run(
        &server.url("/"),
        &[
            "--threshold",
            "error_rate<1%",
            "--threshold",
            "throughput>100000000",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("✓ error_rate<1%"), "{stdout}");
    assert!(stdout.contains("✗ throughput>100000000: "), "{stdout}");
    assert!(
        stdout.contains("FAILED: 1 of 2 thresholds broken"),
        "{stdout}"
    );
}

#[test]
fn a_run_where_every_request_failed_exits_1() {
    let server = TestServer::start(Behavior::Ok);
    let out = short_run(&server.url("/"), &["--expect-status", "201"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("FAILED: all "), "{stdout}");
    assert!(stdout.contains("requests failed"), "{stdout}");
    assert!(server.seen() > 0);
}

#[test]
fn latency_flag_prints_the_distribution_and_the_spectrum() {
    let server = TestServer::start(Behavior::Ok);
    let out = short_run(&server.url("/"), &["--latency"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for p in [
        "50.000%", "75.000%", "90.000%", "99.000%", "99.900%", "99.990%", "99.999%", "100.000%",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(p)),
            "{p}: {stdout}"
        );
    }
    assert!(stdout.contains("Detailed Percentile spectrum"), "{stdout}");
    assert!(stdout.contains("#[Mean    ="), "{stdout}");
    // The spectrum's last row is 100% with every value counted.
    let total: u64 = stdout
        .lines()
        .find_map(|l| l.split("Total count    =").nth(1))
        .and_then(|t| t.trim().trim_end_matches(']').trim().parse().ok())
        .expect("a total count");
    let last = stdout
        .lines()
        .rfind(|l| l.split_whitespace().nth(1) == Some("1.000000"))
        .expect("a 100% row");
    assert_eq!(last.split_whitespace().nth(2), Some(&*total.to_string()));
    // Without the flag there is no table.
    let plain = short_run(&server.url("/"), &[]);
    assert!(!text(&plain.stdout).contains("Detailed Percentile spectrum"));
}

#[test]
fn a_closed_output_pipe_loses_no_results_and_does_not_panic() {
    let server = TestServer::start(Behavior::Ok);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    // `| head -0`: the reader is gone before the summary is printed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .args([
            "bench",
            &server.url("/"),
            "-d",
            "0.3s",
            "-c",
            "2",
            "-q",
            "--json",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(o.status.code(), Some(101), "{err}");
    let file = claimbench::results::io::read(&out).expect("the results file was written");
    assert!(file.measurements[0].load.summary.ok > 0);
}
