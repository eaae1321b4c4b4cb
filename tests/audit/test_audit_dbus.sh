#!/usr/bin/env bash
# Every appended event is an org.omnibase.Sandbox1.Event signal on the system
# bus: a private dbus-daemon (system-bus config) stands in for it, reached
# through DBUS_SYSTEM_BUS_ADDRESS, and dbus-monitor listens. Without a bus,
# appends still succeed silently.
set -euo pipefail
APPEND=${AUDIT_APPEND:?AUDIT_APPEND unset}

skip() {
    if [ -n "${OMNIBASE_MUST_WORK:-}" ] && [ "${OMNIBASE_MUST_WORK}" != 0 ]; then
        echo "FAIL (skip not allowed, OMNIBASE_MUST_WORK): $*" >&2
        exit 1
    fi
    echo "SKIP: $*" >&2
    exit 77
}
command -v dbus-daemon >/dev/null || skip "dbus-daemon not installed (scripts/install-deps.sh)"
command -v dbus-monitor >/dev/null || skip "dbus-monitor not installed (dbus-bin)"

tmp=$(mktemp -d /tmp/ob-audit-dbus-XXXXXX)
daemon=""
monitor=""
cleanup() {
    [ -n "$monitor" ] && kill "$monitor" 2>/dev/null
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    cat "$tmp/monitor.out" >&2 || true
    exit 1
}

cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow receive_type="signal"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
CONF
out=$(dbus-daemon --config-file="$tmp/bus.conf" --fork --print-address=1 --print-pid=1)
addr=$(printf '%s\n' "$out" | sed -n 1p)
daemon=$(printf '%s\n' "$out" | sed -n 2p)
[ -n "$addr" ] && [ -n "$daemon" ] || fail "dbus-daemon did not start: $out"

dbus-monitor --address "$addr" "type='signal',interface='org.omnibase.Sandbox1'" \
    >"$tmp/monitor.out" 2>&1 &
monitor=$!
for _ in $(seq 100); do
    grep -q NameAcquired "$tmp/monitor.out" 2>/dev/null && break
    sleep 0.05
done
grep -q NameAcquired "$tmp/monitor.out" || fail "dbus-monitor not ready"

log=$tmp/audit.jsonl
DBUS_SYSTEM_BUS_ADDRESS=$addr "$APPEND" "$log" 3 SandboxStart sb-dbus
for _ in $(seq 100); do
    [ "$(grep -c 'member=Event' "$tmp/monitor.out")" -ge 3 ] && break
    sleep 0.05
done
[ "$(grep -c 'path=/org/omnibase/Sandbox1; interface=org.omnibase.Sandbox1; member=Event' \
    "$tmp/monitor.out")" -eq 3 ] || fail "want 3 Event signals"
for seq in 1 2 3; do
    grep -q "^   uint64 $seq\$" "$tmp/monitor.out" || fail "no signal for seq $seq"
done
[ "$(grep -c '^   string "SandboxStart"$' "$tmp/monitor.out")" -eq 3 ] || fail "type argument"
[ "$(grep -c '^   string "sb-dbus"$' "$tmp/monitor.out")" -eq 3 ] || fail "sandbox_id argument"
# The json argument is the log line itself.
while IFS= read -r line; do
    grep -qxF "   string \"$line\"" "$tmp/monitor.out" || fail "no signal carries: $line"
done <"$log"

# No bus reachable: the append still succeeds and says nothing.
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/nonexistent "$APPEND" "$log" 2 >"$tmp/nobus.out" 2>&1 ||
    fail "append without a bus failed"
[ ! -s "$tmp/nobus.out" ] || fail "append without a bus printed: $(cat "$tmp/nobus.out")"
[ "$(wc -l <"$log")" -eq 5 ] || fail "the log must hold 5 events"

# A bus that accepts the connection and never answers does not hold the
# writer: it gives up connecting after 1 s.
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen()
print("ready", flush=True)
c = s.accept()
time.sleep(20)' "$tmp/hung.sock" >"$tmp/hung.out" &
hung=$!
for _ in $(seq 100); do grep -q ready "$tmp/hung.out" && break; sleep 0.05; done
start=$(date +%s%N)
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/hung.sock "$APPEND" "$log" 1 || fail "append with a hung bus"
ms=$((($(date +%s%N) - start) / 1000000))
kill "$hung" 2>/dev/null || true
[ "$ms" -lt 5000 ] || fail "append with a hung bus took $ms ms"
[ "$(wc -l <"$log")" -eq 6 ] || fail "the log must hold 6 events"
echo PASS
