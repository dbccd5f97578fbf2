//! The ceiling of hyper's connection-level client on one thread: a bare
//! closed loop (no recording, no timeouts, no checks) over `CONNS`
//! keep-alive connections for `SECS` seconds, printing requests per second.
//! BENCHMARKS.md compares it with wrk to show why claimbench's default
//! client is its own lean one.
//!
//! ```sh
//! cargo build --release --example hyper_floor
//! taskset -c 0 target/release/examples/hyper_floor 127.0.0.1:PORT 64 5
//! ```
//! Set `SPAWN=1` to run each connection's dispatcher as its own task (as
//! oha does) instead of polling it beside the requests.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, conns, secs] = &args[..] else {
        return Err("usage: hyper_floor ADDR CONNECTIONS SECONDS".into());
    };
    let addr: std::net::SocketAddr = addr.parse()?;
    let (conns, secs): (usize, u64) = (conns.parse()?, secs.parse()?);
    let spawn = std::env::var_os("SPAWN").is_some();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let count = Rc::new(Cell::new(0u64));
    let total = count.clone();
    local.block_on(&rt, async move {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let count = count.clone();
            tasks.push(tokio::task::spawn_local(async move {
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let (mut tx, conn) =
                    hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                        .await?;
                let work = async {
                    while Instant::now() < end {
                        tx.ready().await?;
                        let req = http::Request::builder()
                            .uri("/plaintext")
                            .header("host", "127.0.0.1")
                            .body(Empty::new())?;
                        let resp = tx.send_request(req).await?;
                        resp.into_body().collect().await?;
                        count.set(count.get() + 1);
                    }
                    Ok::<(), Box<dyn std::error::Error>>(())
                };
                if spawn {
                    tokio::task::spawn_local(conn);
                    work.await
                } else {
                    tokio::pin!(conn);
                    tokio::select! {
                        r = work => r,
                        _ = &mut conn => Ok(()),
                    }
                }
            }));
        }
        for t in tasks {
            if let Ok(Err(e)) = t.await {
                eprintln!("connection failed: {e}");
            }
        }
    });
    println!("{:.0} req/s", total.get() as f64 / secs as f64);
    Ok(())
}
