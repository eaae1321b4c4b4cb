#!/usr/bin/env bash
# Environments (issue 10): create → running, `omnibase env exec` of /bin/true
# and of python hello against a bare `runsc exec` into the same running
# sandbox (alternated in one run: the baseline runs the command directly,
# without the sidecar's seccomp + ptrace and without the supervisor), each
# through the supervisor's spare and, in a second environment with
# exec_spare_idle 0, without one; then back to back (the next exec comes
# while the spare made after the last one still boots); host memory of one
# idle environment, and delete; `env snapshot` without and with --memory and
# `env restore` of each. Needs root and runsc.
#
#   benchmarks/bench_env.sh [OMNIBASE_BINARY] [ROUNDS]   (default: build/cli/omnibase, 15)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
omnibase=${1:-$src/build/cli/omnibase}
rounds=${2:-15}
[ "$(id -u)" -eq 0 ] || { echo "bench_env: run as root" >&2; exit 1; }
command -v runsc >/dev/null || { echo "bench_env: runsc is not installed" >&2; exit 1; }
[ -x "$omnibase" ] || { echo "bench_env: $omnibase is not built" >&2; exit 1; }

work=$(mktemp -d /var/tmp/ob-bench-env-XXXXXX)
export OMNIBASE_STATE_DIR=$work/state
echo '{"max_environments_per_owner": 100}' >"$work/config.json"
export OMNIBASE_CONFIG=$work/config.json
cleanup() {
    for e in "$work"/state/envs/*; do
        [ -d "$e" ] && "$omnibase" env delete "$(basename "$e")" >/dev/null 2>&1 || true
    done
    "$omnibase" gc >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# stdout and stderr apart: an exec whose caller merges them does not take the spare
timed() { local t0; t0=$(now_ms); "$@" >"$work/out" 2>"$work/err" </dev/null; echo $(( $(now_ms) - t0 )); }

# create → running, and delete (fresh environments each round)
: >"$work/create.ms"; : >"$work/delete.ms"
for i in $(seq 1 5); do
    t0=$(now_ms)
    id=$("$omnibase" env create --owner bench --template python-agent)
    echo $(( $(now_ms) - t0 )) >>"$work/create.ms"
    timed "$omnibase" env delete "$id" >>"$work/delete.ms"
done

# snapshots of one idle environment, alternated: the workspace only, and with
# its memory (runsc checkpoint, archive, runsc restore in place: the
# environment pauses for all of it); then env restore of each (a fresh boot vs
# a runsc restore), each restored environment deleted untimed
sid=$("$omnibase" env create --owner bench --template python-agent)
"$omnibase" env exec "$sid" -- /bin/sh -c 'echo state > /tmp/s; echo ws > /workspace/w' >/dev/null
: >"$work/snap-ws.ms"; : >"$work/snap-mem.ms"; : >"$work/rest-ws.ms"; : >"$work/rest-mem.ms"
for i in $(seq 1 5); do
    for kind in ws mem; do
        flag=; [ "$kind" = mem ] && flag=--memory
        timed "$omnibase" env snapshot "$sid" $flag --output "$work/snap-$kind.tar.gz" \
            >>"$work/snap-$kind.ms"
        t0=$(now_ms)
        rid=$("$omnibase" env restore "$work/snap-$kind.tar.gz" --owner bench-restore)
        echo $(( $(now_ms) - t0 )) >>"$work/rest-$kind.ms"
        "$omnibase" env delete "$rid" >/dev/null
    done
done
image_bytes=$(/usr/bin/python3 -c 'import json, sys, tarfile
print(json.load(tarfile.open(sys.argv[1]).extractfile("omnibase-snapshot.json"))["memory"]["bytes"])' \
    "$work/snap-mem.tar.gz")
"$omnibase" env delete "$sid" >/dev/null

id=$("$omnibase" env create --owner bench --template python-agent)
run=$(ls "$OMNIBASE_STATE_DIR/runs")
root=$OMNIBASE_STATE_DIR/runs/$run/runsc
# the same environment with no spare exec: every exec is a runsc exec of its own
echo '{"max_environments_per_owner": 100, "exec_spare_idle": 0}' >"$work/cold.json"
cid=$(OMNIBASE_CONFIG=$work/cold.json "$omnibase" env create --owner bench --template python-agent)
for e in "$id" "$cid"; do
    echo 'print("hello from the sandbox")' >"$work/state/envs/$e/workspace/hello.py"
    chown 65534:65534 "$work/state/envs/$e/workspace/hello.py"
done

bare() { timed runsc --root "$root" exec -cwd /workspace "$run" "$@"; }
omni() { timed "$omnibase" env exec "$id" -- "$@"; }
cold() { timed "$omnibase" env exec "$cid" -- "$@"; }
for cmd in true hello; do
    case $cmd in
        true) argv=(/bin/true) ;;
        hello) argv=(/usr/bin/python3 /workspace/hello.py) ;;
    esac
    bare "${argv[@]}" >/dev/null; omni "${argv[@]}" >/dev/null; cold "${argv[@]}" >/dev/null  # warm-up
    : >"$work/bare-$cmd.ms"; : >"$work/omni-$cmd.ms"; : >"$work/cold-$cmd.ms"; : >"$work/b2b-$cmd.ms"
    for i in $(seq 1 "$rounds"); do
        bare "${argv[@]}" >>"$work/bare-$cmd.ms"
        omni "${argv[@]}" >>"$work/omni-$cmd.ms"
        cold "${argv[@]}" >>"$work/cold-$cmd.ms"
    done
    if [ "$cmd" = hello ]; then
        grep -q "hello from the sandbox" "$work/out" || { echo "exec failed:" >&2; cat "$work/out" "$work/err" >&2; exit 1; }
    fi
    # back to back: the spare made after one exec is still booting when the next comes
    for i in $(seq 1 "$rounds"); do omni "${argv[@]}" >>"$work/b2b-$cmd.ms"; done
    # an agent's pace: 300 ms to read a result before the next command (not timed)
    : >"$work/paced-$cmd.ms"
    for i in $(seq 1 "$rounds"); do sleep 0.3; omni "${argv[@]}" >>"$work/paced-$cmd.ms"; done
done

rss_of() { # KiB of every process whose command line contains $1
    local total=0 pid kb
    for pid in $(grep -l -s -F -- "$1" /proc/[0-9]*/cmdline | cut -d/ -f3); do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}
sup=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["supervisor_pid"])' \
      "$("$omnibase" env show "$id" --json)")
sandbox_rss=$(rss_of "$OMNIBASE_STATE_DIR/runs/$run/")
spare_rss=0
for pid in $(pgrep -P "$sup" -f -- '--exec-stdio$'); do
    spare_rss=$((spare_rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
done
sup_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$sup/status")

printf 'environments (%d alternated rounds for exec, 5 for create/delete and snapshots; ms, medians):\n' "$rounds"
printf '  env create → running               %s   all: %s\n' "$(median <"$work/create.ms")" "$(tr '\n' ' ' <"$work/create.ms")"
printf '  env delete                         %s   all: %s\n' "$(median <"$work/delete.ms")" "$(tr '\n' ' ' <"$work/delete.ms")"
ratio() { awk -v o="$1" -v b="$2" 'BEGIN {printf "%.3f", o / b}'; }
sw=$(median <"$work/snap-ws.ms"); sm=$(median <"$work/snap-mem.ms")
rw=$(median <"$work/rest-ws.ms"); rm_=$(median <"$work/rest-mem.ms")
printf '  env snapshot (workspace)           %s   --memory %s (the environment paused; /workspace %s)   image %d bytes\n' \
    "$sw" "$sm" "$(ratio "$sm" "$sw")" "$image_bytes"
printf '  env restore  (fresh boot)          %s   with memory (runsc restore) %s (/fresh %s)\n' \
    "$rw" "$rm_" "$(ratio "$rm_" "$rw")"
for cmd in true hello; do
    b=$(median <"$work/bare-$cmd.ms"); o=$(median <"$work/omni-$cmd.ms")
    c=$(median <"$work/cold-$cmd.ms"); bb=$(median <"$work/b2b-$cmd.ms")
    pc=$(median <"$work/paced-$cmd.ms")
    printf '  exec %-6s bare runsc exec %6s   env exec (spare) %6s   env exec (no spare) %6s\n' \
        "$cmd" "$b" "$o" "$c"
    printf '              ratios: spare/bare %s (target <= 1.10), no spare/bare %s, spare/no spare %s\n' \
        "$(ratio "$o" "$b")" "$(ratio "$c" "$b")" "$(ratio "$o" "$c")"
    printf '              back to back (spare still booting): %s, /bare %s   all: %s\n' \
        "$bb" "$(ratio "$bb" "$b")" "$(tr '\n' ' ' <"$work/b2b-$cmd.ms")"
    printf '              300 ms apart (an agent reading each result): %s, /bare %s\n' \
        "$pc" "$(ratio "$pc" "$b")"
done
printf 'host memory of one idle environment: sandbox (runsc, the spare'"'"'s runsc exec included) %d KiB RSS, of which the spare'"'"'s runsc exec %d KiB; supervisor %d KiB\n' \
    "$sandbox_rss" "$spare_rss" "$sup_rss"
printf 'host load average during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
