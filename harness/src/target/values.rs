//! A manifest's small value types: the language, the concurrency model, the
//! between-runs policy, the worker-count rule, a target id
//! (`name[:variant]`), the `{placeholder}` values and how a command's
//! program path is resolved.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use super::TargetError;

/// The language a target is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Python.
    Python,
    /// JavaScript (Node.js).
    Javascript,
    /// TypeScript (compiled, run on Node.js).
    Typescript,
    /// Rust.
    Rust,
}

impl Language {
    /// The name as written in manifests and results.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::Typescript => "typescript",
            Language::Rust => "rust",
        }
    }
}

/// How a target serves concurrent requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConcurrencyModel {
    /// An event loop (Node, asyncio).
    Async,
    /// One request at a time per worker process (gunicorn sync).
    Sync,
    /// A thread per request inside worker processes.
    Threaded,
    /// A multi-threaded runtime (tokio).
    MultiThreaded,
}

impl ConcurrencyModel {
    /// The name as written in manifests and results.
    pub fn as_str(self) -> &'static str {
        match self {
            ConcurrencyModel::Async => "async",
            ConcurrencyModel::Sync => "sync",
            ConcurrencyModel::Threaded => "threaded",
            ConcurrencyModel::MultiThreaded => "multi-threaded",
        }
    }
}

/// How a target reaches a clean state between two measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BetweenRuns {
    /// Stop it and start a fresh process (the safe default: no queued work survives).
    #[default]
    Restart,
    /// Keep it running and wait until its process tree is idle.
    Idle,
}

impl BetweenRuns {
    /// The name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            BetweenRuns::Restart => "restart",
            BetweenRuns::Idle => "idle",
        }
    }
}

/// A worker-count rule from a manifest: `cpus`, `2*cpus+1` or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkersSpec {
    /// One per CPU the target is given.
    Cpus,
    /// `(2 x cores) + 1`, gunicorn's documented starting point for sync workers.
    TwiceCpusPlusOne,
    /// A fixed number (at least 1).
    Fixed(usize),
}

impl WorkersSpec {
    /// The worker count for a target given `cpus` CPUs (at least 1).
    pub fn resolve(self, cpus: usize) -> usize {
        let cpus = cpus.max(1);
        match self {
            WorkersSpec::Cpus => cpus,
            WorkersSpec::TwiceCpusPlusOne => 2 * cpus + 1,
            WorkersSpec::Fixed(n) => n,
        }
    }
}

/// Why a `workers` rule did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkersSpecError {
    /// `0`.
    #[error("a worker count must be at least 1")]
    Zero,
    /// Neither a rule nor a number.
    #[error(
        "`{0}` is not a worker rule (expected \"cpus\", \"2*cpus+1\" or a number such as \"1\")"
    )]
    Unknown(String),
}

impl FromStr for WorkersSpec {
    type Err = WorkersSpecError;
    fn from_str(s: &str) -> Result<Self, WorkersSpecError> {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        match compact.as_str() {
            "cpus" => Ok(WorkersSpec::Cpus),
            "2*cpus+1" => Ok(WorkersSpec::TwiceCpusPlusOne),
            n => match n.parse::<usize>() {
                Ok(0) => Err(WorkersSpecError::Zero),
                Ok(n) => Ok(WorkersSpec::Fixed(n)),
                Err(_) => Err(WorkersSpecError::Unknown(s.to_string())),
            },
        }
    }
}

impl fmt::Display for WorkersSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkersSpec::Cpus => f.write_str("cpus"),
            WorkersSpec::TwiceCpusPlusOne => f.write_str("2*cpus+1"),
            WorkersSpec::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// A target id: `name` or `name:variant`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetId {
    /// The target folder name.
    pub name: String,
    /// The variant, if any.
    pub variant: Option<String>,
}

impl TargetId {
    /// A file-name-safe form (`:` becomes `_`), for log files.
    pub fn file_stem(&self) -> String {
        self.to_string().replace(':', "_")
    }
}

impl FromStr for TargetId {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, TargetError> {
        let bad = || TargetError::BadTargetId {
            input: s.to_string(),
        };
        let valid = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        };
        let (name, variant) = match s.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        if !valid(name) || variant.is_some_and(|v| !valid(v)) {
            return Err(bad());
        }
        Ok(TargetId {
            name: name.to_string(),
            variant: variant.map(str::to_string),
        })
    }
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.variant {
            Some(v) => write!(f, "{}:{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

// ---------------------------------------------------------------------------
// Placeholders.

/// Values for the `{port}`, `{host}`, `{workers}`, `{dir}` and `{workspace}`
/// placeholders. A `None` leaves that placeholder as written (setup commands
/// have no port, for instance).
#[derive(Clone, Debug, Default)]
pub struct Placeholders {
    /// `{port}`.
    pub port: Option<u16>,
    /// `{host}`.
    pub host: Option<String>,
    /// `{workers}`.
    pub workers: Option<usize>,
    /// `{dir}`: the absolute target folder.
    pub dir: Option<PathBuf>,
    /// `{workspace}`: the absolute repository root (parent of `targets/`).
    pub workspace: Option<PathBuf>,
}

impl Placeholders {
    /// Replaces every known placeholder that has a value. Other braces are
    /// left alone, so inline code such as `{node: process.version}` survives.
    pub fn expand(&self, s: &str) -> String {
        let mut out = s.to_string();
        let pairs: [(&str, Option<String>); 5] = [
            ("{port}", self.port.map(|p| p.to_string())),
            ("{host}", self.host.clone()),
            ("{workers}", self.workers.map(|w| w.to_string())),
            ("{dir}", self.dir.as_ref().map(|d| d.display().to_string())),
            (
                "{workspace}",
                self.workspace.as_ref().map(|d| d.display().to_string()),
            ),
        ];
        for (key, value) in pairs {
            if let Some(v) = value
                && out.contains(key)
            {
                out = out.replace(key, &v);
            }
        }
        out
    }

    /// Expands every element of a command.
    pub fn expand_all(&self, args: &[String]) -> Vec<String> {
        args.iter().map(|a| self.expand(a)).collect()
    }
}

/// Resolves a command's program: a relative path containing `/` is taken
/// relative to the target folder; a bare name is left for `PATH` lookup.
pub fn resolve_program(program: &str, dir: &Path) -> PathBuf {
    let p = Path::new(program);
    if program.contains('/') && p.is_relative() {
        dir.join(p)
    } else {
        p.to_path_buf()
    }
}
