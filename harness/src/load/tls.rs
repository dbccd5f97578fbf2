//! TLS for `https://` endpoints (rustls with the *ring* provider): the one
//! client configuration a run shares, and the check made before any load
//! that the server's certificate is trusted and, for HTTP/2, that it speaks
//! `h2`.
//!
//! Trust: the system's store (`rustls-native-certs`), or Mozilla's roots
//! (`webpki-roots`) when the system has none, plus `--cacert FILE`;
//! `--insecure` accepts any certificate (signatures of the handshake are
//! still checked). Session resumption is off, so every new connection
//! makes a full handshake, as wrk's does: `--no-keepalive` over TLS
//! measures full handshakes.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::plan::{Protocol, TlsOptions};

/// Why TLS could not be set up, or the server's certificate was refused.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `--cacert` could not be read or holds no certificate.
    #[error("--cacert {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No root certificate to trust.
    #[error(
        "no trusted root certificates (the system store is empty): give --cacert FILE, or --insecure to accept any certificate"
    )]
    NoRoots,
    /// The URL's host is not a valid TLS server name.
    #[error("{host:?} is not a valid TLS server name")]
    ServerName {
        /// The host.
        host: String,
    },
    /// The handshake failed: most often, the certificate was refused.
    #[error("TLS handshake with {addr} ({host}) failed: {reason}{hint}")]
    Handshake {
        /// The address connected to.
        addr: SocketAddr,
        /// The server name sent (SNI).
        host: String,
        /// rustls's reason, e.g. `invalid peer certificate: UnknownIssuer`.
        reason: String,
        /// What the user can do about it.
        hint: &'static str,
    },
    /// `--http2` over TLS, but the server did not agree to `h2` by ALPN.
    #[error(
        "{addr} ({host}) does not speak HTTP/2 over TLS: ALPN offered `h2`, the server chose {chosen}"
    )]
    NoH2 {
        /// The address.
        addr: SocketAddr,
        /// The server name.
        host: String,
        /// What the server chose (`nothing` when it ignored ALPN).
        chosen: String,
    },
}

/// The crypto provider every claimbench TLS connection uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration of a run: trust as [`TlsOptions`] says, ALPN
/// `h2` or `http/1.1` as the protocol says, no session resumption.
pub fn client_config(opts: &TlsOptions, protocol: Protocol) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3");
    let mut config = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(opts.cacert.as_deref())?)
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![match protocol {
        Protocol::Http1 => b"http/1.1".to_vec(),
        Protocol::Http2 => b"h2".to_vec(),
    }];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// The system's roots (or Mozilla's when it has none), plus `cacert`'s.
fn roots(cacert: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = store.add_parsable_certificates(native.certs);
    if added == 0 {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = cacert {
        let bad = |reason: String| TlsError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| bad(format!("not a PEM file: {e}")))?;
            store
                .add(cert)
                .map_err(|e| bad(format!("certificate {} is not usable: {e}", n + 1)))?;
            n += 1;
        }
        if n == 0 {
            return Err(bad("holds no PEM certificate".into()));
        }
    }
    if store.is_empty() {
        return Err(TlsError::NoRoots);
    }
    Ok(store)
}

/// The server name a connection to `host` sends and checks.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string()).map_err(|_| TlsError::ServerName {
        host: host.to_string(),
    })
}

/// One blocking handshake with `addr` before any load: a refused
/// certificate, or a server without `h2` when HTTP/2 is asked for, is an
/// input error named here instead of a run of connect errors.
pub fn probe(
    config: &Arc<ClientConfig>,
    host: &str,
    addr: SocketAddr,
    protocol: Protocol,
    timeout: Duration,
) -> Result<(), TlsError> {
    let name = server_name(host)?;
    let fail = |reason: String, hint: &'static str| TlsError::Handshake {
        addr,
        host: host.to_string(),
        reason,
        hint,
    };
    let mut sock = std::net::TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| fail(format!("cannot connect: {e}"), ""))?;
    let _ = sock.set_read_timeout(Some(timeout));
    let _ = sock.set_write_timeout(Some(timeout));
    let mut conn =
        rustls::ClientConnection::new(config.clone(), name).map_err(|e| fail(e.to_string(), ""))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            let cause = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            if protocol == Protocol::Http2
                && matches!(
                    cause,
                    Some(rustls::Error::AlertReceived(
                        rustls::AlertDescription::NoApplicationProtocol
                    ))
                )
            {
                return Err(TlsError::NoH2 {
                    addr,
                    host: host.to_string(),
                    chosen: "to refuse it (alert no_application_protocol)".into(),
                });
            }
            let hint = match cause {
                Some(rustls::Error::InvalidCertificate(_)) => {
                    " (trust a private CA with --cacert FILE, or accept any certificate with --insecure)"
                }
                _ => "",
            };
            return Err(fail(e.to_string(), hint));
        }
    }
    if protocol == Protocol::Http2 && conn.alpn_protocol() != Some(b"h2") {
        return Err(TlsError::NoH2 {
            addr,
            host: host.to_string(),
            chosen: conn.alpn_protocol().map_or("nothing".into(), |p| {
                format!("`{}`", String::from_utf8_lossy(p))
            }),
        });
    }
    // Say goodbye properly; the server's answer does not matter.
    conn.send_close_notify();
    let _ = conn.complete_io(&mut sock);
    let _ = sock.flush();
    let _ = sock.read(&mut [0u8; 1]);
    Ok(())
}

/// `--insecure`: any certificate is accepted; the handshake's signatures
/// are still verified with the provider's algorithms.
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
