#!/usr/bin/env bash
# Cold start of `omnibase sandbox run hello.py` (the sidecar as PID 1 and the
# audit log included) against a bare `runsc run` of an equivalent hand-made
# bundle (same mounts, limits and flags, python as PID 1), alternated
# in one run; prints the medians, the ratio, and the host memory (RSS) of the
# runsc processes of one sandbox. Needs root and runsc.
#
#   benchmarks/bench_runner.sh [OMNIBASE_BINARY] [ROUNDS]   (default: build-runner, 15)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
omnibase=${1:-$src/build-runner/cli/omnibase}
rounds=${2:-15}
. "$src/benchmarks/bench_lib.sh"
bench_setup bench_runner "$omnibase" /tmp/ob-bench-XXXXXX omnibase-bench

hello=$src/examples/hello.py
cat >"$work/caps.json" <<'CAPS'
{"version": 1, "grants": []}
CAPS

# The hand-made bundle: the config omnibase would write (from --dry-run), with
# its mount points made by hand and its own cgroup parent; runsc sets the limits.
"$omnibase" sandbox run "$hello" --capabilities "$work/caps.json" --dry-run 2>/dev/null \
    >"$work/plan.json"
"$src/benchmarks/bare_bundle.py" "$work/plan.json" "$work/bundle" --cgroup /omnibase-bench/bare

now_ms() { date +%s%3N; }
bare_run() {
    local id=bench-$1
    "$src/benchmarks/bare_bundle.py" --set-cgroup "$work/bundle/config.json" "/omnibase-bench/$id"
    local t0; t0=$(now_ms)
    runsc --root "$bare_root" --network=none --platform=ptrace run --bundle "$work/bundle" "$id" \
        >"$work/out" 2>&1 </dev/null
    echo $(( $(now_ms) - t0 ))
    grep -q "hello from the sandbox" "$work/out" || { echo "bare run failed:" >&2; cat "$work/out" >&2; exit 1; }
}
omni_run() {
    local t0; t0=$(now_ms)
    "$omnibase" sandbox run "$hello" --capabilities "$work/caps.json" >"$work/out" 2>&1 </dev/null
    echo $(( $(now_ms) - t0 ))
    grep -q "hello from the sandbox" "$work/out" || { echo "omnibase run failed:" >&2; cat "$work/out" >&2; exit 1; }
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# one warm-up each (page cache), then alternate
bare_run warm >/dev/null; omni_run >/dev/null
: >"$work/bare.ms"; : >"$work/omni.ms"
for i in $(seq 1 "$rounds"); do
    bare_run "$i" >>"$work/bare.ms"
    omni_run >>"$work/omni.ms"
done
bare=$(median <"$work/bare.ms"); omni=$(median <"$work/omni.ms")

# RSS of every host process of one sandbox, while it sleeps
rss_of() { # $1: a string its processes' command lines contain
    local total=0 pid kb
    for pid in $(grep -l -s -F -- "$1" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}
echo 'import time; print("up", flush=True); time.sleep(3)' >"$work/sleep.py"
"$omnibase" sandbox run "$work/sleep.py" --capabilities "$work/caps.json" >/dev/null 2>&1 &
runner=$!
sleep 1.5
omni_rss=$(rss_of "$OMNIBASE_STATE_DIR/runs/")
runner_rss=$(awk '/^VmRSS:/ {print $2}' /proc/$runner/status 2>/dev/null || echo 0)
wait $runner || true

printf 'cold start, python printing one line (%d alternated rounds, ms):\n' "$rounds"
printf '  bare runsc run (hand-made bundle)  median %s   all: %s\n' "$bare" "$(tr '\n' ' ' <"$work/bare.ms")"
printf '  omnibase sandbox run hello.py      median %s   all: %s\n' "$omni" "$(tr '\n' ' ' <"$work/omni.ms")"
awk -v o="$omni" -v b="$bare" 'BEGIN {printf "  ratio omnibase/bare               %.3f  (target <= 1.10)\n", o / b}'
# paired rounds ran back to back: the median of their differences is less
# sensitive to the host's load drifting during the run
paste "$work/omni.ms" "$work/bare.ms" | awk '{print $1 - $2}' | median |
    awk '{printf "  median paired overhead            %+.1f ms per run\n", $1}'
printf 'host load average during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'host memory of one sleeping sandbox: runsc processes %d KiB RSS, omnibase runner %d KiB\n' \
    "$omni_rss" "$runner_rss"
