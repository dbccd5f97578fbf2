//! What `/proc` says about processes and sockets: one process's
//! `/proc/PID/stat` ([`parse_stat`], [`read_stat`]), every process
//! ([`scan_proc`]), a process group's members ([`group_pids`]), and the TCP
//! socket tables (`/proc/net/tcp{,6}`): who listens on a port
//! ([`group_holds_listener`]) and how many connections it still holds
//! ([`open_connections`]). The sampler, the process supervisor and the
//! runner's quiet-machine check all read `/proc` through here.
//!
//! Reads `/proc` only; never signals processes.

/// One line of `/proc/PID/stat`, the fields the supervisor needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// Process id.
    pub pid: i32,
    /// State letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// utime + stime, clock ticks.
    pub cpu_ticks: u64,
    /// Threads.
    pub num_threads: u64,
    /// Start time since boot, clock ticks (tells a reused pid apart).
    pub start_ticks: u64,
    /// Resident set, pages.
    pub rss_pages: u64,
}

/// Parses the contents of `/proc/PID/stat`. The command name may contain
/// spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // f[0] is field 3 (state) of proc(5).
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    Some(ProcStat {
        pid,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        cpu_ticks: num(11)? + num(12)?,
        num_threads: num(17)?,
        start_ticks: num(19)?,
        rss_pages: f.get(21)?.parse::<i64>().ok()?.max(0) as u64,
    })
}

/// Every process in `/proc` (processes that vanish while reading are skipped).
pub fn scan_proc() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|t| parse_stat(&t))
        .collect()
}

/// Reads and parses `/proc/PID/stat` (None if the process is gone).
pub fn read_stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Live (non-zombie) processes whose process group is `pgid`, from `/proc`.
pub fn group_pids(pgid: i32) -> Vec<i32> {
    scan_proc()
        .into_iter()
        .filter(|p| p.pgrp == pgid && p.state != 'Z' && p.state != 'X')
        .map(|p| p.pid)
        .collect()
}

/// Whether a process of group `pgid` holds the socket listening on `port`
/// (from `/proc/net/tcp{,6}` and `/proc/PID/fd`), so that a readiness answer
/// from some other server on that port is not taken for the target's. When
/// it cannot be told (no `/proc/net`, unreadable fds) the answer is yes.
pub fn group_holds_listener(pgid: i32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return true;
    }
    let pids = group_pids(pgid);
    if pids.is_empty() {
        return false;
    }
    let mut readable = false;
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        readable = true;
        for fd in fds.filter_map(Result::ok) {
            if let Ok(link) = std::fs::read_link(fd.path())
                && let Some(inode) = link
                    .to_str()
                    .and_then(|l| l.strip_prefix("socket:["))
                    .and_then(|l| l.strip_suffix(']'))
                    .and_then(|n| n.parse::<u64>().ok())
                && inodes.contains(&inode)
            {
                return true;
            }
        }
    }
    !readable
}

/// Server-side TCP connections on `port` that a server still has to serve
/// or close (ESTABLISHED, SYN_RECV, CLOSE_WAIT, including those waiting in
/// the accept queue), from `/proc/net/tcp{,6}`.
pub fn open_connections(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|t| parse_open_connections(&t, port))
        .sum()
}

fn parse_open_connections(table: &str, port: u16) -> usize {
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            // 01 ESTABLISHED, 03 SYN_RECV, 08 CLOSE_WAIT.
            local_port == Some(port) && matches!(f.get(3), Some(&"01" | &"03" | &"08"))
        })
        .count()
}

/// Inodes of the TCP sockets listening on `port` (IPv4 and IPv6).
fn listening_inodes(port: u16) -> Vec<u64> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        out.extend(parse_listening_inodes(&text, port));
    }
    out
}

/// Parses a `/proc/net/tcp`-style table for sockets in state LISTEN (`0A`) on `port`.
fn parse_listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            let listening = *f.get(3)? == "0A";
            (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                .then(|| f.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn stat_lines_parse_even_with_odd_names() {
        let line = "4242 (my (odd) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 \
                    250 50 0 0 20 0 3 0 987654 123456789 2048 18446744073709551615 \
                    1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let p = parse_stat(line).unwrap();
        assert_eq!(p.pid, 4242);
        assert_eq!(p.state, 'S');
        assert_eq!(p.ppid, 1);
        assert_eq!(p.pgrp, 4240);
        assert_eq!(p.cpu_ticks, 300);
        assert_eq!(p.num_threads, 3);
        assert_eq!(p.start_ticks, 987654);
        assert_eq!(p.rss_pages, 2048);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn this_process_is_found_in_proc() {
        let me = std::process::id() as i32;
        let p = scan_proc().into_iter().find(|p| p.pid == me).unwrap();
        assert!(p.num_threads >= 1);
        assert!(p.rss_pages > 0);
    }

    #[test]
    fn listening_sockets_are_found_and_owned() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 99999 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
";
        assert_eq!(parse_listening_inodes(table, 8080), vec![12345]);
        assert_eq!(parse_listening_inodes(table, 80), vec![777]);
        assert!(parse_listening_inodes(table, 81).is_empty());
        assert_eq!(parse_open_connections(table, 8080), 1);
        assert_eq!(parse_open_connections(table, 80), 0);
        // A listener in this process: ours (our group), and not another group's.
        let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        // SAFETY: getpgrp is always safe.
        let pgid = unsafe { libc::getpgrp() };
        assert!(group_holds_listener(pgid, port));
        assert!(!group_holds_listener(i32::MAX - 7, port));
    }
}
