#!/usr/bin/env bash
# The server and MCP (issue 11), in one run against baselines measured in
# the same run:
#  - POST /sandboxes -> running (curl over the Unix socket) vs `omnibase env
#    create`, alternated, each environment deleted after;
#  - exec of /bin/true: REST POST /sandboxes/{id}/exec and MCP tools/call
#    env_exec (the official SDK client over `omnibase mcp`, one session) vs
#    `omnibase env exec`;
#  - GET /sandboxes requests/s with 16 clients (wrk, TLS + bearer token)
#    with 100 environments in the store, vs GET /healthz (answered by the
#    server itself, no forked worker) in the same run. The 100 are one real
#    environment and 99 stopped rows copied from it with sqlite3 (a list
#    reads rows; 99 more running sandboxes would only measure the host).
# Needs root, runsc, wrk, openssl and `npm ci` in tests/mcp.
#
#   benchmarks/bench_server.sh [BUILD_DIR] [ROUNDS]   (default: build, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-$src/build}
rounds=${2:-10}
omnibase=$build/cli/omnibase
server=$build/server/omnibased
[ "$(id -u)" -eq 0 ] || { echo "bench_server: run as root" >&2; exit 1; }
for t in runsc wrk openssl curl sqlite3 node; do
    command -v $t >/dev/null || { echo "bench_server: $t is not installed" >&2; exit 1; }
done
[ -x "$omnibase" ] && [ -x "$server" ] || { echo "bench_server: build $build first" >&2; exit 1; }

work=$(mktemp -d /var/tmp/ob-bench-server-XXXXXX)
export OMNIBASE_STATE_DIR=$work/state OMNIBASE_CONFIG=$work/config.json
echo '{"max_environments_per_owner": 200, "api": {"admins": ["bench"]}}' >"$OMNIBASE_CONFIG"
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token bench" >"$work/tokens"; chmod 600 "$work/tokens"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sock=$work/api.sock
"$server" --socket "$sock" --listen "127.0.0.1:$port" --tls-cert "$work/cert.pem" \
    --tls-key "$work/key.pem" --token-file "$work/tokens" 2>"$work/server.log" &
server_pid=$!
cleanup() {
    [ -f "$work/state/omnibase.db" ] &&
        sqlite3 "$work/state/omnibase.db" "DELETE FROM environments WHERE id LIKE 'env-ffff%'" || true
    for e in "$work"/state/envs/*; do
        [ -d "$e" ] && "$omnibase" env delete "$(basename "$e")" >/dev/null 2>&1 || true
    done
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    "$omnibase" gc >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    curl -sf --unix-socket "$sock" http://omnibase/healthz >/dev/null 2>&1 && break
    sleep 0.1
done

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
p90() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.9+0.5); if (i<1) i=1; print a[i]}'; }
rest() { curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' "$@"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

echo "== create -> running, $rounds rounds alternated (python-agent)"
: >"$work/cli-create.ms"; : >"$work/rest-create.ms"
for i in $(seq 1 "$rounds"); do
    t0=$(now_ms); id=$("$omnibase" env create --owner bench --template python-agent)
    echo $(( $(now_ms) - t0 )) >>"$work/cli-create.ms"
    "$omnibase" env delete "$id" >/dev/null
    t0=$(now_ms)
    id=$(rest -X POST -d '{"owner": "bench", "template": "python-agent", "ttl_hours": 1}' \
        http://omnibase/sandboxes | field id)
    echo $(( $(now_ms) - t0 )) >>"$work/rest-create.ms"
    rest -X DELETE "http://omnibase/sandboxes/$id" >/dev/null
done
c=$(median <"$work/cli-create.ms"); r=$(median <"$work/rest-create.ms")
printf '  omnibase env create   median %5s ms  p90 %5s ms\n' "$c" "$(p90 <"$work/cli-create.ms")"
printf '  POST /sandboxes       median %5s ms  p90 %5s ms  ratio %s\n' "$r" \
    "$(p90 <"$work/rest-create.ms")" "$(awk -v a="$r" -v b="$c" 'BEGIN {printf "%.2f", a/b}')"

echo "== exec of /bin/true, $rounds rounds"
id=$("$omnibase" env create --owner bench --template python-agent --name bench-exec)
"$omnibase" env exec "$id" -- /bin/true
: >"$work/cli-exec.ms"; : >"$work/rest-exec.ms"
for i in $(seq 1 "$rounds"); do
    t0=$(now_ms); "$omnibase" env exec "$id" -- /bin/true
    echo $(( $(now_ms) - t0 )) >>"$work/cli-exec.ms"
    t0=$(now_ms); rest -X POST -d '{"argv": ["/bin/true"]}' "http://omnibase/sandboxes/$id/exec" >/dev/null
    echo $(( $(now_ms) - t0 )) >>"$work/rest-exec.ms"
done
node benchmarks/bench_server_mcp.mjs "$omnibase" "$id" "$rounds" >"$work/mcp-exec.ms"
c=$(median <"$work/cli-exec.ms")
printf '  omnibase env exec     median %5s ms  p90 %5s ms\n' "$c" "$(p90 <"$work/cli-exec.ms")"
for k in rest mcp; do
    m=$(median <"$work/$k-exec.ms")
    printf '  %-21s median %5s ms  p90 %5s ms  ratio %s\n' \
        "$([ $k = rest ] && echo 'POST .../exec' || echo 'MCP env_exec')" "$m" \
        "$(p90 <"$work/$k-exec.ms")" "$(awk -v a="$m" -v b="$c" 'BEGIN {printf "%.2f", a/b}')"
done

echo "== GET /sandboxes with 100 environments, wrk 16 connections x 5 s over TLS"
sqlite3 "$work/state/omnibase.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 99)
  INSERT INTO environments (id, name, owner, template, state, reason, created_at, expires_at,
    last_activity_at, seed, flags, secret_names, memory_mb)
  SELECT printf('env-ffff%08x', i), printf('bench-row-%d', i), owner, template, 'stopped', 'benchmark row',
    created_at, expires_at, last_activity_at, seed, flags, secret_names, 0
  FROM environments, n WHERE environments.id = '$id'"
n=$(curl -skf -H "Authorization: Bearer $token" "https://127.0.0.1:$port/sandboxes" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["environments"]))')
echo "  environments listed: $n"
rps() { wrk -t2 -c16 -d5s -H "Authorization: Bearer $token" "https://127.0.0.1:$port$1" |
    awk '/Requests\/sec/ {print $2}'; }
h=$(rps /healthz); l=$(rps /sandboxes)
printf '  GET /healthz          %8s requests/s (the server alone)\n' "$h"
printf '  GET /sandboxes        %8s requests/s  ratio %s\n' "$l" \
    "$(awk -v a="$l" -v b="$h" 'BEGIN {printf "%.3f", a/b}')"
