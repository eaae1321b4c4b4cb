# shellcheck shell=bash
# Sourced by the runtime-monitoring benchmarks (with $src the checkout).
#   observe_setup NAME BUILD_DIR WORK_TEMPLATE CGROUP_PARENT
# sets omnibase and sink (the build's binaries) and bench_lib.sh's work,
# bare_root and OMNIBASE_STATE_DIR.
observe_setup() {
    local build
    build=$(realpath "$2")
    omnibase=$build/cli/omnibase
    sink=$build/benchmarks/observe_sink
    . "$src/benchmarks/bench_lib.sh"
    bench_setup "$1" "$omnibase" "$3" "$4"
    [ -x "$sink" ] || { echo "$1: $sink is not built" >&2; exit 1; }
}

# Start
# observe_sink on $work/sink.sock and write $work/pod-init.json, a session of
# benchmarks/observe/points.txt sent to it (with $OBSERVE_RETRIES set, the
# sentry retries that many times before it drops a point: pod_init.py);
# stop it (at exit too: the sentries' connections end when their sandboxes do).
#   observe_sink_start SINK_BINARY STATS_FILE [RAW_DIR]   sets sink_pid
observe_sink_start() {
    "$src/benchmarks/observe/pod_init.py" "$src/benchmarks/observe/points.txt" \
        "$work/sink.sock" ${OBSERVE_RETRIES:+"$OBSERVE_RETRIES"} >"$work/pod-init.json"
    "$@" &
    sink_pid=$!
    trap observe_cleanup EXIT
    while [ ! -S "$work/sink.sock" ]; do
        kill -0 "$sink_pid" 2>/dev/null || { echo "the sink did not start" >&2; exit 1; }
        sleep 0.01
    done
}

observe_sink_stop() {
    [ -n "${sink_pid:-}" ] || return 0
    kill -CONT "$sink_pid" 2>/dev/null || true
    if kill -TERM "$sink_pid" 2>/dev/null; then
        wait "$sink_pid" 2>/dev/null || true
    fi
    sink_pid=
}

observe_cleanup() {
    exec 9>&- 2>/dev/null || true
    observe_sink_stop
    bench_cleanup
}
