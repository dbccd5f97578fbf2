#!/usr/bin/env bash
# Side-by-side over TLS: claimbench's generator vs wrk (HTTPS, HTTP/1.1)
# and vs h2load (HTTP/2 over TLS), against an independent nginx.
#
#   benches/vs-tls.sh [PAIRS] [SECONDS]      (defaults: 3 pairs of 10 s runs)
#
# nginx: one worker pinned to CPU 1, TLS (self-signed P-256 certificate made
# here) and HTTP/2 on, a 13-byte static file, access log off. Generators:
# pinned to CPU 0, one thread. Runs are interleaved (reference tool, then
# claimbench, per pair) so machine drift hits both; the figures that matter
# are the per-pair ratios. CPU per request is each process's own user +
# system time (the kernel's accounting of the child) over its responses.
#   HTTPS:  wrk -t1 -c64           vs  claimbench bench https://... -c 64
#   HTTP/2: h2load -t1 -c8 -m32    vs  claimbench bench https://... --http2 -c 8 --streams 32
#           (the lean HTTP/2 client, and the h2 crate's: --http-client hyper)
# GEN_CPU_PCT=50 limits each generator to that share of CPU 0 (a CFS quota,
# cgroup v1 or v2), so that the generators, not nginx, are the bottleneck
# and the throughput ratio is the generators' own speed; unset, nginx may
# saturate first on a slow host and the ratio then reads how each tool's
# batching suits nginx.
# Needs: nginx, wrk, h2load (installed with apt-get when missing: packages
# nginx, wrk, nghttp2-client), openssl, a release build.
set -euo pipefail
PAIRS=${1:-3}
SECS=${2:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ -z "${CB:-}" ]; then
  cargo build --release -q -p claimbench
  CB="$ROOT/target/release/claimbench"
fi
OUT=$(mktemp -d)
NPID=""
GROUP=""
trap '[ -n "$NPID" ] && kill "$NPID" 2>/dev/null; [ -n "$GROUP" ] && rmdir "$GROUP" 2>/dev/null; rm -rf "$OUT"' EXIT
# Generators start through $LIMIT: into the quota's cgroup, or as they are.
LIMIT=()
if [ -n "${GEN_CPU_PCT:-}" ]; then
  quota=$((GEN_CPU_PCT * 100))
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    GROUP=/sys/fs/cgroup/claimbench-gen-$$
    mkdir "$GROUP" && echo "$quota 10000" >"$GROUP/cpu.max"
  else
    GROUP=/sys/fs/cgroup/cpu/claimbench-gen-$$
    mkdir "$GROUP" && echo 10000 >"$GROUP/cpu.cfs_period_us" && echo "$quota" >"$GROUP/cpu.cfs_quota_us"
  fi
  LIMIT=(sh -c 'echo $$ > "$0" && exec "$@"' "$GROUP/cgroup.procs")
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$OUT/key.pem" -out "$OUT/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
mkdir -p "$OUT/www"
printf 'Hello, World!' >"$OUT/www/hello.txt"
# nginx's worker runs as an unprivileged user: it must read the file.
chmod 755 "$OUT" "$OUT/www" && chmod 644 "$OUT/www/hello.txt"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$OUT/nginx.conf" <<EOF
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid $OUT/nginx.pid;
error_log $OUT/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $OUT/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$PORT ssl http2;
    ssl_certificate $OUT/cert.pem;
    ssl_certificate_key $OUT/key.pem;
    http2_max_concurrent_streams 128;
    location / { root $OUT/www; }
  }
}
EOF
mkdir -p "$OUT/tmp"
taskset -c 1 nginx -c "$OUT/nginx.conf" -e "$OUT/error.log" &
NPID=$!
URL="https://127.0.0.1:$PORT/hello.txt"
for _ in $(seq 50); do curl -skf "$URL" >/dev/null && break; sleep 0.1; done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, kernel $(uname -r)"
echo "nginx: $(nginx -v 2>&1 | cut -d/ -f2), one worker on CPU 1; $(openssl version | cut -d' ' -f1-2)"
echo "wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); h2load: $(h2load --version | head -1)"
echo "claimbench: $("$CB" --version) ($(git rev-parse --short HEAD)); generators on CPU 0, one thread; ${SECS}s per run${GEN_CPU_PCT:+; each generator limited to ${GEN_CPU_PCT}% of CPU 0 (CFS quota)}"
echo
# CPU seconds (user + system) of a child run, its stdout to a file.
timed() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "w"), check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)' "$@"
}
# Warm up (not recorded).
taskset -c 0 wrk -t1 -c64 -d2s "$URL" >/dev/null
"$CB" bench "$URL" --insecure -c 64 -d 2s --threads 1 --pin 0 -q >/dev/null
for i in $(seq "$PAIRS"); do
  timed "$OUT/wrk-$i.txt" "${LIMIT[@]}" taskset -c 0 wrk -t1 -c64 -d"${SECS}s" "$URL" >"$OUT/wrk-$i.cpu"
  timed "$OUT/cb1-$i.txt" "${LIMIT[@]}" "$CB" bench "$URL" --insecure -c 64 -d "${SECS}s" --threads 1 --pin 0 -q \
    --json "$OUT/cb1-$i.json" >"$OUT/cb1-$i.cpu"
  timed "$OUT/h2l-$i.txt" "${LIMIT[@]}" taskset -c 0 h2load -t1 -c8 -m32 -D "$SECS" "$URL" >"$OUT/h2l-$i.cpu"
  timed "$OUT/cb2-$i.txt" "${LIMIT[@]}" "$CB" bench "$URL" --insecure --http2 -c 8 --streams 32 -d "${SECS}s" \
    --threads 1 --pin 0 -q --json "$OUT/cb2-$i.json" >"$OUT/cb2-$i.cpu"
  timed "$OUT/cb3-$i.txt" "${LIMIT[@]}" "$CB" bench "$URL" --insecure --http2 -c 8 --streams 32 -d "${SECS}s" \
    --threads 1 --pin 0 -q --http-client hyper --json "$OUT/cb3-$i.json" >"$OUT/cb3-$i.cpu"
done
python3 - "$OUT" "$PAIRS" <<'PY'
import json, re, sys
out, pairs = sys.argv[1], int(sys.argv[2])
def cpu(name):
    return float(open(f"{out}/{name}.cpu").read())
def cb(name):
    s = json.load(open(f"{out}/{name}.json"))["measurements"][0]["load"]["summary"]
    return s["throughput_rps"], s["ok"], s["errors"]
print("HTTPS, HTTP/1.1, 64 connections")
print("pair  wrk req/s  claimbench req/s  ratio   wrk µs CPU/req  claimbench µs CPU/req  ratio")
for i in range(1, pairs + 1):
    t = open(f"{out}/wrk-{i}.txt").read()
    w_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    w_n = int(re.search(r"(\d+) requests in", t).group(1))
    assert "Non-2xx" not in t, f"wrk saw error statuses:\n{t}"
    c_rps, c_ok, c_err = cb(f"cb1-{i}")
    w_cpu, c_cpu = cpu(f"wrk-{i}") / w_n * 1e6, cpu(f"cb1-{i}") / max(c_ok, 1) * 1e6
    print(f"{i:>4}  {w_rps:>9.0f}  {c_rps:>16.0f}  {c_rps / w_rps:>5.3f}   {w_cpu:>14.2f}  {c_cpu:>21.2f}  {c_cpu / w_cpu:>5.3f}"
          + (f"  ({c_err} errors)" if c_err else ""))
print()
for client, name in (("lean HTTP/2 client", "cb2"), ("the h2 crate's client (--http-client hyper)", "cb3")):
    print()
    print(f"HTTP/2 over TLS, 8 connections x 32 streams: h2load vs claimbench's {client}")
    print("pair  h2load req/s  claimbench req/s  ratio   h2load µs CPU/req  claimbench µs CPU/req  ratio")
    for i in range(1, pairs + 1):
        t = open(f"{out}/h2l-{i}.txt").read()
        h_rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", t).group(1))
        h_n = int(re.search(r"requests: \d+ total, \d+ started, (\d+) done", t).group(1))
        assert re.search(r"status codes: \d+ 2xx, 0 3xx, 0 4xx, 0 5xx", t), f"h2load saw error statuses:\n{t}"
        c_rps, c_ok, c_err = cb(f"{name}-{i}")
        h_cpu, c_cpu = cpu(f"h2l-{i}") / h_n * 1e6, cpu(f"{name}-{i}") / max(c_ok, 1) * 1e6
        print(f"{i:>4}  {h_rps:>12.0f}  {c_rps:>16.0f}  {c_rps / h_rps:>5.3f}   {h_cpu:>17.2f}  {c_cpu:>21.2f}  {c_cpu / h_cpu:>5.3f}"
              + (f"  ({c_err} errors)" if c_err else ""))
PY
