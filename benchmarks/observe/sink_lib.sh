# Sourced after bench_lib.sh by the runtime-monitoring benchmarks: start
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
    kill -TERM "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null || true
    sink_pid=
}

observe_cleanup() {
    exec 9>&- 2>/dev/null || true
    observe_sink_stop
    bench_cleanup
}
