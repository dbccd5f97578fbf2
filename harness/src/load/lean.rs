//! The lean HTTP/1.1 client: a request written from bytes encoded once per
//! template, the response read into the connection's one buffer and decoded
//! in place ([`super::wire`]). No channel, no task wake-up of its
//! own, no allocation per request, and one timer per connection that is
//! moved only when it fires (a request's deadline is checked lazily).
//!
//! This is what makes a single generator thread keep up with wrk; hyper's
//! connection client ([`super::conn`]) remains available as `--http-client
//! hyper` and is the reference the tests compare this one against.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::transport::Stream;

use super::wire::{self, Framing, WireError};

/// Size of each connection's read buffer at first: enough for typical
/// responses, and small for 10,000 connections. A head that does not fit
/// grows it (up to [`MAX_HEAD`]); so does a read that fills it (up to
/// [`MAX_READ`]), so large bodies take fewer system calls, as hyper's
/// adaptive buffer does.
const READ_BUF: usize = 4096;
/// Largest buffer a body grows it to.
const MAX_READ: usize = 64 * 1024;
/// Largest response head accepted.
const MAX_HEAD: usize = 1 << 20;

/// How an exchange on a lean connection failed.
#[derive(Debug)]
pub enum Failure {
    /// Writing the request or reading the response failed, or the
    /// connection closed before the response was complete.
    Io,
    /// The response is not valid HTTP/1.1.
    Protocol(WireError),
    /// The deadline passed first.
    Timeout,
}

/// What the caller learns as a response arrives.
pub trait Sink {
    /// The head arrived with this status.
    fn head(&mut self, status: u16);
    /// A piece of body data arrived.
    fn data(&mut self, data: &[u8]);
}

/// One keep-alive connection.
pub struct LeanConn {
    stream: Stream,
    buf: Box<[u8]>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Set once the connection cannot carry another request.
    closed: bool,
    /// Fires at or before the current request's deadline; moved lazily.
    timer: Pin<Box<Sleep>>,
}

impl LeanConn {
    /// Wraps a connected stream.
    pub fn new(stream: Stream, timeout: Duration) -> Self {
        Self {
            stream,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            closed: false,
            timer: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Whether the connection can take another request: it has not been
    /// closed by a response, and the server has not closed it since (see
    /// [`Stream::closed_while_idle`]).
    pub fn reusable(&mut self) -> bool {
        if !self.closed && self.stream.closed_while_idle() {
            self.closed = true;
        }
        !self.closed
    }

    /// Resolves when the server closes the (idle) connection.
    pub async fn closed_by_peer(&mut self) {
        self.stream.closed_by_peer().await;
        self.closed = true;
    }

    /// Sends `request` and reads the whole response before `deadline`,
    /// telling `sink` about the head and each piece of body. The
    /// connection is marked closed when it cannot be reused.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head_request: bool,
        deadline: Instant,
        sink: &mut impl Sink,
    ) -> Result<(), Failure> {
        if self.timer.deadline() > deadline {
            self.timer.as_mut().reset(deadline);
        }
        let r = self
            .exchange_inner(request, head_request, deadline, sink)
            .await;
        if r.is_err() {
            self.closed = true;
        }
        r
    }

    async fn exchange_inner(
        &mut self,
        request: &[u8],
        head_request: bool,
        deadline: Instant,
        sink: &mut impl Sink,
    ) -> Result<(), Failure> {
        self.write_all(request, deadline).await?;
        self.start = 0;
        self.end = 0;
        let head = loop {
            match wire::parse_head(&self.buf[self.start..self.end], head_request) {
                Ok(Some((head, n))) => {
                    self.start += n;
                    if (100..200).contains(&head.status) {
                        continue; // an interim response: the real one follows
                    }
                    break head;
                }
                Ok(None) => {
                    if self.read_more(deadline).await? == 0 {
                        return Err(Failure::Io);
                    }
                }
                Err(e) => return Err(Failure::Protocol(e)),
            }
        };
        sink.head(head.status);
        let close = head.close;
        match head.framing {
            Framing::Empty => {}
            Framing::Length(mut left) => loop {
                let avail = (self.end - self.start) as u64;
                let take = avail.min(left) as usize;
                if take > 0 {
                    sink.data(&self.buf[self.start..self.start + take]);
                    self.start += take;
                    left -= take as u64;
                }
                if left == 0 {
                    break;
                }
                if self.read_more(deadline).await? == 0 {
                    return Err(Failure::Io);
                }
            },
            Framing::Chunked(mut dec) => loop {
                let n = dec
                    .decode(&self.buf[self.start..self.end], &mut |d| sink.data(d))
                    .map_err(Failure::Protocol)?;
                self.start += n;
                if dec.is_done() {
                    break;
                }
                if self.read_more(deadline).await? == 0 {
                    return Err(Failure::Io);
                }
            },
            Framing::UntilClose => loop {
                if self.end > self.start {
                    sink.data(&self.buf[self.start..self.end]);
                    self.start = self.end;
                }
                if self.read_more(deadline).await? == 0 {
                    break;
                }
            },
        }
        // Anything left over was not asked for: the stream is out of step.
        if close || self.start != self.end {
            self.closed = true;
        }
        Ok(())
    }

    /// Reads more bytes after `end`, first moving unconsumed bytes to the
    /// front (and growing the buffer when a head fills it). 0 means EOF.
    async fn read_more(&mut self, deadline: Instant) -> Result<usize, Failure> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < MAX_HEAD {
                self.grow();
            } else {
                return Err(Failure::Protocol(WireError::Head("head too large")));
            }
        }
        let (stream, timer) = (&mut self.stream, &mut self.timer);
        let buf = &mut self.buf[self.end..];
        let space = buf.len();
        let n = poll_fn(|cx| {
            let mut rb = ReadBuf::new(buf);
            match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
                Poll::Ready(Err(_)) => Poll::Ready(Err(Failure::Io)),
                Poll::Pending => expired(timer, deadline, cx).map(|()| Err(Failure::Timeout)),
            }
        })
        .await?;
        self.end += n;
        if n == space && self.buf.len() < MAX_READ {
            self.grow();
        }
        Ok(n)
    }

    /// Doubles the buffer, keeping its contents.
    fn grow(&mut self) {
        let mut bigger = vec![0; self.buf.len() * 2].into_boxed_slice();
        bigger[..self.end].copy_from_slice(&self.buf[..self.end]);
        self.buf = bigger;
    }

    async fn write_all(&mut self, mut bytes: &[u8], deadline: Instant) -> Result<(), Failure> {
        let (stream, timer) = (&mut self.stream, &mut self.timer);
        while !bytes.is_empty() {
            let n = poll_fn(|cx| match Pin::new(&mut *stream).poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(Err(Failure::Io)),
                Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
                Poll::Pending => expired(timer, deadline, cx).map(|()| Err(Failure::Timeout)),
            })
            .await?;
            bytes = &bytes[n..];
        }
        // TLS may hold the last record back until flushed (TCP: a no-op).
        poll_fn(|cx| match Pin::new(&mut *stream).poll_flush(cx) {
            Poll::Ready(r) => Poll::Ready(r.map_err(|_| Failure::Io)),
            Poll::Pending => expired(timer, deadline, cx).map(|()| Err(Failure::Timeout)),
        })
        .await
    }
}

/// Ready once `deadline` has passed. The timer may be set earlier than the
/// deadline (an older request's); when it fires early it is moved to the
/// deadline, so it fires at most once per timeout span however many
/// requests run, and the check stays exact.
fn expired(timer: &mut Pin<Box<Sleep>>, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if timer.deadline() >= deadline {
            return Poll::Ready(());
        }
        timer.as_mut().reset(deadline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    #[derive(Default)]
    struct Collect {
        status: Option<u16>,
        body: Vec<u8>,
    }

    impl Sink for Collect {
        fn head(&mut self, status: u16) {
            self.status = Some(status);
        }
        fn data(&mut self, data: &[u8]) {
            self.body.extend_from_slice(data);
        }
    }

    /// A server that answers each request (one read) with the next of
    /// `replies`, written in pieces of `piece` bytes; then it closes the
    /// connection, or with `hang` reads on and never answers.
    async fn scripted_then(
        replies: Vec<&'static [u8]>,
        piece: usize,
        hang: bool,
    ) -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; 1024];
            for r in replies {
                if s.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                for p in r.chunks(piece) {
                    s.write_all(p).await.unwrap();
                    s.flush().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
            while hang && s.read(&mut buf).await.unwrap_or(0) > 0 {}
        });
        addr
    }

    async fn scripted(replies: Vec<&'static [u8]>, piece: usize) -> std::net::SocketAddr {
        scripted_then(replies, piece, false).await
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
    const EMPTY_200: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

    async fn conn(addr: std::net::SocketAddr) -> LeanConn {
        LeanConn::new(
            Stream::Tcp(TcpStream::connect(addr).await.unwrap()),
            Duration::from_secs(5),
        )
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn responses_of_every_framing_in_any_pieces() {
        let replies: Vec<&'static [u8]> = vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\nto the end",
        ];
        for piece in [1, 7, 4096] {
            let mut c = conn(scripted(replies.clone(), piece).await).await;
            let expect: [(u16, &[u8], bool); 4] = [
                (200, b"hello", true),
                (201, b"abcde", true),
                (204, b"", true),
                (200, b"to the end", false),
            ];
            for (status, body, reusable) in expect {
                let mut sink = Collect::default();
                c.exchange(GET, false, soon(), &mut sink).await.unwrap();
                assert_eq!(sink.status, Some(status), "piece {piece}");
                assert_eq!(sink.body, body, "piece {piece}");
                assert_eq!(c.reusable(), reusable, "piece {piece}, status {status}");
            }
        }
    }

    #[tokio::test]
    async fn a_large_head_grows_the_buffer_and_a_cut_body_is_an_error() {
        let big: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\nx-big: {}\r\nContent-Length: 2\r\n\r\nok",
                "a".repeat(3 * READ_BUF)
            )
            .into_boxed_str(),
        );
        let cut: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
        let mut c = conn(scripted(vec![big.as_bytes(), cut], 1000).await).await;
        let mut sink = Collect::default();
        c.exchange(GET, false, soon(), &mut sink).await.unwrap();
        assert_eq!(sink.body, b"ok");
        let mut sink = Collect::default();
        let r = c.exchange(GET, false, soon(), &mut sink).await;
        assert!(matches!(r, Err(Failure::Io)), "{r:?}");
        assert!(!c.reusable());
    }

    #[tokio::test]
    async fn a_large_body_grows_the_buffer_to_its_limit() {
        let body = "x".repeat(1 << 20);
        let reply: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let mut c = conn(scripted(vec![reply.as_bytes()], 256 * 1024).await).await;
        let mut sink = Collect::default();
        c.exchange(GET, false, soon(), &mut sink).await.unwrap();
        assert_eq!(sink.body.len(), body.len());
        assert!(sink.body.iter().all(|&b| b == b'x'));
        assert_eq!(c.buf.len(), MAX_READ);
    }

    #[tokio::test]
    async fn garbage_is_a_protocol_error() {
        let mut c = conn(scripted(vec![b"SSH-2.0-OpenSSH\r\n\r\n"], 64).await).await;
        let r = c
            .exchange(GET, false, soon(), &mut Collect::default())
            .await;
        assert!(matches!(r, Err(Failure::Protocol(_))), "{r:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_lazy_timer_fires_at_each_requests_own_deadline() {
        // A server that answers the first two requests at once and never
        // the third. The timer, first set for request 1, must still end
        // request 3 exactly at its own deadline.
        let addr = scripted_then(vec![EMPTY_200, EMPTY_200], 64, true).await;
        let timeout = Duration::from_secs(2);
        let mut c = LeanConn::new(
            Stream::Tcp(TcpStream::connect(addr).await.unwrap()),
            timeout,
        );
        for _ in 0..2 {
            let d = Instant::now() + timeout;
            c.exchange(GET, false, d, &mut Collect::default())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        let sent = Instant::now();
        let r = c
            .exchange(GET, false, sent + timeout, &mut Collect::default())
            .await;
        assert!(matches!(r, Err(Failure::Timeout)), "{r:?}");
        assert_eq!(Instant::now() - sent, timeout);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_is_not_reused() {
        // The server closes after one response, as a keep-alive timeout does.
        let mut c = conn(scripted(vec![EMPTY_200], 64).await).await;
        c.exchange(GET, false, soon(), &mut Collect::default())
            .await
            .unwrap();
        // Wait until the close has reached this socket, then ask as the
        // engine does before reusing a connection.
        let Stream::Tcp(tcp) = &c.stream else {
            unreachable!("a plain connection")
        };
        tokio::time::timeout(Duration::from_secs(5), tcp.readable())
            .await
            .unwrap()
            .unwrap();
        assert!(!c.reusable());
        // An idle connection notices its close while it waits.
        let mut c = conn(scripted(vec![EMPTY_200], 64).await).await;
        c.exchange(GET, false, soon(), &mut Collect::default())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), c.closed_by_peer())
            .await
            .unwrap();
        assert!(!c.reusable());
    }
}
