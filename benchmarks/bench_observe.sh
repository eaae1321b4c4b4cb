#!/usr/bin/env bash
# Observation cost (issue 13 §2): in one run, alternated per round,
#   (a) a bare `runsc run` of omnibase's own plan (bare_bundle.py: python as
#       PID 1, no sidecar), nothing observing;
#   (b) the same bare `runsc run` with gVisor's runtime monitoring
#       (`--pod-init-config`): the trace points of every syscall the sidecar
#       traps as path- or address-bearing (benchmarks/observe/points.txt),
#       sent by the sentry to benchmarks/observe/observe_sink over a
#       SOCK_SEQPACKET socket, counted there;
#   (c) `omnibase sandbox run` (the sidecar's seccomp + ptrace, the runner,
#       the audit log);
# on two workloads: importing 100 standard-library modules (`python3 -c`,
# the list of benchmarks/bench_sidecar.sh) and a stat/open-heavy loop (5,000
# stat + open + close of the files of /usr/lib/python3.11). Prints medians,
# p90, the ratios b/a and c/a, and what the sink received (messages per run,
# the sentry's dropped count). Needs root, runsc and a build.
#
#   [OBSERVE_RETRIES=N] benchmarks/bench_observe.sh [BUILD_DIR] [ROUNDS]   (default: build, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
rounds=${2:-5}
. "$src/benchmarks/observe/sink_lib.sh"
observe_setup bench_observe "${1:-build}" /tmp/ob-bench-observe-XXXXXX omnibase-bench-observe

echo '{"version": 1, "grants": []}' >"$work/caps.json"
declare -A code
modules=$(tr '\n' ' ' <"$src/benchmarks/stdlib100.txt")
code[import]="import warnings; warnings.simplefilter('ignore')
for m in '$modules'.split(): __import__(m)
print('done', len('$modules'.split()))"
code[stat]="import os
d = '/usr/lib/python3.11'
fs = sorted(p for p in (os.path.join(d, f) for f in os.listdir(d)) if p.endswith('.py') and os.path.isfile(p))
for i in range(5000):
    p = fs[i % len(fs)]
    os.stat(p)
    os.close(os.open(p, os.O_RDONLY))
print('done', 5000)"
workloads="import stat"

# One bundle per workload from omnibase's own plan (same mounts and limits).
for w in $workloads; do
    "$omnibase" sandbox run --profile python-minimal --capabilities "$work/caps.json" --dry-run \
        -- /usr/bin/python3 -c "${code[$w]}" 2>/dev/null >"$work/plan-$w.json"
    "$src/benchmarks/bare_bundle.py" "$work/plan-$w.json" "$work/bundle-$w" \
        --cgroup "/$bench_cgroup/bare"
done

# The session: every point the sidecar's path and address classes would
# need, at syscall exit (the result and errno are known there; the path is
# read from the task's memory then), with the context the sidecar uses.
observe_sink_start "$sink" "$work/sink.sock" "$work/sink.stats"

now_ms() { date +%s%3N; }
# user + system CPU of the run and of the processes it waited for (runsc's
# sandbox and gofer), in ms
cpu_ms() { tail -n 1 "$work/cpu" | awk '{printf "%d", ($1 + $2) * 1000}'; }
check_out() { # $1: what ran
    grep -q "^done" "$work/out" || { echo "bench_observe: $1 failed:" >&2; cat "$work/out" >&2; exit 1; }
}
n=0
bare_run() { # $1 workload, $2 extra runsc flags
    local id=observe-$((++n))
    "$src/benchmarks/bare_bundle.py" --set-cgroup "$work/bundle-$1/config.json" "/$bench_cgroup/$id"
    local t0; t0=$(now_ms)
    # shellcheck disable=SC2086
    /usr/bin/time -o "$work/cpu" -f "%U %S" \
        runsc --root "$bare_root" --network=none --platform=ptrace $2 run --bundle "$work/bundle-$1" \
        "$id" >"$work/out" 2>&1 </dev/null || true
    echo $(( $(now_ms) - t0 )) "$(cpu_ms)"
    check_out "bare runsc run ($1)"
}
omni_run() { # $1 workload
    local t0; t0=$(now_ms)
    /usr/bin/time -o "$work/cpu" -f "%U %S" \
        "$omnibase" sandbox run --profile python-minimal --capabilities "$work/caps.json" \
        -- /usr/bin/python3 -c "${code[$1]}" >"$work/out" 2>&1 </dev/null || true
    echo $(( $(now_ms) - t0 )) "$(cpu_ms)"
    check_out "omnibase sandbox run ($1)"
}
monitored="--pod-init-config $work/pod-init.json"

# round 0 warms the page cache and is not counted
for w in $workloads; do
    bare_run "$w" "" >/dev/null; bare_run "$w" "$monitored" >/dev/null; omni_run "$w" >/dev/null
    : >"$work/$w.a"; : >"$work/$w.b"; : >"$work/$w.c"
done
for _ in $(seq 1 "$rounds"); do
    for w in $workloads; do
        bare_run "$w" "" >>"$work/$w.a"
        bare_run "$w" "$monitored" >>"$work/$w.b"
        omni_run "$w" >>"$work/$w.c"
    done
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
observe_sink_stop

quantile() { # $1: 0.5 or 0.9 (nearest rank)
    sort -n | awk -v q="$1" '{a[NR]=$1} END {i=int(q*NR+0.999999); if (i<1) i=1; print a[i]}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf 'observation cost, %d alternated rounds (ms; median / p90; issue 13 target: b/a <= 1.10 on import)\n' \
    "$rounds"
printf 'runsc %s, remote sink retries %s, host load at the end %s\n' \
    "$(runsc --version | awk 'NR==1 {print $3}')" "${OBSERVE_RETRIES:-0}" "$load"
# The sink's connections, in order: warm-up import, warm-up stat, then the
# rounds alternating import and stat.
k=0
for w in $workloads; do
    for s in a b c; do
        eval "${s}_med=\$(cut -d' ' -f1 <\"\$work/\$w.\$s\" | median)"
        eval "${s}_p90=\$(cut -d' ' -f1 <\"\$work/\$w.\$s\" | quantile 0.9)"
        eval "${s}_cpu=\$(cut -d' ' -f2 <\"\$work/\$w.\$s\" | median)"
    done
    printf '%-7s (a) bare %6s / %5s   (b) runtime monitoring %6s / %5s   (c) omnibase (ptrace) %6s / %5s\n' \
        "$w" "$a_med" "$a_p90" "$b_med" "$b_p90" "$c_med" "$c_p90"
    printf '        CPU (user+sys, median)  (a) %s  (b) %s  (c) %s\n' "$a_cpu" "$b_cpu" "$c_cpu"
    awk -v a="$a_med" -v b="$b_med" -v c="$c_med" -v ac="$a_cpu" -v bc="$b_cpu" -v cc="$c_cpu" \
        'BEGIN {printf "        ratios wall b/a %.3f  c/a %.3f;  CPU b/a %.3f  c/a %.3f\n", b / a, c / a, bc / ac, cc / ac}'
    paste -d' ' "$work/$w.b" "$work/$w.a" | awk '{print $1 - $3}' | median |
        awk '{printf "        median paired b-a %+.1f ms;", $1}'
    paste -d' ' "$work/$w.c" "$work/$w.a" | awk '{print $1 - $3}' | median |
        awk '{printf " c-a %+.1f ms\n", $1}'
    k=$((k + 1))
    awk -v nw=2 -v k="$k" 'NR > nw && (NR - nw - k) % nw == 0' "$work/sink.stats" |
        awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
              m += v["messages"]; b += v["bytes"]; if (v["dropped"] > d) d = v["dropped"]; r++; t = v["types"]}
             END {printf "        sink: %d connections, %.0f messages and %.0f bytes per run, max dropped %d (types of the last: %s)\n",
                  r, m / r, b / r, d, t}'
done
