//! A connection's streams: their bookkeeping from the request queued to
//! the outcome taken, the server's limits and settings, and the send
//! windows that pace request bodies. Frames to send are appended to one
//! buffer the driver writes.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::*;

/// A hasher for stream ids (odd, increasing): one multiplication.
#[derive(Default)]
pub(super) struct IdHasher(u64);

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
pub(super) struct Slot {
    /// The stream task's waker.
    pub(super) waker: Option<Waker>,
    /// Whether its HEADERS went out (or it waits for the server's limit).
    pub(super) opened: bool,
    /// Request body bytes not yet sent.
    pub(super) body_out: Bytes,
    /// What the server lets us send on this stream.
    pub(super) send_window: i64,
    /// Bytes received since this stream's window was last topped up.
    pub(super) recv: u32,
    pub(super) status: Option<u16>,
    pub(super) head: Option<Instant>,
    pub(super) bytes: u64,
    pub(super) keep_body: bool,
    pub(super) body: Vec<u8>,
    pub(super) gaps: Option<Vec<Duration>>,
    pub(super) last_chunk: Option<Instant>,
    pub(super) done: Option<Result<(), ErrorClass>>,
}

/// The connection's state, shared by its driver and its stream tasks.
pub(super) struct State {
    /// Frames to write.
    pub(super) out: Vec<u8>,
    /// The driver's waker, taken by whoever wakes it.
    pub(super) driver: Option<Waker>,
    pub(super) streams: HashMap<u32, Slot, BuildHasherDefault<IdHasher>>,
    pub(super) next_id: u32,
    /// Streams whose HEADERS went out and that have not been taken.
    pub(super) opened: usize,
    /// Streams waiting for the server's concurrency limit, in id order.
    pub(super) pending_open: VecDeque<(u32, Bytes)>,
    /// Streams with request body left to send.
    pub(super) pending_bodies: VecDeque<u32>,
    /// Tasks waiting for room for a stream.
    pub(super) room_waiters: Vec<Waker>,
    /// Tasks waiting for the connection's end.
    pub(super) end_waiters: Vec<Waker>,
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS.
    pub(super) max_concurrent: usize,
    /// The server's SETTINGS_INITIAL_WINDOW_SIZE.
    pub(super) peer_initial_window: i64,
    /// The server's SETTINGS_MAX_FRAME_SIZE.
    pub(super) peer_max_frame: usize,
    /// What the server lets us send on the connection.
    pub(super) conn_send_window: i64,
    /// Bytes received since the connection's window was last topped up.
    pub(super) recv_conn: u32,
    /// The server's first SETTINGS arrived.
    pub(super) settled: bool,
    /// The server sent GOAWAY (with this last stream id).
    pub(super) goaway: Option<u32>,
    /// Every handle is gone.
    pub(super) abandoned: bool,
    /// The connection has ended.
    pub(super) closed: bool,
}

/// Appends a frame header.
#[inline]
pub(super) fn frame_head(out: &mut Vec<u8>, len: usize, ty: u8, flags: u8, id: u32) {
    let l = (len as u32).to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], ty, flags]);
    out.extend_from_slice(&id.to_be_bytes());
}

impl State {
    pub(super) fn new() -> Self {
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
    pub(super) fn wake_driver(&mut self) {
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
    pub(super) fn has_room(&self) -> bool {
        self.pending_open.is_empty() && self.opened < self.max_concurrent
    }

    /// Whether no new stream can ever start here.
    pub(super) fn finished_for_new(&self) -> bool {
        self.closed || self.goaway.is_some() || self.next_id > MAX_STREAM_ID
    }

    /// Registers a stream for `req` and queues its frames (or, at the
    /// server's limit, queues it to open later).
    pub(super) fn start(
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
        // After GOAWAY or the end, nothing more opens (the waiting streams
        // have been refused).
        if self.closed || self.goaway.is_some() {
            return;
        }
        while self.opened < self.max_concurrent {
            let Some((id, block)) = self.pending_open.pop_front() else {
                break;
            };
            self.open(id, &block);
        }
    }

    /// Sends request body bytes as far as the send windows allow.
    pub(super) fn flush_bodies(&mut self) {
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
    pub(super) fn finish(&mut self, id: u32, result: Result<(), ErrorClass>) {
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
    pub(super) fn remove(&mut self, id: u32) -> Option<Slot> {
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

    pub(super) fn rst(&mut self, id: u32, code: u32) {
        frame_head(&mut self.out, 4, RST_STREAM, 0, id);
        self.out.extend_from_slice(&code.to_be_bytes());
    }

    /// The server's GOAWAY: streams above `last` were refused, and streams
    /// still waiting to open never will (no stream may open after GOAWAY).
    pub(super) fn go_away(&mut self, last: u32) {
        self.goaway = Some(self.goaway.map_or(last, |l| l.min(last)));
        let refused: Vec<u32> = self
            .streams
            .iter()
            .filter(|(id, s)| **id > last || !s.opened)
            .map(|(id, _)| *id)
            .collect();
        for id in refused {
            self.finish(id, Err(ErrorClass::GoAway));
        }
        self.wake_waiters();
    }

    /// The connection has ended: every open stream fails.
    pub(super) fn close(&mut self) {
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
    pub(super) fn setting(&mut self, key: u16, value: u32) -> Result<(), ()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::h2lean::H2Request;

    fn request() -> H2Request {
        H2Request::new(
            &[(b":method", b"GET"), (b":path", b"/")],
            bytes::Bytes::new(),
        )
    }

    /// The stream ids of the HEADERS frames in `out` (after the preface and
    /// our SETTINGS and WINDOW_UPDATE).
    fn headers_sent(st: &State) -> Vec<u32> {
        let mut out = &st.out[PREFACE.len()..];
        let mut ids = Vec::new();
        while out.len() >= 9 {
            let len = u32::from_be_bytes([0, out[0], out[1], out[2]]) as usize;
            if out[3] == HEADERS {
                ids.push(u32::from_be_bytes([out[5], out[6], out[7], out[8]]));
            }
            out = &out[9 + len..];
        }
        ids
    }

    #[test]
    fn streams_above_the_servers_limit_wait_and_open_in_order() {
        let mut st = State::new();
        st.setting(3, 1).unwrap();
        let a = st.start(&request(), Vec::new(), false, false).unwrap();
        let b = st.start(&request(), Vec::new(), false, false).unwrap();
        assert_eq!((a, b), (1, 3));
        assert_eq!(headers_sent(&st), vec![1], "the second waits for room");
        st.finish(a, Ok(()));
        st.remove(a);
        assert_eq!(headers_sent(&st), vec![1, 3]);
    }

    #[test]
    fn after_goaway_a_waiting_stream_is_refused_and_never_opens() {
        let mut st = State::new();
        st.setting(3, 1).unwrap();
        let a = st.start(&request(), Vec::new(), false, false).unwrap();
        let b = st.start(&request(), Vec::new(), false, false).unwrap();
        // A graceful GOAWAY: every opened stream may still finish.
        st.go_away(MAX_STREAM_ID);
        assert_eq!(st.streams[&a].done, None);
        assert_eq!(st.streams[&b].done, Some(Err(ErrorClass::GoAway)));
        st.finish(a, Ok(()));
        st.remove(a);
        assert_eq!(headers_sent(&st), vec![1], "nothing opens after GOAWAY");
        assert_eq!(
            st.start(&request(), Vec::new(), false, false),
            Err(ErrorClass::GoAway)
        );
    }
}
