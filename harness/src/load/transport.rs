//! The byte stream under an HTTP connection: plain TCP, or TLS over TCP
//! ([`super::tls`]). [`Connector`] opens one (trying each address, with
//! the run's timeout) and reports how long the TLS handshake took.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A connected byte stream.
pub enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP (boxed: the session state is large).
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Whether the server closed the idle stream, or sent something nobody
    /// asked for (either leaves it unusable), checked without blocking.
    /// Plain TCP: no system call unless the socket turned readable. TLS:
    /// records that carry no data (a TLS 1.3 session ticket) are consumed
    /// and do not count.
    pub fn closed_while_idle(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self {
            Stream::Tcp(s) => {
                if s.poll_read_ready(&mut cx).is_pending() {
                    return false;
                }
                let mut probe = [0u8; 1];
                !matches!(s.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            }
            Stream::Tls(s) => {
                let mut probe = [0u8; 1];
                let mut rb = ReadBuf::new(&mut probe);
                // Pending: nothing but (possibly) handshake records arrived.
                Pin::new(&mut **s).poll_read(&mut cx, &mut rb).is_ready()
            }
        }
    }

    /// Resolves when the server closes the (idle) stream or sends
    /// something unasked.
    pub async fn closed_by_peer(&mut self) {
        let mut probe = [0u8; 64];
        match self {
            Stream::Tcp(s) => loop {
                if s.readable().await.is_err() {
                    break;
                }
                match s.try_read(&mut probe) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    _ => break,
                }
            },
            Stream::Tls(s) => {
                let _ = tokio::io::AsyncReadExt::read(&mut **s, &mut probe).await;
            }
        }
    }
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

/// Opens streams to one endpoint.
#[derive(Clone)]
pub struct Connector {
    addrs: Arc<[SocketAddr]>,
    timeout: Duration,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// A stream just opened.
pub struct Opened {
    /// The stream.
    pub stream: Stream,
    /// How long the TLS handshake took (None for plain TCP).
    pub handshake: Option<Duration>,
    /// Whether the server agreed to HTTP/2 by ALPN (TLS only).
    pub h2: bool,
}

impl Connector {
    /// A connector to `addrs`; with `tls`, each stream makes a TLS
    /// handshake for `server_name` after the TCP connect.
    pub fn new(
        addrs: &[SocketAddr],
        timeout: Duration,
        tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    ) -> Self {
        Self {
            addrs: addrs.into(),
            timeout,
            tls: tls.map(|(c, n)| (TlsConnector::from(c), n)),
        }
    }

    /// Opens a stream (each address in turn), the whole within the timeout.
    pub async fn connect(&self) -> std::io::Result<Opened> {
        let deadline = Instant::now() + self.timeout;
        let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
        let tcp = tokio::time::timeout_at(deadline, async {
            let mut last = None;
            for addr in self.addrs.iter() {
                match TcpStream::connect(addr).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
        })
        .await
        .map_err(|_| timed_out())??;
        tcp.set_nodelay(true)?;
        let Some((connector, name)) = &self.tls else {
            return Ok(Opened {
                stream: Stream::Tcp(tcp),
                handshake: None,
                h2: false,
            });
        };
        let began = Instant::now();
        let tls = tokio::time::timeout_at(deadline, connector.connect(name.clone(), tcp))
            .await
            .map_err(|_| timed_out())??;
        let handshake = began.elapsed();
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok(Opened {
            stream: Stream::Tls(Box::new(tls)),
            handshake: Some(handshake),
            h2,
        })
    }
}
