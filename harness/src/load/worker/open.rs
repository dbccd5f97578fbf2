//! Open loop: a dispatcher task walks the schedule and queues due requests;
//! a fixed pool of connection tasks (opened before the start, like wrk2)
//! takes them in order. A request that waits for a free connection keeps
//! its intended start time, so the wait counts in its latency.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{ActiveGuard, Connected, Ctx, Shared};
use crate::load::conn::Conn;
use crate::load::schedule::{Schedule, dispatch};

/// The open-loop queue shared by a thread's dispatcher and connections.
#[derive(Default)]
pub(super) struct OpenQueue {
    pub(super) jobs: RefCell<VecDeque<(Instant, usize)>>,
    pub(super) notify: Notify,
    pub(super) idle: Cell<usize>,
    pub(super) done: Cell<bool>,
}

/// One connection (HTTP/2: one stream of a `shared` connection) of the
/// open-loop pool: `preopened` (a connection sweep) or opened now, at the
/// start (its failure is not a request's). Waiting connections take
/// arrivals first come, first served (`Notify` wakes its waiters in FIFO
/// order), so an idle pool is used in turn.
pub(super) async fn open_connection(
    ctx: Rc<Ctx>,
    q: Rc<OpenQueue>,
    preopened: Option<Conn>,
    shared: Option<Shared>,
    _guard: ActiveGuard,
) {
    let mut slot: Option<Conn> = preopened;
    let mut buf = Vec::new();
    match &shared {
        None if slot.is_none() => {
            let _ = ctx.open(&mut slot, None).await;
        }
        None => {}
        Some(shared) => {
            let mut guard = shared.lock().await;
            match guard.as_ref() {
                Some(c) => slot = c.share(),
                None => {
                    let _ = ctx.open(&mut slot, Some(&mut guard)).await;
                }
            }
        }
    }
    loop {
        let job = loop {
            if let Some(j) = q.jobs.borrow_mut().pop_front() {
                break Some(j);
            }
            if q.done.get() || ctx.stopped() {
                break None;
            }
            q.idle.set(q.idle.get() + 1);
            q.notify.notified().await;
        };
        let Some((intended, tpl)) = job else { return };
        ctx.in_flight.set(ctx.in_flight.get() + 1);
        if matches!(
            ctx.ensure_conn(&mut slot, shared.as_ref(), Some(intended), tpl)
                .await,
            Connected::Yes
        ) {
            ctx.request(&mut slot, tpl, intended, Instant::now(), &mut buf)
                .await;
        }
        ctx.in_flight.set(ctx.in_flight.get() - 1);
        if ctx.stopped() {
            return;
        }
    }
}

pub(super) async fn open_dispatcher(
    ctx: Rc<Ctx>,
    q: Rc<OpenQueue>,
    mut schedule: Schedule,
    end: Instant,
    seed: u64,
    _guard: ActiveGuard,
) {
    let mut rng = SmallRng::seed_from_u64(seed);
    dispatch(
        &mut schedule,
        end,
        |t| ctx.may_start(t),
        async |intended, now| {
            ctx.rec.borrow_mut().record_lag(intended, now);
            q.jobs
                .borrow_mut()
                .push_back((intended, ctx.pick(&mut rng)));
            let idle = q.idle.get();
            if idle > 0 {
                q.idle.set(idle - 1);
                q.notify.notify_one();
            }
        },
    )
    .await;
    q.done.set(true);
    q.notify.notify_waiters();
}
