//! claimbench's Rust baseline target: hyper 1.x on a tokio multi-thread runtime.
//!
//! Implements the endpoint contract in `targets/CONTRACT.md`. Configuration:
//! `--host H` / env `HOST` (default 127.0.0.1), `--port P` / env `PORT`
//! (required), env `WORKERS` = tokio worker threads (default 1), env
//! `DOWNSTREAM_URL` for `/io/downstream`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Largest accepted `POST /json/echo` body.
const MAX_BODY: usize = 2 * 1024 * 1024;
/// Most idle keep-alive connections kept to the downstream service.
const MAX_IDLE_DOWNSTREAM: usize = 1024;
/// Upper bound on one downstream exchange (the longest legal delay is 10 s).
const DOWNSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Response body: either a complete buffer or a channel of SSE chunks.
enum ResBody {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Bytes>),
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ResBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            ResBody::Channel(rx) => rx.poll_recv(cx).map(|c| c.map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ResBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResBody::Full(Some(d)) => SizeHint::with_exact(d.len() as u64),
            ResBody::Full(None) => SizeHint::with_exact(0),
            ResBody::Channel(_) => SizeHint::default(),
        }
    }
}

#[derive(Deserialize, Serialize)]
struct Record {
    id: i64,
    name: String,
    value: f64,
    tags: Vec<String>,
}

#[derive(Serialize)]
struct Echo<'a> {
    count: usize,
    sum: f64,
    items: &'a [Record],
}

/// Where `/io/downstream` sends its requests, parsed once from `DOWNSTREAM_URL`.
struct Downstream {
    /// `host:port` to connect to.
    addr: String,
    /// Value of the `Host` header.
    authority: String,
    /// Path prefix from the URL, without a trailing slash.
    prefix: String,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

struct State {
    downstream: Option<Downstream>,
    /// `/cpu/sha256`'s input, as long as the largest one asked for so far.
    sha256_input: RwLock<Arc<Vec<u8>>>,
    /// `/cpu/matmul`'s A and B per n (the last few sizes).
    matrices: Mutex<Vec<(u64, Arc<Matrices>)>>,
}

/// `/cpu/matmul`'s inputs for one n, row-major.
struct Matrices {
    a: Vec<f64>,
    b: Vec<f64>,
}

/// How many matrix sizes `/cpu/matmul` keeps.
const MATRICES_KEPT: usize = 8;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_string());
    let mut port = std::env::var("PORT").ok();
    let mut i = 1;
    while i < args.len() {
        match (args[i].as_str(), args.get(i + 1)) {
            ("--host", Some(v)) => host = v.clone(),
            ("--port", Some(v)) => port = Some(v.clone()),
            (other, _) => fail(&format!(
                "unknown or incomplete argument {other:?}; usage: claimbench-target-hyper [--host H] --port P"
            )),
        }
        i += 2;
    }
    let port: u16 = match port.as_deref().map(str::parse) {
        Some(Ok(p)) => p,
        _ => fail("a port is required: --port P or env PORT"),
    };
    let workers: usize = match std::env::var("WORKERS") {
        Ok(w) if !w.is_empty() => match w.parse() {
            Ok(n) if n > 0 => n,
            _ => fail(&format!("WORKERS must be a positive integer, got {w:?}")),
        },
        _ => 1,
    };
    let downstream = match std::env::var("DOWNSTREAM_URL") {
        Ok(u) if !u.is_empty() => match parse_downstream(&u) {
            Ok(d) => Some(d),
            Err(e) => fail(&format!("bad DOWNSTREAM_URL {u:?}: {e}")),
        },
        _ => None,
    };
    let state = Arc::new(State {
        downstream,
        sha256_input: RwLock::new(Arc::new(Vec::new())),
        matrices: Mutex::new(Vec::new()),
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot start the tokio runtime: {e}")));
    runtime.block_on(serve(host, port, state));
}

fn fail(msg: &str) -> ! {
    eprintln!("claimbench-target-hyper: {msg}");
    std::process::exit(2);
}

fn parse_downstream(url: &str) -> Result<Downstream, String> {
    let uri: Uri = url.parse().map_err(|e| format!("{e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs are supported".into());
    }
    let authority = uri.authority().ok_or("no host")?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let host = authority.host();
    let addr = if host.starts_with('[') {
        format!("{host}:{port}")
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Downstream {
        addr,
        authority: authority.as_str().to_string(),
        prefix: uri.path().trim_end_matches('/').to_string(),
        idle: Mutex::new(Vec::new()),
    })
}

async fn serve(host: String, port: u16, state: Arc<State>) {
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .unwrap_or_else(|e| fail(&format!("bad host {host:?}: {e}")));
    let addr = SocketAddr::new(ip, port);
    let listener = TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {addr}: {e}")));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // e.g. EMFILE under a connection flood: back off instead of spinning.
                eprintln!("claimbench-target-hyper: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(req, &state).await) }
            });
            // Errors here are client-side resets/aborts; nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<ResBody> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .body(ResBody::Full(Some(body.into())))
        .expect("static response parts are valid")
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<ResBody> {
    respond(status, "text/plain; charset=utf-8", body)
}

fn json(value: &impl Serialize) -> Response<ResBody> {
    match serde_json::to_vec(value) {
        Ok(v) => respond(StatusCode::OK, "application/json", v),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("serialize: {e}\n"),
        ),
    }
}

fn bad(msg: String) -> Response<ResBody> {
    text(StatusCode::BAD_REQUEST, msg)
}

fn query(req: &Request<Incoming>) -> HashMap<&str, &str> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .collect()
}

/// A parameter that must be plain ASCII decimal digits within `lo..=hi`.
/// The error is the text of the 400 answer.
fn int_param(q: &HashMap<&str, &str>, name: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let raw = q
        .get(name)
        .ok_or_else(|| format!("missing parameter {name}\n"))?;
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("parameter {name} must be an integer\n"));
    }
    match raw.parse::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("parameter {name} must be in {lo}..{hi}\n")),
    }
}

async fn handle(req: Request<Incoming>, state: &State) -> Response<ResBody> {
    let q = query(&req);
    let method = req.method().clone();
    match (method, req.uri().path()) {
        (Method::GET, "/health") => text(StatusCode::OK, "ok"),
        (Method::GET, "/plaintext") => respond(StatusCode::OK, "text/plain", "Hello, World!"),
        (Method::GET, "/json") => json(&serde_json::json!({"message": "Hello, World!"})),
        (Method::POST, "/json/echo") => echo(req).await,
        (Method::GET, "/io/sleep") => match int_param(&q, "ms", 0, 10_000) {
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                json(&serde_json::json!({"slept_ms": ms}))
            }
            Err(m) => bad(m),
        },
        (Method::GET, "/io/downstream") => match int_param(&q, "ms", 0, 10_000) {
            Ok(ms) => downstream(state, ms).await,
            Err(m) => bad(m),
        },
        (Method::GET, "/cpu/fib") => match int_param(&q, "n", 0, 35) {
            Ok(n) => json(&serde_json::json!({"n": n, "value": fib(n)})),
            Err(m) => bad(m),
        },
        (Method::GET, "/cpu/hash") => match int_param(&q, "rounds", 1, 1_000_000) {
            Ok(rounds) => json(&serde_json::json!({"rounds": rounds, "digest": hash(rounds)})),
            Err(m) => bad(m),
        },
        (Method::GET, "/cpu/sha256") => match int_param(&q, "kib", 1, 16_384) {
            Ok(kib) => json(&serde_json::json!({"kib": kib, "digest": sha256_kib(state, kib)})),
            Err(m) => bad(m),
        },
        (Method::GET, "/cpu/matmul") => match int_param(&q, "n", 1, 512) {
            Ok(n) => json(&serde_json::json!({"n": n, "sum": matmul_sum(state, n)})),
            Err(m) => bad(m),
        },
        (Method::GET, "/cpu/spin") => match int_param(&q, "ms", 0, 10_000) {
            Ok(ms) => json(&serde_json::json!({"ms": ms, "iterations": spin(ms)})),
            Err(m) => bad(m),
        },
        (Method::GET, "/stream") => {
            let chunks = match int_param(&q, "chunks", 1, 10_000) {
                Ok(v) => v,
                Err(m) => return bad(m),
            };
            match int_param(&q, "interval_ms", 0, 10_000) {
                Ok(interval) => stream(chunks, interval),
                Err(m) => bad(m),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

fn hash(rounds: u64) -> String {
    let mut digest = Sha256::digest(b"claimbench");
    for _ in 1..rounds {
        digest = Sha256::digest(digest);
    }
    hex::encode(digest)
}

/// SHA-256 of `kib` KiB where byte i is `i % 251`. The input for `kib` is a
/// prefix of the input for any larger `kib`, so one buffer (as long as the
/// largest input asked for so far) is built per process and every request
/// hashes a slice of it.
fn sha256_kib(state: &State, kib: u64) -> String {
    let len = kib as usize * 1024;
    let mut input = state
        .sha256_input
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if input.len() < len {
        let mut w = state
            .sha256_input
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if w.len() < len {
            *w = Arc::new((0..len).map(|i| (i % 251) as u8).collect());
        }
        input = w.clone();
    }
    hex::encode(Sha256::digest(&input[..len]))
}

/// A[i][j] = (i + j) % 10 and B[i][j] = (i * j) % 10, built once per n.
fn matrices(state: &State, n: u64) -> Arc<Matrices> {
    let mut kept = state.matrices.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, m)) = kept.iter().find(|(k, _)| *k == n) {
        return m.clone();
    }
    let n = n as usize;
    let mut a = vec![0.0; n * n];
    let mut b = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = ((i + j) % 10) as f64;
            b[i * n + j] = ((i * j) % 10) as f64;
        }
    }
    let m = Arc::new(Matrices { a, b });
    if kept.len() >= MATRICES_KEPT {
        kept.remove(0);
    }
    kept.push((n as u64, m.clone()));
    m
}

/// C = A x B with a plain i-k-j triple loop over `Vec<f64>`; the sum of C
/// (an integer below 2^53, so exact).
fn matmul_sum(state: &State, n: u64) -> u64 {
    let m = matrices(state, n);
    let n = n as usize;
    let mut c = vec![0.0f64; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = m.a[i * n + k];
            for j in 0..n {
                c[i * n + j] += aik * m.b[k * n + j];
            }
        }
    }
    c.iter().sum::<f64>() as u64
}

/// Busy-waits `ms` ms of wall-clock time on the calling (tokio worker)
/// thread, reading the monotonic clock; returns how many times it read it.
fn spin(ms: u64) -> u64 {
    let end = Instant::now() + Duration::from_millis(ms);
    let mut iterations = 0u64;
    while Instant::now() < end {
        iterations += 1;
    }
    iterations
}

async fn echo(req: Request<Incoming>) -> Response<ResBody> {
    if let Some(len) = req.headers().get(CONTENT_LENGTH)
        && len
            .to_str()
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .is_some_and(|n| n > MAX_BODY)
    {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "body larger than 2 MB\n");
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "body larger than 2 MB\n");
        }
        Err(e) => return bad(format!("cannot read body: {e}\n")),
    };
    let records: Vec<Record> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("body must be a JSON array of records: {e}\n")),
    };
    let sum = records.iter().map(|r| r.value).sum();
    json(&Echo {
        count: records.len(),
        sum,
        items: &records,
    })
}

fn stream(chunks: u64, interval_ms: u64) -> Response<ResBody> {
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    tokio::spawn(async move {
        for i in 0..chunks {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(interval_ms)).await;
            }
            if tx
                .send(Bytes::from(format!("data: {i}\n\n")))
                .await
                .is_err()
            {
                return; // client went away
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache")
        .body(ResBody::Channel(rx))
        .expect("static response parts are valid")
}

async fn downstream(state: &State, ms: u64) -> Response<ResBody> {
    let Some(ds) = &state.downstream else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "DOWNSTREAM_URL is not set\n",
        );
    };
    match tokio::time::timeout(DOWNSTREAM_TIMEOUT, call_downstream(ds, ms)).await {
        Ok(Ok(value)) => json(&serde_json::json!({"ms": ms, "downstream": value})),
        Ok(Err(e)) => text(StatusCode::BAD_GATEWAY, format!("downstream failed: {e}\n")),
        Err(_) => text(StatusCode::BAD_GATEWAY, "downstream timed out\n"),
    }
}

async fn call_downstream(ds: &Downstream, ms: u64) -> Result<serde_json::Value, BoxError> {
    let mut sender = checkout(ds).await?;
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("{}/delay?ms={ms}", ds.prefix))
        .header(HOST, ds.authority.as_str())
        .body(Full::new(Bytes::new()))?;
    let res = sender.send_request(req).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    // The exchange is complete: the connection may serve the next request.
    if !sender.is_closed() {
        let mut idle = ds.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_DOWNSTREAM {
            idle.push(sender);
        }
    }
    if !status.is_success() {
        return Err(format!("downstream answered {status}").into());
    }
    Ok(serde_json::from_slice(&body)?)
}

/// An idle keep-alive connection from the pool, or a new one.
async fn checkout(ds: &Downstream) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    loop {
        let candidate = ds.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match candidate {
            Some(mut s) => {
                if s.is_closed() {
                    continue;
                }
                if s.ready().await.is_ok() {
                    return Ok(s);
                }
            }
            None => break,
        }
    }
    let stream = TcpStream::connect(&ds.addr).await?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
