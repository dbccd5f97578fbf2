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

/// A sender on one HTTP/1.1 connection.
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

    #[inline]
    fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// Opens a TCP connection (trying each address) and does the HTTP/1.1
/// handshake. The connection's driver runs as a local task; when it ends
/// (the server closed the connection), `alive` (if given) is decremented.
pub async fn connect(
    addrs: &[SocketAddr],
    timeout: Duration,
    alive: Option<Rc<Cell<usize>>>,
) -> std::io::Result<Sender> {
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
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    if let Some(a) = &alive {
        a.set(a.get() + 1);
    }
    tokio::task::spawn_local(async move {
        let _ = conn.await;
        if let Some(a) = alive {
            a.set(a.get() - 1);
        }
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

/// Sends one request on `sender` and reads the whole response, with a
/// deadline of `sent + timeout`. On a transport failure or timeout the
/// connection is dropped (`*slot = None`) so the caller reconnects.
/// Chunk gaps of streamed templates go straight to `rec` when given.
pub async fn exchange(
    slot: &mut Option<Sender>,
    tpl: &Prepared,
    intended: Instant,
    timeout: Duration,
    buf: &mut Vec<u8>,
    rec: Option<&RefCell<Recorder>>,
) -> Exchange {
    let sender = slot.as_mut().expect("exchange needs a connection");
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
        Ok(())
    };
    let result = match tokio::time::timeout_at(sent + timeout, io).await {
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
