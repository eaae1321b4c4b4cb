#!/usr/bin/env bash
# Where a cold `omnibase sandbox run hello.py` spends its time, step by step
# (the runner's own timestamps: OMNIBASE_TIMING=1, no strace), against a bare
# `runsc run` of the equivalent hand-made bundle (python as PID 1, as in
# bench_runner.sh), alternated in one run; medians per step. With a second
# binary (BEFORE, e.g. a build of the previous commit), its whole run is
# timed in the same rounds too, for a before/after of the same minutes.
#
#   benchmarks/bench_cold_steps.sh [OMNIBASE] [ROUNDS] [BEFORE]   (default: build, 10)
#
# "process start and exit" is `omnibase --version` (exec, the dynamic
# loading of its libraries, exit): what the omnibase process costs before
# and after the steps the runner times. Needs root and runsc.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
omnibase=${1:-$src/build/cli/omnibase}
rounds=${2:-10}
before=${3:-}
[ -z "$before" ] || [ -x "$before" ] || { echo "bench_cold_steps: $before is not built" >&2; exit 1; }
. "$src/benchmarks/bench_lib.sh"
bench_setup bench_cold_steps "$omnibase" /tmp/ob-steps-XXXXXX omnibase-bench

hello=$src/examples/hello.py
echo '{"version": 1, "grants": []}' >"$work/caps.json"

# the bare bundle, as bench_runner.sh makes it
"$omnibase" sandbox run "$hello" --capabilities "$work/caps.json" --dry-run 2>/dev/null \
    >"$work/plan.json"
"$src/benchmarks/bare_bundle.py" "$work/plan.json" "$work/bundle" --cgroup /omnibase-bench/bare

now_us() { echo "${EPOCHREALTIME/./}"; }
ms_since() { echo $((($(now_us) - $1) / 1000)); }
bare_run() {
    local id=steps-$1 t0
    "$src/benchmarks/bare_bundle.py" --set-cgroup "$work/bundle/config.json" "/omnibase-bench/$id"
    t0=$(now_us)
    runsc --root "$bare_root" --network=none --platform=ptrace run --bundle "$work/bundle" "$id" \
        >"$work/out" 2>&1 </dev/null
    ms_since "$t0"
    grep -q "hello from the sandbox" "$work/out" || { echo "bare run failed:" >&2; cat "$work/out" >&2; exit 1; }
}
omni_run() { # $1: binary, $2: where its timing lines go
    local t0
    t0=$(now_us)
    OMNIBASE_TIMING=1 "$1" sandbox run "$hello" --capabilities "$work/caps.json" \
        >"$work/out" 2>"$work/err" </dev/null
    ms_since "$t0"
    grep -q "hello from the sandbox" "$work/out" || { echo "$1 run failed:" >&2; cat "$work/err" >&2; exit 1; }
    grep '^omnibase: timing: ' "$work/err" >>"$2" || true
}
start_run() {
    local t0
    t0=$(now_us)
    "$omnibase" --version >/dev/null
    echo $((($(now_us) - t0)))
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# warm-up (page cache; the library cache is made here, once)
bare_run warm >/dev/null
omni_run "$omnibase" /dev/null >/dev/null
[ -z "$before" ] || omni_run "$before" /dev/null >/dev/null
: >"$work/bare.ms"; : >"$work/omni.ms"; : >"$work/before.ms"; : >"$work/start.us"; : >"$work/steps"
# The binary that runs right after the bare run is ~15 ms slower than the
# one after it, whichever it is (measured by swapping them): with BEFORE the
# two take turns in that place.
for i in $(seq 1 "$rounds"); do
    bare_run "$i" >>"$work/bare.ms"
    if [ -n "$before" ] && [ $((i % 2)) -eq 0 ]; then
        omni_run "$before" /dev/null >>"$work/before.ms"
        omni_run "$omnibase" "$work/steps" >>"$work/omni.ms"
    else
        omni_run "$omnibase" "$work/steps" >>"$work/omni.ms"
        [ -z "$before" ] || omni_run "$before" /dev/null >>"$work/before.ms"
    fi
    start_run >>"$work/start.us"
done

printf 'cold start steps of `omnibase sandbox run hello.py` (%d alternated rounds; medians, ms):\n' "$rounds"
start=$(median <"$work/start.us")
awk -v s="$start" 'BEGIN {printf "  %-58s %8.2f\n", "process start and exit (omnibase --version)", s / 1000}'
# each step's median, in the order the run takes them
sed -E 's/^omnibase: timing: (.*): ([0-9.]+) ms$/\1\t\2/' "$work/steps" |
    awk -F'\t' '!($1 in seen) {seen[$1] = ++n; name[n] = $1} {v[$1] = v[$1] " " $2}
        END {for (i = 1; i <= n; i++) print name[i] "\t" v[name[i]]}' |
    while IFS=$'\t' read -r step values; do
        m=$(tr ' ' '\n' <<<"$values" | grep . | median)
        printf '  %-58s %8.2f\n' "$step" "$m"
    done | tee "$work/table"
awk '$1 != "sandbox:" {host += $NF} END {printf "  %-58s %8.2f\n", "sum of the runner'"'"'s own steps (all but sandbox:)", host}' \
    "$work/table"
bare=$(median <"$work/bare.ms"); omni=$(median <"$work/omni.ms")
printf '  %-58s %8s   all: %s\n' "whole omnibase run (wall)" "$omni" "$(tr '\n' ' ' <"$work/omni.ms")"
printf '  %-58s %8s   all: %s\n' "bare runsc run, python as PID 1 (wall)" "$bare" "$(tr '\n' ' ' <"$work/bare.ms")"
awk -v o="$omni" -v b="$bare" 'BEGIN {printf "  ratio omnibase/bare %.3f\n", o / b}'
if [ -n "$before" ]; then
    bef=$(median <"$work/before.ms")
    printf '  %-58s %8s   all: %s\n' "BEFORE: $before (wall)" "$bef" "$(tr '\n' ' ' <"$work/before.ms")"
    awk -v o="$bef" -v b="$bare" 'BEGIN {printf "  ratio before/bare %.3f\n", o / b}'
    paste "$work/before.ms" "$work/omni.ms" | awk '{print $1 - $2}' | median |
        awk '{printf "  median paired saving (before - now)  %+.1f ms per run\n", $1}'
fi
printf 'host load average during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
