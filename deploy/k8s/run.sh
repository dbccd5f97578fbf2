#!/usr/bin/env bash
# One sharded claimbench run on Kubernetes (docs/scale-out.md): picks
# START_AT = now + LEAD, runs the shards as an Indexed Job (job.yaml), merges
# them (merge-job.yaml) and copies the run's directory (every shard-<i>.json
# and merged.json) to OUT.
#
#   SHARDS=4 TARGET_URL=http://sut.bench.svc:8080/ RATE=20000 DURATION=60 \
#   IMAGE=registry.example/claimbench:TAG STORAGE_CLASS=nfs-client \
#     deploy/k8s/run.sh
#
# Required: SHARDS, TARGET_URL, DURATION (whole seconds), IMAGE, and
#   STORAGE_CLASS (an RWX-capable class) when the claim PVC_NAME does not
#   exist yet.
# Load: RATE (requests/s over all shards: open loop, striped) or none (closed
#   loop); CONNECTIONS (default 50, bench's: concurrency, or the pool's cap in
#   open loop; split over the shards); WARMUP (whole seconds, default 0).
# Run: LEAD (seconds from now to START_AT, default 60: it must cover
#   scheduling and the image pull on every node, or shards exit 3),
#   START_TOLERANCE (default 500ms), RUN_ID (default: time + random),
#   THRESHOLDS (`;`-separated, judged on the merged result, e.g.
#   'p99<50ms;error_rate<1%'), OUT (default ./claimbench-RUN_ID).
# Cluster: NAMESPACE (default: the context's), CPU and MEMORY per shard
#   (default 2 and 1Gi; requests == limits), SUT_NAME (the target pods'
#   app.kubernetes.io/name label, kept off the shards' nodes; default sut),
#   PVC_NAME (default claimbench-results), STORAGE (default 1Gi),
#   DEADLINE_SLACK (seconds after the measured window before the Job is
#   killed, default 300), MERGE_DEADLINE_SECONDS (default 600).
# RENDER_ONLY=DIR writes the rendered manifests to DIR and touches no cluster
#   (the deploy test validates them this way).
#
# Exit codes: 0 merged and every threshold held; 1 a threshold broken on the
# merged result; 2 bad input, or merge refused the set; 3 a shard missed
# START_AT (it sent nothing; the Job was failed at once); 4 the shard Job
# failed otherwise, or a wait timed out.
#
# START_AT comes from this machine's clock, the shards compare it with their
# nodes' clocks: all of them must be NTP-synchronised.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

die() {
  echo "error: $*" >&2
  exit 2
}

# No leading zeros: bash arithmetic would read 08 as octal.
uint() { [[ $2 =~ ^(0|[1-9][0-9]*)$ ]] || die "$1 must be a whole number, not '$2'"; }
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a whole number > 0, not '$2'"; }

[ -n "${SHARDS:-}" ] || die "set SHARDS (the number of shards)"
[ -n "${TARGET_URL:-}" ] || die "set TARGET_URL"
[ -n "${DURATION:-}" ] || die "set DURATION (whole seconds)"
[ -n "${IMAGE:-}" ] || die "set IMAGE (built from deploy/Dockerfile)"
RATE=${RATE:-}
CONNECTIONS=${CONNECTIONS:-50}
WARMUP=${WARMUP:-0}
LEAD=${LEAD:-60}
START_TOLERANCE=${START_TOLERANCE:-500ms}
THRESHOLDS=${THRESHOLDS:-}
NAMESPACE=${NAMESPACE:-}
CPU=${CPU:-2}
MEMORY=${MEMORY:-1Gi}
SUT_NAME=${SUT_NAME:-sut}
PVC_NAME=${PVC_NAME:-claimbench-results}
STORAGE_CLASS=${STORAGE_CLASS:-}
STORAGE=${STORAGE:-1Gi}
DEADLINE_SLACK=${DEADLINE_SLACK:-300}
MERGE_DEADLINE_SECONDS=${MERGE_DEADLINE_SECONDS:-600}
RENDER_ONLY=${RENDER_ONLY:-}
POLL=5

posint SHARDS "$SHARDS"
posint DURATION "$DURATION"
posint CONNECTIONS "$CONNECTIONS"
posint LEAD "$LEAD"
uint WARMUP "$WARMUP"
uint DEADLINE_SLACK "$DEADLINE_SLACK"
posint MERGE_DEADLINE_SECONDS "$MERGE_DEADLINE_SECONDS"
if [ -n "$RATE" ] && ! [[ $RATE =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  die "RATE must be a number of requests per second, not '$RATE'"
fi
# run.sh's own late-start check needs the tolerance in ms.
case $START_TOLERANCE in
  *ms) tolerance_ms=${START_TOLERANCE%ms} ;;
  *s) tolerance_ms=${START_TOLERANCE%s}000 ;;
  *) die "START_TOLERANCE must be whole ms or s (500ms, 2s), not '$START_TOLERANCE'" ;;
esac
uint START_TOLERANCE "$tolerance_ms"

if [ -z "${RUN_ID:-}" ]; then
  RUN_ID="$(date -u +%Y%m%d-%H%M%S)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
fi
# It names the Jobs and labels their pods: a DNS label, with room for the
# `claimbench-merge-` prefix and the pods' `-<index>-<suffix>`.
[[ $RUN_ID =~ ^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$ ]] \
  || die "RUN_ID must be lowercase letters, digits and '-', at most 32 characters: '$RUN_ID'"
OUT=${OUT:-./claimbench-$RUN_ID}

start_epoch=$(( $(date +%s) + LEAD ))
START_AT=$(date -u -d "@$start_epoch" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null \
  || date -u -r "$start_epoch" +%Y-%m-%dT%H:%M:%SZ)
# The Job is killed this long after it is created; it counts from about now.
DEADLINE_SECONDS=$(( LEAD + WARMUP + DURATION + DEADLINE_SLACK ))

# Only these placeholders are replaced: the merge Job's shell script keeps
# its own `$` words.
# shellcheck disable=SC2016
TEMPLATE_VARS='${RUN_ID} ${SHARDS} ${TARGET_URL} ${RATE} ${CONNECTIONS} ${WARMUP} ${DURATION} ${START_AT} ${START_TOLERANCE} ${THRESHOLDS} ${IMAGE} ${CPU} ${MEMORY} ${SUT_NAME} ${PVC_NAME} ${STORAGE_CLASS} ${STORAGE} ${DEADLINE_SECONDS} ${MERGE_DEADLINE_SECONDS}'
export RUN_ID SHARDS TARGET_URL RATE CONNECTIONS WARMUP DURATION START_AT \
  START_TOLERANCE THRESHOLDS IMAGE CPU MEMORY SUT_NAME PVC_NAME STORAGE_CLASS \
  STORAGE DEADLINE_SECONDS MERGE_DEADLINE_SECONDS

# The values land inside double-quoted YAML strings.
for name in TARGET_URL THRESHOLDS IMAGE CPU MEMORY SUT_NAME PVC_NAME STORAGE_CLASS STORAGE; do
  value=${!name}
  [[ $value != *[\"\\]* && $value != *$'\n'* ]] \
    || die "$name must not contain a double quote, a backslash or a newline"
done
command -v envsubst >/dev/null 2>&1 \
  || die "envsubst is missing (Debian/Ubuntu: apt-get install gettext-base)"

render() {
  local text
  text=$(envsubst "$TEMPLATE_VARS" < "$here/$1")
  if [ -z "$RATE" ]; then
    # Closed loop: no --rate.
    text=$(sed '/#open-loop$/d' <<< "$text")
  fi
  printf '%s\n' "$text"
}

if [ -n "$RENDER_ONLY" ]; then
  mkdir -p "$RENDER_ONLY"
  for f in pvc.yaml job.yaml merge-job.yaml fetch-pod.yaml; do
    render "$f" > "$RENDER_ONLY/$f"
  done
  echo "rendered run $RUN_ID (START_AT $START_AT) into $RENDER_ONLY"
  exit 0
fi

command -v kubectl >/dev/null 2>&1 || die "kubectl is missing"
kc=(kubectl)
if [ -n "$NAMESPACE" ]; then
  kc+=(--namespace "$NAMESPACE")
fi

job=claimbench-$RUN_ID
merge_job=claimbench-merge-$RUN_ID
fetch_pod=claimbench-fetch-$RUN_ID

# Space-separated types of the Job's true conditions (Complete, Failed, ...).
conditions() {
  "${kc[@]}" get job "$1" -o jsonpath='{.status.conditions[?(@.status=="True")].type}'
}

# Index, exit code and termination message of each of the Job's pods.
pod_exits() {
  "${kc[@]}" get pods -l "job-name=$1" -o jsonpath='{range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}{"\t"}{.status.containerStatuses[0].state.terminated.exitCode}{"\t"}{.status.containerStatuses[0].state.terminated.message}{"\n"}{end}'
}

# Waits until the Job is Complete (returns 0) or Failed (returns 1). With
# `shards` as second argument, also stops the run when a shard is not
# running at START_AT + tolerance: Kubernetes does not gang-schedule, and a
# pod that is still Pending (no node, image pull) can only exit 3 later,
# while the others load the target for nothing.
wait_job() {
  local name=$1 check_start=${2:-} limit=$3 now phases running
  while :; do
    case " $(conditions "$name") " in
      *" Complete "*) return 0 ;;
      *" Failed "*) return 1 ;;
    esac
    now=$(date +%s)
    if [ "$now" -gt "$limit" ]; then
      echo "error: $name has not finished by its deadline" >&2
      exit 4
    fi
    if [ -n "$check_start" ] && [ $(( now * 1000 )) -gt $(( start_epoch * 1000 + tolerance_ms + POLL * 1000 )) ]; then
      phases=$("${kc[@]}" get pods -l "job-name=$name" -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' || true)
      running=$(grep -cE '^(Running|Succeeded|Failed)$' <<< "$phases" || true)
      if [ "$running" -lt "$SHARDS" ]; then
        echo "error: only $running of $SHARDS shard pods had started at $START_AT + $START_TOLERANCE; deleting $job (raise LEAD, or check nodes, anti-affinity and the image pull)" >&2
        "${kc[@]}" get pods -l "job-name=$name" -o wide >&2 || true
        "${kc[@]}" delete job "$name" --wait=false >&2 || true
        exit 3
      fi
      check_start=
    fi
    sleep "$POLL"
  done
}

# Ctrl-C during the run stops the load: the shards are deleted with the Job.
# shellcheck disable=SC2317 # called by the trap
interrupted() {
  echo "interrupted: deleting $job and $fetch_pod" >&2
  "${kc[@]}" delete job "$job" --wait=false >&2 || true
  "${kc[@]}" delete pod "$fetch_pod" --wait=false --ignore-not-found >&2 || true
  exit 130
}
trap interrupted INT TERM

if ! "${kc[@]}" get pvc "$PVC_NAME" >/dev/null 2>&1; then
  [ -n "$STORAGE_CLASS" ] \
    || die "the claim $PVC_NAME does not exist: set STORAGE_CLASS to a ReadWriteMany-capable class to create it"
  render pvc.yaml | "${kc[@]}" apply -f -
fi

echo "run $RUN_ID: $SHARDS shards start at $START_AT (in ${LEAD}s)"
render job.yaml | "${kc[@]}" apply -f -
if ! wait_job "$job" shards $(( $(date +%s) + DEADLINE_SECONDS + 60 )); then
  echo "error: the shard Job $job failed:" >&2
  "${kc[@]}" get job "$job" -o jsonpath='{range .status.conditions[?(@.type=="Failed")]}{.reason}: {.message}{"\n"}{end}' >&2 || true
  exits=$(pod_exits "$job" || true)
  printf 'index\texit\tmessage\n%s\n' "$exits" >&2
  if cut -f2 <<< "$exits" | grep -qx 3; then
    echo "a shard missed START_AT and sent nothing (exit 3): raise LEAD" >&2
    exit 3
  fi
  exit 4
fi
echo "shards done; merging"

render merge-job.yaml | "${kc[@]}" apply -f -
merge_status=0
wait_job "$merge_job" "" $(( $(date +%s) + MERGE_DEADLINE_SECONDS + 60 )) || merge_status=$?
merge_exit=$(pod_exits "$merge_job" | cut -f2 | head -n 1 || true)
"${kc[@]}" logs "job/$merge_job" >&2 || true

# Copy the run's directory out, whatever merge said: a broken threshold
# still wrote merged.json, and the shards' files explain a refusal.
trap '"${kc[@]}" delete pod "$fetch_pod" --wait=false --ignore-not-found >/dev/null 2>&1 || true' EXIT
render fetch-pod.yaml | "${kc[@]}" apply -f -
"${kc[@]}" wait --for=condition=Ready "pod/$fetch_pod" --timeout="${MERGE_DEADLINE_SECONDS}s" >/dev/null
"${kc[@]}" cp -c fetch "$fetch_pod:/results" "$OUT"
echo "results in $OUT (merged.json and shard-<i>.json); clean up with: kubectl delete job -l claimbench/run-id=$RUN_ID"

if [ "$merge_status" -eq 0 ]; then
  exit 0
fi
case $merge_exit in
  1 | 2) exit "$merge_exit" ;;
  *)
    echo "error: the merge Job $merge_job failed (exit '${merge_exit}')" >&2
    exit 4
    ;;
esac
