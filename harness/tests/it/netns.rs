//! Shards on separate "hosts" of one machine: network namespaces joined by a
//! bridge, a server in one, a shard in each of the others, one
//! `--start-at`. The server counts requests per source address; the merged
//! count must equal its count, every shard must have come from its own
//! address, and a late shard sends nothing, exits 3, and leaves a set that
//! `merge` refuses. Needs root and iproute2; skipped with a message
//! elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The namespaces and bridge of one test, removed when dropped.
struct Net {
    bridge: String,
    namespaces: Vec<String>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

impl Net {
    /// A bridge and `hosts` namespaces on it, host i at 10.231.0.(i+1).
    fn build(hosts: usize) -> Result<Net, String> {
        let tag = std::process::id() % 100_000;
        let mut net = Net {
            bridge: format!("cbbr{tag}"),
            namespaces: Vec::new(),
        };
        ip(&["link", "add", &net.bridge, "type", "bridge"])?;
        ip(&["link", "set", &net.bridge, "up"])?;
        for i in 0..hosts {
            let ns = format!("cbns{tag}h{i}");
            ip(&["netns", "add", &ns])?;
            net.namespaces.push(ns.clone());
            let (outer, inner) = (format!("cb{tag}v{i}"), format!("cb{tag}p{i}"));
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &net.bridge])?;
            ip(&["link", "set", &outer, "up"])?;
            let addr = format!("10.231.0.{}/24", i + 1);
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &inner])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    fn exec(&self, host: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.namespaces[host], program]);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

/// A server that answers every GET and counts requests by source address;
/// `GET /counts` answers the counts as JSON (not counted).
const COUNTING_SERVER: &str = r#"
import collections, http.server, json, sys, threading
counts = collections.Counter()
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        if self.path == "/counts":
            with lock:
                body = json.dumps(counts).encode()
        else:
            with lock:
                counts[self.client_address[0]] += 1
            body = b"Hello, World!"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
"#;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("iproute2 (`ip`) is not installed".into());
    }
    None
}

fn shard(net: &Net, host: usize, i: usize, n: usize, at: &str, out: &Path) -> Output {
    net.exec(host, env!("CARGO_BIN_EXE_claimbench"))
        .args([
            "bench",
            "http://10.231.0.1:8080/",
            "-R",
            "300",
            "-c",
            "30",
            "-d",
            "1s",
            "-t",
            "1",
            "--shard",
            &format!("{i}/{n}"),
            "--start-at",
            at,
            "--allow-unsynced-clock",
            "-q",
            "--json",
        ])
        .arg(out)
        .output()
        .expect("run a shard")
}

fn counts(net: &Net) -> serde_json::Value {
    let o = net
        .exec(0, "python3")
        .args([
            "-c",
            "import urllib.request; print(urllib.request.urlopen('http://10.231.0.1:8080/counts').read().decode())",
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!("counts: {}", String::from_utf8_lossy(&o.stderr));
    })
}

#[test]
fn shards_in_separate_namespaces_merge_to_what_the_server_counted() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: shards across network namespaces need root and iproute2 ({why})");
        return;
    }
    let net = Net::build(4).expect("network namespaces");
    let _server = Killed(
        net.exec(0, "python3")
            .args(["-c", COUNTING_SERVER])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until the server answers from a generator's namespace.
    let ready = Instant::now();
    loop {
        let o = net
            .exec(1, "python3")
            .args([
                "-c",
                "import urllib.request; urllib.request.urlopen('http://10.231.0.1:8080/counts', timeout=1)",
            ])
            .output()
            .unwrap();
        if o.status.success() {
            break;
        }
        assert!(
            ready.elapsed() < Duration::from_secs(10),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir = tempfile::tempdir().unwrap();
    let in_ms = |d: Duration| {
        (SystemTime::now() + d)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string()
    };
    let at = in_ms(Duration::from_millis(2000));
    let files: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("s{i}.json")))
        .collect();
    let outputs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (net, at, out) = (&net, at.clone(), files[i].clone());
                s.spawn(move || shard(net, i + 1, i, 3, &at, &out))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outputs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let merged = dir.path().join("merged.json");
    let o = Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .arg("merge")
        .args(&files)
        .arg("--json")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = claimbench::results::io::read(&merged).unwrap();
    let s = &file.measurements[0].load.summary;
    // Each shard from its own address, and the server counted what the
    // shards sent: 300 arrivals in the second, 100 from each.
    let c = counts(&net);
    let by_source = c.as_object().unwrap();
    assert_eq!(by_source.len(), 3, "{c}");
    for i in 2..=4 {
        assert_eq!(by_source[&format!("10.231.0.{i}")], 100, "{c}");
    }
    assert_eq!(s.requests + s.in_flight_at_end + s.not_started, 300);
    assert_eq!(s.requests + s.in_flight_at_end, 300);

    // A shard that starts late sends nothing, exits 3, and the set
    // without it is refused.
    let late_at = in_ms(Duration::ZERO);
    std::thread::sleep(Duration::from_millis(700));
    let late = dir.path().join("late.json");
    let o = shard(&net, 1, 0, 2, &late_at, &late);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!late.exists());
    let on_time = dir.path().join("on-time.json");
    let o = shard(&net, 2, 1, 2, &in_ms(Duration::from_millis(500)), &on_time);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_claimbench"))
        .args(["merge"])
        .arg(&on_time)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
    assert_eq!(
        counts(&net)["10.231.0.2"],
        100,
        "the late shard sent nothing"
    );
}
