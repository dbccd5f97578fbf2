#!/usr/bin/env bash
# A/A calibration of the verdicts' minimum effect per metric.
#
#   benches/aa-calibration.sh [RESULTS_DIR]
#
# Runs scenarios/suites/aa-calibration.toml (each target against itself, 10 repetitions
# per scenario, restarted before each) unless RESULTS_DIR already holds its
# results, then splits each (target, scenario, level)'s repetitions into the
# odd and the even ones and computes, per metric, the ratio of the two
# halves' medians: what a verdict would call a difference between two
# identical stacks. Prints each ratio and, per metric, the largest
# |ratio - 1|: a minimum effect below it would let noise decide.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${1:-}
if [ -z "$OUT" ]; then
  cargo build --release -q -p claimbench
  OUT=$(mktemp -d)/aa
  target/release/claimbench run --suite scenarios/suites/aa-calibration.toml --out "$OUT" --no-report --quiet >/dev/null
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs; results: $OUT"
python3 - "$OUT/results.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
def metrics(m):
    s = m["load"]["summary"]
    out = {"throughput_rps": s["throughput_rps"], "p50_us": s["latency"]["p50_us"],
           "p99_us": s["latency"]["p99_us"], "ttfb_p99_us": s["ttfb"]["p99_us"]}
    if m.get("resources"):
        out["rss_peak_bytes"] = m["resources"]["rss_peak_bytes"]
    gap = m["load"].get("chunk_gap")
    return out
groups = {}
for m in r["measurements"]:
    if m.get("excluded"):
        continue
    key = (m["target"], m["scenario"], m["level"]["value"])
    groups.setdefault(key, []).append(m)
worst = {}
print("| target | scenario | level | n (odd, even) | " + " | ".join(["throughput", "p50", "p99", "ttfb p99", "RSS peak"]) + " |")
print("|---|---|---|---|---|---|---|---|---|")
for key, ms in sorted(groups.items()):
    ms.sort(key=lambda m: m["repetition"])
    odd = [metrics(m) for m in ms if m["repetition"] % 2 == 1]
    even = [metrics(m) for m in ms if m["repetition"] % 2 == 0]
    cells = []
    for name in ["throughput_rps", "p50_us", "p99_us", "ttfb_p99_us", "rss_peak_bytes"]:
        a = [x[name] for x in odd if name in x]
        b = [x[name] for x in even if name in x]
        if len(a) < 2 or len(b) < 2 or statistics.median(b) == 0:
            cells.append("")
            continue
        ratio = statistics.median(a) / statistics.median(b)
        dev = abs(ratio - 1)
        worst[name] = max(worst.get(name, 0), dev)
        cells.append(f"{ratio:.3f}")
    print(f"| {key[0]} | {key[1]} | {key[2]:g} | {len(odd)}, {len(even)} | " + " | ".join(cells) + " |")
print()
for name, dev in worst.items():
    print(f"largest A/A deviation, {name}: {dev * 100:.1f}%")
PY
