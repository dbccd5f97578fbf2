#!/usr/bin/env bash
# Side-by-side: claimbench's generator vs wrk against the Rust hyper baseline.
#
#   benches/vs-wrk.sh [PAIRS] [SECONDS]      (defaults: 3 pairs of 10 s runs)
#
# Generator pinned to CPU 0, targets/rust-hyper pinned to CPU 1 (one worker
# thread), GET /plaintext, 64 connections, one generator thread. Runs are
# interleaved (wrk, claimbench, claimbench --http-client hyper, wrk, ...) so
# machine drift hits all equally; the figures that matter are the per-pair
# ratios to wrk. The hyper client's runs are for reference only.
# Then: generator memory over a 10 s vs a 60 s run, and with 10,000 connections.
# Needs: wrk (installed with apt-get when missing), a release build.
set -euo pipefail
PAIRS=${1:-3}
SECS=${2:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$(mktemp -d)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ -z "${CB:-}" ]; then
  cargo build --release -q -p claimbench -p claimbench-target-hyper
  CB="$ROOT/target/release/claimbench"
fi
HY=${HY:-"$ROOT/target/release/claimbench-target-hyper"}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 1 "$HY" --host 127.0.0.1 --port "$PORT" >"$OUT/hyper.log" 2>&1 &
HPID=$!
trap 'kill $HPID 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/plaintext"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, kernel $(uname -r)"
echo "wrk: $(wrk -v 2>&1 | head -1)"
echo "claimbench: $("$CB" --version) ($(git rev-parse --short HEAD))"
echo "target: rust-hyper on CPU 1; generators on CPU 0; $URL; -c 64; 1 thread; ${SECS}s per run"
echo
# Warm both up once (not recorded).
taskset -c 0 wrk -t1 -c64 -d2s "$URL" >/dev/null
"$CB" bench "$URL" -c 64 -d 2s --threads 1 --pin 0 -q >/dev/null
# wrk's own CPU time (user + system), read from the kernel's accounting of the child.
wrk_timed() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "w"), check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)' "$@"
}
for i in $(seq "$PAIRS"); do
  wrk_timed "$OUT/wrk-$i.txt" taskset -c 0 wrk -t1 -c64 -d"${SECS}s" --latency "$URL" >"$OUT/wrk-$i.cpu"
  "$CB" bench "$URL" -c 64 -d "${SECS}s" --threads 1 --pin 0 -q --json "$OUT/cb-$i.json" >/dev/null
  "$CB" bench "$URL" -c 64 -d "${SECS}s" --threads 1 --pin 0 -q --http-client hyper --json "$OUT/hy-$i.json" >/dev/null
done
"$CB" bench "$URL" -c 64 -d 60s --threads 1 --pin 0 -q --json "$OUT/cb-60s.json" >/dev/null
"$CB" bench "$URL" -c 10000 -d 10s --threads 1 --pin 0 -q --json "$OUT/cb-10k.json" >/dev/null
python3 - "$OUT" "$PAIRS" <<'PY'
import json, re, statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])
def wrk_ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rows, tr, lr, hr, cr = [], [], [], [], []
for i in range(1, pairs + 1):
    w = open(f"{out}/wrk-{i}.txt").read()
    w_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1))
    w_p99 = wrk_ms(re.search(r"\s99%\s+(\S+)", w).group(1))
    w_p50 = wrk_ms(re.search(r"\s50%\s+(\S+)", w).group(1))
    c = json.load(open(f"{out}/cb-{i}.json"))["measurements"][0]["load"]
    s = c["summary"]
    c_rps, c_p99, c_p50 = s["throughput_rps"], s["latency"]["p99_us"] / 1000, s["latency"]["p50_us"] / 1000
    w_n = int(re.search(r"(\d+) requests in", w).group(1))
    w_us = float(open(f"{out}/wrk-{i}.cpu").read()) / w_n * 1e6
    c_us = c["generator"]["cpu_s"] / s["requests"] * 1e6
    cr.append(c_us / w_us)
    h = json.load(open(f"{out}/hy-{i}.json"))["measurements"][0]["load"]
    h_rps = h["summary"]["throughput_rps"]
    tr.append(c_rps / w_rps); lr.append(c_p99 / w_p99); hr.append(h_rps / w_rps)
    rows.append(f"| {i} | {w_rps:,.0f} | {c_rps:,.0f} | {c_rps / w_rps:.3f} | {w_p50:.3f} | {c_p50:.3f} | {w_p99:.2f} | {c_p99:.2f} | {c_p99 / w_p99:.3f} | {c['generator']['cpu_percent']:.0f}% | {w_us:.2f} | {c_us:.2f} | {h_rps:,.0f} ({h_rps / w_rps:.3f}) |")
print("| pair | wrk req/s | claimbench req/s | throughput ratio | wrk p50 ms | claimbench p50 ms | wrk p99 ms | claimbench p99 ms | p99 ratio | claimbench CPU | wrk CPU µs/req | claimbench CPU µs/req | `--http-client hyper` req/s (ratio) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
print(f"\nmedian throughput ratio (claimbench / wrk): {statistics.median(tr):.3f}")
print(f"median p99 ratio (claimbench / wrk): {statistics.median(lr):.3f}")
print(f"median generator CPU per request ratio (claimbench / wrk): {statistics.median(cr):.3f}")
print(f"median throughput ratio with --http-client hyper (reference): {statistics.median(hr):.3f}")
rss = lambda f: json.load(open(f"{out}/{f}"))["measurements"][0]["load"]["generator"]["max_rss_bytes"] / 1e6
r10 = [rss(f"cb-{i}.json") for i in range(1, pairs + 1)]
r60 = rss("cb-60s.json")
k = json.load(open(f"{out}/cb-10k.json"))["measurements"][0]["load"]
print(f"\ngenerator max RSS: 10 s runs {', '.join(f'{x:.1f}' for x in r10)} MB; 60 s run {r60:.1f} MB (ratio {r60 / statistics.median(r10):.3f})")
print(f"10,000 connections: max RSS {k['generator']['max_rss_bytes'] / 1e6:.1f} MB, {k['connections']['opened']} connections opened, "
      f"{k['summary']['throughput_rps']:,.0f} req/s, {k['summary']['errors']} errors")
PY
