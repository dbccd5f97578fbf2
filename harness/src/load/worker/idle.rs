//! Connections opened in batches before the start (an open-loop pool, a
//! connection sweep, idle connections), and idle connections held open
//! with a ping now and then.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::{Ctx, IDLE_OPEN_CONCURRENCY};
use crate::load::conn::{self, Conn, Prepared};
use crate::load::plan::{HttpClient, Protocol};
use crate::load::transport::Connector;

/// Opens `n` keep-alive connections, [`IDLE_OPEN_CONCURRENCY`] at a time;
/// with `ping`, each serves one request so the server has really accepted
/// it. Returns those that were opened (and served the ping) and how many
/// were opened in all.
pub(super) async fn open_batched(
    (client, protocol): (HttpClient, Protocol),
    connector: &Connector,
    timeout: Duration,
    ping: Option<&Rc<Prepared>>,
    n: usize,
    stop: &AtomicBool,
) -> (Vec<Conn>, u64) {
    let mut held = Vec::with_capacity(n);
    let mut opened = 0;
    let mut remaining = n;
    // A server that accepts slowly (a full backlog) does not hold the run
    // for batch after batch of timeouts: opening stops after one `timeout`
    // in all (an open-loop pool opens the rest when first used).
    let deadline = Instant::now() + timeout;
    while remaining > 0 && !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let batch = remaining.min(IDLE_OPEN_CONCURRENCY);
        remaining -= batch;
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            let (connector, tpl) = (connector.clone(), ping.cloned());
            tasks.push(tokio::task::spawn_local(async move {
                let opened = conn::connect(client, protocol, &connector, timeout)
                    .await
                    .ok()?;
                let mut slot = Some(opened.conn);
                let served = match tpl {
                    Some(tpl) => conn::ping(&mut slot, &tpl, timeout).await,
                    None => true,
                };
                Some((served, slot))
            }));
        }
        for t in tasks {
            if let Ok(Some((served, slot))) = t.await {
                opened += 1;
                if let (true, Some(c)) = (served, slot) {
                    held.push(c);
                }
            }
        }
    }
    (held, opened)
}

/// Holds one idle connection until the run ends or the server closes it,
/// sending one request every `ping` when asked; `alive` counts it meanwhile.
/// It wakes only for a ping, the end of the run or the server's close, so
/// ten thousand of them cost nothing between pings. (Stopped early or
/// limited by a request count, the run ends by dropping it.)
pub(super) async fn hold_idle(
    ctx: Rc<Ctx>,
    conn: Conn,
    ping: Option<Duration>,
    alive: Rc<Cell<usize>>,
) {
    alive.set(alive.get() + 1);
    let mut slot = Some(conn);
    let mut next_ping = ping.map(|p| Instant::now() + p);
    loop {
        let wake = match (next_ping, ctx.t1.get()) {
            (Some(p), Some(t1)) => Some(p.min(t1)),
            (p, t1) => p.or(t1),
        };
        let Some(c) = slot.as_mut() else { break };
        tokio::select! {
            () = c.closed_by_peer() => break,
            () = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        let now = Instant::now();
        if ctx.stopped() || ctx.t1.get().is_some_and(|t1| now >= t1) {
            break;
        }
        if let Some(at) = next_ping.filter(|at| now >= *at) {
            if !conn::ping(&mut slot, &ctx.templates[0], ctx.timeout).await {
                break;
            }
            next_ping = ping.map(|p| at.max(now) + p);
        }
    }
    alive.set(alive.get() - 1);
}
