//! HTTP/1.1 on the wire, for the lean client: a request encoded once per
//! template, and a response decoder that works on whatever bytes have
//! arrived. No I/O and no clock here, so every framing rule is unit-tested.
//!
//! The head is parsed by `httparse` (the parser hyper uses). Message framing
//! follows RFC 9112 §6.3: no body for responses to HEAD and for 1xx, 204
//! and 304; otherwise `Transfer-Encoding: chunked`, then `Content-Length`,
//! then the body runs to the end of the connection.

use std::mem::MaybeUninit;

use bytes::{BufMut, Bytes, BytesMut};
use http::Method;
use http::header::{HeaderName, HeaderValue};

/// Most response headers accepted.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (hex digits and extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// Longest trailer section accepted.
const MAX_TRAILERS: usize = 64 * 1024;

/// Why a response could not be decoded. All of them end the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The status line or a header is malformed.
    #[error("malformed response head: {0}")]
    Head(&'static str),
    /// Content-Length is invalid, or two of them disagree.
    #[error("invalid Content-Length")]
    ContentLength,
    /// The chunked body is malformed.
    #[error("malformed chunked body: {0}")]
    Chunked(&'static str),
    /// The server switched protocols, which a load generator cannot follow.
    #[error("the server switched protocols (101)")]
    Upgrade,
}

/// Encodes one request in full (head and body), as hyper's client would
/// send it: `Host` first (the template's own `Host` header when it has
/// one, else `host`: exactly one is sent), lower-case header names, and
/// `content-length` whenever there is a body (or the method normally
/// carries one).
pub fn encode_request(
    method: &Method,
    path: &str,
    host: &HeaderValue,
    headers: &[(HeaderName, HeaderValue)],
    body: &[u8],
    keepalive: bool,
) -> Bytes {
    let mut b = BytesMut::with_capacity(64 + path.len() + body.len());
    b.put_slice(method.as_str().as_bytes());
    b.put_u8(b' ');
    b.put_slice(path.as_bytes());
    b.put_slice(b" HTTP/1.1\r\nhost: ");
    let host = headers
        .iter()
        .find(|(n, _)| n == http::header::HOST)
        .map_or(host, |(_, v)| v);
    b.put_slice(host.as_bytes());
    b.put_slice(b"\r\n");
    if !keepalive {
        b.put_slice(b"connection: close\r\n");
    }
    let mut has_length = false;
    for (n, v) in headers.iter().filter(|(n, _)| n != http::header::HOST) {
        if n == http::header::CONTENT_LENGTH || n == http::header::TRANSFER_ENCODING {
            has_length = true;
        }
        b.put_slice(n.as_str().as_bytes());
        b.put_slice(b": ");
        b.put_slice(v.as_bytes());
        b.put_slice(b"\r\n");
    }
    let carries_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if !has_length && (!body.is_empty() || carries_body) {
        b.put_slice(b"content-length: ");
        b.put_slice(body.len().to_string().as_bytes());
        b.put_slice(b"\r\n");
    }
    b.put_slice(b"\r\n");
    b.put_slice(body);
    b.freeze()
}

/// How a response body is delimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunked),
    /// Everything until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// How the body is delimited.
    pub framing: Framing,
    /// The connection cannot carry another request after this response
    /// (`Connection: close`, HTTP/1.0 without keep-alive, or a body that
    /// runs to the close).
    pub close: bool,
}

/// Parses a response head from the start of `buf`. `Ok(None)`: incomplete,
/// read more. `Ok(Some((head, n)))`: the head took `n` bytes. An interim
/// (1xx) response comes back as such; the caller skips it and parses again.
pub fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<(Head, usize)>, WireError> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let n = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut storage,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(WireError::Head("too many headers")),
        Err(httparse::Error::Status) => return Err(WireError::Head("bad status line")),
        Err(httparse::Error::Version) => return Err(WireError::Head("not HTTP/1.x")),
        Err(_) => return Err(WireError::Head("bad header")),
    };
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let mut length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut chunked = false;
    let mut close = http10;
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let v = parse_length(h.value)?;
            if length.is_some_and(|l| l != v) {
                return Err(WireError::ContentLength);
            }
            length = Some(v);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            // Only the last coding decides whether the body is chunked.
            chunked = h
                .value
                .rsplit(|&c| c == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&c| c == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if http10 && token.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
    }
    if status == 101 {
        return Err(WireError::Upgrade);
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else if transfer_encoding {
        if chunked {
            Framing::Chunked(Chunked::default())
        } else {
            Framing::UntilClose
        }
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(l) => Framing::Length(l),
            None => Framing::UntilClose,
        }
    };
    let close = close || framing == Framing::UntilClose;
    Ok(Some((
        Head {
            status,
            framing,
            close,
        },
        n,
    )))
}

fn parse_length(v: &[u8]) -> Result<u64, WireError> {
    // A list of equal values ("5, 5") is allowed by RFC 9110 §8.6.
    let mut out: Option<u64> = None;
    for part in v.split(|&c| c == b',').map(<[u8]>::trim_ascii) {
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return Err(WireError::ContentLength);
        }
        let n = part
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        if out.is_some_and(|o| o != n) {
            return Err(WireError::ContentLength);
        }
        out = Some(n);
    }
    out.ok_or(WireError::ContentLength)
}

/// Where a chunked body's decoder is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunked {
    state: ChunkState,
    /// Bytes of the current size line or trailer section seen so far.
    line: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Reading hex digits of a chunk size: the value so far, digits seen.
    Size { value: u64, digits: u8 },
    /// Past the digits: skipping an extension up to the line's end.
    SizeExt { size: u64, cr: bool },
    /// This many data bytes remain in the current chunk.
    Data(u64),
    /// Expecting the CR (or LF) after a chunk's data.
    DataEnd,
    /// Expecting the LF after a chunk's data.
    DataLf,
    /// At the start of a trailer line.
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// Saw CR of the final empty line.
    FinalLf,
    /// The body is complete.
    Done,
}

impl Default for ChunkState {
    fn default() -> Self {
        ChunkState::Size {
            value: 0,
            digits: 0,
        }
    }
}

impl Chunked {
    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes as much of `input` as possible, calling `data` with each
    /// piece of body data. Returns how many bytes were consumed: all of
    /// `input` unless the body ended inside it.
    pub fn decode(
        &mut self,
        input: &[u8],
        data: &mut impl FnMut(&[u8]),
    ) -> Result<usize, WireError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Size { value, digits } => {
                    let c = input[i];
                    if let Some(d) = hex(c) {
                        if digits >= 15 {
                            return Err(WireError::Chunked("chunk size too large"));
                        }
                        self.state = ChunkState::Size {
                            value: value * 16 + u64::from(d),
                            digits: digits + 1,
                        };
                        i += 1;
                    } else if digits == 0 {
                        return Err(WireError::Chunked("missing chunk size"));
                    } else {
                        self.state = ChunkState::SizeExt {
                            size: value,
                            cr: false,
                        };
                        self.line = usize::from(digits);
                    }
                }
                ChunkState::SizeExt { size, cr } => {
                    let c = input[i];
                    i += 1;
                    self.line += 1;
                    if self.line > MAX_CHUNK_LINE {
                        return Err(WireError::Chunked("chunk-size line too long"));
                    }
                    match (c, cr) {
                        (b'\n', _) => {
                            self.line = 0;
                            self.state = if size == 0 {
                                ChunkState::TrailerStart
                            } else {
                                ChunkState::Data(size)
                            };
                        }
                        (_, true) => return Err(WireError::Chunked("CR without LF")),
                        (b'\r', false) => self.state = ChunkState::SizeExt { size, cr: true },
                        _ => {}
                    }
                }
                ChunkState::Data(n) => {
                    let take = (input.len() - i).min(usize::try_from(n).unwrap_or(usize::MAX));
                    data(&input[i..i + take]);
                    i += take;
                    let left = n - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
                ChunkState::DataEnd => {
                    i += 1;
                    self.state = match input[i - 1] {
                        b'\r' => ChunkState::DataLf,
                        b'\n' => ChunkState::default(),
                        _ => return Err(WireError::Chunked("chunk data longer than its size")),
                    };
                }
                ChunkState::DataLf => {
                    i += 1;
                    if input[i - 1] != b'\n' {
                        return Err(WireError::Chunked("CR without LF"));
                    }
                    self.state = ChunkState::default();
                }
                ChunkState::TrailerStart => {
                    i += 1;
                    self.state = match input[i - 1] {
                        b'\r' => ChunkState::FinalLf,
                        b'\n' => ChunkState::Done,
                        _ => ChunkState::Trailer,
                    };
                    self.line += 1;
                }
                ChunkState::Trailer => {
                    i += 1;
                    self.line += 1;
                    if self.line > MAX_TRAILERS {
                        return Err(WireError::Chunked("trailers too long"));
                    }
                    if input[i - 1] == b'\n' {
                        self.state = ChunkState::TrailerStart;
                    }
                }
                ChunkState::FinalLf => {
                    i += 1;
                    if input[i - 1] != b'\n' {
                        return Err(WireError::Chunked("CR without LF"));
                    }
                    self.state = ChunkState::Done;
                }
                ChunkState::Done => return Ok(i),
            }
        }
        Ok(i)
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        parse_head(raw.as_bytes(), false).unwrap().unwrap().0
    }

    #[test]
    fn requests_are_encoded_like_hypers() {
        let host = HeaderValue::from_static("127.0.0.1:8080");
        let r = encode_request(&Method::GET, "/plaintext", &host, &[], b"", true);
        assert_eq!(
            &r[..],
            b"GET /plaintext HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\r\n"
        );
        let h = [(
            HeaderName::from_static("content-type"),
            HeaderValue::from_static("application/json"),
        )];
        let r = encode_request(&Method::POST, "/json", &host, &h, b"{}", false);
        assert_eq!(
            &r[..],
            &b"POST /json HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..]
        );
        let r = encode_request(&Method::POST, "/", &host, &[], b"", true);
        assert!(r.ends_with(b"content-length: 0\r\n\r\n"));
        let own = [(
            HeaderName::from_static("content-length"),
            HeaderValue::from_static("2"),
        )];
        let r = encode_request(&Method::PUT, "/", &host, &own, b"ab", true);
        assert_eq!(r.windows(15).filter(|w| w == b"content-length:").count(), 1);
    }

    #[test]
    fn heads_are_framed_by_rfc_9112() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n");
        assert_eq!(
            (h.status, h.framing, h.close),
            (200, Framing::Length(13), false)
        );
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
        );
        assert_eq!(h.framing, Framing::Chunked(Chunked::default()));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
        for s in [204, 304, 100] {
            let h = head(&format!("HTTP/1.1 {s} X\r\nContent-Length: 9\r\n\r\n"));
            assert_eq!(h.framing, Framing::Empty, "{s}");
        }
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true)
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(h.framing, Framing::Empty);
        let h =
            head("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive, Close\r\n\r\n");
        assert_eq!((h.framing, h.close), (Framing::Empty, true));
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n");
        assert!(h.close);
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(!h.close);
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(7));
    }

    #[test]
    fn partial_and_bad_heads() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        for cut in 0..full.len() - 2 {
            assert_eq!(parse_head(&full[..cut], false), Ok(None), "cut at {cut}");
        }
        let (_, n) = parse_head(full, false).unwrap().unwrap();
        assert_eq!(&full[n..], b"hi");
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        ] {
            assert_eq!(
                parse_head(bad.as_bytes(), false),
                Err(WireError::ContentLength),
                "{bad}"
            );
        }
        assert!(parse_head(b"HTTP/2 200 OK\r\n\r\n", false).is_err());
        assert!(parse_head(b"hello world\r\n\r\n", false).is_err());
        assert_eq!(
            parse_head(
                b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\r\n",
                false
            ),
            Err(WireError::Upgrade)
        );
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("x-{i}: y\r\n"))
            .collect();
        let raw = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert!(parse_head(raw.as_bytes(), false).is_err());
    }

    fn dechunk_in_pieces(raw: &[u8], piece: usize) -> Result<(Vec<u8>, usize, bool), WireError> {
        let mut c = Chunked::default();
        let mut out = Vec::new();
        let mut used = 0;
        for part in raw.chunks(piece) {
            let n = c.decode(part, &mut |d| out.extend_from_slice(d))?;
            used += n;
            if c.is_done() {
                break;
            }
        }
        Ok((out, used, c.is_done()))
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_boundaries() {
        let raw =
            b"5\r\nhello\r\n1;ext=\"a b\"\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let body_len = raw.len() - 4;
        for piece in 1..=raw.len() {
            let (out, used, done) = dechunk_in_pieces(raw, piece).unwrap();
            assert!(done, "piece {piece}");
            assert_eq!(out, b"hello 0123456789", "piece {piece}");
            // Consumed exactly the body: the rest belongs to the connection.
            let expected_end = body_len.div_ceil(piece) * piece;
            assert!(used <= expected_end && used >= body_len, "piece {piece}");
        }
        let (out, used, done) = dechunk_in_pieces(b"0\r\n\r\n", 64).unwrap();
        assert!(done && out.is_empty() && used == 5);
        // Bare LF line endings are tolerated, as most clients do.
        let (out, _, done) = dechunk_in_pieces(b"3\nabc\n0\n\n", 1).unwrap();
        assert!(done);
        assert_eq!(out, b"abc");
        // Incomplete: not done.
        let (_, _, done) = dechunk_in_pieces(b"5\r\nhel", 2).unwrap();
        assert!(!done);
    }

    #[test]
    fn malformed_chunked_bodies_are_errors() {
        for bad in [
            &b"zz\r\n"[..],
            b"5\r\nhelloX\r\n",
            b"5\rX",
            b"1234567890abcdef0\r\n",
            b"\r\n",
        ] {
            for piece in [1, 3, 64] {
                assert!(dechunk_in_pieces(bad, piece).is_err(), "{bad:?} / {piece}");
            }
        }
    }
}
