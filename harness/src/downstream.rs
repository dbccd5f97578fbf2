//! `claimbench downstream`: the small delay service that targets call for
//! `GET /io/downstream?ms=N`. It answers `GET /delay?ms=N` with
//! `{"delayed_ms":N}` after N milliseconds (a non-blocking timer), and
//! `GET /health` with `ok`. On start it prints one line,
//! `listening on http://ADDR`, so a parent process can read the port.
//!
//! The one implementation ([`serve`]) runs as that command, as the runner's
//! child process (`runner/downstream.rs`), or in-process on a thread of its
//! own ([`LocalDownstream`], for `targets check`/`start` and tests).

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Longest delay served, milliseconds.
pub const MAX_DELAY_MS: u64 = 60_000;

/// Options of `downstream`.
#[derive(Debug, clap::Args)]
pub struct DownstreamArgs {
    /// Port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to listen on (loopback only by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// CPUs to pin the service to, e.g. `0` or `0-1`.
    #[arg(long)]
    pub cpus: Option<crate::sys::CpuList>,
}

/// Runs the service in the foreground until interrupted.
pub fn run(args: DownstreamArgs) -> anyhow::Result<ExitCode> {
    if let Some(cpus) = &args.cpus {
        crate::sys::pin_current_thread(&cpus.0).context("pinning the downstream service")?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let addr = SocketAddr::new(args.host, args.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("listening on http://{local}");
        std::io::stdout().flush().ok();
        serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Serves connections from `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(handle))
                        .await;
                });
            }
        }
    }
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r
    };
    Ok(match req.uri().path() {
        "/health" => reply(StatusCode::OK, "ok".into()),
        "/delay" => match query_u64(req.uri().query(), "ms") {
            Some(ms) if ms <= MAX_DELAY_MS => {
                if ms > 0 {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                let mut r = reply(StatusCode::OK, format!("{{\"delayed_ms\":{ms}}}"));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                r
            }
            _ => reply(
                StatusCode::BAD_REQUEST,
                format!("ms must be an integer from 0 to {MAX_DELAY_MS}\n"),
            ),
        },
        _ => reply(StatusCode::NOT_FOUND, "not found\n".into()),
    })
}

/// The value of an unsigned integer query parameter.
pub fn query_u64(query: Option<&str>, key: &str) -> Option<u64> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

/// The downstream delay service ([`serve`]) on
/// 127.0.0.1, run in-process on its own thread until dropped.
pub struct LocalDownstream {
    url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalDownstream {
    /// Binds a free port on 127.0.0.1 and starts serving, pinned to `cpus`
    /// when given (empty: not pinned).
    pub fn start(cpus: &[usize]) -> std::io::Result<LocalDownstream> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let cpus = cpus.to_vec();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name("claimbench-downstream".into())
            .spawn(move || {
                let setup = (|| {
                    crate::sys::pin_current_thread(&cpus)?;
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let listener = {
                        let _guard = rt.enter();
                        tokio::net::TcpListener::from_std(listener)?
                    };
                    Ok::<_, std::io::Error>((rt, listener))
                })();
                match setup {
                    Ok((rt, listener)) => {
                        let _ = ready_tx.send(Ok(()));
                        rt.block_on(serve(listener, async {
                            let _ = rx.await;
                        }));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the downstream thread died"))??;
        Ok(LocalDownstream {
            url,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Its base URL, `http://127.0.0.1:PORT` (pass as `downstream_url`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LocalDownstream {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
