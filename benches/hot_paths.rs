//! Criterion benchmarks of the generator's hot paths: what runs once per
//! request (recording a latency, parsing a response head, decoding a
//! chunked body, building a request for hyper, taking the next open-loop
//! slot, checking a 10 KB JSON echo's `/count`), once per template (encoding the lean client's request) and once
//! per run (merging recorders).

use std::time::Duration;

use claimbench::load::BodyCheck;
use claimbench::load::check::body_ok;
use claimbench::load::conn::Prepared;
use claimbench::load::recorder::{Recorder, Timing, merge};
use claimbench::load::schedule::Schedule;
use claimbench::load::wire::{self, Chunked};
use claimbench::load::{Endpoint, RequestTemplate};
use claimbench::results::histogram::Latency;
use claimbench::results::schema::Arrival;
use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use tokio::time::Instant;

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    g.bench_function("latency_hdr", |b| {
        let mut l = Latency::default();
        let mut v = 1u64;
        b.iter(|| {
            v = v
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            l.record(black_box(100 + (v >> 44)));
        })
    });
    g.bench_function("recorder_ok", |b| {
        let t0 = Instant::now();
        // A duration run: counted by when each request finishes.
        let t1 = Some(t0 + Duration::from_secs(3600));
        let mut r = Recorder::new(t0, (t0, t1), Duration::from_secs(1), 1, false, true);
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let sent = t0 + Duration::from_nanos(i * 1000);
            let t = Timing {
                intended: sent,
                sent,
                head: Some(sent + Duration::from_micros(200)),
                done: sent + Duration::from_micros(250),
            };
            r.record_ok(0, black_box(t), 200, 13);
        })
    });
    g.finish();
}

fn request(c: &mut Criterion) {
    let (endpoint, path) = Endpoint::parse("http://127.0.0.1:8080/plaintext").unwrap();
    let mut t = RequestTemplate::get(&path).unwrap();
    t.add_header("Accept: text/plain").unwrap();
    let p = Prepared::new(&t, &endpoint, true, claimbench::load::plan::Protocol::Http1);
    c.bench_function("build_request_hyper", |b| b.iter(|| black_box(p.request())));
    c.bench_function("encode_request_lean", |b| {
        b.iter(|| {
            wire::encode_request(
                &t.method,
                black_box("/plaintext"),
                &endpoint.authority,
                &t.headers,
                b"",
                true,
            )
        })
    });
}

fn response(c: &mut Criterion) {
    // What targets/rust-hyper answers to GET /plaintext.
    let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\ndate: Sat, 28 Nov 2026 10:00:00 GMT\r\n\r\nHello, World!";
    c.bench_function("parse_response_head", |b| {
        b.iter(|| black_box(wire::parse_head(black_box(head), false)))
    });
    let body = b"7\r\nHello, \r\n6\r\nWorld!\r\n0\r\n\r\n";
    c.bench_function("decode_chunked_body", |b| {
        b.iter(|| {
            let mut d = Chunked::default();
            let mut n = 0;
            d.decode(black_box(body), &mut |x| n += x.len()).unwrap();
            black_box(n)
        })
    });
}

fn schedule(c: &mut Criterion) {
    let mut g = c.benchmark_group("schedule");
    for (name, arrival) in [
        ("constant", Arrival::Constant),
        ("poisson", Arrival::Poisson),
    ] {
        g.bench_function(name, |b| {
            let mut s = Schedule::new(Instant::now(), 10_000.0, arrival, 7);
            b.iter(|| black_box(s.next_due()))
        });
    }
    g.finish();
}

fn merge_recorders(c: &mut Criterion) {
    let t0 = Instant::now();
    let make = || {
        (0..4)
            .map(|k| {
                let t1 = Some(t0 + Duration::from_secs(3600));
                let mut r = Recorder::new(t0, (t0, t1), Duration::from_secs(1), 2, true, true);
                for i in 0..50_000u64 {
                    let sent = t0 + Duration::from_micros(i * 200 + k);
                    let t = Timing {
                        intended: sent,
                        sent,
                        head: Some(sent + Duration::from_micros(150)),
                        done: sent + Duration::from_micros(200 + i % 977),
                    };
                    r.record_ok((i % 2) as usize, t, 200, 13);
                }
                r
            })
            .collect::<Vec<_>>()
    };
    c.bench_function("merge_4_threads_10s", |b| {
        b.iter_batched(make, |recs| black_box(merge(recs)), BatchSize::LargeInput)
    });
}

/// The json-echo check: `/count` of a 10 KB response (the echoed records
/// beside their count), once per request.
fn check(c: &mut Criterion) {
    let records = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/data/echo-10k.json"),
    )
    .expect("scenarios/data/echo-10k.json");
    let body = format!(r#"{{"count":134,"total":1234.5,"records":{records}}}"#);
    let check = BodyCheck::JsonField {
        pointer: "/count".into(),
        value: serde_json::json!(134),
    };
    assert!(body_ok(&check, body.as_bytes()));
    c.bench_function("check_json_echo_10k", |b| {
        b.iter(|| black_box(body_ok(&check, black_box(body.as_bytes()))))
    });
}

criterion_group!(
    benches,
    check,
    record,
    request,
    response,
    schedule,
    merge_recorders
);
criterion_main!(benches);
