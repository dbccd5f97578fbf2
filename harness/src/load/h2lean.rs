//! claimbench's own HTTP/2 client, as lean as its HTTP/1.1 one
//! ([`super::lean`]): a request's header block is encoded once per
//! template ([`super::hpack::encode_block`]: static-table indices and
//! literals that never touch the dynamic table, so the same bytes serve
//! every request) and sent with a 9-byte frame header; a response's header
//! block is decoded in place, keeping only `:status`; DATA frames are
//! counted (and kept only when the template checks the body).
//!
//! One connection ([`H2Lean`], a cheap handle shared by the tasks of its
//! streams) has one driver task on the thread's `LocalSet`: it reads and
//! parses frames, answers SETTINGS and PING, keeps the receive windows
//! open, and writes what the stream tasks queued, all of it in one write
//! per wake-up. A stream task queues its HEADERS (and DATA, as the send
//! windows allow), then waits for its stream to end. Nothing is allocated
//! per request in the steady state but the stream's entry in a map.
//!
//! What it leaves out: server push (refused in our SETTINGS), priorities,
//! trailers' contents (decoded for the HPACK table, then dropped), and
//! header lists of any size: a header block above [`MAX_HEADER_BLOCK`]
//! ends the connection. The `h2` crate's client remains available
//! (`--http-client hyper`) as the reference this one is tested against.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::hpack;
use super::recorder::ErrorClass;
use super::transport::Stream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const CONTINUATION: u8 = 9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// RST_STREAM and GOAWAY error codes we send.
const CANCEL: u32 = 0x8;
const PROTOCOL_ERROR: u32 = 0x1;

/// The receive window we open per stream and for the connection (h2load's
/// default: `-w 30 -W 30`), topped up when half of it is used.
const RECV_WINDOW: u32 = (1 << 30) - 1;
/// The protocol's default window, which the connection starts with.
const DEFAULT_WINDOW: u32 = 65_535;
/// The largest frame we accept: the default SETTINGS_MAX_FRAME_SIZE, which
/// we never raise.
const MAX_FRAME: usize = 16_384;
/// The largest response header block we accept (HEADERS + CONTINUATION).
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;
/// Bytes read from the socket at a time: two whole frames of the largest
/// size fit, so a frame is never split across a compaction.
const READ_BUF: usize = 2 * (MAX_FRAME + 9);
/// The last stream id a client may open.
const MAX_STREAM_ID: u32 = (1 << 31) - 1;
/// Reads the driver makes before it lets other tasks run.
const READS_PER_WAKE: usize = 32;

/// A request as this client sends it: the header block (encoded once)
/// and the body.
#[derive(Clone, Debug)]
pub struct H2Request {
    block: Bytes,
    body: Bytes,
}

impl H2Request {
    /// Encodes the header block of `fields` (pseudo-headers first, names
    /// lowercase) once; `body` is sent in DATA frames after it.
    pub fn new(fields: &[(&[u8], &[u8])], body: Bytes) -> Self {
        Self {
            block: Bytes::from(hpack::encode_block(fields)),
            body,
        }
    }
}

/// What one exchange produced.
#[derive(Debug)]
pub struct Outcome {
    /// Ok, or the failure class (timeouts are the caller's).
    pub result: Result<(), ErrorClass>,
    /// The final status, when a response head arrived.
    pub status: Option<u16>,
    /// When that head arrived.
    pub head: Option<Instant>,
    /// Body bytes received.
    pub bytes: u64,
    /// Gaps between DATA frames that carried data (when asked for).
    pub gaps: Vec<Duration>,
}

impl Outcome {
    fn failed(class: ErrorClass) -> Self {
        Self {
            result: Err(class),
            status: None,
            head: None,
            bytes: 0,
            gaps: Vec::new(),
        }
    }
}

/// A hasher for stream ids (odd, increasing): one multiplication.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One stream, from the request queued to the stream task taking its outcome.
struct Slot {
    /// The stream task's waker.
    waker: Option<Waker>,
    /// Whether its HEADERS went out (or it waits for the server's limit).
    opened: bool,
    /// Request body bytes not yet sent.
    body_out: Bytes,
    /// What the server lets us send on this stream.
    send_window: i64,
    /// Bytes received since this stream's window was last topped up.
    recv: u32,
    status: Option<u16>,
    head: Option<Instant>,
    bytes: u64,
    keep_body: bool,
    body: Vec<u8>,
    gaps: Option<Vec<Duration>>,
    last_chunk: Option<Instant>,
    done: Option<Result<(), ErrorClass>>,
}

/// The connection's state, shared by its driver and its stream tasks.
struct State {
    /// Frames to write.
    out: Vec<u8>,
    /// The driver's waker, taken by whoever wakes it.
    driver: Option<Waker>,
    streams: HashMap<u32, Slot, BuildHasherDefault<IdHasher>>,
    next_id: u32,
    /// Streams whose HEADERS went out and that have not been taken.
    opened: usize,
    /// Streams waiting for the server's concurrency limit, in id order.
    pending_open: VecDeque<(u32, Bytes)>,
    /// Streams with request body left to send.
    pending_bodies: VecDeque<u32>,
    /// Tasks waiting for room for a stream.
    room_waiters: Vec<Waker>,
    /// Tasks waiting for the connection's end.
    end_waiters: Vec<Waker>,
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS.
    max_concurrent: usize,
    /// The server's SETTINGS_INITIAL_WINDOW_SIZE.
    peer_initial_window: i64,
    /// The server's SETTINGS_MAX_FRAME_SIZE.
    peer_max_frame: usize,
    /// What the server lets us send on the connection.
    conn_send_window: i64,
    /// Bytes received since the connection's window was last topped up.
    recv_conn: u32,
    /// The server's first SETTINGS arrived.
    settled: bool,
    /// The server sent GOAWAY (with this last stream id).
    goaway: Option<u32>,
    /// Every handle is gone.
    abandoned: bool,
    /// The connection has ended.
    closed: bool,
}

/// Appends a frame header.
#[inline]
fn frame_head(out: &mut Vec<u8>, len: usize, ty: u8, flags: u8, id: u32) {
    let l = (len as u32).to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], ty, flags]);
    out.extend_from_slice(&id.to_be_bytes());
}

impl State {
    fn new() -> Self {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(PREFACE);
        // SETTINGS: no push, our stream window.
        frame_head(&mut out, 12, SETTINGS, 0, 0);
        out.extend_from_slice(&[0, 2, 0, 0, 0, 0, 0, 4]);
        out.extend_from_slice(&RECV_WINDOW.to_be_bytes());
        // The connection's window, raised to the same size.
        frame_head(&mut out, 4, WINDOW_UPDATE, 0, 0);
        out.extend_from_slice(&(RECV_WINDOW - DEFAULT_WINDOW).to_be_bytes());
        Self {
            out,
            driver: None,
            streams: HashMap::default(),
            next_id: 1,
            opened: 0,
            pending_open: VecDeque::new(),
            pending_bodies: VecDeque::new(),
            room_waiters: Vec::new(),
            end_waiters: Vec::new(),
            max_concurrent: usize::MAX,
            peer_initial_window: i64::from(DEFAULT_WINDOW),
            peer_max_frame: MAX_FRAME,
            conn_send_window: i64::from(DEFAULT_WINDOW),
            recv_conn: 0,
            settled: false,
            goaway: None,
            abandoned: false,
            closed: false,
        }
    }

    #[inline]
    fn wake_driver(&mut self) {
        if let Some(w) = self.driver.take() {
            w.wake();
        }
    }

    /// Wakes every task waiting for room (and, when the connection has
    /// ended, for its end).
    fn wake_waiters(&mut self) {
        for w in self.room_waiters.drain(..) {
            w.wake();
        }
        if self.closed {
            for w in self.end_waiters.drain(..) {
                w.wake();
            }
        }
    }

    /// Whether a new stream may be opened now.
    fn has_room(&self) -> bool {
        self.pending_open.is_empty() && self.opened < self.max_concurrent
    }

    /// Whether no new stream can ever start here.
    fn finished_for_new(&self) -> bool {
        self.closed || self.goaway.is_some() || self.next_id > MAX_STREAM_ID
    }

    /// Registers a stream for `req` and queues its frames (or, at the
    /// server's limit, queues it to open later).
    fn start(
        &mut self,
        req: &H2Request,
        body: Vec<u8>,
        keep_body: bool,
        gaps: bool,
    ) -> Result<u32, ErrorClass> {
        if self.goaway.is_some() {
            return Err(ErrorClass::GoAway);
        }
        if self.finished_for_new() {
            return Err(ErrorClass::Read);
        }
        let id = self.next_id;
        self.next_id += 2;
        let room = self.has_room();
        self.streams.insert(
            id,
            Slot {
                waker: None,
                opened: false,
                body_out: req.body.clone(),
                send_window: self.peer_initial_window,
                recv: 0,
                status: None,
                head: None,
                bytes: 0,
                keep_body,
                body,
                gaps: gaps.then(Vec::new),
                last_chunk: None,
                done: None,
            },
        );
        if room {
            self.open(id, &req.block);
        } else {
            self.pending_open.push_back((id, req.block.clone()));
        }
        self.wake_driver();
        Ok(id)
    }

    /// Writes a stream's HEADERS (and CONTINUATION) frames and starts its body.
    fn open(&mut self, id: u32, block: &[u8]) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        s.opened = true;
        self.opened += 1;
        let end = if s.body_out.is_empty() { END_STREAM } else { 0 };
        let max = self.peer_max_frame;
        let mut chunks = block.chunks(max.max(1)).peekable();
        let mut ty = HEADERS;
        let mut flags = end;
        if block.is_empty() {
            frame_head(&mut self.out, 0, HEADERS, end | END_HEADERS, id);
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let f = if last { flags | END_HEADERS } else { flags };
            frame_head(&mut self.out, chunk.len(), ty, f, id);
            self.out.extend_from_slice(chunk);
            ty = CONTINUATION;
            flags = 0;
        }
        if end == 0 {
            self.pending_bodies.push_back(id);
            self.flush_bodies();
        }
    }

    /// Opens waiting streams while the server's limit allows.
    fn open_pending(&mut self) {
        while self.opened < self.max_concurrent {
            let Some((id, block)) = self.pending_open.pop_front() else {
                break;
            };
            self.open(id, &block);
        }
    }

    /// Sends request body bytes as far as the send windows allow.
    fn flush_bodies(&mut self) {
        let mut i = 0;
        while i < self.pending_bodies.len() {
            let id = self.pending_bodies[i];
            let Some(s) = self.streams.get_mut(&id).filter(|s| s.done.is_none()) else {
                self.pending_bodies.remove(i);
                continue;
            };
            while !s.body_out.is_empty() {
                let allowed = self.conn_send_window.min(s.send_window).max(0) as usize;
                let n = s.body_out.len().min(self.peer_max_frame).min(allowed);
                if n == 0 {
                    break;
                }
                let chunk = s.body_out.split_to(n);
                let end = if s.body_out.is_empty() { END_STREAM } else { 0 };
                frame_head(&mut self.out, n, DATA, end, id);
                self.out.extend_from_slice(&chunk);
                self.conn_send_window -= n as i64;
                s.send_window -= n as i64;
            }
            if s.body_out.is_empty() {
                self.pending_bodies.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Ends a stream with `result` (the first end counts) and wakes its task.
    fn finish(&mut self, id: u32, result: Result<(), ErrorClass>) {
        if let Some(s) = self.streams.get_mut(&id)
            && s.done.is_none()
        {
            s.done = Some(result);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }

    /// Takes a stream out (done or given up); frees its place.
    fn remove(&mut self, id: u32) -> Option<Slot> {
        let s = self.streams.remove(&id)?;
        if s.opened {
            self.opened -= 1;
            // Given up before the end: tell the server.
            if s.done.is_none() && !self.closed {
                self.rst(id, CANCEL);
            }
        } else {
            self.pending_open.retain(|(p, _)| *p != id);
        }
        self.open_pending();
        if let Some(w) = self.room_waiters.pop() {
            w.wake();
        }
        let ending = self.streams.is_empty() && (self.goaway.is_some() || self.abandoned);
        if !self.out.is_empty() || ending {
            self.wake_driver();
        }
        Some(s)
    }

    fn rst(&mut self, id: u32, code: u32) {
        frame_head(&mut self.out, 4, RST_STREAM, 0, id);
        self.out.extend_from_slice(&code.to_be_bytes());
    }

    /// The server's GOAWAY: streams above `last` were refused.
    fn go_away(&mut self, last: u32) {
        self.goaway = Some(self.goaway.map_or(last, |l| l.min(last)));
        let refused: Vec<u32> = self
            .streams
            .keys()
            .copied()
            .filter(|&id| id > last)
            .collect();
        for id in refused {
            self.finish(id, Err(ErrorClass::GoAway));
        }
        self.wake_waiters();
    }

    /// The connection has ended: every open stream fails.
    fn close(&mut self) {
        self.closed = true;
        let class = if self.goaway.is_some() {
            ErrorClass::GoAway
        } else {
            ErrorClass::Read
        };
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            self.finish(id, Err(class));
        }
        self.wake_waiters();
    }

    /// One SETTINGS entry from the server.
    fn setting(&mut self, key: u16, value: u32) -> Result<(), ()> {
        match key {
            // SETTINGS_MAX_CONCURRENT_STREAMS
            3 => {
                self.max_concurrent = value as usize;
                self.open_pending();
                self.wake_waiters();
            }
            // SETTINGS_INITIAL_WINDOW_SIZE
            4 => {
                if value > MAX_STREAM_ID {
                    return Err(());
                }
                let delta = i64::from(value) - self.peer_initial_window;
                self.peer_initial_window = i64::from(value);
                for s in self.streams.values_mut() {
                    s.send_window += delta;
                }
                self.flush_bodies();
            }
            // SETTINGS_MAX_FRAME_SIZE
            5 => {
                if !(16_384..=16_777_215).contains(&value) {
                    return Err(());
                }
                self.peer_max_frame = value as usize;
            }
            // The header table size (our requests never index), push,
            // header list size, and unknown settings.
            _ => {}
        }
        Ok(())
    }
}

/// One handle on a connection; clones share it. The connection ends when
/// the server ends it, or once every handle is gone and its streams are done.
pub struct H2Lean(Rc<RefCell<State>>);

impl Clone for H2Lean {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Drop for H2Lean {
    fn drop(&mut self) {
        // This handle and the driver's: the last handle is going.
        if Rc::strong_count(&self.0) == 2 {
            let mut st = self.0.borrow_mut();
            st.abandoned = true;
            st.wake_driver();
        }
    }
}

/// A stream being waited for; when dropped while the stream is still
/// there (given up before its end), the stream is reset (CANCEL).
struct Waiting<'a> {
    conn: &'a H2Lean,
    id: u32,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        // A no-op once the outcome was taken.
        let _ = self.conn.0.borrow_mut().remove(self.id);
    }
}

impl H2Lean {
    /// Starts HTTP/2 on `io` (prior knowledge, or after ALPN `h2`): sends
    /// the preface and our SETTINGS, waits up to `timeout` for the
    /// server's SETTINGS, then leaves the connection to its driver task
    /// (spawned on the current `LocalSet`).
    pub async fn handshake(io: Stream, timeout: Duration) -> std::io::Result<Self> {
        let shared = Rc::new(RefCell::new(State::new()));
        let mut driver = Driver::new(io, shared.clone());
        let settled = poll_fn(|cx| match driver.poll_drive(cx) {
            Poll::Ready(()) => Poll::Ready(false),
            Poll::Pending if shared.borrow().settled => Poll::Ready(true),
            Poll::Pending => Poll::Pending,
        });
        match tokio::time::timeout(timeout, settled).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(std::io::Error::other(
                    "the server ended the connection instead of answering the HTTP/2 preface with SETTINGS (does it speak HTTP/2?)",
                ));
            }
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no HTTP/2 SETTINGS from the server within {:?} (does it speak HTTP/2?)",
                        timeout
                    ),
                ));
            }
        }
        tokio::task::spawn_local(async move { poll_fn(|cx| driver.poll_drive(cx)).await });
        Ok(Self(shared))
    }

    /// Whether the connection has ended (or refuses new streams).
    pub fn closed(&self) -> bool {
        self.0.borrow().finished_for_new()
    }

    /// Waits for room for one more stream; false when no new stream can
    /// start on this connection (it ended, GOAWAY, or its ids ran out).
    pub async fn ready(&self) -> bool {
        poll_fn(|cx| {
            let mut st = self.0.borrow_mut();
            if st.finished_for_new() {
                Poll::Ready(false)
            } else if st.has_room() {
                Poll::Ready(true)
            } else {
                st.room_waiters.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Resolves when the connection ends.
    pub async fn closed_by_peer(&self) {
        poll_fn(|cx| {
            let mut st = self.0.borrow_mut();
            if st.closed {
                Poll::Ready(())
            } else {
                st.end_waiters.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Sends `req` on a new stream and waits for the stream to end. `buf`
    /// receives the body when `keep_body` (its capacity is reused); `gaps`
    /// asks for the gaps between DATA frames. A timeout is the caller's:
    /// dropping this future resets the stream (CANCEL).
    pub async fn exchange(
        &self,
        req: &H2Request,
        buf: &mut Vec<u8>,
        keep_body: bool,
        gaps: bool,
    ) -> Outcome {
        buf.clear();
        let id = match self
            .0
            .borrow_mut()
            .start(req, std::mem::take(buf), keep_body, gaps)
        {
            Ok(id) => id,
            Err(class) => return Outcome::failed(class),
        };
        // Given up (dropped) before the end: the stream is reset.
        let _waiting = Waiting { conn: self, id };
        let slot = poll_fn(|cx| {
            let mut st = self.0.borrow_mut();
            let Some(s) = st.streams.get_mut(&id) else {
                // Cannot happen: only this task removes its stream.
                return Poll::Ready(None);
            };
            if s.done.is_some() {
                return Poll::Ready(st.remove(id));
            }
            match &s.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => s.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await;
        let Some(mut s) = slot else {
            return Outcome::failed(ErrorClass::Read);
        };
        *buf = std::mem::take(&mut s.body);
        Outcome {
            result: s.done.unwrap_or(Err(ErrorClass::Read)),
            status: s.status,
            head: s.head,
            bytes: s.bytes,
            gaps: s.gaps.unwrap_or_default(),
        }
    }
}

/// Frame handling that needs no socket (split from [`Driver`] so a frame
/// can be parsed while the read buffer is borrowed).
struct Proto {
    shared: Rc<RefCell<State>>,
    decoder: hpack::Decoder,
    /// A header block being assembled from CONTINUATION frames.
    block: Vec<u8>,
    /// The stream of that block and whether it ends the stream.
    continuing: Option<(u32, bool)>,
}

/// A protocol violation by the server: the connection ends.
struct Violation;

/// Strips a frame's padding.
fn unpad(flags: u8, p: &[u8]) -> Result<&[u8], Violation> {
    if flags & PADDED == 0 {
        return Ok(p);
    }
    let (&pad, rest) = p.split_first().ok_or(Violation)?;
    rest.len()
        .checked_sub(usize::from(pad))
        .map(|n| &rest[..n])
        .ok_or(Violation)
}

fn u32_at(p: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
}

impl Proto {
    fn frame(&mut self, ty: u8, flags: u8, id: u32, p: &[u8]) -> Result<(), Violation> {
        if let Some((cid, end)) = self.continuing {
            if ty != CONTINUATION || id != cid {
                return Err(Violation);
            }
            if self.block.len() + p.len() > MAX_HEADER_BLOCK {
                return Err(Violation);
            }
            self.block.extend_from_slice(p);
            if flags & END_HEADERS != 0 {
                self.continuing = None;
                let block = std::mem::take(&mut self.block);
                let r = self.headers(id, end, &block);
                self.block = block;
                self.block.clear();
                r?;
            }
            return Ok(());
        }
        let mut st = self.shared.borrow_mut();
        let st = &mut *st;
        match ty {
            DATA => {
                if id == 0 {
                    return Err(Violation);
                }
                let data = unpad(flags, p)?;
                let len = p.len() as u32;
                st.recv_conn += len;
                if st.recv_conn >= RECV_WINDOW / 2 {
                    frame_head(&mut st.out, 4, WINDOW_UPDATE, 0, 0);
                    st.out.extend_from_slice(&st.recv_conn.to_be_bytes());
                    st.recv_conn = 0;
                }
                let end = flags & END_STREAM != 0;
                if let Some(s) = st.streams.get_mut(&id).filter(|s| s.done.is_none()) {
                    s.bytes += data.len() as u64;
                    if s.keep_body {
                        s.body.extend_from_slice(data);
                    }
                    if let (Some(gaps), false) = (&mut s.gaps, data.is_empty()) {
                        let now = Instant::now();
                        if let Some(prev) = s.last_chunk {
                            gaps.push(now - prev);
                        }
                        s.last_chunk = Some(now);
                    }
                    s.recv += len;
                    if s.recv >= RECV_WINDOW / 2 && !end {
                        frame_head(&mut st.out, 4, WINDOW_UPDATE, 0, id);
                        st.out.extend_from_slice(&s.recv.to_be_bytes());
                        s.recv = 0;
                    }
                    if end {
                        // A response without a head is malformed.
                        let r = if s.status.is_some() {
                            Ok(())
                        } else {
                            Err(ErrorClass::Read)
                        };
                        st.finish(id, r);
                    }
                }
            }
            HEADERS => {
                if id == 0 {
                    return Err(Violation);
                }
                let mut q = unpad(flags, p)?;
                if flags & PRIORITY != 0 {
                    q = q.get(5..).ok_or(Violation)?;
                }
                let end = flags & END_STREAM != 0;
                if flags & END_HEADERS == 0 {
                    self.block.clear();
                    self.block.extend_from_slice(q);
                    self.continuing = Some((id, end));
                    return Ok(());
                }
                return headers(&mut self.decoder, st, id, end, q);
            }
            RST_STREAM => {
                if p.len() != 4 || id == 0 {
                    return Err(Violation);
                }
                st.finish(id, Err(ErrorClass::Reset));
            }
            SETTINGS => {
                if id != 0 {
                    return Err(Violation);
                }
                if flags & ACK != 0 {
                    return Ok(());
                }
                if !p.len().is_multiple_of(6) {
                    return Err(Violation);
                }
                for e in p.chunks_exact(6) {
                    st.setting(u16::from_be_bytes([e[0], e[1]]), u32_at(e, 2))
                        .map_err(|()| Violation)?;
                }
                frame_head(&mut st.out, 0, SETTINGS, ACK, 0);
                st.settled = true;
            }
            PING => {
                if p.len() != 8 || id != 0 {
                    return Err(Violation);
                }
                if flags & ACK == 0 {
                    frame_head(&mut st.out, 8, PING, ACK, 0);
                    st.out.extend_from_slice(p);
                }
            }
            GOAWAY => {
                if p.len() < 8 || id != 0 {
                    return Err(Violation);
                }
                st.go_away(u32_at(p, 0) & MAX_STREAM_ID);
            }
            WINDOW_UPDATE => {
                if p.len() != 4 {
                    return Err(Violation);
                }
                let inc = i64::from(u32_at(p, 0) & MAX_STREAM_ID);
                if id == 0 {
                    st.conn_send_window = st.conn_send_window.saturating_add(inc);
                } else if let Some(s) = st.streams.get_mut(&id) {
                    s.send_window = s.send_window.saturating_add(inc);
                }
                st.flush_bodies();
            }
            // We refused push in our SETTINGS.
            PUSH_PROMISE => return Err(Violation),
            // PRIORITY and frame types we do not know are ignored.
            _ => {}
        }
        Ok(())
    }

    fn headers(&mut self, id: u32, end: bool, block: &[u8]) -> Result<(), Violation> {
        let mut st = self.shared.borrow_mut();
        headers(&mut self.decoder, &mut st, id, end, block)
    }
}

/// A complete header block for stream `id`: the HPACK table is kept in step
/// whether or not the stream is still wanted.
fn headers(
    decoder: &mut hpack::Decoder,
    st: &mut State,
    id: u32,
    end: bool,
    block: &[u8],
) -> Result<(), Violation> {
    let mut status: Option<Option<u16>> = None;
    decoder
        .decode(block, |name, value| {
            if name == b":status" {
                status = Some(
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse::<u16>().ok())
                        .filter(|v| (100..1000).contains(v)),
                );
            }
        })
        .map_err(|_| Violation)?;
    let Some(s) = st.streams.get_mut(&id).filter(|s| s.done.is_none()) else {
        return Ok(());
    };
    let malformed = match (status, s.status) {
        // An interim (1xx) head: the final one follows.
        (Some(Some(code)), None) if code < 200 && !end => false,
        (Some(Some(code)), None) => {
            s.status = Some(code);
            s.head = Some(Instant::now());
            false
        }
        // Trailers.
        (None, Some(_)) => !end,
        _ => true,
    };
    if malformed {
        st.rst(id, PROTOCOL_ERROR);
        st.finish(id, Err(ErrorClass::Read));
    } else if end {
        st.finish(id, Ok(()));
    }
    Ok(())
}

/// The connection's driver: owns the socket.
struct Driver {
    io: Stream,
    rbuf: Box<[u8]>,
    /// Unparsed bytes are `rbuf[rstart..rend]`.
    rstart: usize,
    rend: usize,
    /// Bytes being written, `wbuf[wpos..]` still to go.
    wbuf: Vec<u8>,
    wpos: usize,
    /// Written since the last flush.
    unflushed: bool,
    proto: Proto,
}

impl Driver {
    fn new(io: Stream, shared: Rc<RefCell<State>>) -> Self {
        Self {
            io,
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            rstart: 0,
            rend: 0,
            wbuf: Vec::with_capacity(4096),
            wpos: 0,
            unflushed: false,
            proto: Proto {
                shared,
                decoder: hpack::Decoder::new(4096),
                block: Vec::new(),
                continuing: None,
            },
        }
    }

    fn shared(&self) -> &RefCell<State> {
        &self.proto.shared
    }

    /// Ends the connection: every stream still open fails.
    fn end(&mut self) -> Poll<()> {
        self.shared().borrow_mut().close();
        Poll::Ready(())
    }

    /// Parses the whole frames in the read buffer.
    fn parse(&mut self) -> Result<(), Violation> {
        while self.rend - self.rstart >= 9 {
            let h = &self.rbuf[self.rstart..self.rstart + 9];
            let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
            if len > MAX_FRAME {
                return Err(Violation);
            }
            let (ty, flags, id) = (h[3], h[4], u32_at(h, 5) & MAX_STREAM_ID);
            if self.rend - self.rstart < 9 + len {
                break;
            }
            let p = &self.rbuf[self.rstart + 9..self.rstart + 9 + len];
            self.proto.frame(ty, flags, id, p)?;
            self.rstart += 9 + len;
        }
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        } else if self.rbuf.len() - self.rend < MAX_FRAME + 9 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        Ok(())
    }

    /// Reads and handles what arrived, writes what is queued; Ready once
    /// the connection has ended.
    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for i in 0.. {
            if i == READS_PER_WAKE {
                // Let the stream tasks run; come back at once.
                cx.waker().wake_by_ref();
                break;
            }
            let mut rb = ReadBuf::new(&mut self.rbuf[self.rend..]);
            match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                Poll::Pending => break,
                Poll::Ready(Err(_)) => return self.end(),
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        return self.end();
                    }
                    self.rend += n;
                    if self.parse().is_err() {
                        let mut st = self.shared().borrow_mut();
                        frame_head(&mut st.out, 8, GOAWAY, 0, 0);
                        st.out.extend_from_slice(&[0; 4]);
                        st.out.extend_from_slice(&PROTOCOL_ERROR.to_be_bytes());
                        drop(st);
                        // Best effort: say why, then end.
                        let _ = self.poll_write_out(cx);
                        return self.end();
                    }
                }
            }
        }
        match self.poll_write_out(cx) {
            Poll::Ready(Err(_)) => return self.end(),
            Poll::Ready(Ok(())) | Poll::Pending => {}
        }
        let mut st = self.shared().borrow_mut();
        let idle = st.streams.is_empty() && st.out.is_empty() && self.wpos == self.wbuf.len();
        if idle && (st.abandoned || st.goaway.is_some()) {
            drop(st);
            return self.end();
        }
        st.driver = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Writes the queued frames: Ready(Ok) when all of them went out and
    /// were flushed.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        loop {
            if self.wpos == self.wbuf.len() {
                self.wbuf.clear();
                self.wpos = 0;
                let mut st = self.proto.shared.borrow_mut();
                if st.out.is_empty() {
                    break;
                }
                std::mem::swap(&mut self.wbuf, &mut st.out);
            }
            match Pin::new(&mut self.io).poll_write(cx, &self.wbuf[self.wpos..]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.wpos += n;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        }
        if self.unflushed {
            std::task::ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }
}
