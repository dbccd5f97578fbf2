//! The check's HTTP client: hyper's connection-level client, one
//! connection per case, and the response as the checks see it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::EndpointCheck;

/// What a response got wrong, as the check's detail says it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Mismatch(pub(super) String);

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub(super) enum SendError {
    /// No connection.
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The HTTP/1.1 handshake failed.
    #[error("handshake: {0}")]
    Handshake(hyper::Error),
    /// The request could not be built.
    #[error("request: {0}")]
    Build(http::Error),
    /// Sending it or reading the response head failed.
    #[error("request failed: {0}")]
    Request(hyper::Error),
    /// Reading the response body failed.
    #[error("reading the body: {0}")]
    Body(hyper::Error),
}

impl SendError {
    /// The server closed or reset the connection while the request went
    /// out or before its answer (how a server may refuse a body too large).
    pub(super) fn connection_cut(&self) -> bool {
        let m = self.to_string();
        m.contains("writing a body") || m.contains("reset") || m.contains("closed")
    }
}

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
    pub(super) fn expect_status(&self, want: u16) -> Result<String, Mismatch> {
        if self.status.as_u16() == want {
            Ok(format!("status {want}"))
        } else {
            let body: String = self.text().chars().take(200).collect();
            Err(Mismatch(format!(
                "status {}, expected {want} (body {body:?})",
                self.status.as_u16()
            )))
        }
    }
    pub(super) fn expect_content_type(&self, want: &str) -> Result<(), Mismatch> {
        if self.content_type.to_ascii_lowercase().starts_with(want) {
            Ok(())
        } else {
            Err(Mismatch(format!(
                "content-type {:?}, expected {want}",
                self.content_type
            )))
        }
    }
    pub(super) fn expect_at_least(&self, d: Duration) -> Result<(), Mismatch> {
        if self.elapsed >= d {
            Ok(())
        } else {
            Err(Mismatch(format!(
                "answered after {:.1?}, faster than the {d:?} it must take",
                self.elapsed
            )))
        }
    }
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub(super) fn json(&self) -> Result<Value, Mismatch> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let body: String = self.text().chars().take(200).collect();
            Mismatch(format!("body is not JSON ({e}): {body:?}"))
        })
    }
}

impl Client {
    pub(super) async fn case(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        validate: impl FnOnce(&Resp) -> Result<String, Mismatch>,
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
            Ok(Err(e)) => (false, e.to_string(), started.elapsed()),
            Ok(Ok(r)) => match validate(&r) {
                Ok(d) => (true, d, r.elapsed),
                Err(d) => (false, d.0, r.elapsed),
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
    ) -> Result<Resp, SendError> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|source| SendError::Connect {
                addr: self.addr,
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(SendError::Handshake)?;
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
            .map_err(SendError::Build)?;
        let res = sender.send_request(req).await.map_err(SendError::Request)?;
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
            let frame = frame.map_err(SendError::Body)?;
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

/// The address of `base_url`, a plain `http://` URL (the check speaks
/// HTTP/1.1 without TLS).
pub(super) fn base_addr(base_url: &str) -> Result<SocketAddr, crate::load::PlanError> {
    let (endpoint, _) = crate::load::Endpoint::parse(base_url)?;
    if endpoint.tls {
        return Err(crate::load::PlanError::Url {
            url: base_url.to_string(),
            reason: "the endpoint check speaks plain HTTP (use http://)".into(),
        });
    }
    Ok(endpoint.addrs[0])
}
