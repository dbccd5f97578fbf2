//! Operating-system facts and knobs shared by the generator and the supervisor:
//! CPU lists and affinity, the open-files limit, process CPU time and memory,
//! and the host description recorded with every result.

use std::fs;

use crate::results::schema::{HostInfo, ToolInfo};

/// A CPU list that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid CPU list {input:?}: {reason} (expected e.g. `0`, `0,2` or `0-3`)")]
pub struct CpuListError {
    /// What the user wrote.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses a CPU list like `0`, `1,3` or `0-2,5` into sorted, unique CPU numbers.
pub fn parse_cpu_list(input: &str) -> Result<Vec<usize>, CpuListError> {
    let err = |reason: String| CpuListError {
        input: input.to_string(),
        reason,
    };
    let mut cpus = Vec::new();
    for part in input.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(err("empty entry".into()));
        }
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| err(format!("`{s}` is not a CPU number")))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse(a)?, parse(b)?);
                if a > b {
                    return Err(err(format!("range {a}-{b} is backwards")));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(parse(part)?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    let online = online_cpus();
    if let Some(bad) = cpus.iter().find(|&&c| !online.contains(&c)) {
        return Err(err(format!(
            "CPU {bad} is not available here (available: {})",
            format_cpu_list(&online)
        )));
    }
    Ok(cpus)
}

/// A parsed CPU list, as a command-line value (`--pin 0`, `--cpus 1-3`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl std::str::FromStr for CpuList {
    type Err = CpuListError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_cpu_list(s).map(CpuList)
    }
}

/// A CPU set in every output: a compact list (`0-2,5`), or `unpinned` when
/// empty.
pub fn describe_cpus(cpus: &[usize]) -> String {
    if cpus.is_empty() {
        "unpinned".into()
    } else {
        format_cpu_list(cpus)
    }
}

/// Formats CPU numbers as a compact list, e.g. `0-2,5`.
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// The CPUs this process may run on (its current affinity mask).
pub fn online_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let v: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect();
            if !v.is_empty() {
                return v;
            }
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// Pins the *calling thread* (pid 0 = this thread on Linux) to `cpus`.
/// Children forked afterwards inherit the mask.
pub fn pin_current_thread(cpus: &[usize]) -> std::io::Result<()> {
    pin_pid(0, cpus)
}

/// Sets the CPU affinity of a thread or process id (0 = calling thread).
pub fn pin_pid(pid: libc::pid_t, cpus: &[usize]) -> std::io::Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    // SAFETY: cpu_set_t is plain data; CPU_SET writes within it for c < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            if c >= libc::CPU_SETSIZE as usize {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("CPU {c} out of range"),
                ));
            }
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The process group of a process, if it exists (an external target's, to
/// sample its CPU and memory).
pub fn process_group_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    // SAFETY: getpgid takes a plain integer and only reads kernel state.
    let pgid = unsafe { libc::getpgid(pid) };
    (pgid > 0).then_some(pgid)
}

/// Reads the affinity of a process or thread id.
pub fn affinity_of(pid: libc::pid_t) -> std::io::Result<Vec<usize>> {
    // SAFETY: as in `online_cpus`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// The open-files limit after trying to raise it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdLimit {
    /// Soft limit now in force.
    pub soft: u64,
    /// Hard limit (the most the soft limit can be raised to).
    pub hard: u64,
}

/// Raises the soft open-files limit towards `wanted` (at most the hard limit)
/// and returns the limits in force afterwards.
pub fn raise_fd_limit(wanted: u64) -> std::io::Result<FdLimit> {
    // SAFETY: getrlimit/setrlimit with a valid pointer.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if lim.rlim_cur < wanted {
            let new = wanted.min(lim.rlim_max);
            let raised = libc::rlimit {
                rlim_cur: new,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = new;
            }
        }
        Ok(FdLimit {
            soft: lim.rlim_cur,
            hard: lim.rlim_max,
        })
    }
}

/// CPU time (user + system) this process has used so far, seconds.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage with a valid pointer.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    }
}

/// Peak resident memory of this process, bytes.
pub fn process_max_rss_bytes() -> u64 {
    // SAFETY: getrusage with a valid pointer.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_maxrss.max(0) as u64 * 1024
    }
}

/// Clock ticks per second for `/proc/*/stat` CPU fields.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf is always safe to call.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// Memory page size in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf is always safe to call.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Logical CPUs online on the machine (not limited by this process's affinity).
pub fn online_cpu_count() -> usize {
    // SAFETY: sysconf is always safe to call.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 { n as usize } else { 1 }
}

/// The harness build: version and git commit (recorded at build time).
pub fn tool_info() -> ToolInfo {
    let commit = env!("CLAIMBENCH_GIT_COMMIT");
    let dirty = env!("CLAIMBENCH_GIT_DIRTY");
    ToolInfo {
        name: "claimbench".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: (!commit.is_empty()).then(|| commit.to_string()),
        git_dirty: match dirty {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
    }
}

/// Describes this machine. CPU splits are filled in by the caller.
pub fn host_info() -> HostInfo {
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory_bytes = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    HostInfo {
        hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        cpu_model,
        logical_cpus: online_cpu_count(),
        memory_bytes,
        generator_cpus: Vec::new(),
        target_cpus: Vec::new(),
        downstream_cpus: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_and_format() {
        let online = online_cpus();
        let first = online[0];
        assert_eq!(parse_cpu_list(&first.to_string()).unwrap(), vec![first]);
        assert_eq!(format_cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("100000").is_err());
    }
}
