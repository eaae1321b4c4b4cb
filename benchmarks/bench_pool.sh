#!/usr/bin/env bash
# The warm pool (issue 13 §3, docs/runner.md §10), in one run, alternated per
# round: a warm `omnibase sandbox run --warm` (request → exit: the CLI's
# whole life, and the pool's own wall_ms from the request to the sidecar's
# SandboxExit), a bare `runsc exec` of the same command into a running
# sandbox (no sidecar, no ptrace: the floor a warm path without a new sentry
# is compared with), and a cold `omnibase sandbox run`. For python hello
# (python-minimal pool) and /bin/true (shell pool). Medians and p90, ratios,
# and the host memory of one pooled sandbox. Needs root and runsc.
#
#   benchmarks/bench_pool.sh [OMNIBASE_BINARY] [ROUNDS]   (default: build/cli/omnibase, 15)
#
# Before each warm request the pool is waited on until every sandbox is
# ready again (not timed), so each timed warm request finds one booted.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
omnibase=${1:-$src/build/cli/omnibase}
rounds=${2:-15}
[ "$(id -u)" -eq 0 ] || { echo "bench_pool: run as root" >&2; exit 1; }
command -v runsc >/dev/null || { echo "bench_pool: runsc is not installed" >&2; exit 1; }
[ -x "$omnibase" ] || { echo "bench_pool: $omnibase is not built" >&2; exit 1; }

work=$(mktemp -d /var/tmp/ob-bench-pool-XXXXXX)
export OMNIBASE_STATE_DIR=$work/state
sleepers=()
cleanup() {
    "$omnibase" pool stop >/dev/null 2>&1 || true
    for p in "${sleepers[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    OMNIBASE_STATE_DIR=$work/base "$omnibase" gc >/dev/null 2>&1 || true
    "$omnibase" gc >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/caps.json" <<'EOF'
{"version": 1, "principal": "3f2a9c1e-0000-4000-8000-000000000001", "grants": [],
 "limits": {"memory_mb": 256, "timeout_s": 600}}
EOF
hello=$src/examples/hello.py
echo 'import time; time.sleep(600)' >"$work/sleeper.py"

now_ms() { date +%s%3N; }
stats() { # median and p90 (nearest rank) of the numbers on stdin
    sort -n | awk '{a[NR]=$1} END {m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2;
                   i = int(NR*0.9 + 0.999); if (i < 1) i = 1; printf "%s %s", m, a[i]}'
}
timed() { local t0; t0=$(now_ms); "$@" >"$work/out" 2>"$work/err" </dev/null || true; echo $(( $(now_ms) - t0 )); }
pool_field() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" \
               < <("$omnibase" pool status --json); }
wait_ready() {
    local end=$(( $(now_ms) + 120000 ))
    # every sandbox booted, and no used one still being destroyed (its
    # runsc calls would load the host during the next timed runs)
    while [ "$(pool_field ready)" != "$(pool_field size)" ] || [ "$(pool_field destroying)" != 0 ]; do
        [ "$(now_ms)" -lt "$end" ] || { echo "bench_pool: the pool did not refill" >&2; exit 1; }
        sleep 0.05
    done
}
# a running sandbox for the runsc exec baseline (its own state directory)
start_sleeper() { # PROFILE ARGS...: sets base_root and base_id
    local before after
    before=$(ls "$work/base/runs" 2>/dev/null || true)
    OMNIBASE_STATE_DIR=$work/base "$omnibase" sandbox run --capabilities "$work/caps.json" \
        --profile "$@" >/dev/null 2>&1 &
    sleepers+=($!)
    local end=$(( $(now_ms) + 60000 ))
    while :; do
        after=$(ls "$work/base/runs" 2>/dev/null || true)
        base_id=$(comm -13 <(echo "$before") <(echo "$after") | head -1)
        if [ -n "$base_id" ] && runsc --root "$work/base/runs/$base_id/runsc" state "$base_id" 2>/dev/null |
            grep -q '"status": "running"'; then
            break
        fi
        [ "$(now_ms)" -lt "$end" ] || { echo "bench_pool: the baseline sandbox did not start" >&2; exit 1; }
        sleep 0.05
    done
    base_root=$work/base/runs/$base_id/runsc
}

rss_of() { # KiB of every process whose command line contains $1
    local total=0 pid kb
    for pid in $(grep -l -s -F -- "$1" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

report=()
bench() { # NAME PROFILE: WARM... / BARE... / COLD... set by the caller
    local name=$1 profile=$2 i w b c pw
    "$omnibase" pool start --size 2 --profile "$profile" --capabilities "$work/caps.json" >/dev/null
    wait_ready
    : >"$work/warm.ms"; : >"$work/poolwall.ms"; : >"$work/bare.ms"; : >"$work/cold.ms"
    for i in $(seq 0 "$rounds"); do # round 0 warms the caches, not counted
        wait_ready
        w=$(timed "$omnibase" sandbox run "${warm_args[@]}")
        grep -q '"warm":true' "$work/out" || { echo "bench_pool: not warm:" >&2; cat "$work/out" "$work/err" >&2; exit 1; }
        pw=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["wall_ms"])' <"$work/out")
        b=$(timed runsc --root "$base_root" exec "$base_id" "${bare_argv[@]}")
        c=$(timed "$omnibase" sandbox run "${cold_args[@]}")
        grep -q '"status":"ok"' "$work/out" || { echo "bench_pool: cold run failed" >&2; cat "$work/out" >&2; exit 1; }
        if [ "$i" -gt 0 ]; then
            echo "$w" >>"$work/warm.ms"; echo "$pw" >>"$work/poolwall.ms"
            echo "$b" >>"$work/bare.ms"; echo "$c" >>"$work/cold.ms"
        fi
    done
    # memory: each pooled (ready) sandbox's runsc processes
    wait_ready
    local total=0 n=0 r
    for r in "$OMNIBASE_STATE_DIR"/runs/*; do
        total=$(( total + $(rss_of "$r") )); n=$((n + 1))
    done
    local daemon_rss
    daemon_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$(pool_field pid)/status")
    "$omnibase" pool stop >/dev/null
    read -r wm wp <<<"$(stats <"$work/warm.ms")"
    read -r pm pp <<<"$(stats <"$work/poolwall.ms")"
    read -r bm bp <<<"$(stats <"$work/bare.ms")"
    read -r cm cp <<<"$(stats <"$work/cold.ms")"
    report+=("$(printf '%-7s warm (CLI request → exit) %4s / p90 %4s   pool wall_ms %4s / p90 %4s   runsc exec %4s / p90 %4s   cold %4s / p90 %4s\n        ratios: warm/runsc exec %s, warm/cold %s; pool wall/runsc exec %s\n        host memory per pooled sandbox %d KiB RSS (%d sandboxes), pool daemon %d KiB' \
        "$name" "$wm" "$wp" "$pm" "$pp" "$bm" "$bp" "$cm" "$cp" \
        "$(awk -v a="$wm" -v b="$bm" 'BEGIN {printf "%.2f", a / b}')" \
        "$(awk -v a="$wm" -v b="$cm" 'BEGIN {printf "%.2f", a / b}')" \
        "$(awk -v a="$pm" -v b="$bm" 'BEGIN {printf "%.2f", a / b}')" \
        $(( n ? total / n : 0 )) "$n" "$daemon_rss")")
}

start_sleeper python-minimal "$work/sleeper.py"
warm_args=("$hello" --capabilities "$work/caps.json" --warm --json)
cold_args=("$hello" --capabilities "$work/caps.json" --json)
bare_argv=(/usr/bin/python3 -I -B -c 'print("hello from the sandbox")')
bench hello python-minimal

start_sleeper shell -- /bin/sleep 600
warm_args=(--capabilities "$work/caps.json" --warm --json -- /bin/true)
cold_args=(--capabilities "$work/caps.json" --json -- /bin/true)
bare_argv=(/bin/true)
bench true shell

printf 'warm pool, %d alternated rounds (ms; medians / p90):\n' "$rounds"
printf '%s\n' "${report[@]}"
printf 'target: warm hello <= 60 ms median\n'
printf 'host load average during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
