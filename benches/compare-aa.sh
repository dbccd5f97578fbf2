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
# With SLOW_TARGET=<target id> and SLOW_PCT=<p> (detection mode), every
# round runs a third side, "slow": the same build with that target given
# 1/(1 + p/100) of one CPU, so a target that is CPU-bound is p% slower.
# The kernel's CFS bandwidth control does it (cgroup v2 `cpu.max`, or
# cgroup v1 `cpu.cfs_quota_us` where only v1's CPU controller is mounted,
# as on the reference machine), with a short period (a 10 ms quota per
# 11 ms at 10%) so the target runs slower evenly instead of stalling at
# the end of each 100 ms. The slow side runs from a copy of targets/
# (OUT/slow-targets: links to the real folders and installs) in which that
# target's start command first moves itself into the cgroup: the throttle
# holds from the target's first instruction, and nothing polls the machine.
# Each loop then gives two comparisons of the workflow's settings: base
# against head (A/A: an exit 1 is a false alarm) and base against slow (an
# exit 1 is a detection). The order alternates (odd rounds base, head,
# slow; even rounds slow, head, base), so each pair is in ABBA order.
# Needs root and a writable /sys/fs/cgroup.
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
# Each loop takes ROUNDS x 2 runs of the suite, ROUNDS x 3 in detection
# mode (the gate suite: about 47 s a run on the 2-CPU reference machine, so
# 8 minutes a loop with the defaults, 12 in detection mode; the quick
# suite: 2.5 minutes a run). Do not run it
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
slow_targets=""
if [ -n "$SLOW_TARGET" ]; then
    folder=${SLOW_TARGET%%:*}
    if [ ! -f "targets/$folder/target.toml" ]; then
        echo "error: SLOW_TARGET=$SLOW_TARGET: no targets/$folder/target.toml" >&2
        exit 2
    fi
    # The kernel's smallest quota is 1 ms; a 10 ms quota keeps the period
    # short (11 ms at 10%) and the ratio exact.
    quota=10000
    period=$(awk -v p="$SLOW_PCT" -v q="$quota" 'BEGIN { printf "%d", q * (1 + p / 100) }')
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

    slow_targets=$OUT/slow-targets
    rm -rf "$slow_targets"
    mkdir -p "$slow_targets/$folder"
    for t in "$ROOT"/targets/*; do
        [ "$(basename "$t")" = "$folder" ] || ln -s "$t" "$slow_targets/"
    done
    for f in "$ROOT/targets/$folder"/* "$ROOT/targets/$folder"/.setup-stamp; do
        if [ -e "$f" ] && [ "$(basename "$f")" != target.toml ]; then
            ln -s "$f" "$slow_targets/$folder/"
        fi
    done
    # The [start] command behind a shell that joins the cgroup and execs it
    # (same PID: claimbench supervises and samples it as usual).
    python3 - "$ROOT/targets/$folder/target.toml" "$slow_group/cgroup.procs" \
        >"$slow_targets/$folder/target.toml" <<'PY'
import json, re, sys
text, procs = open(sys.argv[1]).read(), sys.argv[2]
line = re.compile(r"^command = (\[.*\])$", re.M).search(text, text.index("\n[start]"))
wrapped = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', procs] + json.loads(line.group(1))
print(text[: line.start(1)] + json.dumps(wrapped) + text[line.end(1) :], end="")
PY
    echo "slowing $SLOW_TARGET on the slow side: quota $quota us per $period us ($slow_group), targets from $slow_targets"
fi

# Runs the suite for one side into OUT; the slow side from slow_targets.
run_side() {
    local side=$1 out=$2 dir_args=()
    if [ "$side" = slow ]; then dir_args=(--targets-dir "$slow_targets"); fi
    "$CB" run "${suite_args[@]}" "${dir_args[@]}" --no-report -q --out "$out" >"$out.log" 2>&1 || true
    test -s "$out/results.json" || { echo "error: no results in $out (see $out.log)" >&2; exit 2; }
}

# Compares the base side of loop directory DIR with side OTHER, with the
# workflow's settings; prints one summary line, returns compare's exit code.
compare_sides() {
    local dir=$1 other=$2 label=$3 code=0 counts tests
    local args=()
    [ -n "${MAX_REGRESSION:-}" ] && args+=(--max-regression "$MAX_REGRESSION")
    "$CB" compare "$(list "$dir" base)" "$(list "$dir" "$other")" "${args[@]}" -q \
        --markdown "$dir/compare-$other.md" --json "$dir/compare-$other.json" || code=$?
    counts=$(jq -c '.counts' "$dir/compare-$other.json" 2>/dev/null || echo '{}')
    tests=$(jq -r '.family.tests' "$dir/compare-$other.json" 2>/dev/null || echo '?')
    echo "loop $i ($label): exit $code, $tests gated tests, counts $counts" | tee -a "$summary"
    return "$code"
}
# The runs of one side of loop directory DIR, in round order, comma-separated.
list() { for r in $(seq 1 "$ROUNDS"); do printf '%s,' "$1/$2-$r"; done | sed 's/,$//'; }

sides="base head"
[ -n "$SLOW_TARGET" ] && sides="base head slow"
reversed=$(tr ' ' '\n' <<<"$sides" | tac | paste -sd' ' -)
false_alarms=0
detected=0
for i in $(seq 1 "$N"); do
    dir=$OUT/$i
    mkdir -p "$dir"
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then order=$sides; else order=$reversed; fi
        for side in $order; do
            echo "$i $round $side $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$OUT/order.txt"
            run_side "$side" "$dir/$side-$round"
        done
    done
    code=0
    compare_sides "$dir" head "A/A, same build" || code=$?
    if [ "$code" = 1 ]; then false_alarms=$((false_alarms + 1)); fi
    if [ -n "$SLOW_TARGET" ]; then
        code=0
        compare_sides "$dir" slow "$SLOW_TARGET ${SLOW_PCT}% slower" || code=$?
        if [ "$code" = 1 ]; then detected=$((detected + 1)); fi
    fi
done
echo "false alarms (exit 1) on an unchanged build: $false_alarms of $N comparisons" | tee -a "$summary"
if [ -n "$SLOW_TARGET" ]; then
    echo "detected (exit 1) $SLOW_TARGET ${SLOW_PCT}% slower (CPU quota) in $detected of $N comparisons" | tee -a "$summary"
fi
