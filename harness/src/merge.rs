//! `claimbench merge SHARDS...`: one result from the shards of a run
//! (`bench --shard`), merged exactly. Histograms of one fixed layout add
//! bucket by bucket, so the merged percentiles are those of one recording
//! of every request; counts and per-second windows (aligned: every shard's
//! window k starts at `start_at + warm-up + k s`) are summed; rates are
//! counts over the shards' common measured length. Thresholds are judged on
//! the merged result, never per shard.
//!
//! A set is refused (one line each, exit 2) unless it is whole and
//! consistent: one run id, one options hash, every index 0..N-1 exactly
//! once (`--allow-partial` accepts missing ones and marks the result), and
//! measured lengths that agree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::results::histogram::Latency;
use crate::results::schema::{
    LittleCheck, LoadResult, Measurement, MergedInfo, ResultsFile, ShardInfo, Window,
};
use crate::scenario::threshold::Threshold;

/// Options of `merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' results files (`bench --shard I/N --json FILE`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write the merged results here (`-` for standard output).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Merge although some shards are missing; the result says it is partial.
    #[arg(long)]
    pub allow_partial: bool,
    /// A condition the merged result must meet (as `bench --threshold`).
    #[arg(long = "threshold", value_name = "EXPR", value_parser = crate::bench::parse_threshold)]
    pub thresholds: Vec<Threshold>,
}

/// Why a set of shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A file could not be read.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file is not one shard's result.
    #[error("{path} is not a shard's result: {reason}")]
    NotAShard {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The files disagree, or the set is not whole.
    #[error("{0}")]
    Inconsistent(String),
}

/// How far the shards' measured lengths may differ (they are all the same
/// fixed duration; only a stopped shard differs).
const LENGTH_TOLERANCE: f64 = 0.01;

/// Reads and merges the shards.
pub fn merge_files(files: &[PathBuf], allow_partial: bool) -> Result<ResultsFile, MergeError> {
    let mut shards = Vec::with_capacity(files.len());
    for path in files {
        let name = path.display().to_string();
        let file = crate::results::io::read(path).map_err(|e| MergeError::Read {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        let not = |reason: &str| MergeError::NotAShard {
            path: name.clone(),
            reason: reason.to_string(),
        };
        let [m] = <[Measurement; 1]>::try_from(file.measurements.clone())
            .map_err(|_| not("it holds more or fewer than one measurement"))?;
        let info = m
            .load
            .shard
            .clone()
            .ok_or_else(|| not("it was not run with --shard"))?;
        shards.push((path.as_path(), file, m, info));
    }
    check_set(&shards, allow_partial)?;
    shards.sort_by_key(|s| s.3.index);
    let loads: Vec<&LoadResult> = shards.iter().map(|s| &s.2.load).collect();
    let infos: Vec<ShardInfo> = shards.iter().map(|s| s.3.clone()).collect();
    let merged = merge_loads(&loads, infos, allow_partial)?;
    let (_, first_file, first_m, _) = &shards[0];
    let mut file = first_file.clone();
    file.command_line = std::env::args().collect();
    file.complete = shards.iter().all(|s| s.1.complete);
    file.finished_at = shards.iter().filter_map(|s| s.1.finished_at).max();
    file.started_at = shards
        .iter()
        .map(|s| s.1.started_at)
        .min()
        .unwrap_or(file.started_at);
    let mut m = first_m.clone();
    m.excluded = merged
        .generator
        .saturated
        .then(|| merged.generator.warnings.join("; "));
    m.load = merged;
    file.measurements = vec![m];
    Ok(file)
}

type Loaded<'a> = (&'a Path, ResultsFile, Measurement, ShardInfo);

fn check_set(shards: &[Loaded<'_>], allow_partial: bool) -> Result<(), MergeError> {
    let bad = |s: String| Err(MergeError::Inconsistent(s));
    let (first_path, _, _, first) = &shards[0];
    let mut seen: BTreeMap<usize, &Path> = BTreeMap::new();
    for (path, _, _, info) in shards {
        if info.run_id != first.run_id {
            return bad(format!(
                "{} belongs to run {:?}, {} to run {:?}",
                path.display(),
                info.run_id,
                first_path.display(),
                first.run_id
            ));
        }
        if info.options_hash != first.options_hash || info.count != first.count {
            return bad(format!(
                "{} was run with other options than {} (options hash {} vs {}, {} vs {} shards)",
                path.display(),
                first_path.display(),
                &info.options_hash[..12.min(info.options_hash.len())],
                &first.options_hash[..12.min(first.options_hash.len())],
                info.count,
                first.count
            ));
        }
        if let Some(other) = seen.insert(info.index, path) {
            return bad(format!(
                "shard {} appears twice: {} and {}",
                info.index,
                other.display(),
                path.display()
            ));
        }
    }
    let missing: Vec<String> = (0..first.count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() && !allow_partial {
        return bad(format!(
            "shard(s) {} of {} missing (--allow-partial merges the rest and marks the result partial)",
            missing.join(", "),
            first.count
        ));
    }
    Ok(())
}

fn sum_hist<'a>(parts: impl Iterator<Item = &'a Latency>) -> Latency {
    let mut acc = Latency::default();
    for p in parts {
        acc.add(p);
    }
    acc
}

/// Adds the shards' load results up (sorted by shard index).
fn merge_loads(
    loads: &[&LoadResult],
    shards: Vec<ShardInfo>,
    partial: bool,
) -> Result<LoadResult, MergeError> {
    let first = loads[0];
    let lengths: Vec<f64> = loads.iter().map(|l| l.summary.duration_s).collect();
    let (lo, hi) = lengths
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &d| (lo.min(d), hi.max(d)));
    if hi - lo > LENGTH_TOLERANCE * hi {
        return Err(MergeError::Inconsistent(format!(
            "the shards measured different lengths ({}): a shard was stopped early",
            shards
                .iter()
                .zip(&lengths)
                .map(|(s, d)| format!("shard {} {d:.3} s", s.index))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let duration_s = lengths.iter().sum::<f64>() / lengths.len() as f64;
    let mut out = first.clone();
    let latency = sum_hist(loads.iter().map(|l| &l.latency));
    let ttfb = sum_hist(loads.iter().map(|l| &l.ttfb));
    let opt = |f: fn(&LoadResult) -> Option<&Latency>| -> Option<Latency> {
        loads
            .iter()
            .any(|l| f(l).is_some())
            .then(|| sum_hist(loads.iter().filter_map(|l| f(l))))
    };
    let service = opt(|l| l.service.as_ref());
    let schedule_lag = opt(|l| l.schedule_lag.as_ref());
    let chunk_gap = opt(|l| l.chunk_gap.as_ref());
    let s = &mut out.summary;
    let total = |f: fn(&LoadResult) -> u64| loads.iter().map(|l| f(l)).sum::<u64>();
    s.requests = total(|l| l.summary.requests);
    s.ok = total(|l| l.summary.ok);
    s.errors = total(|l| l.summary.errors);
    s.not_started = total(|l| l.summary.not_started);
    s.in_flight_at_end = total(|l| l.summary.in_flight_at_end);
    s.bytes_read = total(|l| l.summary.bytes_read);
    s.duration_s = duration_s;
    s.error_rate = if s.requests == 0 {
        0.0
    } else {
        s.errors as f64 / s.requests as f64
    };
    s.throughput_rps = s.ok as f64 / duration_s;
    s.requests_rps = s.requests as f64 / duration_s;
    s.latency = latency.percentiles();
    s.ttfb = ttfb.percentiles();
    s.service = service.as_ref().map(Latency::percentiles);
    s.schedule_lag = schedule_lag.as_ref().map(Latency::percentiles);
    out.latency = latency;
    out.ttfb = ttfb;
    out.service = service;
    out.schedule_lag = schedule_lag;
    out.chunk_gap = chunk_gap;
    for (i, t) in out.templates.iter_mut().enumerate() {
        let parts: Vec<_> = loads.iter().filter_map(|l| l.templates.get(i)).collect();
        t.requests = parts.iter().map(|p| p.requests).sum();
        t.ok = parts.iter().map(|p| p.ok).sum();
        t.errors = parts.iter().map(|p| p.errors).sum();
        t.latency = sum_hist(parts.iter().map(|p| &p.latency));
        t.latency_summary = t.latency.percentiles();
    }
    out.errors = Default::default();
    out.status_codes.clear();
    for l in loads {
        out.errors += l.errors;
        for (code, n) in &l.status_codes {
            *out.status_codes.entry(code.clone()).or_default() += n;
        }
    }
    out.timeline = merge_timeline(loads);
    let g = &mut out.generator;
    g.threads = loads.iter().map(|l| l.generator.threads).sum();
    g.cpu_s = loads.iter().map(|l| l.generator.cpu_s).sum();
    g.cpu_percent = loads
        .iter()
        .map(|l| l.generator.cpu_percent)
        .fold(0.0, f64::max);
    g.max_rss_bytes = loads
        .iter()
        .map(|l| l.generator.max_rss_bytes)
        .max()
        .unwrap_or(0);
    g.saturated = loads.iter().any(|l| l.generator.saturated);
    g.warnings = each_shard(loads, &shards, |l| &l.generator.warnings);
    let c = &mut out.connections;
    c.opened = loads.iter().map(|l| l.connections.opened).sum();
    c.reconnects = loads.iter().map(|l| l.connections.reconnects).sum();
    c.idle_requested = loads.iter().map(|l| l.connections.idle_requested).sum();
    c.idle_held = loads.iter().map(|l| l.connections.idle_held).sum();
    // Percentiles of handshakes do not add; their histograms are not kept.
    c.tls_handshake = None;
    out.little = loads
        .iter()
        .map(|l| l.little.as_ref())
        .collect::<Option<Vec<_>>>()
        .map(|parts| {
            let connections = parts.iter().map(|p| p.connections).sum();
            let lw = parts.iter().map(|p| p.throughput_x_latency).sum::<f64>();
            LittleCheck {
                connections,
                throughput_x_latency: lw,
                ratio: lw / connections as f64,
            }
        });
    out.warnings = each_shard(loads, &shards, |l| &l.warnings);
    out.started_wall = loads.iter().filter_map(|l| l.started_wall).min();
    out.shard = None;
    let starts: Vec<_> = shards.iter().map(|s| s.window_start).collect();
    let ends: Vec<_> = shards.iter().map(|s| s.window_end).collect();
    let (first_start, last_start) = (starts.iter().min(), starts.iter().max());
    let skew_ms = match (first_start, last_start) {
        (Some(a), Some(b)) => (*b - *a).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3,
        _ => 0.0,
    };
    out.merged = Some(MergedInfo {
        count: shards[0].count,
        partial: partial && shards.len() < shards[0].count,
        max_start_skew_ms: skew_ms,
        overlap_start: last_start.copied().unwrap_or(shards[0].window_start),
        overlap_end: ends.iter().min().copied().unwrap_or(shards[0].window_end),
        shards,
    });
    Ok(out)
}

/// Each shard's lines, prefixed with its index.
fn each_shard(
    loads: &[&LoadResult],
    shards: &[ShardInfo],
    lines: fn(&LoadResult) -> &Vec<String>,
) -> Vec<String> {
    loads
        .iter()
        .zip(shards)
        .flat_map(|(l, s)| {
            lines(l)
                .iter()
                .map(move |w| format!("shard {}: {w}", s.index))
        })
        .collect()
}

/// Window k of the merged timeline is the sum of every shard's window k.
fn merge_timeline(loads: &[&LoadResult]) -> Vec<Window> {
    let n = loads.iter().map(|l| l.timeline.len()).max().unwrap_or(0);
    (0..n)
        .map(|k| {
            let parts: Vec<&Window> = loads.iter().filter_map(|l| l.timeline.get(k)).collect();
            let latency = sum_hist(parts.iter().map(|w| &w.latency));
            let p = latency.percentiles();
            Window {
                t_s: parts[0].t_s,
                len_s: parts[0].len_s,
                requests: parts.iter().map(|w| w.requests).sum(),
                ok: parts.iter().map(|w| w.ok).sum(),
                errors: parts.iter().map(|w| w.errors).sum(),
                p50_us: p.p50_us,
                p99_us: p.p99_us,
                max_us: p.max_us,
                latency: latency.to_compact(),
            }
        })
        .collect()
}

/// Runs the command.
pub fn run(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let file = merge_files(&args.files, args.allow_partial)?;
    let load = &file.measurements[0].load;
    let to_stdout = args.json.as_deref().is_some_and(crate::bench::is_stdout);
    let mut human = String::new();
    let info = load.merged.as_ref().expect("merge_files marks the result");
    human.push_str(&format!(
        "merged {} of {} shards{}; start skew {:.1} ms (by each host's clock); common window {} to {}\n",
        info.shards.len(),
        info.count,
        if info.partial { " (PARTIAL)" } else { "" },
        info.max_start_skew_ms,
        info.overlap_start.format("%H:%M:%S%.3f"),
        info.overlap_end.format("%H:%M:%S%.3f"),
    ));
    for s in &info.shards {
        human.push_str(&format!(
            "  shard {}: started {:+.1} ms after --start-at, clock {}\n",
            s.index,
            s.start_lag_ms,
            if s.clock_synchronized {
                "synchronised"
            } else {
                "NOT synchronised"
            }
        ));
    }
    human.push_str(&crate::bench::render_summary(&load.options.base_url, load));
    let outcome = crate::bench::judge(&args.thresholds, load);
    human.push_str(&outcome.report);
    use std::io::Write;
    // Writes, not `print!`: a closed pipe (`| head`) is an error, not a panic.
    if to_stdout {
        let mut err = std::io::stderr().lock();
        err.write_all(human.as_bytes())?;
        let mut out = std::io::stdout().lock();
        out.write_all(&crate::results::io::to_json(&file))?;
        out.flush()?;
    } else {
        // The file first: a closed terminal pipe must not lose it.
        if let Some(path) = &args.json {
            crate::results::io::write(path, &file)?;
            human.push_str(&format!("results written to {}\n", path.display()));
        }
        let mut out = std::io::stdout().lock();
        out.write_all(human.as_bytes())?;
        out.flush()?;
    }
    Ok(if outcome.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_GATE_FAILED)
    })
}
