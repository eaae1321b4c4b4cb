#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cost of supervision, bare vs under omnibase-sidecar, alternated in the same
# run (median of ROUNDS each, and the ratio), for two python workloads:
#   opens:   10,000 open()+close() of one granted file (each open trapped,
#            its path read from the tracee, resolved, checked, allowed);
#   imports: importing 100 standard-library modules (issue 4's workload);
#   denials: 2,000 open()s of /etc/passwd, each denied and reported on the
#            channel (bare: the same opens of a granted path that does not
#            exist), as denials per second end to end.
# With --runsc, both sides also run inside gVisor (sidecar as PID 1).
#
#   benchmarks/bench_sidecar.sh [BUILD_DIR] [--rounds N] [--opens N] [--runsc]
set -euo pipefail

BUILD=build
ROUNDS=7
OPENS=10000
RUNSC_TOO=0
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --opens) OPENS=$2; shift 2 ;;
    --runsc) RUNSC_TOO=1; shift ;;
    *) BUILD=$1; shift ;;
    esac
done
SIDECAR=$(realpath "$BUILD/sidecar/omnibase-sidecar")
PY=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "bench_sidecar: needs root" >&2; exit 77; }
[ -x "$SIDECAR" ] || { echo "bench_sidecar: build first: $SIDECAR" >&2; exit 1; }

W=$(mktemp -d /tmp/ob-bench-sidecar-XXXXXX)
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT
echo data >"$W/f.txt"
chmod 644 "$W/f.txt"
cat >"$W/caps.json" <<EOF
{"version": 1, "grants": [
  {"capability": "FILE_READ", "target": "/usr/*"},
  {"capability": "FILE_READ", "target": "/lib*"},
  {"capability": "FILE_READ", "target": "/etc/ld.so.cache"},
  {"capability": "FILE_READ", "target": "/etc/locale.alias"},
  {"capability": "FILE_READ", "target": "/etc/ssl/openssl.cnf"},
  {"capability": "FILE_EXEC", "target": "/usr/bin/*"},
  {"capability": "FILE_READ", "target": "$W/f.txt"}]}
EOF
chmod 644 "$W/caps.json"
OPENS_WL="import os
for _ in range($OPENS):
    os.close(os.open('$W/f.txt', os.O_RDONLY))"
# 100 standard-library modules, also bench_observe.sh's import workload
MODULES=$(cat "$(dirname "$0")/stdlib100.txt")
IMPORTS_WL="import warnings; warnings.simplefilter('ignore')
for m in '$(echo $MODULES)'.split(): __import__(m)"
DENIALS=2000
DENIALS_WL="import os
for _ in range($DENIALS):
    try: os.open('/etc/passwd' if os.getuid() else '$W/none', os.O_RDONLY)
    except OSError: pass"
WORKLOAD=$OPENS_WL

# The runner's side of the channel: accept one connection, drain it.
drain() {
    $PY - "$1" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept(); os.unlink(sys.argv[1])
while c.recv(65536): pass
EOF
    DRAIN_PID=$!
    while [ ! -S "$1" ]; do sleep 0.01; done
}

now_ms() { date +%s%3N; }

bare() {
    local t0; t0=$(now_ms)
    $PY -I -c "$WORKLOAD"
    echo $(($(now_ms) - t0))
}

supervised() {
    local t0; drain "$W/ch.sock"
    t0=$(now_ms)
    "$SIDECAR" --caps "$W/caps.json" --channel "$W/ch.sock" -- $PY -I -c "$WORKLOAD"
    echo $(($(now_ms) - t0))
    wait $DRAIN_PID
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run_pair() { # label, bare-fn, supervised-fn
    local b=() s=()
    for _ in $(seq "$ROUNDS"); do
        b+=("$($2)")
        s+=("$($3)")
    done
    local mb ms
    mb=$(printf '%s\n' "${b[@]}" | median)
    ms=$(printf '%s\n' "${s[@]}" | median)
    if [ "$WORKLOAD" = "$DENIALS_WL" ]; then
        printf '%-6s %-8s bare %8.1f ms  sidecar %8.1f ms  %6.0f denials/s  ratio %.2fx\n' \
            "$1" "denials" "$mb" "$ms" "$(echo "$DENIALS * 1000 / $ms" | bc -l)" \
            "$(echo "$ms / $mb" | bc -l)"
    elif [ "$WORKLOAD" = "$OPENS_WL" ]; then
        printf '%-6s %-8s bare %8.1f ms  sidecar %8.1f ms  +%6.1f us/open  ratio %.2fx\n' \
            "$1" "opens" "$mb" "$ms" "$(echo "($ms - $mb) * 1000 / $OPENS" | bc -l)" \
            "$(echo "$ms / $mb" | bc -l)"
    else
        printf '%-6s %-8s bare %8.1f ms  sidecar %8.1f ms  ratio %.2fx\n' \
            "$1" "imports" "$mb" "$ms" "$(echo "$ms / $mb" | bc -l)"
    fi
}

echo "omnibase-sidecar supervision cost (median of $ROUNDS, alternated; $OPENS opens, 100 imports)"
for WORKLOAD in "$OPENS_WL" "$IMPORTS_WL" "$DENIALS_WL"; do
    run_pair host bare supervised
done

if [ "$RUNSC_TOO" = 1 ]; then
    # inside gVisor: the same two commands as the process of a bundle
    mkdir -p "$W/bundle/rootfs" "$W/run"
    chmod 755 "$W/run"
    for l in bin:usr/bin lib:usr/lib lib64:usr/lib64; do ln -s "${l#*:}" "$W/bundle/rootfs/${l%%:*}"; done
    cp "$W/caps.json" "$W/run/caps.json"
    runsc_run() { # args as JSON array
        cat >"$W/bundle/config.json" <<EOF
{"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true},
 "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/", "args": $1,
   "env": ["PATH=/usr/bin"],
   "capabilities": {"bounding": ["CAP_SETUID","CAP_SETGID","CAP_SETPCAP","CAP_SYS_PTRACE"],
     "effective": ["CAP_SETUID","CAP_SETGID","CAP_SETPCAP","CAP_SYS_PTRACE"],
     "permitted": ["CAP_SETUID","CAP_SETGID","CAP_SETPCAP","CAP_SYS_PTRACE"]}},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
   {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind","ro"]},
   {"destination": "/etc", "type": "bind", "source": "/etc", "options": ["rbind","ro"]},
   {"destination": "/omnibase-sidecar", "type": "bind", "source": "$SIDECAR", "options": ["rbind","ro"]},
   {"destination": "$W", "type": "bind", "source": "$W/run", "options": ["rbind","rw"]},
   {"destination": "$W/f.txt", "type": "bind", "source": "$W/f.txt", "options": ["rbind","ro"]}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]}}
EOF
        local id=ob-bench-$$-$RANDOM t0
        t0=$(now_ms)
        runsc --root "$W/runsc" --network=none --platform=ptrace --host-uds=open \
            run --bundle "$W/bundle" "$id" >/dev/null
        echo $(($(now_ms) - t0))
        runsc --root "$W/runsc" delete --force "$id" >/dev/null 2>&1 || true
    }
    runsc_bare() { runsc_run "[\"$PY\", \"-I\", \"-c\", $wl]"; }
    runsc_sidecar() {
        drain "$W/run/ch.sock"
        runsc_run "[\"/omnibase-sidecar\", \"--caps\", \"$W/caps.json\", \"--channel\", \"$W/ch.sock\", \"--\", \"$PY\", \"-I\", \"-c\", $wl]"
        wait $DRAIN_PID
    }
    for WORKLOAD in "$OPENS_WL" "$IMPORTS_WL" "$DENIALS_WL"; do
        wl=$($PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$WORKLOAD")
        run_pair runsc runsc_bare runsc_sidecar
    done
fi
