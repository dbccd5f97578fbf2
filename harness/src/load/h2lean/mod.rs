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

mod driver;
mod frames;
mod streams;

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::hpack;
use super::recorder::ErrorClass;
use super::transport::Stream;
use driver::Driver;
use streams::State;

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
