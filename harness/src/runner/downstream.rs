//! The downstream delay service as a child process of the runner, pinned to
//! the generator's CPUs. A child, not a thread: the generator's CPU use is
//! measured over the whole runner process (`getrusage(RUSAGE_SELF)`), and an
//! in-process downstream would inflate it and raise false "generator-bound"
//! flags.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// A running downstream service; killed (its whole process group) on drop.
pub enum Downstream {
    /// `claimbench downstream` in a child process.
    Child {
        /// The child.
        child: Child,
        /// Its base URL.
        url: String,
    },
    /// In-process fallback when no `claimbench` binary can be found (its CPU
    /// time then counts as the generator's).
    InProcess(crate::target::LocalDownstream),
}

impl Downstream {
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        match self {
            Downstream::Child { url, .. } => url,
            Downstream::InProcess(l) => l.url(),
        }
    }

    /// Whether it runs as a separate process.
    pub fn is_child(&self) -> bool {
        matches!(self, Downstream::Child { .. })
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        if let Downstream::Child { child, .. } = self {
            let pid = child.id() as i32;
            if pid > 1 {
                // SAFETY: signals the child's own process group only.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
            let _ = child.wait();
        }
    }
}

/// The `claimbench` binary: this executable when it is claimbench, else a
/// `claimbench` next to it or one folder up (integration tests run from
/// `target/<profile>/deps/`).
pub fn claimbench_exe() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    if me.file_stem().is_some_and(|s| s == "claimbench") {
        return Some(me);
    }
    let dir = me.parent()?;
    [dir.join("claimbench"), dir.parent()?.join("claimbench")]
        .into_iter()
        .find(|p| p.is_file())
}

/// Starts the downstream service pinned to `cpus`: as a child process when
/// the binary is found, otherwise in-process (with a warning on stderr).
pub fn start(cpus: &[usize]) -> anyhow::Result<Downstream> {
    match claimbench_exe() {
        Some(exe) => start_child(&exe, cpus),
        None => {
            eprintln!(
                "warning: no claimbench binary found next to {}; running the downstream service in-process (its CPU time counts as the generator's)",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            Ok(Downstream::InProcess(
                crate::target::LocalDownstream::start(cpus)
                    .context("starting the downstream service")?,
            ))
        }
    }
}

fn start_child(exe: &Path, cpus: &[usize]) -> anyhow::Result<Downstream> {
    let mut cmd = Command::new(exe);
    cmd.args(["downstream", "--port", "0"]);
    if !cpus.is_empty() {
        cmd.args(["--cpus", &crate::sys::format_cpu_list(cpus)]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().with_context(|| {
        format!(
            "starting the downstream service ({} downstream)",
            exe.display()
        )
    })?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(l) => l,
        Err(_) => {
            let ds = Downstream::Child {
                child,
                url: String::new(),
            };
            drop(ds);
            bail!("the downstream service did not report its address within 10 s");
        }
    };
    let Some(url) = line
        .trim()
        .strip_prefix("listening on ")
        .map(str::to_string)
    else {
        let ds = Downstream::Child {
            child,
            url: String::new(),
        };
        drop(ds);
        bail!(
            "the downstream service printed {:?} instead of `listening on http://ADDR`",
            line.trim()
        );
    };
    Ok(Downstream::Child { child, url })
}
