//! The check's HTTP client: hyper's connection-level client, one
//! connection per case, and the response as the checks see it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::EndpointCheck;

pub(super) struct Client {
    pub(super) addr: SocketAddr,
}

/// A response as the checks see it.
pub(super) struct Resp {
    pub(super) status: StatusCode,
    pub(super) content_type: String,
    pub(super) has_content_length: bool,
    pub(super) body: Vec<u8>,
    pub(super) elapsed: Duration,
    pub(super) first_data_at: Option<Duration>,
    pub(super) frames: usize,
}

impl Resp {
    pub(super) fn expect_status(&self, want: u16) -> Result<String, String> {
        if self.status.as_u16() == want {
            Ok(format!("status {want}"))
        } else {
            let body: String = self.text().chars().take(200).collect();
            Err(format!(
                "status {}, expected {want} (body {body:?})",
                self.status.as_u16()
            ))
        }
    }
    pub(super) fn expect_content_type(&self, want: &str) -> Result<(), String> {
        if self.content_type.to_ascii_lowercase().starts_with(want) {
            Ok(())
        } else {
            Err(format!(
                "content-type {:?}, expected {want}",
                self.content_type
            ))
        }
    }
    pub(super) fn expect_at_least(&self, d: Duration) -> Result<(), String> {
        if self.elapsed >= d {
            Ok(())
        } else {
            Err(format!(
                "answered after {:.1?}, faster than the {d:?} it must take",
                self.elapsed
            ))
        }
    }
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub(super) fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let body: String = self.text().chars().take(200).collect();
            format!("body is not JSON ({e}): {body:?}")
        })
    }
}

impl Client {
    pub(super) async fn case(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        validate: impl FnOnce(&Resp) -> Result<String, String>,
    ) -> EndpointCheck {
        let endpoint = format!("{method} {path}");
        let started = Instant::now();
        let res = tokio::time::timeout(
            Duration::from_secs(15),
            self.send(method, path, body, started),
        )
        .await;
        let (passed, detail, elapsed) = match res {
            Err(_) => (
                false,
                "no answer within 15 s".to_string(),
                started.elapsed(),
            ),
            Ok(Err(e)) => (false, e, started.elapsed()),
            Ok(Ok(r)) => match validate(&r) {
                Ok(d) => (true, d, r.elapsed),
                Err(d) => (false, d, r.elapsed),
            },
        };
        EndpointCheck {
            endpoint,
            passed,
            detail,
            elapsed,
        }
    }

    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        started: Instant,
    ) -> Result<Resp, String> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect to {}: {e}", self.addr))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let conn = tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.addr.to_string())
            .header(http::header::USER_AGENT, "claimbench-check");
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("request: {e}"))?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = res.status();
        let content_type = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let has_content_length = res.headers().contains_key(http::header::CONTENT_LENGTH);
        let mut body = res.into_body();
        let mut bytes = Vec::new();
        let mut first_data_at = None;
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
            if let Some(d) = frame.data_ref()
                && !d.is_empty()
            {
                frames += 1;
                first_data_at.get_or_insert_with(|| started.elapsed());
                bytes.extend_from_slice(d);
            }
        }
        let elapsed = started.elapsed();
        conn.abort();
        Ok(Resp {
            status,
            content_type,
            has_content_length,
            body: bytes,
            elapsed,
            first_data_at,
            frames,
        })
    }
}

pub(super) fn base_addr(base_url: &str) -> Result<SocketAddr, String> {
    let hostport = base_url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{base_url}` is not an http:// URL"))?
        .trim_end_matches('/');
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("`{base_url}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{base_url}` resolves to no address"))
}
