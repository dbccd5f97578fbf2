//! The coordinator's decision of the measured window: the threads'
//! warm-up windows merged ([`WarmUp`]), and when and how long to measure
//! ([`decide`]): an auto warm-up ends when the target is steady (or at its
//! maximum), a fixed one at its length; the window's length follows
//! [`super::phase::measured_length`].

use std::sync::Arc;
use std::time::Duration;

use super::phase;
use super::plan::LoadPlan;
use super::worker::ThreadProgress;
use crate::results::schema::Phases;

/// How long after a warm-up window ends the coordinator waits for every
/// thread to hand it over (threads look every 5 ms).
pub(super) const WARM_GRACE: Duration = Duration::from_millis(50);
/// How far ahead of now the coordinator puts a window it decides, so every
/// thread knows it before it starts.
pub(super) const DECISION_LEAD: Duration = Duration::from_millis(50);

/// The warm-up windows handed over by the threads, merged by index.
#[derive(Default)]
pub(super) struct WarmUp {
    windows: std::collections::BTreeMap<u64, phase::WarmWindow>,
}

impl WarmUp {
    pub(super) fn collect(&mut self, progress: &[Arc<ThreadProgress>]) {
        for p in progress {
            let mut taken = p.warm.lock().unwrap_or_else(|e| e.into_inner());
            for (i, w) in taken.drain(..) {
                self.windows.entry(i).or_default().add(&w);
            }
        }
    }

    /// Windows `0..n`, those where nothing finished as empty ones.
    pub(super) fn first(&self, n: u64) -> Vec<phase::WarmWindow> {
        (0..n)
            .map(|i| self.windows.get(&i).cloned().unwrap_or_default())
            .collect()
    }
}

/// A decided window: its start and length (offsets from the run's start),
/// and the record of how they were chosen.
pub(super) struct Decision {
    pub(super) t0: Duration,
    pub(super) length: Duration,
    pub(super) phases: Phases,
}

/// Decides the measured window once it can be: an auto warm-up when the
/// last windows are steady (after the minimum) or at its maximum; a fixed
/// one once its windows are all in. None while it is too early.
pub(super) fn decide(
    plan: &LoadPlan,
    warm: &WarmUp,
    elapsed: Duration,
    fixed: Option<(Duration, Option<Duration>)>,
) -> Option<Decision> {
    let per = plan.window;
    let complete = |d: Duration| (d.as_nanos() / per.as_nanos()) as u64;
    let (t0, steady, windows) = match (plan.warmup_max, fixed) {
        (Some(max), _) => {
            let windows = warm.first(complete(elapsed.saturating_sub(WARM_GRACE)));
            let (tp, p50) = phase::rates(&windows, per);
            let steady = elapsed >= plan.warmup && phase::is_steady(&tp, &p50, per);
            if !steady && elapsed < max {
                return None;
            }
            (elapsed + DECISION_LEAD, Some(steady), windows)
        }
        (None, Some((t0, _))) => {
            if elapsed < t0 + WARM_GRACE {
                return None;
            }
            // Whole windows inside the warm-up tell steadiness; the partial
            // last one still tells the latency.
            let whole = complete(t0);
            let windows = warm.first(complete(t0 + per - Duration::from_nanos(1)));
            let (tp, p50) = phase::rates(&windows[..whole as usize], per);
            let steady =
                (whole as usize >= phase::STEADY_WINDOWS).then(|| phase::is_steady(&tp, &p50, per));
            (t0, steady, windows)
        }
        (None, None) => unreachable!("a fixed warm-up is decided at the start"),
    };
    let duration = plan.duration.unwrap_or_default();
    let (mut length, mut reason) = phase::measured_length(
        duration,
        plan.max_duration,
        phase::recent_latency(&windows),
        t0.min(elapsed),
    );
    if let Some((_, Some(old_t1))) = fixed
        && length > duration
        && elapsed + DECISION_LEAD >= old_t1
    {
        reason = format!(
            "the configured {} (known too late to stretch to {})",
            phase::format_secs(duration.as_secs_f64()),
            phase::format_secs(length.as_secs_f64())
        );
        length = duration;
    }
    if plan.duration.is_none() {
        reason = "until the request count was reached".into();
    }
    let last = &windows[windows.len().saturating_sub(phase::STEADY_WINDOWS)..];
    let (tp, p50) = phase::rates(last, per);
    Some(Decision {
        t0,
        length,
        phases: Phases {
            warmup_s: t0.as_secs_f64(),
            steady,
            warmup_throughput_rps: tp,
            warmup_p50_us: p50,
            measured_s: length.as_secs_f64(),
            measured_reason: reason,
        },
    })
}
