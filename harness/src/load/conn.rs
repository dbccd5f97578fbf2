//! One HTTP exchange on a connection the caller owns: connect, send,
//! read the head and the body, validate, and report timings.
//!
//! Two clients speak each protocol, chosen per run ([`HttpClient`]): the
//! lean ones (the default: [`super::lean`] for HTTP/1.1, [`super::h2lean`]
//! for HTTP/2) and the references they are tested against (`hyper`:
//! hyper's connection-level HTTP/1.1 client, no pool; for HTTP/2 the `h2`
//! crate's client, hyper's HTTP/2 engine without hyper's dispatcher). An
//! HTTP/2 connection is shared by the tasks of its streams (each holds a
//! handle), its driver runs as a task of its own on the thread's
//! `LocalSet`. All of them run over plain TCP or TLS
//! ([`super::transport`]).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, HeaderMap, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use super::check::body_ok;
use super::h2lean::{H2Lean, H2Request};
use super::lean::{self, LeanConn};
use super::plan::{BodyCheck, Endpoint, HttpClient, Protocol, RequestTemplate};
use super::recorder::{ErrorClass, Recorder, Timing};
use super::transport::{Connector, Stream};
use super::wire;

/// A request template with everything precomputed for the hot path.
#[derive(Clone, Debug)]
pub struct Prepared {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// The whole request as the lean client sends it.
    wire: Bytes,
    /// The request as the lean HTTP/2 client sends it.
    h2: H2Request,
    expect_status: u16,
    check: BodyCheck,
    needs_body: bool,
    stream: bool,
}

impl Prepared {
    /// Precomputes a template's request parts. HTTP/2 requests carry an
    /// absolute URI (its `:scheme` and `:authority`, the latter from the
    /// template's `Host` header when it has one) and none of the
    /// connection-specific headers HTTP/2 forbids (`Host`, `Connection`,
    /// `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `Upgrade`,
    /// a `TE` other than `trailers`).
    pub fn new(
        t: &RequestTemplate,
        endpoint: &Endpoint,
        keepalive: bool,
        protocol: Protocol,
    ) -> Self {
        let host = t
            .headers
            .iter()
            .find(|(n, _)| n == HOST)
            .map_or(&endpoint.authority, |(_, v)| v);
        let mut headers = HeaderMap::with_capacity(t.headers.len() + 2);
        if protocol == Protocol::Http1 {
            headers.insert(HOST, host.clone());
            if !keepalive {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
        }
        let carried = |(n, v): &&(http::HeaderName, HeaderValue)| {
            n != HOST
                && (protocol == Protocol::Http1
                    || !(matches!(
                        n.as_str(),
                        "connection"
                            | "keep-alive"
                            | "proxy-connection"
                            | "transfer-encoding"
                            | "upgrade"
                    ) || n == http::header::TE && v != "trailers"))
        };
        for (n, v) in t.headers.iter().filter(carried) {
            headers.append(n.clone(), v.clone());
        }
        let path = t.path.path_and_query().map_or("/", |p| p.as_str());
        let uri = match protocol {
            Protocol::Http1 => t.path.clone(),
            Protocol::Http2 => Uri::builder()
                .scheme(if endpoint.tls { "https" } else { "http" })
                .authority(host.as_bytes())
                .path_and_query(path)
                .build()
                .unwrap_or_else(|_| t.path.clone()),
        };
        let scheme: &[u8] = if endpoint.tls { b"https" } else { b"http" };
        let mut fields: Vec<(&[u8], &[u8])> = vec![
            (b":method", t.method.as_str().as_bytes()),
            (b":scheme", scheme),
            (b":authority", host.as_bytes()),
            (b":path", path.as_bytes()),
        ];
        fields.extend(
            headers
                .iter()
                .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())),
        );
        let h2 = H2Request::new(&fields, t.body.clone());
        Self {
            h2,
            method: t.method.clone(),
            uri,
            headers,
            wire: wire::encode_request(
                &t.method,
                path,
                &endpoint.authority,
                &t.headers,
                &t.body,
                keepalive,
            ),
            body: t.body.clone(),
            expect_status: t.check.status,
            needs_body: t.check.body.needs_body(),
            check: t.check.body.clone(),
            stream: t.stream,
        }
    }

    /// Builds one HTTP/2 request head (its body is sent apart).
    #[inline]
    pub fn h2_request(&self) -> Request<()> {
        let mut req = Request::new(());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }

    /// Builds one request for hyper from the precomputed parts (the
    /// per-request cost is a few reference-count bumps and one header-map copy).
    #[inline]
    pub fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// Bytes hyper reads from the socket at a time. hyper's adaptive default
/// starts at 8 KiB and grows; a fixed 4 KiB keeps 10,000 connections small
/// and costs nothing for typical responses.
const HYPER_READ_BUF: usize = 4096;

type Sender = SendRequest<Full<Bytes>>;
type Driver = hyper::client::conn::http1::Connection<TokioIo<Stream>, Full<Bytes>>;

/// One handle on an HTTP/2 connection (the `h2` crate's client, the
/// engine under hyper's, used directly: no dispatcher task or channel
/// between a request and the connection).
#[derive(Clone)]
pub struct H2Conn {
    send: h2::client::SendRequest<Bytes>,
    /// Set by the connection's driver task when the connection has ended.
    closed: Rc<Cell<bool>>,
}

/// hyper's client: its dispatcher is polled inside the task that uses it
/// (one task per connection, no cross-task wake-ups per request).
pub struct HyperConn {
    sender: Sender,
    driver: Driver,
    closed: bool,
}

/// An open connection.
pub enum Conn {
    /// HTTP/1.1, the lean client.
    Lean(LeanConn),
    /// HTTP/1.1, hyper's connection-level client (boxed: it is several times larger).
    Hyper(Box<HyperConn>),
    /// HTTP/2, the `h2` crate's client: one handle of a shared connection ([`Conn::share`]).
    H2(H2Conn),
    /// HTTP/2, the lean client: one handle of a shared connection.
    H2Lean(H2Lean),
}

impl Conn {
    /// Waits until the connection can take a request. False when it has
    /// closed (the server closed it, e.g. after `Connection: close`).
    pub async fn ready(&mut self) -> bool {
        match self {
            Conn::Lean(c) => c.reusable(),
            Conn::H2(h) => !h.closed.get() && poll_fn(|cx| h.send.poll_ready(cx)).await.is_ok(),
            Conn::H2Lean(h) => h.ready().await,
            Conn::Hyper(h) => {
                if h.closed {
                    return false;
                }
                tokio::select! {
                    biased;
                    r = h.sender.ready() => r.is_ok(),
                    _ = &mut h.driver => {
                        h.closed = true;
                        false
                    }
                }
            }
        }
    }

    /// Resolves when the server closes the connection (for idle ones).
    pub async fn closed_by_peer(&mut self) {
        match self {
            Conn::Lean(c) => c.closed_by_peer().await,
            Conn::H2(h) => {
                // The driver task notices the close; look for it now and then.
                while !h.closed.get() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Conn::H2Lean(h) => h.closed_by_peer().await,
            Conn::Hyper(h) => {
                if !h.closed {
                    let _ = (&mut h.driver).await;
                    h.closed = true;
                }
            }
        }
    }

    /// Another handle on the same HTTP/2 connection (None for HTTP/1.1,
    /// which carries one request at a time).
    pub fn share(&self) -> Option<Conn> {
        match self {
            Conn::H2(h) => Some(Conn::H2(h.clone())),
            Conn::H2Lean(h) => Some(Conn::H2Lean(h.clone())),
            _ => None,
        }
    }
}

/// A connection just opened, and how long its TLS handshake took.
pub struct Opened {
    /// The connection.
    pub conn: Conn,
    /// TLS handshake time (None over plain TCP).
    pub handshake: Option<Duration>,
}

/// Opens a connection with `connector` and starts `protocol` on it with
/// the given client.
pub async fn connect(
    client: HttpClient,
    protocol: Protocol,
    connector: &Connector,
    timeout: Duration,
) -> std::io::Result<Opened> {
    let opened = connector.connect().await?;
    let handshake = opened.handshake;
    let stream = opened.stream;
    let conn = match (protocol, client) {
        (Protocol::Http2, _) if matches!(stream, Stream::Tls(_)) && !opened.h2 => {
            return Err(std::io::Error::other(
                "the server did not agree to h2 (ALPN)",
            ));
        }
        (Protocol::Http2, HttpClient::Lean) => {
            Conn::H2Lean(H2Lean::handshake(stream, timeout).await?)
        }
        (Protocol::Http2, HttpClient::Hyper) => {
            let (send, connection) = h2::client::Builder::new()
                .handshake::<_, Bytes>(stream)
                .await
                .map_err(std::io::Error::other)?;
            let closed = Rc::new(Cell::new(false));
            let flag = closed.clone();
            tokio::task::spawn_local(async move {
                let _ = connection.await;
                flag.set(true);
            });
            Conn::H2(H2Conn { send, closed })
        }
        (Protocol::Http1, HttpClient::Lean) => Conn::Lean(LeanConn::new(stream, timeout)),
        (Protocol::Http1, HttpClient::Hyper) => {
            let (sender, driver) = hyper::client::conn::http1::Builder::new()
                .read_buf_exact_size(Some(HYPER_READ_BUF))
                .handshake(TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)?;
            Conn::Hyper(Box::new(HyperConn {
                sender,
                driver,
                closed: false,
            }))
        }
    };
    Ok(Opened { conn, handshake })
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

/// What an exchange collects while the response arrives.
struct Progress<'a> {
    tpl: &'a Prepared,
    intended: Instant,
    rec: Option<&'a RefCell<Recorder>>,
    buf: &'a mut Vec<u8>,
    head: Option<Instant>,
    status: Option<u16>,
    bytes: u64,
    last_chunk: Option<Instant>,
}

impl lean::Sink for Progress<'_> {
    #[inline]
    fn head(&mut self, status: u16) {
        self.head = Some(Instant::now());
        self.status = Some(status);
    }

    #[inline]
    fn data(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        if self.tpl.needs_body {
            self.buf.extend_from_slice(data);
        }
        if let (true, Some(rec)) = (self.tpl.stream && !data.is_empty(), self.rec) {
            let now = Instant::now();
            if let Some(prev) = self.last_chunk {
                rec.borrow_mut().record_chunk_gap(self.intended, now - prev);
            }
            self.last_chunk = Some(now);
        }
    }
}

/// Sends one request on the connection in `slot` (sent at `sent`) and
/// reads the whole response, with a deadline of `sent + timeout`. On a
/// transport failure or timeout the connection is dropped (`*slot = None`)
/// so the caller reconnects. Chunk gaps of streamed templates go straight
/// to `rec` when given.
pub async fn exchange(
    slot: &mut Option<Conn>,
    tpl: &Prepared,
    intended: Instant,
    sent: Instant,
    timeout: Duration,
    buf: &mut Vec<u8>,
    rec: Option<&RefCell<Recorder>>,
) -> Exchange {
    let conn = slot.as_mut().expect("exchange needs a connection");
    buf.clear();
    let mut p = Progress {
        tpl,
        intended,
        rec,
        buf,
        head: None,
        status: None,
        bytes: 0,
        last_chunk: None,
    };
    let result = match conn {
        Conn::Lean(c) => {
            let head_request = tpl.method == Method::HEAD;
            match c
                .exchange(&tpl.wire, head_request, sent + timeout, &mut p)
                .await
            {
                Ok(()) => Ok(()),
                Err(lean::Failure::Timeout) => Err(ErrorClass::Timeout),
                Err(lean::Failure::Io | lean::Failure::Protocol(_)) => Err(ErrorClass::Read),
            }
        }
        Conn::Hyper(h) => hyper_exchange(h, sent + timeout, &mut p).await,
        Conn::H2(h) => h2_exchange(h, sent + timeout, &mut p).await,
        Conn::H2Lean(h) => h2lean_exchange(h, sent + timeout, &mut p).await,
    };
    let done = Instant::now();
    let Progress {
        head,
        status,
        bytes,
        buf,
        ..
    } = p;
    let result = match (result, status) {
        (Ok(()), Some(s)) if s != tpl.expect_status => Err(ErrorClass::Status),
        (Ok(()), _) if tpl.needs_body && !body_ok(&tpl.check, buf) => Err(ErrorClass::BodyMismatch),
        (r, _) => r,
    };
    // A failed HTTP/1.1 connection is dropped; an HTTP/2 one carries on
    // unless it has closed (a reset or timed-out stream leaves it usable).
    let drop_conn = match slot.as_ref() {
        Some(Conn::H2(h)) => h.closed.get(),
        Some(Conn::H2Lean(h)) => h.closed(),
        _ => matches!(result, Err(ErrorClass::Read | ErrorClass::Timeout)),
    };
    if drop_conn {
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

/// The exchange through hyper, polling its dispatcher alongside.
async fn hyper_exchange(
    h: &mut HyperConn,
    deadline: Instant,
    p: &mut Progress<'_>,
) -> Result<(), ErrorClass> {
    let (sender, driver, closed) = (&mut h.sender, &mut h.driver, &mut h.closed);
    let io = async {
        let resp = sender
            .send_request(p.tpl.request())
            .await
            .map_err(|_| ErrorClass::Read)?;
        lean::Sink::head(p, resp.status().as_u16());
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| ErrorClass::Read)?;
            if let Ok(data) = frame.into_data() {
                lean::Sink::data(p, &data);
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
    match tokio::time::timeout_at(deadline, driven).await {
        Ok(r) => r,
        Err(_) => Err(ErrorClass::Timeout),
    }
}

/// The exchange over HTTP/2: the request opens a stream (its body, if
/// any, sent with it), the response is read here; the connection's own
/// task does the I/O. A stream given up at the deadline is reset (CANCEL)
/// when its handles drop.
async fn h2_exchange(
    h: &mut H2Conn,
    deadline: Instant,
    p: &mut Progress<'_>,
) -> Result<(), ErrorClass> {
    let io = async {
        let tpl = p.tpl;
        let end = tpl.body.is_empty();
        let (response, mut body_out) = h
            .send
            .send_request(tpl.h2_request(), end)
            .map_err(|e| h2_class(&e))?;
        if !end {
            body_out
                .send_data(tpl.body.clone(), true)
                .map_err(|e| h2_class(&e))?;
        }
        let resp = response.await.map_err(|e| h2_class(&e))?;
        lean::Sink::head(p, resp.status().as_u16());
        let mut body = resp.into_body();
        while let Some(data) = body.data().await {
            let data = data.map_err(|e| h2_class(&e))?;
            let _ = body.flow_control().release_capacity(data.len());
            lean::Sink::data(p, &data);
        }
        Ok::<(), ErrorClass>(())
    };
    match tokio::time::timeout_at(deadline, io).await {
        Ok(r) => r,
        Err(_) => Err(ErrorClass::Timeout),
    }
}

/// The exchange over the lean HTTP/2 client: its outcome goes to `p` as
/// the other clients' responses do (chunk gaps as the DATA frames arrived).
async fn h2lean_exchange(
    h: &H2Lean,
    deadline: Instant,
    p: &mut Progress<'_>,
) -> Result<(), ErrorClass> {
    let tpl = p.tpl;
    let x = h.exchange(
        &tpl.h2,
        p.buf,
        tpl.needs_body,
        tpl.stream && p.rec.is_some(),
    );
    let Ok(out) = tokio::time::timeout_at(deadline, x).await else {
        return Err(ErrorClass::Timeout);
    };
    p.head = out.head;
    p.status = out.status;
    p.bytes = out.bytes;
    if let Some(rec) = p.rec
        && !out.gaps.is_empty()
    {
        let mut rec = rec.borrow_mut();
        for gap in out.gaps {
            rec.record_chunk_gap(p.intended, gap);
        }
    }
    out.result
}

/// The class of an HTTP/2 failure: a stream the server reset
/// (RST_STREAM), one its GOAWAY refused, or a transport failure.
fn h2_class(e: &h2::Error) -> ErrorClass {
    if e.is_go_away() && e.is_remote() {
        ErrorClass::GoAway
    } else if e.is_reset() && e.is_remote() {
        ErrorClass::Reset
    } else {
        ErrorClass::Read
    }
}

/// One request on an idle connection, not recorded; true if it succeeded
/// within `timeout`. A failed connection is dropped from `slot`.
pub async fn ping(slot: &mut Option<Conn>, tpl: &Prepared, timeout: Duration) -> bool {
    let Some(c) = slot.as_mut() else {
        return false;
    };
    if !c.ready().await {
        return false;
    }
    let now = Instant::now();
    let x = exchange(slot, tpl, now, now, timeout, &mut Vec::new(), None).await;
    x.result.is_ok()
}
