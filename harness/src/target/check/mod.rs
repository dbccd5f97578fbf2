//! The contract check (`targets/CONTRACT.md`): one request per case to a
//! running target, each response validated so that no stack can pass by
//! skipping work (the right Fibonacci number, the right iterated SHA-256,
//! the right SHA-256 of a large buffer, the right matrix-product sum, a busy
//! wait that lasted, the right echo summary, the right stream of events, the
//! 400s and 404).
//!
//! Uses hyper's connection-level client, one connection per case; sends no load.
mod client;
mod expected;

use std::time::{Duration, Instant};

use http::Method;
use serde_json::json;

use super::process::RunningTarget;
use client::{Client, Mismatch, base_addr};
use expected::contains_value;
pub use expected::{
    MATMUL_EXPECTED, SHA256_EXPECTED, echo_records, fib, hash_chain, json_eq, matmul_sum,
    sha256_input, sse_data,
};

/// The result of checking one endpoint case.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointCheck {
    /// The request, e.g. `GET /cpu/fib?n=20`.
    pub endpoint: String,
    /// Whether the response met the contract.
    pub passed: bool,
    /// What was checked or what was wrong.
    pub detail: String,
    /// How long the request took.
    pub elapsed: Duration,
}

/// Checks every contract endpoint of a running target (which must have
/// been started with a `downstream_url`). Creates its own small runtime, so
/// it must not be called from inside a tokio runtime; use
/// [`check_url_async`] there.
pub fn check(target: &RunningTarget) -> Vec<EndpointCheck> {
    check_url(&target.url())
}

/// Like [`check`], for any base URL such as `http://127.0.0.1:8080`.
pub fn check_url(base_url: &str) -> Vec<EndpointCheck> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(check_url_async(base_url)),
        Err(e) => vec![EndpointCheck {
            endpoint: "(runtime)".into(),
            passed: false,
            detail: format!("cannot start a runtime: {e}"),
            elapsed: Duration::ZERO,
        }],
    }
}

/// Checks every case against `base_url`, one after another.
pub async fn check_url_async(base_url: &str) -> Vec<EndpointCheck> {
    let addr = match base_addr(base_url) {
        Ok(a) => a,
        Err(e) => {
            return vec![EndpointCheck {
                endpoint: base_url.to_string(),
                passed: false,
                detail: e.to_string(),
                elapsed: Duration::ZERO,
            }];
        }
    };
    let mut out = Vec::new();
    let c = Client { addr };

    // Basic endpoints.
    out.push(
        c.case(Method::GET, "/health", None, |r| {
            r.expect_status(200)?;
            match r.text().trim() {
                "ok" => Ok("ok".into()),
                other => Err(Mismatch(format!("body {other:?}, expected \"ok\""))),
            }
        })
        .await,
    );
    out.push(
        c.case(Method::GET, "/plaintext", None, |r| {
            r.expect_status(200)?;
            r.expect_content_type("text/plain")?;
            let body = r.text();
            if body != "Hello, World!" {
                return Err(Mismatch(format!(
                    "body {body:?}, expected \"Hello, World!\""
                )));
            }
            Ok("Hello, World!".into())
        })
        .await,
    );
    out.push(
        c.case(Method::GET, "/json", None, |r| {
            r.expect_status(200)?;
            r.expect_content_type("application/json")?;
            let v = r.json()?;
            if v != json!({"message": "Hello, World!"}) {
                return Err(Mismatch(format!(
                    "body {v}, expected {{\"message\":\"Hello, World!\"}}"
                )));
            }
            Ok("{\"message\":\"Hello, World!\"}".into())
        })
        .await,
    );

    // Echo: small and near the 1 MB top of the contract's range.
    for n in [40usize, 10_000] {
        let records = echo_records(n);
        let body = serde_json::to_vec(&records).unwrap_or_default();
        let size = body.len();
        let expected_sum: f64 = records.iter().filter_map(|r| r["value"].as_f64()).sum();
        let mut check = c
            .case(Method::POST, "/json/echo", Some(body), |r| {
                r.expect_status(200)?;
                r.expect_content_type("application/json")?;
                let v = r.json()?;
                let count = v["count"].as_u64();
                if count != Some(n as u64) {
                    return Err(Mismatch(format!("count {}, expected {n}", v["count"])));
                }
                let sum = v["sum"]
                    .as_f64()
                    .ok_or(Mismatch("no numeric `sum`".into()))?;
                if (sum - expected_sum).abs() > 1e-6 * expected_sum.abs().max(1.0) {
                    return Err(Mismatch(format!("sum {sum}, expected {expected_sum}")));
                }
                let items = v["items"]
                    .as_array()
                    .ok_or(Mismatch("no `items` array".into()))?;
                if items.len() != n {
                    return Err(Mismatch(format!("{} items, expected {n}", items.len())));
                }
                if let Some(i) = (0..n).find(|&i| !json_eq(&items[i], &records[i])) {
                    return Err(Mismatch(format!(
                        "item {i} is {}, expected {}",
                        items[i], records[i]
                    )));
                }
                Ok(format!("count {n}, sum {expected_sum}, items equal"))
            })
            .await;
        check.endpoint = format!("POST /json/echo ({n} records, {} KB)", size / 1024);
        out.push(check);
    }
    out.push({
        let mut check = c
            .case(Method::POST, "/json/echo", Some(b"[]".to_vec()), |r| {
                r.expect_status(200)?;
                let v = r.json()?;
                if json_eq(&v, &json!({"count": 0, "sum": 0, "items": []})) {
                    Ok("count 0".into())
                } else {
                    Err(Mismatch(format!(
                        "body {v}, expected {{\"count\":0,\"sum\":0,\"items\":[]}}"
                    )))
                }
            })
            .await;
        check.endpoint = "POST /json/echo (empty array)".into();
        check
    });
    out.push({
        let body = br#"[{"id":1,"name":"a","value":2.5,"tags":["x"],"extra":true}]"#.to_vec();
        let mut check = c
            .case(Method::POST, "/json/echo", Some(body), |r| {
                r.expect_status(200)?;
                let v = r.json()?;
                let want = json!([{"id": 1, "name": "a", "value": 2.5, "tags": ["x"]}]);
                if json_eq(&v["items"], &want) {
                    Ok("extra key dropped".into())
                } else {
                    Err(Mismatch(format!("items {}, expected {want}", v["items"])))
                }
            })
            .await;
        check.endpoint = "POST /json/echo (extra key)".into();
        check
    });
    out.push({
        // Above the contract's 2 MB limit (a valid array, so only its size is wrong).
        let records = echo_records(26_000);
        let body = serde_json::to_vec(&records).unwrap_or_default();
        let size = body.len();
        // The contract lets a target close the connection after its 413
        // without reading the rest; the kernel then resets the connection and
        // the 413 may be lost before it is read. A reset during the upload is
        // therefore accepted as a refusal; any answer other than 413 fails.
        let endpoint = format!("POST /json/echo ({} KB, over 2 MB)", size / 1024);
        let started = Instant::now();
        let sent = tokio::time::timeout(
            Duration::from_secs(15),
            c.send(Method::POST, "/json/echo", Some(body), started),
        )
        .await;
        let (passed, detail) = match sent {
            Err(_) => (false, "no answer within 15 s".to_string()),
            Ok(Ok(r)) => match r.expect_status(413) {
                Ok(d) => (true, d),
                Err(d) => (false, d.0),
            },
            Ok(Err(e)) if e.connection_cut() => (
                true,
                format!("connection closed during the upload (allowed by the contract): {e}"),
            ),
            Ok(Err(e)) => (false, e.to_string()),
        };
        EndpointCheck {
            endpoint,
            passed,
            detail,
            elapsed: started.elapsed(),
        }
    });
    const R: &str = r#""id":1,"name":"a","value":2.5,"tags":["x"]"#;
    let bad_bodies: Vec<(&str, String)> = vec![
        ("invalid JSON", "[{\"id\":1,".into()),
        ("empty body", String::new()),
        ("an object", format!("{{{R}}}")),
        ("an element not an object", "[1]".into()),
        (
            "a missing field",
            r#"[{"id":1,"name":"a","value":2.5}]"#.into(),
        ),
        (
            "id a string",
            format!("[{{{}}}]", R.replace("\"id\":1", "\"id\":\"1\"")),
        ),
        (
            "id 1.5",
            format!("[{{{}}}]", R.replace("\"id\":1", "\"id\":1.5")),
        ),
        (
            "id true",
            format!("[{{{}}}]", R.replace("\"id\":1", "\"id\":true")),
        ),
        (
            "name null",
            format!("[{{{}}}]", R.replace("\"name\":\"a\"", "\"name\":null")),
        ),
        (
            "value a string",
            format!("[{{{}}}]", R.replace("2.5", "\"2.5\"")),
        ),
        ("value null", format!("[{{{}}}]", R.replace("2.5", "null"))),
        (
            "tags not strings",
            format!("[{{{}}}]", R.replace("[\"x\"]", "[1]")),
        ),
    ];
    for (label, body) in bad_bodies {
        let mut check = c
            .case(Method::POST, "/json/echo", Some(body.into_bytes()), |r| {
                r.expect_status(400)
            })
            .await;
        check.endpoint = format!("POST /json/echo ({label})");
        out.push(check);
    }

    // I/O.
    out.push(
        c.case(Method::GET, "/io/sleep?ms=50", None, |r| {
            r.expect_status(200)?;
            let v = r.json()?;
            if v != json!({"slept_ms": 50}) {
                return Err(Mismatch(format!("body {v}, expected {{\"slept_ms\":50}}")));
            }
            r.expect_at_least(Duration::from_millis(50))?;
            Ok(format!("slept_ms 50 in {:.0?}", r.elapsed))
        })
        .await,
    );
    out.push(
        c.case(Method::GET, "/io/downstream?ms=20", None, |r| {
            r.expect_status(200)?;
            let v = r.json()?;
            if v["ms"].as_u64() != Some(20) || !contains_value(&v["downstream"], "delayed_ms", 20) {
                return Err(Mismatch(format!(
                    "body {v}, expected {{\"ms\":20,\"downstream\":{{\"delayed_ms\":20}}}}"
                )));
            }
            r.expect_at_least(Duration::from_millis(20))?;
            Ok(format!("downstream answered in {:.0?}", r.elapsed))
        })
        .await,
    );

    // CPU.
    for n in [20u32, 27] {
        let value = fib(n);
        out.push(
            c.case(Method::GET, &format!("/cpu/fib?n={n}"), None, |r| {
                r.expect_status(200)?;
                let v = r.json()?;
                if v["value"].as_u64() != Some(value) || v["n"].as_u64() != Some(n as u64) {
                    return Err(Mismatch(format!(
                        "body {v}, expected {{\"n\":{n},\"value\":{value}}}"
                    )));
                }
                Ok(format!("value {value}"))
            })
            .await,
        );
    }
    for rounds in [1u32, 1000] {
        let digest = hash_chain(rounds);
        out.push(
            c.case(
                Method::GET,
                &format!("/cpu/hash?rounds={rounds}"),
                None,
                |r| {
                    r.expect_status(200)?;
                    let v = r.json()?;
                    if v["digest"].as_str() != Some(digest.as_str())
                        || v["rounds"].as_u64() != Some(rounds as u64)
                    {
                        return Err(Mismatch(format!(
                            "body {v}, expected {{\"rounds\":{rounds},\"digest\":\"{digest}\"}}"
                        )));
                    }
                    Ok(format!("digest {}…", &digest[..16]))
                },
            )
            .await,
        );
    }

    // SHA-256 of a buffer: growing the cached input (1, then 1024 KiB), then
    // a prefix of it again (1 KiB after 1024).
    for (i, (kib, digest)) in SHA256_EXPECTED
        .iter()
        .chain(&SHA256_EXPECTED[..1])
        .enumerate()
    {
        let mut check = c
            .case(Method::GET, &format!("/cpu/sha256?kib={kib}"), None, |r| {
                r.expect_status(200)?;
                let v = r.json()?;
                if v["digest"].as_str() != Some(*digest) || v["kib"].as_u64() != Some(*kib as u64) {
                    return Err(Mismatch(format!(
                        "body {v}, expected {{\"kib\":{kib},\"digest\":\"{digest}\"}}"
                    )));
                }
                Ok(format!("digest {}…", &digest[..16]))
            })
            .await;
        if i == SHA256_EXPECTED.len() {
            check.endpoint += " (after kib=1024)";
        }
        out.push(check);
    }
    for (n, sum) in MATMUL_EXPECTED {
        out.push(
            c.case(Method::GET, &format!("/cpu/matmul?n={n}"), None, |r| {
                r.expect_status(200)?;
                let v = r.json()?;
                // `sum` must be printed as an integer (`as_u64` refuses 7852.0).
                if v["sum"].as_u64() != Some(sum) || v["n"].as_u64() != Some(n) {
                    return Err(Mismatch(format!(
                        "body {v}, expected {{\"n\":{n},\"sum\":{sum}}}"
                    )));
                }
                Ok(format!("sum {sum}"))
            })
            .await,
        );
    }
    for ms in [0u64, 50] {
        out.push(
            c.case(Method::GET, &format!("/cpu/spin?ms={ms}"), None, |r| {
                r.expect_status(200)?;
                let v = r.json()?;
                let iterations = v["iterations"].as_u64();
                if v["ms"].as_u64() != Some(ms)
                    || iterations.is_none()
                    || (ms > 0 && iterations == Some(0))
                {
                    return Err(Mismatch(format!(
                        "body {v}, expected {{\"ms\":{ms},\"iterations\":K}} with an integer K{}",
                        if ms > 0 { " > 0" } else { "" }
                    )));
                }
                r.expect_at_least(Duration::from_millis(ms))?;
                Ok(format!(
                    "{} iterations in {:.0?}",
                    iterations.unwrap_or(0),
                    r.elapsed
                ))
            })
            .await,
        );
    }

    // Streaming.
    out.push(
        c.case(Method::GET, "/stream?chunks=5&interval_ms=20", None, |r| {
            r.expect_status(200)?;
            r.expect_content_type("text/event-stream")?;
            if r.has_content_length {
                return Err(Mismatch("has a Content-Length: not streamed".into()));
            }
            let events = sse_data(&r.text());
            let want: Vec<String> = (0..5).map(|i| i.to_string()).collect();
            if events != want {
                return Err(Mismatch(format!("events {events:?}, expected {want:?}")));
            }
            r.expect_at_least(Duration::from_millis(80))?;
            // Streamed, not buffered: data arrived over time.
            let spread = r
                .elapsed
                .saturating_sub(r.first_data_at.unwrap_or(r.elapsed));
            if spread < Duration::from_millis(40) {
                return Err(Mismatch(format!(
                    "the whole body arrived at once after {:.0?}: buffered, not streamed",
                    r.elapsed
                )));
            }
            Ok(format!(
                "5 events in {} frames over {:.0?}",
                r.frames, r.elapsed
            ))
        })
        .await,
    );

    // Bad parameters (as CONTRACT.md lists them: missing, empty, `abc`,
    // `1.5`, `-1`, max+1, a 20-digit number) and an unknown path.
    let mut bad: Vec<(String, u16)> = vec![("/nope".into(), 404)];
    for (path, max) in [
        ("/cpu/fib?n=", 35u64),
        ("/io/sleep?ms=", 10_000),
        ("/cpu/hash?rounds=", 1_000_000),
        ("/cpu/sha256?kib=", 16_384),
        ("/cpu/matmul?n=", 512),
        ("/cpu/spin?ms=", 10_000),
    ] {
        let base = path.split('?').next().unwrap_or(path);
        bad.push((base.to_string(), 400));
        for v in [
            String::new(),
            "abc".into(),
            "1.5".into(),
            "-1".into(),
            (max + 1).to_string(),
            "99999999999999999999".into(),
        ] {
            bad.push((format!("{path}{v}"), 400));
        }
    }
    bad.extend(
        [
            "/cpu/hash?rounds=0",
            "/cpu/sha256?kib=0",
            "/cpu/matmul?n=0",
            "/io/downstream?ms=abc",
            "/io/downstream?ms=10001",
            "/stream?chunks=0&interval_ms=10",
            "/stream?chunks=abc&interval_ms=10",
            "/stream?chunks=2&interval_ms=-1",
            "/stream?chunks=2",
        ]
        .map(|p| (p.to_string(), 400)),
    );
    for (path, status) in bad {
        out.push(
            c.case(Method::GET, &path, None, |r| r.expect_status(status))
                .await,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn reference_values() {
        assert_eq!(fib(20), 6765);
        assert_eq!(fib(27), 196418);
        assert_eq!(fib(0), 0);
        // Round 1 is the plain SHA-256 of "claimbench".
        assert_eq!(hash_chain(1), hex::encode(Sha256::digest(b"claimbench")));
        let two: [u8; 32] = Sha256::digest(Sha256::digest(b"claimbench")).into();
        assert_eq!(hash_chain(2), hex::encode(two));
        assert_eq!(hash_chain(1000).len(), 64);
        // The contract's /cpu/sha256 and /cpu/matmul values, recomputed.
        for (kib, digest) in SHA256_EXPECTED {
            assert_eq!(hex::encode(Sha256::digest(sha256_input(kib))), digest);
        }
        assert_eq!(&sha256_input(1)[249..253], &[249, 250, 0, 1]);
        for (n, sum) in MATMUL_EXPECTED {
            assert_eq!(matmul_sum(n), sum);
        }
        // Against the plain triple loop, and the largest n stays far below 2^53.
        let n = 8usize;
        let brute: u64 = (0..n)
            .flat_map(|i| (0..n).flat_map(move |j| (0..n).map(move |k| (i, j, k))))
            .map(|(i, j, k)| (((i + k) % 10) * ((k * j) % 10)) as u64)
            .sum();
        assert_eq!(brute, matmul_sum(8));
        assert_eq!(matmul_sum(512), 2_198_635_248);
        assert!(matmul_sum(512) < 1 << 53);
    }

    #[test]
    fn sse_and_json_helpers() {
        assert_eq!(
            sse_data("data: 0\n\ndata:1\r\n\r\nevent: x\ndata: 2\n\n"),
            ["0", "1", "2"]
        );
        assert!(json_eq(&json!({"a": [1, 2.5]}), &json!({"a": [1.0, 2.5]})));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(contains_value(
            &json!({"downstream": {"delayed_ms": 20}}),
            "delayed_ms",
            20
        ));
        assert!(!contains_value(
            &json!({"delayed_ms": 21}),
            "delayed_ms",
            20
        ));
        let r = echo_records(4);
        assert_eq!(r[1]["value"], json!(37.5));
        let size = serde_json::to_vec(&echo_records(10_000)).unwrap().len();
        assert!((700_000..1_000_000).contains(&size), "{size}");
    }

    #[test]
    fn local_downstream_answers() {
        let d = crate::downstream::LocalDownstream::start(&[]).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let addr = base_addr(d.url()).unwrap();
        let c = Client { addr };
        let res = rt.block_on(c.case(Method::GET, "/delay?ms=5", None, |r| {
            r.expect_status(200)?;
            let v = r.json()?;
            (v == json!({"delayed_ms": 5}))
                .then(|| "ok".to_string())
                .ok_or(Mismatch(format!("{v}")))
        }));
        assert!(res.passed, "{res:?}");
    }
}
