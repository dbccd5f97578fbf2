//! An in-process HTTP/1.1 test server with scripted misbehaviour, for the
//! engine's tests. It runs on its own thread and runtime, binds
//! `127.0.0.1:0`, and counts what it saw so tests can compare.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;

/// What the server does with each connection or request.
#[derive(Clone, Copy, Debug)]
pub enum Behavior {
    /// 200 `Hello, World!`.
    Ok,
    /// 500 on every request.
    Status500,
    /// 200 with a body that is not `Hello, World!`.
    WrongBody,
    /// Accepts, then resets the connection (SO_LINGER 0) without answering.
    Reset,
    /// Reads requests and never answers.
    NeverAnswer,
    /// 200 `Hello, World!` and closes the connection after each response.
    CloseAfterEach,
    /// 200 `Hello, World!` sent chunked (`Transfer-Encoding: chunked`), in
    /// two chunks 5 ms apart.
    Chunked,
    /// 200 after `fixed`, except that every response due during a stall
    /// window (the first `stall` of every `period`, from the server's start)
    /// is held until that window ends.
    Stall {
        /// Length of a cycle.
        period: Duration,
        /// Length of the stall at the start of each cycle.
        stall: Duration,
    },
    /// 200 `Hello, World!` exactly this long after the request.
    Delay(Duration),
    /// 200 after 5 ms until this long after the server's start; after
    /// that, requests are read and never answered.
    StallAfter(Duration),
    /// 200 after `slow` until `until` after the server's start, then after
    /// `fast`: a target that warms up.
    SlowUntil {
        /// When it becomes fast.
        until: Duration,
        /// Response time before.
        slow: Duration,
        /// Response time after.
        fast: Duration,
    },
    /// 200 after `a` in even periods since the server's start and after `b`
    /// in odd ones: a target that never settles.
    Alternating {
        /// Length of each period.
        period: Duration,
        /// Response time in even periods.
        a: Duration,
        /// Response time in odd periods.
        b: Duration,
    },
}

/// A running test server.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests received (complete heads).
    pub requests: Arc<AtomicU64>,
    /// Connections accepted.
    pub connections: Arc<AtomicU64>,
    /// Requests received per path.
    pub per_path: Arc<Mutex<HashMap<String, u64>>>,
    /// Requests served on each accepted connection, in accept order.
    pub per_connection: Arc<Mutex<Vec<u64>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with `behavior` on 127.0.0.1:0.
    pub fn start(behavior: Behavior) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let per_path = Arc::new(Mutex::new(HashMap::new()));
        let per_connection = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (r, c, p) = (requests.clone(), connections.clone(), per_path.clone());
        let pc = per_connection.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(std_listener, behavior, r, c, p, pc, rx));
        });
        Self {
            addr,
            requests,
            connections,
            per_path,
            per_connection,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Requests received so far.
    pub fn seen(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    std_listener: std::net::TcpListener,
    behavior: Behavior,
    requests: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    per_path: Arc<Mutex<HashMap<String, u64>>>,
    per_connection: Arc<Mutex<Vec<u64>>>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
    let started = Instant::now();
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
        };
        connections.fetch_add(1, Ordering::SeqCst);
        let (requests, per_path) = (requests.clone(), per_path.clone());
        let conn_index = {
            let mut pc = per_connection.lock().unwrap();
            pc.push(0);
            pc.len() - 1
        };
        let per_connection = per_connection.clone();
        match behavior {
            Behavior::Reset => {
                // SO_LINGER 0 makes the close a reset, which is the point here.
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                drop(stream);
            }
            Behavior::NeverAnswer => {
                tokio::spawn(async move {
                    let mut stream = stream;
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        requests.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            _ => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (requests, per_path) = (requests.clone(), per_path.clone());
                        per_connection.lock().unwrap()[conn_index] += 1;
                        async move {
                            requests.fetch_add(1, Ordering::SeqCst);
                            *per_path
                                .lock()
                                .unwrap()
                                .entry(req.uri().path().to_string())
                                .or_insert(0) += 1;
                            Ok::<_, Infallible>(respond(behavior, started).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(!matches!(behavior, Behavior::CloseAfterEach))
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

/// A body of two chunks, the second 5 ms after the first. Its length is
/// unknown up front, so hyper sends it chunked.
struct TwoChunks {
    sent: u8,
    pause: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for TwoChunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        use std::task::Poll;
        let chunk: &'static [u8] = match self.sent {
            0 => b"Hello, ",
            1 => {
                if self.pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                b"World!"
            }
            _ => return Poll::Ready(None),
        };
        self.sent += 1;
        Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from_static(
            chunk,
        )))))
    }
}

type Body = Either<Full<Bytes>, TwoChunks>;

async fn respond(behavior: Behavior, started: Instant) -> Response<Body> {
    if let Behavior::Chunked = behavior {
        return Response::new(Either::Right(TwoChunks {
            sent: 0,
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(5))),
        }));
    }
    respond_full(behavior, started).await.map(Either::Left)
}

async fn respond_full(behavior: Behavior, started: Instant) -> Response<Full<Bytes>> {
    let hello = || Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    match behavior {
        Behavior::Status500 => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"boom")));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
        Behavior::WrongBody => Response::new(Full::new(Bytes::from_static(b"Goodbye"))),
        Behavior::Stall { period, stall } => {
            let since = started.elapsed();
            let into_cycle = Duration::from_nanos((since.as_nanos() % period.as_nanos()) as u64);
            if into_cycle < stall {
                tokio::time::sleep(stall - into_cycle).await;
            }
            hello()
        }
        Behavior::Delay(d) => {
            tokio::time::sleep(d).await;
            hello()
        }
        Behavior::StallAfter(after) => {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if started.elapsed() >= after {
                std::future::pending::<()>().await;
            }
            hello()
        }
        Behavior::SlowUntil { until, slow, fast } => {
            let d = if started.elapsed() < until {
                slow
            } else {
                fast
            };
            tokio::time::sleep(d).await;
            hello()
        }
        Behavior::Alternating { period, a, b } => {
            let odd = (started.elapsed().as_nanos() / period.as_nanos()) % 2 == 1;
            tokio::time::sleep(if odd { b } else { a }).await;
            hello()
        }
        _ => hello(),
    }
}
