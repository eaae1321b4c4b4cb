#!/usr/bin/env bash
# NETWORK_CONNECT costs, in one run (issue 5):
#  1. cold start of `omnibase sandbox run -- /bin/true` with one network
#     grant against none (the difference is what the netns, veth, BPF load
#     and attach add), alternated, medians;
#  2. inside the sandbox: TCP connect latency (median of 1000) and bulk
#     throughput (SIZE MiB to a sink) to an allowed server in a test host,
#     with the BPF filters against the same sandbox with them detached
#     (5 runs each, alternated)
#     (bpftool cgroup detach + tc filter del while the workload waits).
# Traffic stays on this machine (a test namespace routed via the root one).
# Needs root, runsc, bpftool.
#
#   benchmarks/bench_network.sh [OMNIBASE_BINARY] [ROUNDS] [SIZE_MB]   (build-net, 10, 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
omnibase=${1:-$src/build-net/cli/omnibase}
rounds=${2:-10}
size_mb=${3:-1024}
[ "$(id -u)" -eq 0 ] || { echo "bench_network: run as root" >&2; exit 1; }
for t in runsc bpftool ip nsenter tc; do
    command -v $t >/dev/null || { echo "bench_network: $t is not installed" >&2; exit 1; }
done
[ -x "$omnibase" ] || { echo "bench_network: $omnibase is not built" >&2; exit 1; }

work=$(mktemp -d /tmp/ob-bench-net-XXXXXX)
chmod 755 "$work"
export OMNIBASE_STATE_DIR=$work/state
ns=obbench$$
srv_pid=
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
    "$omnibase" gc >/dev/null 2>&1 || true
    ip netns del $ns 2>/dev/null || true
    ip link del ${ns}r 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The test host: 10.215.0.2 behind veth ${ns}r, a TCP accept-and-close
# server on 8080 and a sink on 8081 that answers with the byte count.
ip netns add $ns
ip link add ${ns}r type veth peer name ${ns}s
ip link set ${ns}s netns $ns
ip addr add 10.215.0.1/30 dev ${ns}r
ip link set ${ns}r up
ip -n $ns link set lo up
ip -n $ns addr add 10.215.0.2/30 dev ${ns}s
ip -n $ns link set ${ns}s up
ip -n $ns route add default via 10.215.0.1
echo 1 >/proc/sys/net/ipv4/conf/${ns}r/forwarding
cat >"$work/server.py" <<'PY'
import socket, threading
def accept_close():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 8080)); s.listen(512)
    while True:
        c, _ = s.accept(); c.close()
def sink():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 8081)); s.listen(8)
    while True:
        c, _ = s.accept(); n = 0
        while True:
            b = c.recv(1 << 20)
            if not b: break
            n += len(b)
        c.close()
threading.Thread(target=accept_close, daemon=True).start()
sink()
PY
nsenter --net=/run/netns/$ns /usr/bin/python3 "$work/server.py" &
srv_pid=$!
sleep 0.3

cat >"$work/probe.py" <<'PY'
import socket, sys, time
time.sleep(float(sys.argv[1]))          # the bench detaches filters meanwhile
lat = []
for _ in range(1000):
    t = time.perf_counter()
    socket.create_connection(("10.215.0.2", 8080)).close()
    lat.append(time.perf_counter() - t)
lat.sort()
buf = b"x" * (1 << 20)
s = socket.create_connection(("10.215.0.2", 8081))
t = time.perf_counter()
for _ in range(int(sys.argv[2])):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
dt = time.perf_counter() - t
print("%.1f %.1f" % (lat[len(lat) // 2] * 1e6, int(sys.argv[2]) / dt))
PY
chmod 644 "$work/probe.py" "$work/server.py"
echo '{"version":1,"grants":[]}' >"$work/none.json"
echo '{"version":1,"grants":[{"capability":"NETWORK_CONNECT","target":"10.215.0.2:8080-8081"}]}' \
    >"$work/net.json"
chmod 644 "$work"/*.json

now_us() { date +%s%6N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# 1. cold start, alternated (one warm-up each)
"$omnibase" sandbox run --capabilities "$work/none.json" -- /bin/true
"$omnibase" sandbox run --capabilities "$work/net.json" -- /bin/true
: >"$work/none.t"; : >"$work/net.t"
for _ in $(seq "$rounds"); do
    for k in none net; do
        t0=$(now_us)
        "$omnibase" sandbox run -v --capabilities "$work/$k.json" -- /bin/true 2>"$work/v.log"
        echo $(( $(now_us) - t0 )) >>"$work/$k.t"
        sed -n 's/.*network: .* ready in \([0-9.]*\) ms.*/\1/p' "$work/v.log" >>"$work/setup.t"
    done
done
c_none=$(median <"$work/none.t")
c_net=$(median <"$work/net.t")
c_setup=$(median <"$work/setup.t")

# 2. latency and throughput with the filters, and with them detached
detach() {
    local cg="" dev id
    for _ in $(seq 500); do   # this bench's own run, once its setup is done
        id=$(ls "$OMNIBASE_STATE_DIR/runs" 2>/dev/null | head -1)
        [ -n "$id" ] && [ -e "$OMNIBASE_STATE_DIR/runs/$id/nsswitch.conf" ] && break
        sleep 0.01
    done
    cg=/sys/fs/cgroup/unified/omnibase/$id
    sleep 0.2
    bpftool -j cgroup show "$cg" | /usr/bin/python3 -c '
import json, subprocess, sys
for p in json.load(sys.stdin):
    subprocess.run(["bpftool", "cgroup", "detach", sys.argv[1], p["attach_type"], "id", str(p["id"])], check=True)
' "$cg"
    dev=ob$(basename "$cg" | cut -c4-16)
    tc filter del dev "$dev" ingress
    [ -z "$(bpftool -j cgroup show "$cg" | tr -d '[]')" ] || { echo "bench_network: detach failed" >&2; exit 1; }
}
: >"$work/on.r"; : >"$work/off.r"
for _ in $(seq 5); do
    for k in on off; do
        "$omnibase" sandbox run "$work/probe.py" 1.5 "$size_mb" --capabilities "$work/net.json" \
            --timeout 300 --memory 512 >>"$work/$k.r" &
        pid=$!
        [ $k = off ] && detach
        wait $pid
    done
done
lat_on=$(cut -d' ' -f1 "$work/on.r" | median); lat_off=$(cut -d' ' -f1 "$work/off.r" | median)
thr_on=$(cut -d' ' -f2 "$work/on.r" | median); thr_off=$(cut -d' ' -f2 "$work/off.r" | median)

awk -v n="$c_none" -v w="$c_net" -v s="$c_setup" -v r="$rounds" -v lo="$lat_on" -v lf="$lat_off" \
    -v to="$thr_on" -v tf="$thr_off" -v mb="$size_mb" 'BEGIN {
    printf "cold start, /bin/true, median of %d (alternated):\n", r
    printf "  no network grant        %8.1f ms\n", n / 1000
    printf "  one NETWORK_CONNECT     %8.1f ms   (+%.1f ms, ratio %.2f)\n", w / 1000, (w - n) / 1000, w / n
    printf "  of which network setup  %8.1f ms   (netns, veth, addresses, BPF load + attach: -v)\n", s
    printf "inside the sandbox (median of 5 runs each, alternated):\n"
    printf "  TCP connect latency     %8.1f us filtered, %8.1f us unfiltered (ratio %.2f)\n", lo, lf, lo / lf
    printf "  bulk %d MiB throughput %8.1f MiB/s filtered, %6.1f MiB/s unfiltered (ratio %.2f)\n", mb, to, tf, to / tf
}'
