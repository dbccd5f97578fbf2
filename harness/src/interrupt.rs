//! Ctrl-C, in one place.
//!
//! - [`stop_flag`]: for the commands that measure (`run`, `bench`). One
//!   process-wide flag that the load engine polls: the first Ctrl-C sets it
//!   (the command cuts the current measurement short and writes what it
//!   has); the second kills every target process group claimbench started
//!   and exits with 130.
//! - [`Signals`]: for `targets start`, which serves until Ctrl-C or SIGTERM.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// What the first Ctrl-C prints (the command that asked last decides).
static NOTICE: Mutex<&str> = Mutex::new("");

/// The process-wide stop flag, cleared; `notice` is printed on the first
/// Ctrl-C (empty: nothing). The handler is installed on the first call (the
/// `ctrlc` crate allows one per process; one installed by someone else, such
/// as a test harness, leaves the flag unset by Ctrl-C, which is not an
/// error).
pub fn stop_flag(notice: &'static str) -> Arc<AtomicBool> {
    *NOTICE.lock().unwrap_or_else(|e| e.into_inner()) = notice;
    let flag = STOP
        .get_or_init(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let _ = ctrlc::set_handler(move || {
                if f.swap(true, Ordering::SeqCst) {
                    let n = crate::target::kill_all_registered();
                    eprintln!("\ninterrupted twice: killed {n} target process group(s)");
                    std::process::exit(130);
                }
                let notice = *NOTICE.lock().unwrap_or_else(|e| e.into_inner());
                if !notice.is_empty() {
                    eprintln!("\n{notice}");
                }
            });
            flag
        })
        .clone();
    flag.store(false, Ordering::SeqCst);
    flag
}

/// SIGINT and SIGTERM listeners, registered when created (so a signal that
/// arrives right after a "press Ctrl-C" line is not lost).
pub struct Signals {
    rt: tokio::runtime::Runtime,
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening.
    pub fn register() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        let _guard = rt.enter();
        let int = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
        let term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        drop(_guard);
        Ok(Signals { rt, int, term })
    }

    /// Blocks until Ctrl-C or SIGTERM.
    pub fn wait(mut self) {
        self.rt.block_on(async {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
        });
    }
}
