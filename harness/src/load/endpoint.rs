//! Where requests go: a URL parsed into an [`Endpoint`] (scheme, host, port,
//! the resolved address, TLS options) and its path.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use http::Uri;
use http::header::HeaderValue;

use super::plan::PlanError;

/// Where requests go: an HTTP server address.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The URL as given, normalised (no path).
    pub base_url: String,
    /// The `Host` header value (`host:port`).
    pub authority: HeaderValue,
    /// Resolved socket addresses, tried in order when connecting.
    pub addrs: Vec<SocketAddr>,
    /// An `https://` URL: connections use TLS.
    pub tls: bool,
    /// The URL's host without brackets or port: the TLS server name (SNI)
    /// and the name the certificate must carry.
    pub host: String,
}

/// How TLS connections check the server's certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Accept any certificate (`--insecure`): encryption without authentication.
    pub insecure: bool,
    /// Trust this PEM file's certificates (a private CA) as well as the
    /// system's (`--cacert`).
    pub cacert: Option<PathBuf>,
}

impl Endpoint {
    /// Parses an `http://` or `https://host:port[/path]` URL, resolves
    /// it, and returns the endpoint plus the path-and-query part (default `/`).
    pub fn parse(url: &str) -> Result<(Endpoint, String), PlanError> {
        let bad = |reason: &str| PlanError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let (tls, default_port) = match uri.scheme_str() {
            Some("http") => (false, 80),
            Some("https") => (true, 443),
            Some(other) => {
                return Err(bad(&format!(
                    "unsupported scheme `{other}` (use http:// or https://)"
                )));
            }
            None => return Err(bad("missing scheme (use e.g. http://127.0.0.1:8080/)")),
        };
        let authority = uri.authority().ok_or_else(|| bad("missing host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info (`user@`) is not supported"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        // `Authority::port` is None both without a port and for one that
        // does not fit 16 bits: read it from the text, so `:99999` is an
        // error rather than the scheme's default port.
        let explicit_port = authority
            .as_str()
            .rsplit_once(':')
            .map(|(_, p)| p)
            .filter(|p| !p.contains(']') && !p.is_empty());
        let port = match explicit_port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad(&format!("port `{p}` is out of range (1-65535)"))),
            },
        };
        let lookup_host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = (lookup_host, port)
            .to_socket_addrs()
            .map_err(|e| PlanError::Resolve {
                url: url.to_string(),
                reason: e.to_string(),
            })?
            .collect();
        if addrs.is_empty() {
            return Err(PlanError::Resolve {
                url: url.to_string(),
                reason: "no addresses".into(),
            });
        }
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let host_header = match explicit_port {
            Some(_) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let scheme = if tls { "https" } else { "http" };
        Ok((
            Endpoint {
                base_url: format!("{scheme}://{host_header}"),
                authority: HeaderValue::from_str(&host_header).map_err(|_| bad("bad host"))?,
                addrs,
                tls,
                host: lookup_host.to_string(),
            },
            path,
        ))
    }
}
