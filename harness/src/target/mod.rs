//! Target manifests, setup, and the process supervisor. Knows processes,
//! ports, manifests and `/proc`; nothing about HTTP load (the contract
//! check's small client is the one exception, and it sends one request at a time).
//!
//! # Layout
//!
//! - [`manifest`]: `targets/<name>/target.toml` → [`Manifest`] → [`TargetSpec`]
//!   for one `name[:variant]`; [`discover`], placeholders, worker rules.
//! - [`setup`](mod@setup): idempotent dependency setup with a content stamp
//!   (`<target>/.setup-stamp`), `PATH` checks, and the installed [`versions`].
//! - [`process`]: [`start`] a target (own process group, CPU pinning,
//!   parent-death signal, log file, readiness probe), [`RunningTarget`]
//!   (stop with SIGTERM → SIGKILL over the whole group, kill on drop,
//!   wait-until-idle), and the process-wide registry for Ctrl-C
//!   ([`kill_all_registered`]).
//! - [`sampler`]: CPU, RSS, threads and processes of a process group from
//!   `/proc`, on a fixed interval, into a [`crate::results::ResourceUsage`].
//! - [`check`](mod@check): validates every contract endpoint of a running target, and an
//!   in-process downstream service for it ([`LocalDownstream`]).
//! - [`cli`]: `claimbench targets list | setup | check | start`.
//!
//! # Notes for callers
//!
//! - [`start`], [`RunningTarget::stop`], [`setup()`] and [`RunningTarget::wait_idle`]
//!   block (they sleep and poll); from async code call them in
//!   `spawn_blocking`. Spawning always happens on one long-lived thread, so
//!   the parent-death signal does not fire when the calling thread ends.
//! - [`check()`] builds its own small runtime; inside a runtime use
//!   [`check_url_async`].
//! - Between measurements: `spec.start.between_runs` says
//!   [`BetweenRuns::Restart`] ([`RunningTarget::restart`], or stop + start)
//!   or [`BetweenRuns::Idle`] ([`RunningTarget::wait_idle`]); record which in
//!   `Measurement::clean_state`.
//! - [`RunningTarget::info`] gives the results file's `TargetInfo`.
//! - Ctrl-C: call [`kill_all_registered`] from the handler (the runner
//!   does). A SIGKILLed harness is covered by each target's guardian
//!   process (see [`process`]).
//!
//! # Typical use (what the runner does)
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use claimbench::target::{self, SetupOptions, StartOptions, Sampler};
//! let manifests = target::discover("targets".as_ref())?;
//! let id: target::TargetId = "python-fastapi".parse()?;
//! let (manifest, spec) = target::find(&manifests, &id)?;
//! target::setup(manifest, &SetupOptions::default())?;
//! let versions = target::versions(&spec);
//! let running = target::start(&spec, &StartOptions {
//!     cpus: vec![1],
//!     log_dir: "results/logs".into(),
//!     ..StartOptions::default()
//! })?;
//! let sampler = Sampler::start(running.pgid(), std::time::Duration::from_millis(100));
//! // ... load running.url() ...
//! let usage = sampler.finish();
//! running.stop()?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::time::Duration;

pub mod cgroup;
pub mod check;
pub mod cli;
pub mod manifest;
pub mod process;
pub mod procfs;
mod raw;
mod ready;
mod registry;
pub mod sampler;
pub mod setup;
mod spawn;
mod values;

pub use crate::downstream::LocalDownstream;
pub use check::{EndpointCheck, check, check_url, check_url_async};
pub use manifest::{
    BetweenRuns, ConcurrencyModel, Language, Manifest, Placeholders, TargetId, TargetSpec,
    WorkersSpec, discover, find,
};
pub use process::{RunningTarget, StartOptions, StopOutcome, start};
pub use registry::{kill_all_registered, registered_groups};
pub use sampler::{GroupSnapshot, GroupTracker, Sampler, SamplerHandle};
pub use setup::{SetupOptions, SetupOutcome, is_set_up, setup, versions};

/// Everything that can go wrong with a target. Each variant names the file,
/// target or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A file or folder could not be read or written.
    #[error("{what}: {path}")]
    Io {
        /// What was being done.
        what: String,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A manifest is not valid TOML or does not match the format.
    #[error("{}{}{}: {message}", file.display(), fmt_pos(*line, *column), key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    ManifestParse {
        /// The manifest file.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// The dotted key at fault, when it can be told.
        key: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// A manifest parses but a value is not allowed.
    #[error("{}: `{field}` {reason}", file.display())]
    ManifestInvalid {
        /// The manifest file.
        file: PathBuf,
        /// The dotted field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A target id is not `name` or `name:variant`.
    #[error(
        "`{input}` is not a target id (expected `name` or `name:variant`, e.g. `python-django:asgi`)"
    )]
    BadTargetId {
        /// What was given.
        input: String,
    },
    /// No target folder of that name.
    #[error("unknown target `{name}` (known: {})", known.join(", "))]
    UnknownTarget {
        /// The name asked for.
        name: String,
        /// The targets that exist.
        known: Vec<String>,
    },
    /// The target has no such variant.
    #[error("target `{target}` has no variant `{variant}` (known variants: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    UnknownVariant {
        /// Target name.
        target: String,
        /// The variant asked for.
        variant: String,
        /// The variants that exist.
        known: Vec<String>,
    },
    /// A program the setup needs is not on `PATH`.
    #[error("target `{target}` needs `{tool}`, which is not on PATH; install it with: {hint}")]
    MissingTool {
        /// Target name.
        target: String,
        /// The missing program.
        tool: String,
        /// How to install it (from the manifest).
        hint: String,
    },
    /// A `setup.preflight` check failed: something the setup needs is missing.
    #[error(
        "target `{target}` cannot be set up: `{command}` failed ({status}); install what it needs with: {hint}"
    )]
    PreflightFailed {
        /// Target name.
        target: String,
        /// The check, space-joined.
        command: String,
        /// How it failed.
        status: String,
        /// How to install what is missing (from the manifest).
        hint: String,
    },
    /// A setup input listed in the manifest does not exist.
    #[error("target `{target}`: setup input `{}` does not exist (listed in setup.inputs)", file.display())]
    SetupInputMissing {
        /// Target name.
        target: String,
        /// The missing file.
        file: PathBuf,
    },
    /// A setup command could not be run or failed.
    #[error(
        "target `{target}`: setup command `{command}` {status}{}{}",
        fmt_tail(output_tail),
        fmt_hint(hint)
    )]
    SetupFailed {
        /// Target name.
        target: String,
        /// The command, space-joined.
        command: String,
        /// How it failed (exit status or spawn error).
        status: String,
        /// The last lines of its output.
        output_tail: Vec<String>,
        /// The manifest's `setup.hint` (how to install what may be missing).
        hint: String,
    },
    /// Setup ran but an expected output is missing.
    #[error("target `{target}`: setup finished but `{}` does not exist (listed in setup.outputs)", output.display())]
    SetupOutputMissing {
        /// Target name.
        target: String,
        /// The missing output.
        output: PathBuf,
    },
    /// The start command could not be spawned.
    #[error("target `{target}`: cannot start `{command}`")]
    Spawn {
        /// Target id.
        target: String,
        /// The program.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The target exited before it became ready.
    #[error("target `{target}` exited during start ({status}); log {}:{}", log.display(), fmt_tail(log_tail))]
    Exited {
        /// Target id.
        target: String,
        /// Exit status, human-readable.
        status: String,
        /// The log file.
        log: PathBuf,
        /// Its last lines.
        log_tail: Vec<String>,
    },
    /// The readiness probe did not get a 2xx before the deadline.
    #[error("target `{target}` did not become ready within {timeout:?} (last probe: {last_probe}); log {}:{}", log.display(), fmt_tail(log_tail))]
    NotReady {
        /// Target id.
        target: String,
        /// The deadline.
        timeout: Duration,
        /// The probed URL and the last probe's result.
        last_probe: String,
        /// The log file.
        log: PathBuf,
        /// Its last lines.
        log_tail: Vec<String>,
    },
    /// Processes of the group survived SIGKILL.
    #[error(
        "target `{target}`: processes {survivors:?} of group {pgid} are still alive after SIGKILL"
    )]
    StopFailed {
        /// Target id.
        target: String,
        /// The process group.
        pgid: i32,
        /// Surviving pids.
        survivors: Vec<i32>,
    },
    /// The target did not become idle in time.
    #[error(
        "target `{target}` was not idle after waiting {waited:?}: {cpu_percent:.1}% of a CPU, \
         {open_connections} connection(s) still open or queued on its port"
    )]
    NotIdle {
        /// Target id.
        target: String,
        /// CPU use in the last window, percent of one CPU.
        cpu_percent: f64,
        /// Server-side connections still open or waiting in the accept queue.
        open_connections: usize,
        /// How long it waited.
        waited: Duration,
    },
}

fn fmt_pos(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(": line {l}, column {c}"),
        (Some(l), None) => format!(": line {l}"),
        _ => String::new(),
    }
}

fn fmt_hint(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!("\nhint: {hint}")
    }
}

fn fmt_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return " (no output)".into();
    }
    let mut s = String::new();
    for l in lines {
        s.push_str("\n  | ");
        s.push_str(l);
    }
    s
}
