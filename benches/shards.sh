#!/usr/bin/env bash
# Scale-out on one host: N shards (bench --shard, one --start-at) against a
# single generator at the same total rate, both counted by the server.
#
#   benches/shards.sh [ROUNDS] [SECONDS] [RATE] [SHARDS]   (defaults: 3 10 2000 2)
#
# nginx (plain HTTP, one worker on CPU 1, a 13-byte file) writes one
# access-log line per request: that count is the independent truth. Each
# round runs the single generator, then the N shards together (all on
# CPU 0, one thread each, --allow-unsynced-clock: this VM's clock is not
# NTP-synchronised) and merges them. Printed per round: requests the server
# counted against the schedule's rate × duration, and p50/p99 of the single
# run against the merged shards.
# Needs: nginx (installed with apt-get when missing), a release build.
set -euo pipefail
ROUNDS=${1:-3}
SECS=${2:-10}
RATE=${3:-2000}
SHARDS=${4:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
if [ -z "${CB:-}" ]; then
  cargo build --release -q -p claimbench
  CB="$ROOT/target/release/claimbench"
fi
OUT=$(mktemp -d)
NPID=""
trap '[ -n "$NPID" ] && kill "$NPID" 2>/dev/null; rm -rf "$OUT"' EXIT
mkdir -p "$OUT/www" "$OUT/tmp"
printf 'Hello, World!' >"$OUT/www/hello.txt"
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
  access_log $OUT/access.log;
  client_body_temp_path $OUT/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$PORT;
    location / { root $OUT/www; }
  }
}
EOF
taskset -c 1 nginx -c "$OUT/nginx.conf" -e "$OUT/error.log" &
NPID=$!
URL="http://127.0.0.1:$PORT/hello.txt"
for _ in $(seq 50); do curl -sf "$URL" >/dev/null && break; sleep 0.1; done
count() { wc -l <"$OUT/access.log"; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, kernel $(uname -r)"
echo "claimbench: $("$CB" --version) ($(git rev-parse --short HEAD)); nginx $(nginx -v 2>&1 | cut -d/ -f2) on CPU 1; generators on CPU 0"
echo "open loop, $RATE req/s in total for ${SECS}s, 32 connections in total; $SHARDS shards vs one generator"
echo
COMMON=(-R "$RATE" -c 32 -d "${SECS}s" -t 1 --pin 0 -q)
for r in $(seq "$ROUNDS"); do
  before=$(count)
  "$CB" bench "$URL" "${COMMON[@]}" --json "$OUT/single-$r.json" >/dev/null
  single_seen=$(( $(count) - before ))
  before=$(count)
  at=$(( $(date +%s%3N) + 2000 ))
  pids=()
  for i in $(seq 0 $((SHARDS - 1))); do
    "$CB" bench "$URL" "${COMMON[@]}" --shard "$i/$SHARDS" --start-at "$at" \
      --allow-unsynced-clock --json "$OUT/shard-$r-$i.json" >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  "$CB" merge "$OUT"/shard-"$r"-*.json --json "$OUT/merged-$r.json" >/dev/null
  sharded_seen=$(( $(count) - before ))
  echo "$r $single_seen $sharded_seen" >>"$OUT/seen.txt"
done
python3 - "$OUT" "$ROUNDS" "$RATE" "$SECS" <<'PY'
import json, sys
out, rounds, rate, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
seen = {int(r): (int(a), int(b)) for r, a, b in (l.split() for l in open(f"{out}/seen.txt"))}
want = rate * secs
print("round  server saw: single  shards (schedule)   p50 ms: single  shards   p99 ms: single  shards   start skew ms")
for r in range(1, rounds + 1):
    s = json.load(open(f"{out}/single-{r}.json"))["measurements"][0]["load"]
    m = json.load(open(f"{out}/merged-{r}.json"))["measurements"][0]["load"]
    a, b = seen[r]
    print(f"{r:>5}  {a:>18} {b:>7} ({want:.0f})   {s['summary']['latency']['p50_us']/1e3:>14.3f} {m['summary']['latency']['p50_us']/1e3:>7.3f}"
          f"   {s['summary']['latency']['p99_us']/1e3:>14.3f} {m['summary']['latency']['p99_us']/1e3:>7.3f}"
          f"   {m['merged']['max_start_skew_ms']:>13.1f}")
PY
