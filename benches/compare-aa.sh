#!/usr/bin/env bash
# The CI gate's false-alarm and detection rates over a whole suite (the gate
# suite, scenarios/suites/gate.toml, by default), measured with the
# workflow's own procedure (.github/workflows/benchmark.yml): one duet run
# (`claimbench run --duet`: every measurement runs the baseline's target and
# the head's at the same time, on the same CPU, each in a CPU control group
# of its own, each loaded by its own generator), then
# `claimbench compare OUT/baseline OUT` with the workflow's settings.
#
# A/A: both sides are the same targets folder, so any exit 1 is a false
# alarm. The script does N comparisons and counts exit codes.
#
# With SLOW_TARGET=<target id> and SLOW_PCT=<p> (detection mode), every
# loop also runs a second duet: the head side from a copy of targets/
# (OUT/slow-targets: links to the real folders and installs) in which that
# target's start command first moves itself into a CPU group of weight
# 1/(1 + p/100) of the default (cgroup v2 `cpu.weight` 100 -> 91 at 10%, or
# cgroup v1 `cpu.shares` 1024 -> 931), a sibling of claimbench's own groups:
# while both sides want the CPU, the slowed side gets 1/(1 + p/100) of the
# other's CPU time, as a target whose code got p% slower would. Nothing
# polls the machine. An exit 1 of that comparison is a detection.
# Needs root and a writable cgroup CPU hierarchy.
#
# Usage: benches/compare-aa.sh [N]
# Environment (defaults in brackets):
#   N [10]  MAX_REGRESSION [the compare defaults]  REPETITIONS [the suite's]
#   SUITE [scenarios/suites/gate.toml; "quick" for `run --quick`]
#   SLOW_TARGET []  SLOW_PCT [10]
#   OUT [target/compare-aa/<utc time>]  NO_BUILD [0]
# Output: OUT/summary.txt (one line per comparison: exit code, counts) and
# every run and compare report under OUT/<i>/.
#
# A duet run of the gate suite takes about 3 minutes on the 2-CPU reference
# machine (24 measurements of two targets at once), so a loop takes 3
# minutes, 6 in detection mode. Do not run it while other builds or
# benchmarks use the machine (claimbench would measure those runs again as
# "host busy").
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${1:-${N:-10}}
SLOW_TARGET=${SLOW_TARGET:-}
SLOW_PCT=${SLOW_PCT:-10}
SUITE=${SUITE:-scenarios/suites/gate.toml}
if [ "$SUITE" = quick ]; then suite_args=(--quick); else suite_args=(--suite "$SUITE"); fi
[ -n "${REPETITIONS:-}" ] && suite_args+=(--repetitions "$REPETITIONS")
OUT=${OUT:-$ROOT/target/compare-aa/$(date -u +%Y%m%dT%H%M%SZ)}
CB=$ROOT/target/release/claimbench

if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release --locked --quiet
    "$CB" targets setup >/dev/null
fi
mkdir -p "$OUT"
summary=$OUT/summary.txt
: >"$summary"

# Detection mode: a CPU group of lower weight that the slow copy's target
# joins from its first instruction (its start command is wrapped).
slow_group=""
slow_targets=""
if [ -n "$SLOW_TARGET" ]; then
    folder=${SLOW_TARGET%%:*}
    if [ ! -f "targets/$folder/target.toml" ]; then
        echo "error: SLOW_TARGET=$SLOW_TARGET: no targets/$folder/target.toml" >&2
        exit 2
    fi
    if [ -f /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control; then
        slow_group=/sys/fs/cgroup/claimbench-slow-$$
        mkdir "$slow_group"
        weight=$(awk -v p="$SLOW_PCT" 'BEGIN { printf "%d", 100 * 100 / (100 + p) + 0.5 }')
        echo "$weight" >"$slow_group/cpu.weight"
        share="cpu.weight $weight (default 100)"
    elif [ -f /sys/fs/cgroup/cpu/cpu.shares ]; then
        slow_group=/sys/fs/cgroup/cpu/claimbench-slow-$$
        mkdir "$slow_group"
        weight=$(awk -v p="$SLOW_PCT" 'BEGIN { printf "%d", 1024 * 100 / (100 + p) + 0.5 }')
        echo "$weight" >"$slow_group/cpu.shares"
        share="cpu.shares $weight (default 1024)"
    else
        echo "error: no CPU controller (neither cgroup v2 cpu.weight nor v1 cpu.shares) to slow $SLOW_TARGET with" >&2
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
    echo "slowing $SLOW_TARGET on the slow side: $share ($slow_group), targets from $slow_targets"
fi

# One duet run into directory OUT: the head side from HEAD_TARGETS, the
# baseline from targets/.
run_duet() {
    local out=$1 head_targets=$2
    "$CB" run "${suite_args[@]}" --targets-dir "$head_targets" --duet "$ROOT/targets" \
        --no-report -q --out "$out" >"$out.log" 2>&1 || true
    test -s "$out/results.json" -a -s "$out/baseline/results.json" ||
        { echo "error: no results in $out (see $out.log)" >&2; exit 2; }
}

# Compares the two sides of duet run DIR with the workflow's settings;
# prints one summary line, returns compare's exit code.
compare_sides() {
    local dir=$1 label=$2 code=0 counts tests
    local args=()
    [ -n "${MAX_REGRESSION:-}" ] && args+=(--max-regression "$MAX_REGRESSION")
    "$CB" compare "$dir/baseline" "$dir" "${args[@]}" -q \
        --markdown "$dir/compare.md" --json "$dir/compare.json" || code=$?
    counts=$(jq -c '.counts' "$dir/compare.json" 2>/dev/null || echo '{}')
    tests=$(jq -r '.family.tests' "$dir/compare.json" 2>/dev/null || echo '?')
    echo "loop $i ($label): exit $code, $tests gated tests, counts $counts" | tee -a "$summary"
    return "$code"
}

false_alarms=0
detected=0
for i in $(seq 1 "$N"); do
    mkdir -p "$OUT/$i"
    echo "$i aa $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$OUT/order.txt"
    run_duet "$OUT/$i/aa" "$ROOT/targets"
    code=0
    compare_sides "$OUT/$i/aa" "A/A, same targets" || code=$?
    if [ "$code" = 1 ]; then false_alarms=$((false_alarms + 1)); fi
    if [ -n "$SLOW_TARGET" ]; then
        echo "$i slow $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$OUT/order.txt"
        run_duet "$OUT/$i/slow" "$slow_targets"
        code=0
        compare_sides "$OUT/$i/slow" "$SLOW_TARGET ${SLOW_PCT}% slower" || code=$?
        if [ "$code" = 1 ]; then detected=$((detected + 1)); fi
    fi
done
echo "false alarms (exit 1) on an unchanged build: $false_alarms of $N comparisons" | tee -a "$summary"
if [ -n "$SLOW_TARGET" ]; then
    echo "detected (exit 1) $SLOW_TARGET ${SLOW_PCT}% slower (CPU weight) in $detected of $N comparisons" | tee -a "$summary"
fi
