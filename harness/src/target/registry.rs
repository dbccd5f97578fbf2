//! The process groups of every target started and not yet stopped, so a
//! Ctrl-C handler can kill them all ([`kill_all_registered`]).

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

fn registry() -> &'static Mutex<BTreeSet<i32>> {
    static LIVE: OnceLock<Mutex<BTreeSet<i32>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(BTreeSet::new()))
}

pub(super) fn register(pgid: i32) {
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pgid);
}

pub(super) fn unregister(pgid: i32) {
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&pgid);
}

/// The process groups of every target started and not yet stopped.
pub fn registered_groups() -> Vec<i32> {
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .copied()
        .collect()
}

/// SIGKILLs every registered process group (for a Ctrl-C handler, before
/// exiting). Returns how many groups were signalled.
pub fn kill_all_registered() -> usize {
    let groups = registered_groups();
    for &g in &groups {
        if g > 1 {
            // SAFETY: kill with a negative pid signals that process group only.
            unsafe { libc::kill(-g, libc::SIGKILL) };
        }
    }
    groups.len()
}
