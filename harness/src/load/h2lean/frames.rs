//! What the server sends, frame by frame: DATA, HEADERS (and
//! CONTINUATION) through the HPACK decoder, RST_STREAM, SETTINGS, PING,
//! GOAWAY, WINDOW_UPDATE. Nothing here touches the socket.

use std::cell::RefCell;
use std::rc::Rc;

use tokio::time::Instant;

use super::streams::{State, frame_head};
use super::*;

/// Frame handling that needs no socket (split from [`Driver`] so a frame
/// can be parsed while the read buffer is borrowed).
pub(super) struct Proto {
    pub(super) shared: Rc<RefCell<State>>,
    pub(super) decoder: hpack::Decoder,
    /// A header block being assembled from CONTINUATION frames.
    pub(super) block: Vec<u8>,
    /// The stream of that block and whether it ends the stream.
    pub(super) continuing: Option<(u32, bool)>,
}

/// A protocol violation by the server: the connection ends.
pub(super) struct Violation;

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

pub(super) fn u32_at(p: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
}

impl Proto {
    pub(super) fn frame(&mut self, ty: u8, flags: u8, id: u32, p: &[u8]) -> Result<(), Violation> {
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
