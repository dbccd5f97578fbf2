//! Readiness: a target just spawned is probed with plain HTTP/1.1 GETs of
//! its `ready_path` until it answers 2xx from a process of its own group,
//! exits, or runs past its `ready_timeout`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::TargetError;
use super::process::{LOG_TAIL_LINES, RunningTarget, describe_status};
use super::procfs::group_holds_listener;

/// Probes `ready_path` until a 2xx, the process exits, or the deadline.
/// On failure the caller's `RunningTarget` is dropped, which kills the group.
pub(super) fn wait_ready(t: &mut RunningTarget) -> Result<Duration, TargetError> {
    let spec = t.spec().clone();
    let deadline = t.started_at() + spec.start.ready_timeout;
    let url = format!("{}{}", t.url(), spec.start.ready_path);
    let mut last: String;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(status) = t.exit_status() {
            // Let the log catch up with what the process wrote last.
            std::thread::sleep(Duration::from_millis(50));
            return Err(TargetError::Exited {
                target: spec.id.to_string(),
                status: describe_status(status),
                log: t.log_path().to_path_buf(),
                log_tail: t.log_tail(LOG_TAIL_LINES),
            });
        }
        match probe(t.addr(), &spec.start.ready_path) {
            Ok(code) if (200..300).contains(&code) => {
                if group_holds_listener(t.pgid(), t.port()) {
                    return Ok(t.started_at().elapsed());
                }
                last = format!(
                    "status {code}, but from a process outside the target's group: \
                     something else listens on port {}",
                    t.port()
                );
            }
            Ok(code) => last = format!("status {code}"),
            Err(e) => last = e.to_string(),
        }
        if Instant::now() >= deadline {
            return Err(TargetError::NotReady {
                target: spec.id.to_string(),
                timeout: spec.start.ready_timeout,
                last_probe: format!("GET {url}: {last}"),
                log: t.log_path().to_path_buf(),
                log_tail: t.log_tail(LOG_TAIL_LINES),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Why a readiness request got no status code.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    /// A step of the exchange failed.
    #[error("{step}: {error}")]
    Io {
        step: &'static str,
        error: std::io::Error,
    },
    /// The answer's first line is not an HTTP status line.
    #[error("not an HTTP response: {0:?}")]
    NotHttp(String),
}

/// One readiness request with a plain HTTP/1.1 GET; returns the status code.
fn probe(addr: SocketAddr, path: &str) -> Result<u16, ProbeError> {
    let io = |step| move |error| ProbeError::Io { step, error };
    let timeout = Duration::from_secs(2);
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(io("connect"))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: claimbench-probe\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).map_err(io("send"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = s.read(&mut chunk).map_err(io("read"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let line = line.lines().next().unwrap_or("");
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .filter(|_| line.starts_with("HTTP/"))
        .ok_or_else(|| ProbeError::NotHttp(line.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::process::{HOST, free_port};
    use std::net::TcpListener;

    #[test]
    fn probe_reads_a_status_line() {
        let l = TcpListener::bind((HOST, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        });
        assert_eq!(probe(addr, "/health").unwrap(), 503);
        h.join().unwrap();
        let closed = free_port().unwrap();
        assert!(probe(SocketAddr::new(HOST.parse().unwrap(), closed), "/").is_err());
    }
}
