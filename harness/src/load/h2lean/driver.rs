//! A connection's driver: owns the socket, reads and parses what arrived,
//! writes what the stream tasks queued.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::frames::{Proto, Violation, u32_at};
use super::streams::{State, frame_head};
use super::*;

/// The connection's driver: owns the socket.
pub(super) struct Driver {
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
    pub(super) fn new(io: Stream, shared: Rc<RefCell<State>>) -> Self {
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
    pub(super) fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
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
