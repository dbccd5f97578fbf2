//! `claimbench targets list | setup | check | start`: the command-line face
//! of the supervisor. Orchestration only (anyhow with context); the work is
//! done by the functions in [`crate::target`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::{
    LocalDownstream, Manifest, SetupOptions, SetupOutcome, StartOptions, TargetId, check, discover,
    find, is_set_up, setup, start,
};

/// Options of `targets`.
#[derive(Debug, clap::Args)]
pub struct TargetsArgs {
    /// The folder holding one sub-folder per target (default: `targets/` in
    /// the current folder or the nearest parent that has `targets/` and `Cargo.toml`).
    #[arg(long, global = true, value_name = "DIR")]
    pub targets_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: TargetsCommand,
}

/// The `targets` subcommands.
#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// List every target and variant with its language, framework, server and state.
    List,
    /// Install each target's dependencies (all targets when none is named); fast when nothing changed.
    Setup {
        /// Target names (variants share their target's setup).
        names: Vec<String>,
        /// Run the setup commands even when nothing changed.
        #[arg(long)]
        force: bool,
    },
    /// Set up, start and check every contract endpoint of each target (all when none is named).
    Check {
        /// Target ids, `name` or `name:variant`.
        ids: Vec<String>,
        /// Also check every variant of the targets checked.
        #[arg(long)]
        variants: bool,
        /// CPUs to pin the targets to, e.g. `1` or `0-1`.
        #[arg(long)]
        cpus: Option<crate::sys::CpuList>,
        /// Worker count (default: the manifest's rule).
        #[arg(long)]
        workers: Option<usize>,
        /// Folder for the targets' logs (default: `target/claimbench/logs` in the repository).
        #[arg(long)]
        log_dir: Option<PathBuf>,
    },
    /// Run one target in the foreground, printing its URL, until Ctrl-C.
    Start {
        /// Target id, `name` or `name:variant`.
        id: String,
        /// Port (default: a free one).
        #[arg(long)]
        port: Option<u16>,
        /// CPUs to pin the target to, e.g. `1` or `0-1`.
        #[arg(long)]
        cpus: Option<crate::sys::CpuList>,
        /// Worker count (default: the manifest's rule).
        #[arg(long)]
        workers: Option<usize>,
        /// Downstream service for /io/downstream (default: one started in-process).
        #[arg(long)]
        downstream_url: Option<String>,
        /// Folder for the target's log (default: `target/claimbench/logs` in the repository).
        #[arg(long)]
        log_dir: Option<PathBuf>,
    },
}

/// Runs the command.
pub fn run(args: TargetsArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.targets_dir {
        Some(d) => d,
        None => default_targets_dir()?,
    };
    let manifests = discover(&dir)?;
    if manifests.is_empty() {
        anyhow::bail!("no targets found: no {}/*/target.toml", dir.display());
    }
    match args.command {
        TargetsCommand::List => {
            print!("{}", list_table(&manifests));
            Ok(ExitCode::SUCCESS)
        }
        TargetsCommand::Setup { names, force } => {
            let selected = select_manifests(&manifests, &names)?;
            let opts = SetupOptions {
                force,
                quiet: false,
            };
            let mut failed = Vec::new();
            for m in selected {
                match setup(m, &opts) {
                    Ok(SetupOutcome::UpToDate) => eprintln!("[{}] up to date", m.name),
                    Ok(SetupOutcome::Ran) => eprintln!("[{}] set up", m.name),
                    Err(e) => {
                        eprintln!("[{}] FAILED: {e}", m.name);
                        failed.push(m.name.clone());
                    }
                }
            }
            if !failed.is_empty() {
                anyhow::bail!("setup failed for: {}", failed.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        TargetsCommand::Check {
            ids,
            variants,
            cpus,
            workers,
            log_dir,
        } => {
            let ids = select_ids(&manifests, &ids, variants)?;
            let log_dir = log_dir.unwrap_or_else(|| default_log_dir(&dir));
            let cpus = cpus.map(|c| c.0).unwrap_or_default();
            // No Ctrl-C handler here (the `ctrlc` crate allows one per process,
            // which the runner may want): an interrupted `check` dies, and
            // each target's guardian kills its process group.
            let downstream =
                LocalDownstream::start(&[]).context("starting the downstream service")?;
            let mut failed = Vec::new();
            for id in &ids {
                let (m, spec) = find(&manifests, id)?;
                println!("== {id}");
                let result = (|| -> anyhow::Result<bool> {
                    setup(m, &SetupOptions::default())?;
                    let running = start(
                        &spec,
                        &StartOptions {
                            cpus: cpus.clone(),
                            workers,
                            downstream_url: Some(downstream.url().to_string()),
                            log_dir: log_dir.clone(),
                            ..StartOptions::default()
                        },
                    )?;
                    println!(
                        "   {} (pid {}, {} workers, ready after {:.2?}, log {})",
                        running.url(),
                        running.pid(),
                        running.workers(),
                        running.ready_after(),
                        running.log_path().display()
                    );
                    let checks = check(&running);
                    running.stop()?;
                    for c in &checks {
                        println!(
                            "   {} {:<42} {:>8.1?}  {}",
                            if c.passed { "PASS" } else { "FAIL" },
                            c.endpoint,
                            c.elapsed,
                            c.detail
                        );
                    }
                    Ok(checks.iter().all(|c| c.passed))
                })();
                match result {
                    Ok(true) => {}
                    Ok(false) => failed.push(id.to_string()),
                    Err(e) => {
                        println!("   FAIL {e:#}");
                        failed.push(id.to_string());
                    }
                }
            }
            if failed.is_empty() {
                println!("all {} target(s) pass the contract", ids.len());
                Ok(ExitCode::SUCCESS)
            } else {
                println!("failed: {}", failed.join(", "));
                Ok(ExitCode::from(crate::EXIT_GATE_FAILED))
            }
        }
        TargetsCommand::Start {
            id,
            port,
            cpus,
            workers,
            downstream_url,
            log_dir,
        } => {
            let id: TargetId = id.parse()?;
            let (m, spec) = find(&manifests, &id)?;
            setup(m, &SetupOptions::default())
                .with_context(|| format!("setting up `{}`", m.name))?;
            let local = match downstream_url {
                Some(_) => None,
                None => {
                    Some(LocalDownstream::start(&[]).context("starting the downstream service")?)
                }
            };
            let downstream = downstream_url.or_else(|| local.as_ref().map(|d| d.url().to_string()));
            let log_dir = log_dir.unwrap_or_else(|| default_log_dir(&dir));
            let running = start(
                &spec,
                &StartOptions {
                    port,
                    cpus: cpus.map(|c| c.0).unwrap_or_default(),
                    workers,
                    downstream_url: downstream.clone(),
                    log_dir,
                    ..StartOptions::default()
                },
            )?;
            println!("{id} listening on {}", running.url());
            println!(
                "  pid {} (process group), {} workers, cpus [{}], downstream {}, log {}",
                running.pid(),
                running.workers(),
                crate::sys::format_cpu_list(running.cpus()),
                downstream.as_deref().unwrap_or("-"),
                running.log_path().display()
            );
            let interrupt = crate::interrupt::Signals::register()?;
            println!("  press Ctrl-C to stop");
            interrupt.wait();
            let outcome = running.stop()?;
            eprintln!(
                "stopped {id} ({}, {})",
                outcome.status,
                if outcome.graceful {
                    "gracefully"
                } else {
                    "killed after the grace period"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `targets/` in the current folder, or in the nearest parent that has
/// both `targets/` and `Cargo.toml`.
pub fn default_targets_dir() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current folder")?;
    if cwd.join("targets").is_dir() {
        return Ok(cwd.join("targets"));
    }
    cwd.ancestors()
        .find(|d| d.join("targets").is_dir() && d.join("Cargo.toml").is_file())
        .map(|d| d.join("targets"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no targets/ folder in {} or its parents; pass --targets-dir",
                cwd.display()
            )
        })
}

fn default_log_dir(targets_dir: &Path) -> PathBuf {
    let root = std::path::absolute(targets_dir)
        .ok()
        .and_then(|d| d.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    root.join("target").join("claimbench").join("logs")
}

fn select_manifests<'a>(
    manifests: &'a [Manifest],
    names: &[String],
) -> anyhow::Result<Vec<&'a Manifest>> {
    if names.is_empty() {
        return Ok(manifests.iter().collect());
    }
    let mut out: Vec<&Manifest> = Vec::new();
    for n in names {
        let id: TargetId = n.parse()?;
        let (m, _) = find(manifests, &id)?;
        if !out.iter().any(|x| x.name == m.name) {
            out.push(m);
        }
    }
    Ok(out)
}

fn select_ids(
    manifests: &[Manifest],
    ids: &[String],
    variants: bool,
) -> anyhow::Result<Vec<TargetId>> {
    let mut out = Vec::new();
    if ids.is_empty() {
        for m in manifests {
            if variants {
                out.extend(m.ids());
            } else {
                out.push(m.ids().remove(0));
            }
        }
        return Ok(out);
    }
    for s in ids {
        let id: TargetId = s.parse()?;
        let (m, _) = find(manifests, &id)?;
        if variants && id.variant.is_none() {
            out.extend(m.ids());
        } else {
            out.push(id);
        }
    }
    Ok(out)
}

/// The `targets list` table: one row per target and variant.
pub fn list_table(manifests: &[Manifest]) -> String {
    let header = [
        "ID",
        "LANGUAGE",
        "FRAMEWORK",
        "MODEL",
        "WORKERS",
        "SET UP",
        "SERVER",
    ];
    let mut rows: Vec<[String; 7]> = Vec::new();
    for m in manifests {
        let ready = if is_set_up(m) { "yes" } else { "no" };
        for id in m.ids() {
            let Ok(spec) = m.resolve(id.variant.as_deref()) else {
                continue;
            };
            rows.push([
                id.to_string(),
                m.language.as_str().into(),
                m.framework.clone(),
                spec.concurrency_model.as_str().into(),
                spec.start.workers.to_string(),
                ready.into(),
                spec.server.clone(),
            ]);
        }
    }
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}
