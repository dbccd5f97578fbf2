//! Starting and stopping target processes.
//!
//! A target is spawned in its own process group (so a wrapper such as
//! gunicorn's master or `npm start` cannot hide its workers), pinned to the
//! requested CPUs before `exec` (the mask is inherited by every process it
//! forks), with a parent-death signal, stdout and stderr appended to
//! `<log_dir>/<id>.log`, and probed over HTTP until it answers 2xx
//! ([`super::ready`]).
//!
//! Stopping signals the *group*: SIGTERM, then SIGKILL after the grace
//! period, and waits until `/proc` shows no live process of the group.
//! Dropping a [`RunningTarget`] that was not stopped kills its group, and
//! every live group is kept in a process-wide registry so a Ctrl-C handler
//! can kill them all ([`super::kill_all_registered`]).
//!
//! Even a SIGKILLed harness leaves nothing behind: the parent-death signal
//! only reaches the group leader (uvicorn and gunicorn workers outlive their
//! master), so each target also gets a guardian, a tiny `sh` in its own
//! process group reading a close-on-exec pipe from the harness. When the pipe
//! closes without a `stop` message (the harness died), the guardian SIGKILLs
//! the target's group.
//!
//! Owns processes and their logs; knows nothing about load. How a child is
//! set up between fork and exec, spawned and guarded is in [`super::spawn`].

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::TargetError;
use super::manifest::{Placeholders, TargetSpec, resolve_program};
use super::procfs::{group_pids, open_connections};
use super::registry::{register, unregister};
use super::sampler::{GroupTracker, cpu_percent_between};
use super::spawn::{Guardian, configure_child, spawn_on_keeper_thread};

/// The host targets listen on.
pub const HOST: &str = "127.0.0.1";
/// Lines of the log quoted in start errors.
pub(super) const LOG_TAIL_LINES: usize = 20;

/// How to start a target.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// Port to listen on (None: a free port chosen by the harness).
    pub port: Option<u16>,
    /// CPUs to pin the whole process tree to (empty: not pinned).
    pub cpus: Vec<usize>,
    /// Worker count (None: the manifest's rule applied to the CPU count).
    pub workers: Option<usize>,
    /// Base URL of the downstream service, passed as `DOWNSTREAM_URL`.
    pub downstream_url: Option<String>,
    /// Folder for `<id>.log` (created if missing; logs are appended; empty:
    /// `claimbench-logs` in the system temp folder).
    pub log_dir: PathBuf,
    /// Extra environment variables (after the manifest's, before the harness's own).
    pub env: Vec<(String, String)>,
    /// A control group's `cgroup.procs` file the target joins before it
    /// runs (its processes and their children stay in it): see
    /// [`super::cgroup`].
    pub cpu_group: Option<PathBuf>,
}

/// How a target stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopOutcome {
    /// True when every process left after SIGTERM, within the grace period.
    pub graceful: bool,
    /// From the first signal until no process of the group was left.
    pub elapsed: Duration,
    /// Exit status of the directly started process, human-readable.
    pub status: String,
}

/// A started, ready target. Its process group is killed when this is dropped
/// without [`RunningTarget::stop`].
#[derive(Debug)]
pub struct RunningTarget {
    spec: TargetSpec,
    opts: StartOptions,
    child: Child,
    pgid: i32,
    port: u16,
    workers: usize,
    log_path: PathBuf,
    log_offset: u64,
    started_at: Instant,
    ready_after: Duration,
    guardian: Option<Guardian>,
    done: bool,
}

impl RunningTarget {
    /// Pid of the process the harness started (the group leader).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
    /// The process group id (equal to [`Self::pid`]); sample and signal this.
    pub fn pgid(&self) -> i32 {
        self.pgid
    }
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{HOST}:{}", self.port)
    }
    /// Its socket address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(HOST.parse().expect("literal address"), self.port)
    }
    /// The log file its stdout and stderr go to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// The worker count it was started with.
    pub fn workers(&self) -> usize {
        self.workers
    }
    /// The CPUs it is pinned to (empty: not pinned).
    pub fn cpus(&self) -> &[usize] {
        &self.opts.cpus
    }
    /// The resolved target.
    pub fn spec(&self) -> &TargetSpec {
        &self.spec
    }
    /// When it was spawned.
    pub(super) fn started_at(&self) -> Instant {
        self.started_at
    }
    /// How its first process ended, if it has (without waiting).
    pub(super) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
    /// How long it took from spawn to the first 2xx readiness answer.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }
    /// The last `n` lines this start wrote to the log.
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        read_tail(&self.log_path, self.log_offset, n)
    }
    /// The pids of the group's live processes, from `/proc`.
    pub fn pids(&self) -> Vec<i32> {
        group_pids(self.pgid)
    }
    /// The target as the results file records it.
    pub fn info(
        &self,
        versions: std::collections::BTreeMap<String, String>,
    ) -> crate::results::schema::TargetInfo {
        crate::results::schema::TargetInfo {
            id: self.spec.id.to_string(),
            language: self.spec.language.as_str().into(),
            framework: self.spec.framework.clone(),
            server: self.spec.server.clone(),
            concurrency_model: self.spec.concurrency_model.as_str().into(),
            workers: Some(self.workers),
            cpus: self.opts.cpus.clone(),
            versions,
            supervised: true,
            url: self.url(),
        }
    }

    /// Stops the target: SIGTERM to the group, up to `stop_grace_s` for every
    /// process to go, then SIGKILL. Errors only if processes survive SIGKILL.
    pub fn stop(mut self) -> Result<StopOutcome, TargetError> {
        self.stop_inner()
    }

    /// Stops the target and starts it again with the same options and port
    /// (the `between_runs = "restart"` way to a clean state).
    pub fn restart(&mut self) -> Result<(), TargetError> {
        self.stop_inner()?;
        let mut opts = self.opts.clone();
        opts.port = Some(self.port);
        let fresh = start(&self.spec, &opts)?;
        // The old value is stopped (done = true), so replacing it does nothing more.
        *self = fresh;
        Ok(())
    }

    /// Waits until the target is idle: CPU use of its tree over a 200 ms
    /// window below 2% of one CPU *and* no server-side connection on its
    /// port still open or queued (so queued requests that only sleep, which
    /// a gunicorn sync worker keeps serving after the client left, count as
    /// busy). The `between_runs = "idle"` way to a clean state; close the
    /// load generator's connections first. Returns how long it waited, or an
    /// error after `max_wait`.
    pub fn wait_idle(&self, max_wait: Duration) -> Result<Duration, TargetError> {
        let start = Instant::now();
        let window = Duration::from_millis(200);
        let mut tracker = GroupTracker::new(self.pgid);
        let mut before = tracker.snapshot();
        loop {
            std::thread::sleep(window);
            let after = tracker.snapshot();
            let pct = cpu_percent_between(&before, &after);
            let open = open_connections(self.port);
            if pct < 2.0 && open == 0 {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= max_wait {
                return Err(TargetError::NotIdle {
                    target: self.spec.id.to_string(),
                    cpu_percent: pct,
                    open_connections: open,
                    waited: start.elapsed(),
                });
            }
            before = after;
        }
    }

    fn stop_inner(&mut self) -> Result<StopOutcome, TargetError> {
        if self.done {
            return Ok(StopOutcome {
                graceful: true,
                elapsed: Duration::ZERO,
                status: "already stopped".into(),
            });
        }
        let started = Instant::now();
        signal_group(self.pgid, libc::SIGTERM);
        let grace = self.spec.start.stop_grace;
        let graceful = self.wait_group_gone(grace);
        if !graceful {
            signal_group(self.pgid, libc::SIGKILL);
            if !self.wait_group_gone(Duration::from_secs(5)) {
                let survivors = group_pids(self.pgid);
                return Err(TargetError::StopFailed {
                    target: self.spec.id.to_string(),
                    pgid: self.pgid,
                    survivors,
                });
            }
        }
        let status = match self.child.wait() {
            Ok(s) => describe_status(s),
            Err(e) => format!("unknown ({e})"),
        };
        self.done = true;
        unregister(self.pgid);
        if let Some(g) = self.guardian.take() {
            g.dismiss();
        }
        let _ = append_log_line(
            &self.log_path,
            &format!(
                "=== claimbench: {} stopped ({status}) after {:.1}s ===",
                self.spec.id,
                self.started_at.elapsed().as_secs_f64()
            ),
        );
        Ok(StopOutcome {
            graceful,
            elapsed: started.elapsed(),
            status,
        })
    }

    /// Polls until no live process of the group is left (reaping the leader).
    fn wait_group_gone(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let _ = self.child.try_wait();
            if group_pids(self.pgid).is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RunningTarget {
    fn drop(&mut self) {
        if !self.done {
            signal_group(self.pgid, libc::SIGKILL);
            let _ = self.child.wait();
            self.wait_group_gone(Duration::from_secs(2));
            self.done = true;
            unregister(self.pgid);
            if let Some(g) = self.guardian.take() {
                g.dismiss();
            }
        }
    }
}

/// Starts a target and waits until it is ready. Workers: `opts.workers`, or
/// the manifest's rule applied to `opts.cpus.len()` (all usable CPUs when
/// not pinned). The environment gets the manifest's `env` (expanded), then
/// `opts.env`, then `PORT`, `HOST`, `WORKERS` and `DOWNSTREAM_URL`.
///
/// On failure the process group is killed and the error quotes the last
/// lines of the log. With a harness-chosen port, a start that fails because
/// the port was taken meanwhile is retried on another port (twice).
pub fn start(spec: &TargetSpec, opts: &StartOptions) -> Result<RunningTarget, TargetError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = start_once(spec, opts);
        let port_taken = matches!(&result, Err(TargetError::Exited { log_tail, .. })
            if log_tail.iter().any(|l| l.contains("EADDRINUSE") || l.contains("ddress already in use")));
        if !(port_taken && opts.port.is_none() && attempt < 3) {
            return result;
        }
        tracing::debug!(target_id = %spec.id, "port taken during start, retrying on another");
    }
}

fn start_once(spec: &TargetSpec, opts: &StartOptions) -> Result<RunningTarget, TargetError> {
    let id = spec.id.to_string();
    let port = match opts.port {
        Some(p) => p,
        None => free_port().map_err(|source| TargetError::Spawn {
            target: id.clone(),
            command: "(choosing a free port)".into(),
            source,
        })?,
    };
    let online = crate::sys::online_cpus();
    if let Some(bad) = opts.cpus.iter().find(|c| !online.contains(c)) {
        return Err(TargetError::Spawn {
            target: id.clone(),
            command: spec.start.command[0].clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "CPU {bad} is not available to pin to (available: {})",
                    crate::sys::format_cpu_list(&online)
                ),
            ),
        });
    }
    let ncpus = if opts.cpus.is_empty() {
        crate::sys::online_cpus().len()
    } else {
        opts.cpus.len()
    };
    let workers = opts
        .workers
        .unwrap_or_else(|| spec.start.workers.resolve(ncpus));
    let ph = Placeholders {
        port: Some(port),
        host: Some(HOST.into()),
        workers: Some(workers),
        dir: Some(spec.dir.clone()),
        workspace: Some(spec.workspace.clone()),
    };
    let argv = ph.expand_all(&spec.start.command);

    let log_dir = if opts.log_dir.as_os_str().is_empty() {
        std::env::temp_dir().join("claimbench-logs")
    } else {
        opts.log_dir.clone()
    };
    std::fs::create_dir_all(&log_dir).map_err(|source| TargetError::Io {
        what: "creating the log folder".into(),
        path: log_dir.clone(),
        source,
    })?;
    let log_path = log_dir.join(format!("{}.log", spec.id.file_stem()));
    let log_io = |source| TargetError::Io {
        what: "opening the target log".into(),
        path: log_path.clone(),
        source,
    };
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(log_io)?;
    let log_offset = log.seek(SeekFrom::End(0)).map_err(log_io)?;
    writeln!(
        log,
        "=== claimbench: starting {id} on {HOST}:{port}, workers {workers}, cpus [{}]: {} ===",
        crate::sys::format_cpu_list(&opts.cpus),
        argv.join(" ")
    )
    .map_err(log_io)?;
    let log_err = log.try_clone().map_err(log_io)?;

    let mut cmd = Command::new(resolve_program(&argv[0], &spec.dir));
    cmd.args(&argv[1..])
        .current_dir(&spec.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    for (k, v) in &spec.start.env {
        cmd.env(k, ph.expand(v));
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    cmd.env("PORT", port.to_string())
        .env("HOST", HOST)
        .env("WORKERS", workers.to_string());
    match &opts.downstream_url {
        Some(u) => cmd.env("DOWNSTREAM_URL", u),
        None => cmd.env_remove("DOWNSTREAM_URL"),
    };
    configure_child(&mut cmd, &opts.cpus, opts.cpu_group.as_deref()).map_err(|source| {
        TargetError::Spawn {
            target: id.clone(),
            command: argv[0].clone(),
            source,
        }
    })?;

    let started_at = Instant::now();
    let child = spawn_on_keeper_thread(cmd).map_err(|source| TargetError::Spawn {
        target: id.clone(),
        command: argv[0].clone(),
        source,
    })?;
    let pgid = child.id() as i32;
    register(pgid);
    let mut running = RunningTarget {
        spec: spec.clone(),
        opts: opts.clone(),
        child,
        pgid,
        port,
        workers,
        log_path,
        log_offset,
        started_at,
        ready_after: Duration::ZERO,
        guardian: None,
        done: false,
    };
    running.guardian = Guardian::spawn(pgid)
        .inspect_err(|e| tracing::warn!(target_id = %id, "no guardian for the target: {e}"))
        .ok();
    running.ready_after = super::ready::wait_ready(&mut running)?;
    Ok(running)
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((HOST, 0))?.local_addr()?.port())
}

/// An exit status in words: `exit status 1`, `killed by signal 9`.
pub(super) fn describe_status(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => s.to_string(),
    }
}

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill with a negative pid signals that process group only.
        unsafe { libc::kill(-pgid, sig) };
    }
}

fn read_tail(path: &Path, offset: u64, n: usize) -> Vec<String> {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path)
        && f.seek(SeekFrom::Start(offset)).is_ok()
    {
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("=== claimbench:"))
        .map(str::to_string)
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

fn append_log_line(path: &Path, line: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new().append(true).open(path)?;
    writeln!(f, "{line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_nonzero() {
        assert_ne!(free_port().unwrap(), 0);
    }

    #[test]
    fn log_tail_skips_harness_lines_and_earlier_starts() {
        let dir = std::env::temp_dir().join(format!("claimbench-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.log");
        std::fs::write(&p, "old 1\nold 2\n").unwrap();
        let offset = std::fs::metadata(&p).unwrap().len();
        append_log_line(&p, "=== claimbench: starting ===").unwrap();
        for i in 0..30 {
            append_log_line(&p, &format!("line {i}")).unwrap();
        }
        let tail = read_tail(&p, offset, 20);
        assert_eq!(tail.len(), 20);
        assert_eq!(tail[0], "line 10");
        assert_eq!(tail[19], "line 29");
        std::fs::remove_dir_all(&dir).ok();
    }
}
