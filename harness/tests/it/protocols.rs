//! HTTPS and HTTP/2 against real in-process servers: rustls with
//! certificates made at test time (rcgen), hyper's HTTP/1.1 and HTTP/2
//! servers, and the h2 crate's server where a test needs resets and
//! GOAWAY on cue. Counts are checked against what each server saw.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use claimbench::load::plan::{BodyCheck, HttpClient, Protocol, TlsOptions};
use claimbench::load::{self, Endpoint, LoadError, LoadPlan, RequestTemplate};
use claimbench::results::schema::LoadResult;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority and a server certificate it signed for
/// `127.0.0.1` and `localhost`.
struct Pki {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "claimbench test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        chain: vec![cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

/// What a test server saw.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    connections: AtomicU64,
    /// Requests in progress on one connection at once, the most seen.
    max_per_connection: AtomicUsize,
    /// Streams reset by the server.
    resets: AtomicU64,
    /// Requests answered.
    answered: AtomicU64,
}

/// A server on its own thread and runtime, stopped when dropped.
struct Server {
    addr: SocketAddr,
    seen: Arc<Seen>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts `serve(listener, seen)` on a thread of its own.
fn spawn<F, Fut>(serve: F) -> Server
where
    F: FnOnce(tokio::net::TcpListener, Arc<Seen>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = seen.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            tokio::select! {
                () = serve(listener, s) => {}
                _ = rx => {}
            }
        });
    });
    Server {
        addr,
        seen,
        stop: Some(tx),
        thread: Some(thread),
    }
}

/// The handler of the hyper servers: counts, tracks concurrency on the
/// connection, waits `delay`, answers `Hello, World!`.
async fn hello(
    req: Request<Incoming>,
    seen: Arc<Seen>,
    on_conn: Arc<AtomicUsize>,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let now = on_conn.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_per_connection.fetch_max(now, Ordering::SeqCst);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    on_conn.fetch_sub(1, Ordering::SeqCst);
    seen.answered.fetch_add(1, Ordering::SeqCst);
    let host = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            req.headers()
                .get(http::header::HOST)
                .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        })
        .unwrap_or_default();
    // `/example.test`: only a request for that host is answered 200.
    let status = if req.uri().path() == "/example.test" && host != "example.test" {
        421
    } else {
        200
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"Hello, World!")))
        .unwrap())
}

/// An HTTPS server (hyper over rustls): HTTP/2 when the client offers `h2`
/// by ALPN and `h2` is allowed, else HTTP/1.1.
fn https_server(pki: &Pki, allow_h2: bool, delay: Duration) -> Server {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(pki.key.clone_key()))
    .unwrap();
    config.alpn_protocols = if allow_h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    spawn(move |listener, seen| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::task::spawn_local(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                seen.connections.fetch_add(1, Ordering::SeqCst);
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let on_conn = Arc::new(AtomicUsize::new(0));
                let svc = service_fn(move |req| hello(req, seen.clone(), on_conn.clone(), delay));
                let io = TokioIo::new(tls);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(LocalExec)
                        .serve_connection(io, svc)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                }
            });
        }
    })
}

#[derive(Clone, Copy)]
struct LocalExec;

impl<F: std::future::Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

/// A plain-text HTTP/2 server (prior knowledge) from the h2 crate: every
/// `reset_every`-th stream is reset (RST_STREAM, INTERNAL_ERROR), the
/// others answered after `delay`.
fn h2c_server(reset_every: u64, delay: Duration) -> Server {
    spawn(move |listener, seen| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::task::spawn_local(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                seen.connections.fetch_add(1, Ordering::SeqCst);
                while let Some(Ok((_req, mut respond))) = conn.accept().await {
                    let n = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
                    if n % reset_every == 0 {
                        respond.send_reset(h2::Reason::INTERNAL_ERROR);
                        seen.resets.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    let seen = seen.clone();
                    tokio::task::spawn_local(async move {
                        tokio::time::sleep(delay).await;
                        let resp = Response::builder().body(()).unwrap();
                        if let Ok(mut body) = respond.send_response(resp, false)
                            && body
                                .send_data(Bytes::from_static(b"Hello, World!"), true)
                                .is_ok()
                        {
                            seen.answered.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                }
            });
        }
    })
}

/// One HTTP/2 frame: its 9-byte header and `payload`.
fn frame(ty: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A plain-text HTTP/2 server written frame by frame, a thread per
/// connection: it reads the preface, sends an empty SETTINGS, acknowledges
/// the client's SETTINGS, and hands every other frame (type, flags, stream
/// id, payload) to the handler `per_connection` makes for the connection
/// from the server's counter. Returns its address and that counter.
fn frame_server<F, H>(per_connection: F) -> (SocketAddr, Arc<AtomicU64>)
where
    F: Fn(Arc<AtomicU64>) -> H + Send + 'static,
    H: FnMut(&mut std::net::TcpStream, u8, u8, u32, &[u8]) + Send + 'static,
{
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let seen = counter.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let mut handle = per_connection(seen.clone());
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut preface = [0u8; 24];
                if s.read_exact(&mut preface).is_err() {
                    return; // the engine's probe
                }
                let _ = s.write_all(&frame(4, 0, 0, &[]));
                loop {
                    let mut head = [0u8; 9];
                    if s.read_exact(&mut head).is_err() {
                        return;
                    }
                    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
                    let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
                    let mut payload = vec![0u8; len];
                    if s.read_exact(&mut payload).is_err() {
                        return;
                    }
                    match (head[3], head[4]) {
                        // SETTINGS without ACK: acknowledge it.
                        (4, f) if f & 1 == 0 => {
                            let _ = s.write_all(&frame(4, 1, 0, &[]));
                        }
                        (ty, flags) => handle(&mut s, ty, flags, id, &payload),
                    }
                }
            });
        }
    });
    (addr, counter)
}

/// A frame-by-frame server that answers no request; once `streams`
/// requests (HEADERS frames) have arrived on a connection it sends GOAWAY
/// with last stream id 0, so every stream the client opened is refused,
/// and closes when the client does. Its counter: HEADERS frames received.
fn goaway_server(streams: u64) -> (SocketAddr, Arc<AtomicU64>) {
    frame_server(move |headers| {
        let mut on_conn = 0;
        move |s, ty, _, _, _| {
            if ty == 1 {
                headers.fetch_add(1, Ordering::SeqCst);
                on_conn += 1;
                if on_conn == streams {
                    // GOAWAY, last stream 0, NO_ERROR.
                    let _ = std::io::Write::write_all(s, &frame(7, 0, 0, &[0; 8]));
                }
            }
        }
    })
}

fn plan(url: &str, connections: usize) -> LoadPlan {
    let (endpoint, path) = Endpoint::parse(url).unwrap();
    let mut p = LoadPlan::closed(
        endpoint,
        vec![RequestTemplate::get(&path).unwrap()],
        connections,
    );
    p.duration = None;
    p.max_requests = Some(2_000);
    p.timeout = Duration::from_secs(5);
    p
}

fn run(p: &LoadPlan) -> Result<LoadResult, LoadError> {
    load::run(p, Arc::new(AtomicBool::new(false)), &mut |_| {})
}

fn trusting(pki: &Pki, dir: &tempfile::TempDir) -> TlsOptions {
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &pki.ca_pem).unwrap();
    TlsOptions {
        insecure: false,
        cacert: Some(path),
    }
}

#[test]
fn https_counts_equal_what_the_server_saw_and_handshakes_are_timed() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let server = https_server(&pki, false, Duration::ZERO);
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    for client in [HttpClient::Lean, HttpClient::Hyper] {
        let before = server.seen.requests.load(Ordering::SeqCst);
        let mut p = plan(&url, 4);
        p.http_client = client;
        p.tls = trusting(&pki, &dir);
        let r = run(&p).expect("https run");
        let seen = server.seen.requests.load(Ordering::SeqCst) - before;
        assert_eq!(r.summary.ok, 2_000, "{client:?}: {:?}", r.errors);
        assert_eq!(r.summary.ok, seen, "{client:?}");
        assert!(r.options.tls);
        let hs = r
            .connections
            .tls_handshake
            .as_ref()
            .expect("handshakes timed");
        assert_eq!(hs.count, r.connections.opened, "{client:?}");
        assert!(hs.p50_us > 0);
    }
}

#[test]
fn https_without_keepalive_makes_a_full_handshake_per_request() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let server = https_server(&pki, false, Duration::ZERO);
    let mut p = plan(&format!("https://127.0.0.1:{}/", server.addr.port()), 2);
    p.max_requests = Some(200);
    p.keepalive = false;
    p.tls = trusting(&pki, &dir);
    let r = run(&p).expect("https run");
    assert_eq!(r.summary.ok, 200);
    // A new connection per request (a task may open one more and find the
    // budget spent), each a full handshake the server accepted; plus the
    // probe's handshake before the run.
    let opened = r.connections.opened;
    assert!((200..=202).contains(&opened), "{opened}");
    assert_eq!(r.connections.tls_handshake.as_ref().unwrap().count, opened);
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), opened + 1);
}

#[test]
fn an_untrusted_certificate_is_refused_before_any_load_and_insecure_accepts_it() {
    let pki = pki();
    let server = https_server(&pki, false, Duration::ZERO);
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    let p = plan(&url, 2);
    let err = run(&p)
        .expect_err("an unknown CA must be refused")
        .to_string();
    assert!(err.contains("certificate"), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(err.contains("--cacert"), "{err}");
    // Only the probe's handshake reached the server, and no request.
    assert_eq!(server.seen.requests.load(Ordering::SeqCst), 0);
    let mut p = plan(&url, 2);
    p.tls.insecure = true;
    p.max_requests = Some(50);
    let r = run(&p).expect("--insecure accepts any certificate");
    assert_eq!(r.summary.ok, 50);
    // The certificate is for 127.0.0.1 and localhost, not another name.
    let dir = tempfile::tempdir().unwrap();
    let (mut endpoint, _) = Endpoint::parse(&url).unwrap();
    endpoint.host = "example.org".into();
    let mut p = plan(&url, 1);
    p.endpoint = endpoint;
    p.tls = trusting(&pki, &dir);
    let err = run(&p)
        .expect_err("a wrong name must be refused")
        .to_string();
    assert!(err.contains("not valid for name \"example.org\""), "{err}");
}

/// Both HTTP/2 clients: the lean one and the `h2` crate's.
const H2_CLIENTS: [HttpClient; 2] = [HttpClient::Lean, HttpClient::Hyper];

#[test]
fn http2_over_tls_keeps_n_streams_in_flight_per_connection() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    for client in H2_CLIENTS {
        let server = https_server(&pki, true, Duration::from_millis(20));
        let mut p = plan(&format!("https://127.0.0.1:{}/", server.addr.port()), 2);
        p.protocol = Protocol::Http2;
        p.http_client = client;
        p.streams = 8;
        p.max_requests = Some(400);
        p.tls = trusting(&pki, &dir);
        let r = run(&p).expect("h2 run");
        assert_eq!(r.summary.ok, 400, "{client:?}: {:?}", r.errors);
        assert_eq!(server.seen.requests.load(Ordering::SeqCst), 400);
        assert_eq!(
            server.seen.max_per_connection.load(Ordering::SeqCst),
            8,
            "{client:?}"
        );
        // Two connections (plus the probe's), however many streams.
        assert_eq!(r.connections.opened, 2, "{client:?}");
        assert_eq!(server.seen.connections.load(Ordering::SeqCst), 3);
        // Every body byte the server sent was counted.
        assert_eq!(r.summary.bytes_read, 400 * 13, "{client:?}");
        // Little's law: 2 × 8 requests at once, each 20 ms: about 800 req/s.
        let little = r.little.as_ref();
        assert!(little.is_none_or(|l| l.connections == 16), "{little:?}");
    }
}

#[test]
fn http2_needs_the_server_to_agree_by_alpn() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let server = https_server(&pki, false, Duration::ZERO);
    for client in H2_CLIENTS {
        let mut p = plan(&format!("https://127.0.0.1:{}/", server.addr.port()), 1);
        p.protocol = Protocol::Http2;
        p.http_client = client;
        p.tls = trusting(&pki, &dir);
        let err = run(&p).expect_err("no h2 by ALPN").to_string();
        assert!(err.contains("does not speak HTTP/2"), "{client:?}: {err}");
    }
}

#[test]
fn h2c_resets_are_their_own_error_class_and_match_the_server() {
    for client in H2_CLIENTS {
        let server = h2c_server(5, Duration::from_millis(1));
        let mut p = plan(&format!("http://127.0.0.1:{}/", server.addr.port()), 2);
        p.protocol = Protocol::Http2;
        p.http_client = client;
        p.streams = 4;
        p.max_requests = Some(500);
        let r = run(&p).expect("h2c run");
        let resets = server.seen.resets.load(Ordering::SeqCst);
        assert_eq!(r.errors.reset, resets, "{client:?}: {:?}", r.errors);
        assert_eq!(resets, 100);
        assert_eq!(r.summary.ok, server.seen.answered.load(Ordering::SeqCst));
        assert_eq!(r.summary.ok + r.errors.reset, 500, "{:?}", r.errors);
    }
}

#[test]
fn h2c_goaway_is_counted_and_the_connection_opened_again() {
    for client in H2_CLIENTS {
        let (addr, headers) = goaway_server(4);
        let mut p = plan(&format!("http://{addr}/"), 1);
        p.protocol = Protocol::Http2;
        p.http_client = client;
        p.streams = 4;
        p.max_requests = Some(40);
        let r = run(&p).expect("h2c run");
        // Every request the server received was refused by its GOAWAY, and
        // each was counted as such; the connection was opened again each time.
        assert_eq!(
            r.errors.goaway,
            headers.load(Ordering::SeqCst),
            "{client:?}: {:?}",
            r.errors
        );
        assert_eq!(r.errors.goaway, 40, "{client:?}: {:?}", r.errors);
        assert_eq!(r.summary.ok, 0);
        assert!(r.connections.reconnects >= 9, "{:?}", r.connections);
    }
}

#[test]
fn a_host_override_is_sent_once_and_becomes_the_h2_authority() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    // HTTP/1.1 on the wire: one Host header, the override.
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        use std::io::{Read, Write};
        // The first connection is the engine's probe, which sends nothing.
        let (mut s, got) = loop {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            if !got.is_empty() {
                break (s, got);
            }
        };
        tx.send(got).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .unwrap();
    });
    let mut p = plan(&format!("http://{addr}/"), 1);
    p.max_requests = Some(1);
    p.templates[0].add_header("Host: example.test").unwrap();
    let r = run(&p).expect("one request");
    assert_eq!(r.summary.ok, 1);
    let head = String::from_utf8(rx.recv().unwrap())
        .unwrap()
        .to_lowercase();
    t.join().unwrap();
    assert_eq!(head.matches("host:").count(), 1, "{head}");
    assert!(head.contains("host: example.test\r\n"), "{head}");
    // HTTP/2: the override is the :authority the server sees.
    let server = https_server(&pki, true, Duration::ZERO);
    let url = format!("https://127.0.0.1:{}/example.test", server.addr.port());
    for client in H2_CLIENTS {
        let mut p = plan(&url, 1);
        p.protocol = Protocol::Http2;
        p.http_client = client;
        p.max_requests = Some(3);
        p.tls = trusting(&pki, &dir);
        let r = run(&p).expect("h2 request");
        assert_eq!(r.errors.status, 3, "{client:?}: without the override: 421");
        p.templates[0].add_header("Host: example.test").unwrap();
        let r = run(&p).expect("h2 request");
        assert_eq!(r.summary.ok, 3, "{client:?}: {:?}", r.errors);
    }
}

/// A plain-text HTTP/2 server (the h2 crate's) with small windows and a
/// low stream limit: it reads each request body in full, counts the
/// bodies of exactly `expect` bytes, and answers each with `reply` bytes
/// 2 ms later.
fn h2c_echo_server(max_streams: u32, window: u32, expect: usize, reply: usize) -> Server {
    spawn(move |listener, seen| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::task::spawn_local(async move {
                let Ok(mut conn) = h2::server::Builder::new()
                    .max_concurrent_streams(max_streams)
                    .initial_window_size(window)
                    .initial_connection_window_size(window)
                    .handshake::<_, Bytes>(tcp)
                    .await
                else {
                    return;
                };
                seen.connections.fetch_add(1, Ordering::SeqCst);
                let on_conn = Arc::new(AtomicUsize::new(0));
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    let (seen, on_conn) = (seen.clone(), on_conn.clone());
                    tokio::task::spawn_local(async move {
                        seen.requests.fetch_add(1, Ordering::SeqCst);
                        let now = on_conn.fetch_add(1, Ordering::SeqCst) + 1;
                        seen.max_per_connection.fetch_max(now, Ordering::SeqCst);
                        let mut body = req.into_body();
                        let mut got = 0;
                        while let Some(Ok(chunk)) = body.data().await {
                            got += chunk.len();
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        if got == expect {
                            seen.answered.fetch_add(1, Ordering::SeqCst);
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        on_conn.fetch_sub(1, Ordering::SeqCst);
                        let resp = Response::builder().body(()).unwrap();
                        if let Ok(mut out) = respond.send_response(resp, false) {
                            let _ = out.send_data(Bytes::from(vec![b'x'; reply]), true);
                        }
                    });
                }
            });
        }
    })
}

#[test]
fn h2_request_bodies_wait_for_the_servers_windows_and_streams_for_its_limit() {
    // Bodies of 100 kB against a 16 KiB window (the client must wait for
    // WINDOW_UPDATE), 8 streams per connection against a limit of 3, and
    // 50 kB answers checked byte for byte.
    const BODY: usize = 100_000;
    const REPLY: usize = 50_000;
    for client in H2_CLIENTS {
        let server = h2c_echo_server(3, 16_384, BODY, REPLY);
        let mut p = plan(&format!("http://127.0.0.1:{}/", server.addr.port()), 2);
        p.protocol = Protocol::Http2;
        p.http_client = client;
        p.streams = 8;
        p.max_requests = Some(120);
        p.templates = vec![
            RequestTemplate::new(http::Method::POST, "/", Bytes::from(vec![b'y'; BODY])).unwrap(),
        ];
        p.templates[0].check.body = BodyCheck::Equals(Bytes::from(vec![b'x'; REPLY]));
        let r = run(&p).expect("h2c run");
        // The lean client waits for the server's SETTINGS before its first
        // stream; the h2 crate's does not, so its first streams above the
        // limit (5 on each of 2 connections) may be refused (REFUSED_STREAM).
        let refused = match client {
            HttpClient::Lean => 0,
            HttpClient::Hyper => r.errors.reset,
        };
        assert!(refused <= 10, "{client:?}: {:?}", r.errors);
        assert_eq!(r.summary.ok, 120 - refused, "{client:?}: {:?}", r.errors);
        assert_eq!(
            r.summary.ok + r.errors.reset,
            120,
            "{client:?}: {:?}",
            r.errors
        );
        let answered = server.seen.answered.load(Ordering::SeqCst);
        assert_eq!(answered, r.summary.ok, "{client:?}: whole bodies");
        assert_eq!(server.seen.requests.load(Ordering::SeqCst), r.summary.ok);
        assert!(
            server.seen.max_per_connection.load(Ordering::SeqCst) <= 3,
            "{client:?}: the server's limit"
        );
        assert_eq!(
            r.summary.bytes_read,
            r.summary.ok * REPLY as u64,
            "{client:?}"
        );
    }
}

#[test]
fn an_h2_stream_that_times_out_is_given_up_and_its_connection_kept() {
    // Every answer takes 300 ms, the timeout is 100 ms: each stream times
    // out and is reset (CANCEL); the connection stays and carries the next.
    for client in H2_CLIENTS {
        let server = h2c_server(u64::MAX, Duration::from_millis(300));
        let mut p = plan(&format!("http://127.0.0.1:{}/", server.addr.port()), 1);
        p.protocol = Protocol::Http2;
        p.http_client = client;
        p.streams = 4;
        p.max_requests = Some(12);
        p.timeout = Duration::from_millis(100);
        let r = run(&p).expect("h2c run");
        assert_eq!(r.errors.timeout, 12, "{client:?}: {:?}", r.errors);
        assert_eq!(r.summary.ok, 0);
        assert_eq!(r.connections.opened, 1, "{client:?}: {:?}", r.connections);
        assert_eq!(
            server.seen.requests.load(Ordering::SeqCst),
            12,
            "{client:?}"
        );
        assert_eq!(
            server.seen.connections.load(Ordering::SeqCst),
            1,
            "{client:?}"
        );
    }
}

/// A frame-by-frame server that answers each request the long way: an
/// interim 103 head, a PING, the 200 head split over a padded HEADERS and
/// a CONTINUATION, padded DATA `ok`, then trailers that end the stream.
/// Its counter: PING acknowledgements received.
fn long_way_server() -> (SocketAddr, Arc<AtomicU64>) {
    frame_server(|acks| {
        move |s, ty, flags, id, _| match (ty, flags) {
            (6, f) if f & 1 == 1 => {
                acks.fetch_add(1, Ordering::SeqCst);
            }
            (1, _) => {
                let mut out = Vec::new();
                // :status 103 (literal, name index 8), END_HEADERS.
                out.extend(frame(1, 0x4, id, &[0x08, 3, b'1', b'0', b'3']));
                out.extend(frame(6, 0, 0, b"pingpong"));
                // :status 200 (0x88) and `x-a: b` (a literal with a new
                // name), split inside the name's literal: a padded HEADERS
                // (pad length 2), a CONTINUATION.
                let block = [0x88, 0x00, 0x03, b'x', b'-', b'a', 0x01, b'b'];
                let mut first = vec![2u8];
                first.extend_from_slice(&block[..3]);
                first.extend_from_slice(&[0, 0]);
                out.extend(frame(1, 0x8, id, &first));
                out.extend(frame(9, 0x4, id, &block[3..]));
                // DATA `ok` with 3 bytes of padding.
                out.extend(frame(0, 0x8, id, &[3, b'o', b'k', 0, 0, 0]));
                // Trailers `x-t: 1`, END_STREAM | END_HEADERS.
                out.extend(frame(
                    1,
                    0x5,
                    id,
                    &[0x00, 0x03, b'x', b'-', b't', 0x01, b'1'],
                ));
                let _ = std::io::Write::write_all(s, &out);
            }
            _ => {}
        }
    })
}

#[test]
fn h2_responses_the_long_way_interim_heads_padding_continuation_trailers() {
    for client in H2_CLIENTS {
        let (addr, acks) = long_way_server();
        let mut p = plan(&format!("http://{addr}/"), 1);
        p.protocol = Protocol::Http2;
        p.http_client = client;
        p.max_requests = Some(5);
        p.templates[0].check.body = BodyCheck::Equals(Bytes::from_static(b"ok"));
        let r = run(&p).expect("h2c run");
        assert_eq!(r.summary.ok, 5, "{client:?}: {:?}", r.errors);
        assert_eq!(r.summary.bytes_read, 10, "{client:?}");
        assert!(
            acks.load(Ordering::SeqCst) >= 5,
            "{client:?}: every PING answered"
        );
    }
}
