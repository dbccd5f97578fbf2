//! Dependency setup for a target: check the required programs are on `PATH`,
//! run the manifest's setup commands in the target folder, and record a
//! stamp (`<target>/.setup-stamp`, a SHA-256 of the commands and the input
//! files' contents and the required programs' `--version`) so an unchanged
//! target is not set up again; a switched runtime sets it up anew. Each
//! command has a time limit (`setup.timeout_s`); a hung one is killed and
//! named. Also reads
//! the installed versions with the manifest's `[versions]` command.
//!
//! Owns the stamp file; never starts servers.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::TargetError;
use super::manifest::{Manifest, TargetSpec, resolve_program};

/// The stamp file name inside a target folder.
pub const STAMP_FILE: &str = ".setup-stamp";

/// Lines of a failing command's output quoted in the error.
const TAIL_LINES: usize = 20;

/// Options of [`setup`].
#[derive(Clone, Debug, Default)]
pub struct SetupOptions {
    /// Run the commands even when the stamp says nothing changed.
    pub force: bool,
    /// Print nothing (otherwise: a line per command on stderr, or a spinner on a terminal).
    pub quiet: bool,
}

/// What [`setup`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupOutcome {
    /// Nothing changed since the last successful setup; nothing ran.
    UpToDate,
    /// The commands ran and succeeded.
    Ran,
}

/// Sets a target up if needed: checks `setup.requires` on `PATH` (a missing
/// program is an error naming it and the manifest's `hint`), runs the
/// commands unless the stamp matches and every output exists, checks the
/// outputs, and writes the stamp. Concurrent calls for the same target (from
/// threads or processes) are serialised with a lock on its `target.toml`.
pub fn setup(manifest: &Manifest, opts: &SetupOptions) -> Result<SetupOutcome, TargetError> {
    let _lock = FileLock::exclusive(&manifest.path)?;
    let digest = stamp_digest(manifest)?;
    if !opts.force && is_current(manifest, &digest) {
        return Ok(SetupOutcome::UpToDate);
    }
    check_requires(manifest)?;
    check_preflight(manifest)?;
    let stamp = manifest.dir.join(STAMP_FILE);
    let _ = std::fs::remove_file(&stamp);
    let ph = manifest.placeholders();
    let total = manifest.setup.commands.len();
    for (i, cmd) in manifest.setup.commands.iter().enumerate() {
        let cmd = ph.expand_all(cmd);
        run_command(manifest, &cmd, i + 1, total, opts.quiet)?;
    }
    for out in outputs(manifest) {
        if !out.exists() {
            return Err(TargetError::SetupOutputMissing {
                target: manifest.name.clone(),
                output: out,
            });
        }
    }
    std::fs::write(&stamp, format!("{digest}\n")).map_err(|source| TargetError::Io {
        what: "writing the setup stamp".into(),
        path: stamp.clone(),
        source,
    })?;
    Ok(SetupOutcome::Ran)
}

/// Whether the target is set up: its stamp matches the current inputs and
/// commands, and every output exists. Errors (a missing input) count as no.
pub fn is_set_up(manifest: &Manifest) -> bool {
    stamp_digest(manifest).is_ok_and(|d| is_current(manifest, &d))
}

fn is_current(manifest: &Manifest, digest: &str) -> bool {
    let stamp = std::fs::read_to_string(manifest.dir.join(STAMP_FILE)).ok();
    stamp_matches(stamp.as_deref(), digest) && outputs(manifest).iter().all(|p| p.exists())
}

/// True when a stamp file's contents record `digest`.
pub fn stamp_matches(stamp_contents: Option<&str>, digest: &str) -> bool {
    stamp_contents.is_some_and(|s| s.trim() == digest)
}

/// The expanded, absolute output paths.
fn outputs(manifest: &Manifest) -> Vec<PathBuf> {
    let ph = manifest.placeholders();
    manifest
        .setup
        .outputs
        .iter()
        .map(|o| manifest.dir.join(ph.expand(o)))
        .collect()
}

/// The stamp of a manifest's current setup: a hash of the commands, the
/// required programs and each input file's name and contents.
pub fn stamp_digest(manifest: &Manifest) -> Result<String, TargetError> {
    let mut inputs = Vec::new();
    for rel in &manifest.setup.inputs {
        let path = manifest.dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|_| TargetError::SetupInputMissing {
            target: manifest.name.clone(),
            file: path.clone(),
        })?;
        inputs.push((rel.clone(), bytes));
    }
    // The runtimes' versions count as inputs: switching `node` or `python3`
    // re-runs setup instead of reusing a `node_modules` or venv built by
    // another one.
    for tool in &manifest.setup.requires {
        inputs.push((format!("{tool} --version"), tool_version(tool).into_bytes()));
    }
    Ok(digest_of(
        &manifest.setup.commands,
        &manifest.setup.requires,
        &manifest.setup.outputs,
        &inputs,
    ))
}

/// What `tool --version` prints (stdout and stderr), or why it could not be
/// read; 10 s at most.
fn tool_version(tool: &str) -> String {
    let Some(path) = which(tool) else {
        return "not found".into();
    };
    match output_within(Command::new(path).arg("--version"), Duration::from_secs(10)) {
        Ok(out) => format!(
            "{}{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => e.to_string(),
    }
}

/// Why a helper command (a preflight check, a versions command, a tool's
/// `--version`) gave no output.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// It could not be started.
    #[error("cannot be run: {0}")]
    Spawn(std::io::Error),
    /// It ran past its limit and was killed.
    #[error("did not finish within {} s", .0.as_secs())]
    Timeout(Duration),
    /// Its output could not be read.
    #[error("{0}")]
    Output(std::io::Error),
}

/// Why a target's installed versions could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    /// The versions command did not run to the end.
    #[error("the versions command `{program}` {error}")]
    Run {
        /// The program.
        program: String,
        /// What happened.
        error: CommandError,
    },
    /// It exited with a failure.
    #[error("the versions command failed ({status}): {stderr}")]
    Failed {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// It printed nothing.
    #[error("the versions command printed nothing")]
    Empty,
    /// Its last line is not JSON.
    #[error("not JSON ({error}): {line}")]
    NotJson {
        /// The line.
        line: String,
        /// The parser's complaint.
        error: serde_json::Error,
    },
    /// Its last line is JSON but not an object.
    #[error("not a JSON object: {0}")]
    NotObject(String),
}

/// Runs `cmd` to completion with its output captured, killing it after
/// `limit`.
fn output_within(cmd: &mut Command, limit: Duration) -> Result<std::process::Output, CommandError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(CommandError::Spawn)?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CommandError::Timeout(limit));
            }
        }
    }
    child.wait_with_output().map_err(CommandError::Output)
}

/// Runs every `setup.preflight` check; the first that fails is an error
/// naming it and quoting the manifest's hint.
pub fn check_preflight(manifest: &Manifest) -> Result<(), TargetError> {
    let ph = manifest.placeholders();
    for cmd in &manifest.setup.preflight {
        let cmd = ph.expand_all(cmd);
        let status = match output_within(
            Command::new(resolve_program(&cmd[0], &manifest.dir))
                .args(&cmd[1..])
                .current_dir(&manifest.dir),
            Duration::from_secs(30),
        ) {
            Ok(out) if out.status.success() => continue,
            Ok(out) => out.status.to_string(),
            Err(e) => e.to_string(),
        };
        return Err(TargetError::PreflightFailed {
            target: manifest.name.clone(),
            command: cmd.join(" "),
            status,
            hint: manifest.setup.hint.clone(),
        });
    }
    Ok(())
}

/// Pure part of [`stamp_digest`]: hashes commands, required programs,
/// outputs and `(name, contents)` inputs, with lengths so that no two
/// different lists hash the same way by concatenation.
pub fn digest_of(
    commands: &[Vec<String>],
    requires: &[String],
    outputs: &[String],
    inputs: &[(String, Vec<u8>)],
) -> String {
    let mut h = Sha256::new();
    let mut put = |tag: &str, bytes: &[u8]| {
        h.update(tag.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    put("v", b"claimbench-setup-1");
    for c in commands {
        put("cmd", &[]);
        for a in c {
            put("arg", a.as_bytes());
        }
    }
    for r in requires {
        put("req", r.as_bytes());
    }
    for o in outputs {
        put("out", o.as_bytes());
    }
    for (name, bytes) in inputs {
        put("in", name.as_bytes());
        put("data", bytes);
    }
    hex::encode(h.finalize())
}

/// Checks that every `setup.requires` program is on `PATH`.
pub fn check_requires(manifest: &Manifest) -> Result<(), TargetError> {
    for tool in &manifest.setup.requires {
        if which(tool).is_none() {
            return Err(TargetError::MissingTool {
                target: manifest.name.clone(),
                tool: tool.clone(),
                hint: if manifest.setup.hint.is_empty() {
                    format!("(the manifest {} gives no hint)", manifest.path.display())
                } else {
                    manifest.setup.hint.clone()
                },
            });
        }
    }
    Ok(())
}

/// Finds an executable on `PATH` (or checks a path that contains `/`).
pub fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
}

/// Runs one setup command, streaming its merged output into a ring of the
/// last lines; fails with that tail.
fn run_command(
    manifest: &Manifest,
    cmd: &[String],
    index: usize,
    total: usize,
    quiet: bool,
) -> Result<(), TargetError> {
    let shown = cmd.join(" ");
    let fail = |status: String, tail: Vec<String>| TargetError::SetupFailed {
        target: manifest.name.clone(),
        command: shown.clone(),
        status,
        output_tail: tail,
        hint: manifest.setup.hint.clone(),
    };
    let label = format!("[{}] setup {index}/{total}: {shown}", manifest.name);
    let spinner = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.enable_steady_tick(Duration::from_millis(120));
        pb.set_message(label.clone());
        pb
    });
    if !quiet && spinner.is_none() {
        eprintln!("{label}");
    }
    let started = Instant::now();

    let (reader, writer) =
        std::io::pipe().map_err(|e| fail(format!("could not be run: {e}"), Vec::new()))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| fail(format!("could not be run: {e}"), Vec::new()))?;
    let mut command = Command::new(resolve_program(&cmd[0], &manifest.dir));
    command
        .args(&cmd[1..])
        .current_dir(&manifest.dir)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2);
    // Its own process group, so a hung step is killed with its children
    // (npm's and pip's helpers hold the pipe open too).
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let spawned = command.spawn();
    // The parent's copies of the pipe's write end go away with `command`.
    drop(command);
    let mut child = spawned.map_err(|e| {
        let status = if e.kind() == std::io::ErrorKind::NotFound {
            format!("could not be run: `{}` not found", cmd[0])
        } else {
            format!("could not be run: {e}")
        };
        fail(status, Vec::new())
    })?;
    let watchdog = Watchdog::start(child.id(), manifest.setup.timeout);
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES + 1);
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        if let Some(pb) = &spinner {
            let short: String = line.chars().take(80).collect();
            pb.set_message(format!("{label}  {short}"));
        }
        tail.push_back(line);
        if tail.len() > TAIL_LINES {
            tail.pop_front();
        }
    }
    // Stopped before the child is reaped, so its id cannot be reused meanwhile.
    let timed_out = watchdog.finish();
    let status = child
        .wait()
        .map_err(|e| fail(format!("could not be waited for: {e}"), Vec::new()))?;
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    if timed_out {
        return Err(fail(
            format!(
                "(step {index}/{total}) did not finish within {} s and was killed (setup.timeout_s)",
                manifest.setup.timeout.as_secs_f64()
            ),
            tail.into(),
        ));
    }
    if !status.success() {
        return Err(fail(format!("failed ({status})"), tail.into()));
    }
    if !quiet {
        eprintln!(
            "[{}] setup {index}/{total}: done in {:.1}s",
            manifest.name,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The installed versions of the runtime and framework: runs
/// `[versions].command` (30 s limit) and reads the last line of its output
/// as a JSON object. Failures give an empty map and a warning, never an error.
pub fn versions(spec: &TargetSpec) -> BTreeMap<String, String> {
    match try_versions(spec) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(target_id = %spec.id, "could not read installed versions: {e}");
            BTreeMap::new()
        }
    }
}

/// Like [`versions`], but returns why it failed.
pub fn try_versions(spec: &TargetSpec) -> Result<BTreeMap<String, String>, VersionsError> {
    let Some(cmd) = &spec.versions_command else {
        return Ok(BTreeMap::new());
    };
    let cmd = spec.placeholders().expand_all(cmd);
    let out = output_within(
        Command::new(resolve_program(&cmd[0], &spec.dir))
            .args(&cmd[1..])
            .current_dir(&spec.dir),
        Duration::from_secs(30),
    )
    .map_err(|error| VersionsError::Run {
        program: cmd[0].clone(),
        error,
    })?;
    if !out.status.success() {
        return Err(VersionsError::Failed {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    parse_versions(&String::from_utf8_lossy(&out.stdout))
}

/// Parses the last non-empty line of a versions command's output as a JSON
/// object; non-string values are kept as their JSON text.
pub fn parse_versions(stdout: &str) -> Result<BTreeMap<String, String>, VersionsError> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or(VersionsError::Empty)?;
    let value: serde_json::Value =
        serde_json::from_str(line.trim()).map_err(|error| VersionsError::NotJson {
            line: line.to_string(),
            error,
        })?;
    let obj = value
        .as_object()
        .ok_or_else(|| VersionsError::NotObject(line.to_string()))?;
    Ok(obj
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect())
}

/// Kills a process group when a deadline passes, unless finished first.
struct Watchdog {
    done: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(pgid: u32, limit: Duration) -> Watchdog {
        let (done, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || match rx.recv_timeout(limit) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                // SAFETY: signalling the process group this module spawned.
                unsafe { libc::kill(-(pgid as libc::pid_t), libc::SIGKILL) };
                true
            }
            _ => false,
        });
        Watchdog { done, thread }
    }

    /// Stops watching; true when the deadline had passed and the group was killed.
    fn finish(self) -> bool {
        let _ = self.done.send(());
        self.thread.join().unwrap_or(false)
    }
}

/// An advisory `flock` held until dropped.
struct FileLock(std::fs::File);

impl FileLock {
    fn exclusive(path: &Path) -> Result<FileLock, TargetError> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path).map_err(|source| TargetError::Io {
            what: "opening the manifest to lock it".into(),
            path: path.to_path_buf(),
            source,
        })?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(TargetError::Io {
                what: "locking the manifest".into(),
                path: path.to_path_buf(),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(FileLock(file))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter()
            .map(|c| c.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn digest_changes_with_commands_and_inputs() {
        let c = cmds(&[&["npm", "ci"]]);
        let inputs = vec![("package.json".to_string(), b"{}".to_vec())];
        let base = digest_of(&c, &[], &[], &inputs);
        assert_eq!(base, digest_of(&c, &[], &[], &inputs));
        assert_eq!(base.len(), 64);
        let other_cmd = cmds(&[&["npm", "install"]]);
        assert_ne!(base, digest_of(&other_cmd, &[], &[], &inputs));
        let other_input = vec![("package.json".to_string(), b"{ }".to_vec())];
        assert_ne!(base, digest_of(&c, &[], &[], &other_input));
        // Splitting arguments differently is a different command.
        assert_ne!(
            digest_of(&cmds(&[&["a b"]]), &[], &[], &[]),
            digest_of(&cmds(&[&["a", "b"]]), &[], &[], &[])
        );
        assert_ne!(base, digest_of(&c, &["node".into()], &[], &inputs));
    }

    #[test]
    fn stamp_matching() {
        assert!(stamp_matches(Some("abc\n"), "abc"));
        assert!(!stamp_matches(Some("abd\n"), "abc"));
        assert!(!stamp_matches(None, "abc"));
    }

    #[test]
    fn versions_lines_parse() {
        let v = parse_versions("warming up\n{\"node\":\"20.1.0\",\"workers\":4}\n\n").unwrap();
        assert_eq!(v["node"], "20.1.0");
        assert_eq!(v["workers"], "4");
        assert!(parse_versions("").is_err());
        assert!(parse_versions("[1]").is_err());
        assert!(parse_versions("node 20").is_err());
    }

    #[test]
    fn which_finds_sh() {
        assert!(which("sh").is_some());
        assert!(which("claimbench-surely-not-a-program").is_none());
    }
}
