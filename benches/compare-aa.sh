#!/usr/bin/env bash
# The CI gate's false-alarm rate over a whole suite (the gate suite,
# scenarios/suites/gate.toml, by default), measured with the workflow's own
# loop (.github/workflows/benchmark.yml).
#
# One comparison = ROUNDS rounds of `claimbench run --suite SUITE`, each round
# running the "base" and the "head" side once, in ABBA order (odd rounds base
# first, even rounds head first), then `claimbench compare base1,.. head1,..`
# with the workflow's settings. Both sides are the SAME build, so any exit 1
# is a false alarm. The script does N comparisons and counts exit codes.
#
# With SLOW_TARGET=<target id> and SLOW_PCT=<p> (detection mode), the head
# side measures that target with p% more CPU work per request: its process
# group gets a CPU quota of 100/(1 + p/100)% of one CPU through the kernel's
# CFS bandwidth control (cgroup v2 `cpu.max`, or cgroup v1
# `cpu.cfs_quota_us` where only v1's CPU controller is mounted, as on the
# reference machine), so a target that is CPU-bound is p% slower; every exit
# 1 is then a detection. Needs root and a writable /sys/fs/cgroup.
#
# Usage: benches/compare-aa.sh [N]
# Environment (defaults in brackets):
#   N [10]  ROUNDS [5]  MAX_REGRESSION [the compare defaults]
#   SUITE [scenarios/suites/gate.toml; "quick" for `run --quick`]
#   SLOW_TARGET []  SLOW_PCT [10]
#   OUT [target/compare-aa/<utc time>]  NO_BUILD [0]
# Output: OUT/summary.txt (one line per comparison: exit code, counts) and
# every run and compare report under OUT/<i>/.
#
# Each comparison takes ROUNDS x 2 runs of the suite (the gate suite: about
# 1 minute each on the 2-CPU reference machine, so 10 to 11 minutes with the
# defaults; the quick suite: 2.5 minutes, 25 minutes). Do not run it
# while other builds or benchmarks use the machine (claimbench would measure
# those runs again as "host busy", and the point is the gate's own noise).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${1:-${N:-10}}
ROUNDS=${ROUNDS:-5}
SLOW_TARGET=${SLOW_TARGET:-}
SLOW_PCT=${SLOW_PCT:-10}
SUITE=${SUITE:-scenarios/suites/gate.toml}
if [ "$SUITE" = quick ]; then suite_args=(--quick); else suite_args=(--suite "$SUITE"); fi
OUT=${OUT:-$ROOT/target/compare-aa/$(date -u +%Y%m%dT%H%M%SZ)}
CB=$ROOT/target/release/claimbench

if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release --locked --quiet
    "$CB" targets setup >/dev/null
fi
mkdir -p "$OUT"
summary=$OUT/summary.txt
: >"$summary"

# Detection mode: a cgroup with a CPU quota that the head side's slow target
# is moved into as soon as its processes appear (polled every 50 ms while the
# run goes on; the quota is per period, so it binds while the target works).
slow_group=""
if [ -n "$SLOW_TARGET" ]; then
    period=100000
    quota=$(awk -v p="$SLOW_PCT" -v per="$period" 'BEGIN { printf "%d", per / (1 + p / 100) }')
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        slow_group=/sys/fs/cgroup/claimbench-slow-$$
        mkdir "$slow_group"
        echo "$quota $period" >"$slow_group/cpu.max"
    elif [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        slow_group=/sys/fs/cgroup/cpu/claimbench-slow-$$
        mkdir "$slow_group"
        echo "$period" >"$slow_group/cpu.cfs_period_us"
        echo "$quota" >"$slow_group/cpu.cfs_quota_us"
    else
        echo "error: no CFS bandwidth control (neither cgroup v2 cpu.max nor v1 cpu.cfs_quota_us) to slow $SLOW_TARGET with" >&2
        exit 2
    fi
    trap 'rmdir "$slow_group" 2>/dev/null || true' EXIT
    echo "slowing $SLOW_TARGET on the head side: quota $quota us per $period us ($slow_group)"
fi

# Runs the suite for one side; in detection mode the head side's slow
# target is throttled.
run_side() {
    local side=$1 out=$2
    if [ -n "$slow_group" ] && [ "$side" = head ]; then
        "$CB" run "${suite_args[@]}" --no-report -q --out "$out" >"$out.log" 2>&1 &
        local run_pid=$!
        local folder=${SLOW_TARGET%%:*}
        while kill -0 "$run_pid" 2>/dev/null; do
            # Processes running in the slow target's folder (a target's
            # command may be relative to it, e.g. node_modules/.../node, so
            # the working directory tells, not the command line). Every
            # 0.2 s: the 2 s warm-up absorbs the delay, and a faster poll
            # would show on the host check as another process's CPU.
            for pid in $(pgrep -f "$folder|node_modules|\.venv" || true); do
                case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
                "$ROOT/targets/$folder" | "$ROOT/targets/$folder/"*)
                    echo "$pid" >"$slow_group/cgroup.procs" 2>/dev/null || true
                    ;;
                esac
            done
            sleep 0.2
        done
        wait "$run_pid" || true
    else
        "$CB" run "${suite_args[@]}" --no-report -q --out "$out" >"$out.log" 2>&1 || true
    fi
    test -s "$out/results.json" || { echo "error: no results in $out (see $out.log)" >&2; exit 2; }
}

regressed=0
for i in $(seq 1 "$N"); do
    dir=$OUT/$i
    mkdir -p "$dir"
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then order="base head"; else order="head base"; fi
        for side in $order; do
            run_side "$side" "$dir/$side-$round"
        done
    done
    list() { for r in $(seq 1 "$ROUNDS"); do printf '%s,' "$dir/$1-$r"; done | sed 's/,$//'; }
    args=()
    [ -n "${MAX_REGRESSION:-}" ] && args+=(--max-regression "$MAX_REGRESSION")
    code=0
    "$CB" compare "$(list base)" "$(list head)" "${args[@]}" -q \
        --markdown "$dir/compare.md" --json "$dir/compare.json" || code=$?
    counts=$(jq -c '.counts' "$dir/compare.json" 2>/dev/null || echo '{}')
    tests=$(jq -r '.family.tests' "$dir/compare.json" 2>/dev/null || echo '?')
    echo "comparison $i: exit $code, $tests gated tests, counts $counts" | tee -a "$summary"
    [ "$code" = 1 ] && regressed=$((regressed + 1))
done
if [ -n "$SLOW_TARGET" ]; then
    echo "detected (exit 1) a ${SLOW_PCT}% CPU throttle of $SLOW_TARGET in $regressed of $N comparisons" | tee -a "$summary"
else
    echo "false alarms (exit 1) on an unchanged build: $regressed of $N comparisons" | tee -a "$summary"
fi
