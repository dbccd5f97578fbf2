#!/usr/bin/env bash
# False-alarm rate of `claimbench compare` on this machine.
#
# Runs PAIRS comparisons of the *identical* configuration against the Rust
# baseline target (targets/rust-hyper): for each pair, REPS `claimbench bench`
# runs per side, alternating sides (A B A B ...), merged per side by `compare`.
# Nothing changed between the sides, so every `regressed` verdict (exit 1) is a
# false alarm. Also counts `noisy` (interval straddles the threshold) verdicts.
# With SENSITIVITY=1, every pair's current side uses SLOW_ENDPOINT instead, and
# the script counts how many pairs were caught (`regressed`): the detection rate.
#
# Pinned: the generator on CPU $GEN_CPU, the target on CPU $TARGET_CPU.
# Load goes only to 127.0.0.1; every run is bounded by DURATION; the script
# stops the target it started (by PID) on exit.
#
# Usage: benches/compare-false-alarm.sh [PAIRS]
# Environment (defaults in brackets):
#   PAIRS [20]  REPS [3]  DURATION [2s]  WARMUP [0.5s]  CONNECTIONS [4]
#   ENDPOINT [/io/sleep?ms=5]  SLOW_ENDPOINT [/io/sleep?ms=6]  SENSITIVITY [0]
#   MAX_REGRESSION [5]  METRICS [throughput,p99]  PORT [18931]
#   GEN_CPU [0]  TARGET_CPU [1]  OUT [target/compare-false-alarm/<utc time>]
#   NO_BUILD [0]: set to 1 to skip `cargo build --release`.
#   CLAIMBENCH, TARGET_BIN: other binaries than target/release/{claimbench,
#   claimbench-target-hyper} (then also set NO_BUILD=1).
#
# Do not run it while other builds or benchmarks use the machine: they are the
# noise it would measure.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PAIRS=${1:-${PAIRS:-20}}
REPS=${REPS:-3}
DURATION=${DURATION:-2s}
WARMUP=${WARMUP:-0.5s}
CONNECTIONS=${CONNECTIONS:-4}
ENDPOINT=${ENDPOINT:-/io/sleep?ms=5}
SLOW_ENDPOINT=${SLOW_ENDPOINT:-/io/sleep?ms=6}
SENSITIVITY=${SENSITIVITY:-0}
MAX_REGRESSION=${MAX_REGRESSION:-5}
METRICS=${METRICS:-throughput,p99}
PORT=${PORT:-18931}
GEN_CPU=${GEN_CPU:-0}
TARGET_CPU=${TARGET_CPU:-1}
OUT=${OUT:-$ROOT/target/compare-false-alarm/$(date -u +%Y%m%dT%H%M%SZ)}
CB=${CLAIMBENCH:-$ROOT/target/release/claimbench}
TARGET_BIN=${TARGET_BIN:-$ROOT/target/release/claimbench-target-hyper}

for tool in jq curl taskset; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 2; }
done
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet -p claimbench -p claimbench-target-hyper
fi
[ -x "$CB" ] && [ -x "$TARGET_BIN" ] || { echo "error: build $CB and $TARGET_BIN first" >&2; exit 2; }
mkdir -p "$OUT"

# The target, pinned, one worker thread; stopped by PID on exit.
WORKERS=1 taskset -c "$TARGET_CPU" "$TARGET_BIN" --host 127.0.0.1 --port "$PORT" \
    >"$OUT/target.log" 2>&1 &
TARGET_PID=$!
trap 'kill "$TARGET_PID" 2>/dev/null || true; wait "$TARGET_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    kill -0 "$TARGET_PID" 2>/dev/null || { echo "error: the target exited; see $OUT/target.log" >&2; exit 2; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null || { echo "error: target not ready on port $PORT" >&2; exit 2; }

bench() { # FILE PATH
    taskset -c "$GEN_CPU" "$CB" bench "http://127.0.0.1:$PORT$2" \
        -c "$CONNECTIONS" -d "$DURATION" --warmup "$WARMUP" -t 1 --pin "$GEN_CPU" \
        -q --json "$1" >>"$OUT/bench.log" 2>&1
}

current_endpoint=$ENDPOINT
[ "$SENSITIVITY" = 1 ] && current_endpoint=$SLOW_ENDPOINT
echo "pairs=$PAIRS reps=$REPS duration=$DURATION c=$CONNECTIONS baseline=$ENDPOINT current=$current_endpoint" \
     "threshold=$MAX_REGRESSION% metrics=$METRICS generator-cpu=$GEN_CPU target-cpu=$TARGET_CPU"
echo "output: $OUT"

regressed=0 noisy=0 improved=0 unchanged=0 other=0
for pair in $(seq 1 "$PAIRS"); do
    base=() cur=()
    for rep in $(seq 1 "$REPS"); do
        b="$OUT/p$pair-base-$rep.json" c="$OUT/p$pair-cur-$rep.json"
        bench "$b" "$ENDPOINT"
        bench "$c" "$current_endpoint"
        if [ "$SENSITIVITY" = 1 ]; then
            # Different paths are different scenarios to `compare`: relabel
            # the slow side so the two pair up.
            jq --arg s "bench http://127.0.0.1:$PORT$ENDPOINT" \
                '.measurements |= map(.scenario = $s)' "$c" >"$c.tmp" && mv "$c.tmp" "$c"
        fi
        base+=("$b") cur+=("$c")
    done
    set +e
    "$CB" compare "$(IFS=,; echo "${base[*]}")" "$(IFS=,; echo "${cur[*]}")" \
        --max-regression "$MAX_REGRESSION" --metrics "$METRICS" \
        --json "$OUT/p$pair-compare.json" >"$OUT/p$pair-compare.txt" 2>&1
    code=$?
    set -e
    if [ "$code" -ge 2 ]; then
        echo "error: compare failed on pair $pair:" >&2
        cat "$OUT/p$pair-compare.txt" >&2
        exit 2
    fi
    verdict=$(jq -r '.measurements[0].verdict // "not-compared"' "$OUT/p$pair-compare.json")
    summary=$(jq -r '.measurements[0].metrics[]
        | select(.ratio != null)
        | "\(.metric) \(((.ratio.ratio - 1) * 1000 | round) / 10)% [\(((.ratio.low - 1) * 1000 | round) / 10), \(((.ratio.high // 1e9) - 1) * 1000 | round / 10)]"' \
        "$OUT/p$pair-compare.json" | paste -sd';' -)
    case $verdict in
        regressed) regressed=$((regressed + 1)) ;;
        noisy) noisy=$((noisy + 1)) ;;
        improved) improved=$((improved + 1)) ;;
        unchanged) unchanged=$((unchanged + 1)) ;;
        *) other=$((other + 1)) ;;
    esac
    printf 'pair %3d: %-10s exit %d  %s\n' "$pair" "$verdict" "$code" "$summary"
done

{
    echo "claimbench compare, $PAIRS pairs of $REPS x $DURATION bench runs per side, c=$CONNECTIONS"
    echo "baseline $ENDPOINT, current $current_endpoint, threshold $MAX_REGRESSION%, gated on $METRICS"
    echo "host: $(jq -r '.host.cpu_model + ", " + (.host.logical_cpus|tostring) + " CPUs"' "$OUT/p1-base-1.json"), generator CPU $GEN_CPU, target CPU $TARGET_CPU"
    echo "verdicts: regressed $regressed, noisy $noisy, improved $improved, unchanged $unchanged, other $other"
    if [ "$SENSITIVITY" = 1 ]; then
        echo "detection rate (regressed): $regressed/$PAIRS"
    else
        echo "false alarms (regressed): $regressed/$PAIRS; noisy: $noisy/$PAIRS"
    fi
} | tee "$OUT/summary.txt"
