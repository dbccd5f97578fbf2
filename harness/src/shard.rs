//! `bench --shard I/N --start-at TIME`: one shard of a load spread over
//! several generators that never talk to each other. Each shard's work is a
//! pure function of (options, I, N, TIME): its share of the connections and
//! request budget, and (open loop) its stripes of the global schedule
//! ([`crate::load::schedule`]). What it records lets `merge`
//! ([`crate::merge`]) check the set and add it up exactly.

use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::load::LoadPlan;
use crate::load::plan::Shard;
use crate::results::schema::{LoadResult, ShardInfo};

/// Exit code of a shard that missed its start: it sent nothing. A Job
/// must fail on it, not retry (a retried shard runs at the wrong time).
pub const EXIT_LATE_START: u8 = 3;

/// The sharding options of `bench`.
#[derive(Debug, Default, clap::Args)]
pub struct ShardArgs {
    /// Run shard I of N (`I/N`, 0-based), or `N` with I from
    /// `$JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job). Needs --start-at.
    #[arg(long, value_name = "I/N", requires = "start_at")]
    pub shard: Option<String>,
    /// When all shards start: RFC 3339 (`2026-12-01T10:00:00Z`) or unix
    /// milliseconds. A shard that is later than this plus --start-tolerance
    /// exits with code 3 and sends nothing.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<SystemTime>,
    /// How late after --start-at a shard may still start.
    #[arg(long, value_parser = crate::bench::parse_duration, default_value = "500ms")]
    pub start_tolerance: Duration,
    /// The run the shards belong to (default: derived from the options and
    /// --start-at, so every shard of one command line agrees).
    #[arg(long, requires = "shard")]
    pub run_id: Option<String>,
    /// Run although the kernel says the clock is not synchronised (NTP):
    /// the shards' start alignment is then unknown.
    #[arg(long, requires = "shard")]
    pub allow_unsynced_clock: bool,
}

/// Why `--start-at` or `--shard` did not parse; each quotes the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardArgError {
    /// Digits beyond a `u64` of milliseconds.
    #[error("`{0}` is too large for unix milliseconds")]
    TooLarge(String),
    /// Milliseconds past what the clock can hold.
    #[error("`{0}` is out of range")]
    OutOfRange(String),
    /// Neither RFC 3339 nor milliseconds.
    #[error(
        "`{input}` is not a time: use RFC 3339 (2026-12-01T10:00:00Z) or unix milliseconds ({reason})"
    )]
    NotATime {
        /// The value, escaped.
        input: String,
        /// What the RFC 3339 parser said.
        reason: String,
    },
    /// A part of `I/N` that is not a whole number.
    #[error("invalid --shard {shard:?}: {what} `{value}` is not a whole number")]
    NotANumber {
        /// The flag's value.
        shard: String,
        /// Which part.
        what: &'static str,
        /// The part, escaped.
        value: String,
    },
    /// `N` alone, without `$JOB_COMPLETION_INDEX`.
    #[error("--shard {0:?} gives no index and $JOB_COMPLETION_INDEX is not set: use I/N")]
    NoIndex(String),
    /// I ≥ N, or N = 0.
    #[error("invalid --shard {shard:?}: shard {index} of {count} does not exist (0 ≤ I < N)")]
    NoSuchShard {
        /// The flag's value.
        shard: String,
        /// I.
        index: usize,
        /// N.
        count: usize,
    },
}

/// Parses `--start-at`: RFC 3339, or unix milliseconds.
pub fn parse_start_at(s: &str) -> Result<SystemTime, ShardArgError> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let ms: u64 = s
            .parse()
            .map_err(|_| ShardArgError::TooLarge(s.to_string()))?;
        return SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| ShardArgError::OutOfRange(s.to_string()));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc).into())
        .map_err(|e| ShardArgError::NotATime {
            input: s.escape_debug().to_string(),
            reason: e.to_string(),
        })
}

/// Parses `--shard`: `I/N`, or `N` with I from `$JOB_COMPLETION_INDEX`.
pub fn parse_shard(s: &str, env_index: Option<&str>) -> Result<Shard, ShardArgError> {
    let number = |v: &str, what: &'static str| -> Result<usize, ShardArgError> {
        v.trim()
            .parse::<usize>()
            .map_err(|_| ShardArgError::NotANumber {
                shard: s.to_string(),
                what,
                value: v.escape_debug().to_string(),
            })
    };
    let (index, count) = match s.split_once('/') {
        Some((i, n)) => (number(i, "index")?, number(n, "count")?),
        None => {
            let count = number(s, "count")?;
            let i = env_index.ok_or_else(|| ShardArgError::NoIndex(s.to_string()))?;
            (number(i, "$JOB_COMPLETION_INDEX")?, count)
        }
    };
    if count == 0 || index >= count {
        return Err(ShardArgError::NoSuchShard {
            shard: s.to_string(),
            index,
            count,
        });
    }
    Ok(Shard { index, count })
}

/// The kernel's view of the clock (`adjtimex` with no change requested).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSync {
    /// False when the kernel reports the clock unsynchronised (`TIME_ERROR`).
    pub synchronized: bool,
    /// Maximum error, µs.
    pub maxerror_us: i64,
    /// Estimated error, µs.
    pub esterror_us: i64,
}

/// Reads the clock's synchronisation state; None where it cannot be read.
pub fn clock_sync() -> Option<ClockSync> {
    // SAFETY: adjtimex with `modes == 0` only reads the kernel's state
    // into the zeroed struct it is given.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return None;
    }
    Some(ClockSync {
        synchronized: state != libc::TIME_ERROR,
        maxerror_us: tx.maxerror,
        esterror_us: tx.esterror,
    })
}

/// SHA-256 (hex) of every option that must be the same on all shards: the
/// load options (but not this host's threads and the CPUs it pins them to:
/// a shard's threads split only its own stripe), N and the start time.
pub fn options_hash(plan: &LoadPlan) -> String {
    let mut options = plan.options();
    options.pin_cpus.clear();
    options.threads = 0;
    let start_ms = plan
        .start_at
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    let shards = plan.shard.map_or(1, |s| s.count);
    let text = format!(
        "{}\nshards={shards}\nstart_at_ms={start_ms}",
        serde_json::to_string(&options).unwrap_or_default()
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What a shard records beside its result. `result` must come from a run
/// of `plan` with a start time.
pub fn info(
    plan: &LoadPlan,
    result: &LoadResult,
    run_id: Option<&str>,
    clock: Option<ClockSync>,
) -> Option<ShardInfo> {
    let shard = plan.shard?;
    let start_at: chrono::DateTime<chrono::Utc> = plan.start_at?.into();
    let started = result.started_wall?;
    let warmup = result
        .phases
        .as_ref()
        .map_or(plan.warmup.as_secs_f64(), |p| p.warmup_s);
    let at = |s: f64| started + chrono::Duration::nanoseconds((s * 1e9).round() as i64);
    let hash = options_hash(plan);
    Some(ShardInfo {
        index: shard.index,
        count: shard.count,
        run_id: run_id.map_or_else(|| format!("run-{}", &hash[..16]), str::to_string),
        options_hash: hash,
        start_at,
        start_lag_ms: (started - start_at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3,
        window_start: at(warmup),
        window_end: at(warmup + result.summary.duration_s),
        clock_synchronized: clock.is_none_or(|c| c.synchronized),
        clock_maxerror_us: clock.map_or(0, |c| c.maxerror_us),
        clock_esterror_us: clock.map_or(0, |c| c.esterror_us),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_times_parse_or_say_why_not() {
        assert_eq!(parse_shard("1/3", None), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(
            parse_shard("4", Some("2")),
            Ok(Shard { index: 2, count: 4 })
        );
        for bad in ["3/3", "0/0", "a/2", "-1/2", "2"] {
            let e = parse_shard(bad, None).unwrap_err().to_string();
            assert!(e.contains("--shard"), "{bad}: {e}");
        }
        assert!(parse_shard("2", Some("x")).is_err());
        let t = parse_start_at("2026-12-01T10:00:00Z").unwrap();
        assert_eq!(t, parse_start_at("1796119200000").unwrap());
        for bad in [
            "",
            "yesterday",
            "99999999999999999999999",
            "2026-13-01T00:00:00Z",
        ] {
            assert!(parse_start_at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_split_gives_every_connection_once() {
        for total in 1..40u64 {
            for count in 1..=total.min(7) as usize {
                let parts: Vec<u64> = (0..count)
                    .map(|index| Shard { index, count }.share(total))
                    .collect();
                assert_eq!(parts.iter().sum::<u64>(), total);
                assert!(parts.iter().max().unwrap() - parts.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn the_clock_state_is_readable_here() {
        let c = clock_sync().expect("adjtimex reads on Linux");
        assert!(c.maxerror_us >= 0);
    }
}
