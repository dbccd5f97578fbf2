//! Spawning a target: its own process group, CPU affinity, parent-death
//! signal and CPU control group set between fork and exec
//! ([`configure_child`]); the one long-lived thread every target is forked
//! from ([`spawn_on_keeper_thread`]); and the guardian that kills a target's
//! group when the harness dies ([`Guardian`]).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

/// Own process group, CPU affinity, parent-death signal and, given a
/// control group's `cgroup.procs`, that group, set in the child between fork
/// and exec (only async-signal-safe syscalls there).
pub(crate) fn configure_child(
    cmd: &mut Command,
    cpus: &[usize],
    cpu_group: Option<&Path>,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    // Opened here (close-on-exec), written "0" (the writer itself) in the
    // child: a write to an open descriptor is async-signal-safe.
    let group = match cpu_group {
        Some(path) => Some(
            OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        ),
        None => None,
    };
    cmd.process_group(0);
    let set = if cpus.is_empty() {
        None
    } else {
        // SAFETY: cpu_set_t is plain data; CPU_SET stays within it for c < CPU_SETSIZE.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &c in cpus {
            if c >= libc::CPU_SETSIZE as usize {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("CPU {c} out of range"),
                ));
            }
            unsafe { libc::CPU_SET(c, &mut set) };
        }
        Some(set)
    };
    // SAFETY: getpid is always safe.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure only makes raw syscalls (prctl, getppid,
    // sched_setaffinity, write) on data captured by value; no allocation or
    // locks.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The harness died between fork and prctl: do not run orphaned.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            if let Some(set) = &set
                && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(f) = &group
                && libc::write(f.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

type SpawnJob = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns on one long-lived thread. `PR_SET_PDEATHSIG` fires when the
/// *thread* that forked the child exits, so spawning from a short-lived
/// thread (a test thread, a tokio blocking thread) would kill the target
/// early; this thread lives as long as the process.
pub(super) fn spawn_on_keeper_thread(cmd: Command) -> std::io::Result<Child> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let sender = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("claimbench-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the spawner thread");
        Mutex::new(tx)
    });
    let (tx, rx) = mpsc::channel();
    sender
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, tx))
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
}

/// Kills a target's process group if the harness dies (see the module doc).
#[derive(Debug)]
pub(super) struct Guardian {
    pipe: std::io::PipeWriter,
    child: Child,
}

impl Guardian {
    const SCRIPT: &'static str = "trap '' INT HUP TERM QUIT; read -r msg; [ \"$msg\" = stop ] || kill -9 -\"$1\" 2>/dev/null; exit 0";

    pub(super) fn spawn(pgid: i32) -> std::io::Result<Guardian> {
        use std::os::unix::process::CommandExt;
        // std creates both ends close-on-exec: the target never holds the
        // write end, so only the harness's death (or `dismiss`) closes it.
        let (reader, pipe) = std::io::pipe()?;
        let child = Command::new("sh")
            .args(["-c", Self::SCRIPT, "claimbench-guardian", &pgid.to_string()])
            .stdin(reader)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(Guardian { pipe, child })
    }

    /// The target is gone: tell the guardian to exit without killing, and reap it.
    pub(super) fn dismiss(mut self) {
        let _ = self.pipe.write_all(b"stop\n");
        drop(self.pipe);
        let _ = self.child.wait();
    }
}
