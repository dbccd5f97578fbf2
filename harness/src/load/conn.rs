//! One HTTP/1.1 exchange on a connection the caller owns: connect, send,
//! read the head and the body, validate, and report timings. Uses hyper's
//! connection-level client directly on the TCP stream (no pool).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, HeaderMap, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::check::body_ok;
use super::plan::{BodyCheck, Endpoint, RequestTemplate};
use super::recorder::{ErrorClass, Recorder, Timing};

/// The request side of a detached HTTP/1.1 connection.
pub type Sender = SendRequest<Full<Bytes>>;

/// A request template with everything precomputed for the hot path.
#[derive(Clone, Debug)]
pub struct Prepared {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    expect_status: u16,
    check: BodyCheck,
    needs_body: bool,
    stream: bool,
}

impl Prepared {
    /// Precomputes a template's request parts.
    pub fn new(t: &RequestTemplate, endpoint: &Endpoint, keepalive: bool) -> Self {
        let mut headers = HeaderMap::with_capacity(t.headers.len() + 2);
        headers.insert(HOST, endpoint.authority.clone());
        if !keepalive {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        for (n, v) in &t.headers {
            headers.append(n.clone(), v.clone());
        }
        Self {
            method: t.method.clone(),
            uri: t.path.clone(),
            headers,
            body: t.body.clone(),
            expect_status: t.check.status,
            needs_body: t.check.body.needs_body(),
            check: t.check.body.clone(),
            stream: t.stream,
        }
    }

    /// Builds one request from the precomputed parts (the per-request cost
    /// is a few reference-count bumps and one header-map copy).
    #[inline]
    pub fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// Bytes read from the socket at a time. hyper's adaptive default starts at
/// 8 KiB and grows; a fixed 4 KiB keeps 10,000 connections small and costs
/// nothing for typical responses (large bodies just take more reads).
const READ_BUF: usize = 4096;

type Driver = hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// An HTTP/1.1 connection whose dispatcher is polled inside the task that
/// uses it (one task per connection, no cross-task wake-ups per request).
pub struct Conn {
    sender: Sender,
    driver: Driver,
    closed: bool,
}

impl Conn {
    /// Waits until the connection can take a request. False when it has
    /// closed (the server closed it, e.g. after `Connection: close`).
    pub async fn ready(&mut self) -> bool {
        if self.closed {
            return false;
        }
        tokio::select! {
            biased;
            r = self.sender.ready() => r.is_ok(),
            _ = &mut self.driver => {
                self.closed = true;
                false
            }
        }
    }
}

async fn open_stream(addrs: &[SocketAddr], timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, async {
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn handshake(stream: TcpStream) -> std::io::Result<(Sender, Driver)> {
    hyper::client::conn::http1::Builder::new()
        .read_buf_exact_size(Some(READ_BUF))
        .handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)
}

/// Opens a connection (trying each address) for use by the calling task.
pub async fn connect(addrs: &[SocketAddr], timeout: Duration) -> std::io::Result<Conn> {
    let (sender, driver) = handshake(open_stream(addrs, timeout).await?).await?;
    Ok(Conn {
        sender,
        driver,
        closed: false,
    })
}

/// Opens a connection whose dispatcher runs as its own local task, for
/// connections held idle: `alive` counts it until the server closes it.
pub async fn connect_detached(
    addrs: &[SocketAddr],
    timeout: Duration,
    alive: Rc<Cell<usize>>,
) -> std::io::Result<Sender> {
    let (sender, driver) = handshake(open_stream(addrs, timeout).await?).await?;
    alive.set(alive.get() + 1);
    tokio::task::spawn_local(async move {
        let _ = driver.await;
        alive.set(alive.get() - 1);
    });
    Ok(sender)
}

/// What one exchange produced, before recording.
pub struct Exchange {
    /// Timings.
    pub timing: Timing,
    /// Ok, or the failure class.
    pub result: Result<(), ErrorClass>,
    /// Status, when a response head arrived.
    pub status: Option<u16>,
    /// Body bytes read.
    pub bytes: u64,
}

/// Sends one request on the connection in `slot` and reads the whole
/// response, with a deadline of `sent + timeout`, polling the connection's
/// dispatcher alongside. On a transport failure or timeout the connection
/// is dropped (`*slot = None`) so the caller reconnects. Chunk gaps of
/// streamed templates go straight to `rec` when given.
pub async fn exchange(
    slot: &mut Option<Conn>,
    tpl: &Prepared,
    intended: Instant,
    timeout: Duration,
    buf: &mut Vec<u8>,
    rec: Option<&RefCell<Recorder>>,
) -> Exchange {
    let conn = slot.as_mut().expect("exchange needs a connection");
    let (sender, driver, closed) = (&mut conn.sender, &mut conn.driver, &mut conn.closed);
    let sent = Instant::now();
    let mut head = None;
    let mut status = None;
    let mut bytes = 0u64;
    buf.clear();
    let io = async {
        let resp = sender
            .send_request(tpl.request())
            .await
            .map_err(|_| ErrorClass::Read)?;
        head = Some(Instant::now());
        status = Some(resp.status().as_u16());
        let mut body = resp.into_body();
        let mut last_chunk: Option<Instant> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| ErrorClass::Read)?;
            if let Ok(data) = frame.into_data() {
                bytes += data.len() as u64;
                if tpl.needs_body {
                    buf.extend_from_slice(&data);
                }
                if let (true, Some(rec)) = (tpl.stream && !data.is_empty(), rec) {
                    let now = Instant::now();
                    if let Some(prev) = last_chunk {
                        rec.borrow_mut().record_chunk_gap(intended, now - prev);
                    }
                    last_chunk = Some(now);
                }
            }
        }
        Ok::<(), ErrorClass>(())
    };
    let driven = async {
        tokio::pin!(io);
        if *closed {
            return io.await;
        }
        tokio::select! {
            biased;
            r = &mut io => r,
            _ = driver => {
                // The connection ended; whatever it delivered is still read.
                *closed = true;
                io.await
            }
        }
    };
    let result = match tokio::time::timeout_at(sent + timeout, driven).await {
        Ok(r) => r,
        Err(_) => Err(ErrorClass::Timeout),
    };
    let done = Instant::now();
    let result = match (result, status) {
        (Ok(()), Some(s)) if s != tpl.expect_status => Err(ErrorClass::Status),
        (Ok(()), _) if tpl.needs_body && !body_ok(&tpl.check, buf) => Err(ErrorClass::BodyMismatch),
        (r, _) => r,
    };
    if matches!(result, Err(ErrorClass::Read | ErrorClass::Timeout)) {
        *slot = None;
    }
    Exchange {
        timing: Timing {
            intended,
            sent,
            head,
            done,
        },
        result,
        status,
        bytes,
    }
}

/// One request on a detached (idle) connection, not recorded; true if it
/// succeeded within `timeout`.
pub async fn ping(sender: &mut Sender, tpl: &Prepared, timeout: Duration) -> bool {
    let io = async {
        sender.ready().await.ok()?;
        let resp = sender.send_request(tpl.request()).await.ok()?;
        let ok = resp.status().as_u16() == tpl.expect_status;
        resp.into_body().collect().await.ok()?;
        Some(ok)
    };
    matches!(tokio::time::timeout(timeout, io).await, Ok(Some(true)))
}
