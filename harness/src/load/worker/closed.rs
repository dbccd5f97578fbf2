//! Closed loop: each connection task sends its next request as soon as the
//! last response is read.

use std::rc::Rc;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use super::{ActiveGuard, Connected, Ctx, Shared};
use crate::load::conn::Conn;

/// One closed-loop connection (HTTP/2: one stream of a `shared`
/// connection): the next request as soon as the last response is read.
pub(super) async fn closed_connection(
    ctx: Rc<Ctx>,
    shared: Option<Shared>,
    seed: u64,
    _guard: ActiveGuard,
) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut slot: Option<Conn> = None;
    let mut buf = Vec::new();
    while !ctx.stopped() {
        let tpl = ctx.pick(&mut rng);
        // Connect first: in closed loop the connect time is not request latency.
        match ctx.ensure_conn(&mut slot, shared.as_ref(), None, tpl).await {
            Connected::Yes => {}
            Connected::No => continue,
            Connected::End => return,
        }
        // One clock read: the check against the end, the intended and the
        // actual send time are the same instant here.
        let now = Instant::now();
        if !ctx.may_start(now) {
            return;
        }
        ctx.in_flight.set(ctx.in_flight.get() + 1);
        ctx.request(&mut slot, tpl, now, now, &mut buf).await;
        ctx.in_flight.set(ctx.in_flight.get() - 1);
    }
}
