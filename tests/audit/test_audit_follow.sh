#!/usr/bin/env bash
# omnibase events follow: new lines as they are appended, filters, --since,
# a torn tail repaired under it, and a rotation in the middle.
set -euo pipefail
OB=${OMNIBASE_BIN:?OMNIBASE_BIN unset}
APPEND=${AUDIT_APPEND:?AUDIT_APPEND unset}
tmp=$(mktemp -d /tmp/ob-audit-follow-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
log=$tmp/audit.jsonl

fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.out; do echo "--- $f" >&2; cat "$f" >&2; done
    exit 1
}

# Waits until process $1 has the log open (it then follows from that point).
wait_open() {
    for _ in $(seq 100); do
        ls -l "/proc/$1/fd" 2>/dev/null | grep -q "$log" && return 0
        sleep 0.05
    done
    fail "follower $1 never opened the log"
}

# Waits until file $1 has $2 lines.
wait_lines() {
    for _ in $(seq 200); do
        [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    fail "$1 has $(wc -l <"$1") lines, want $2"
}

# Waits until file $1 ends with the line of seq $2: the marker appended after
# everything that must not be printed. follow prints in log order, so once the
# marker is out, a line that should not have been printed would be before it.
wait_marker() {
    for _ in $(seq 200); do
        [ -f "$1" ] && tail -n 1 "$1" | grep -q "^{\"seq\":$2," && return 0
        sleep 0.05
    done
    fail "$1 never printed the marker, seq $2"
}

# Waits until process $1 sleeps in poll(2), i.e. it has tried the log and is
# waiting for it to change (or, here, to appear).
wait_polling() {
    for _ in $(seq 200); do
        grep -q poll "/proc/$1/wchan" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "follower $1 never waited (wchan $(cat "/proc/$1/wchan" 2>/dev/null))"
}

seqs() { sed 's/^{"seq":\([0-9]*\),.*/\1/' "$1" | tr '\n' ' '; }

"$APPEND" "$log" 3 SandboxStart sb-a
"$OB" events follow "$log" >"$tmp/all.out" &
pids+=($!)
wait_open $!
"$OB" events follow --type SandboxExit --sandbox sb-b "$log" >"$tmp/filtered.out" &
pids+=($!)
wait_open $!
"$OB" events follow --since 2 "$log" >"$tmp/since.out" &
pids+=($!)
wait_lines "$tmp/since.out" 2

"$APPEND" "$log" 2 SandboxExit sb-b       # 4 5
"$APPEND" "$log" 2 SandboxExit sb-c       # 6 7
printf '{"seq":8,"time":"2026-' >>"$log"  # a torn tail...
wait_lines "$tmp/all.out" 4
"$APPEND" "$log" 1 SandboxStart sb-d      # ...repaired: 8 AuditLogRepaired, 9
"$OB" events rotate "$log" >/dev/null     # 10 AuditLogRotated in the new file
"$APPEND" "$log" 2 SandboxExit sb-b       # 11 12
"$APPEND" "$log" 1 SandboxExit sb-b       # 13: the marker, which every filter passes
for f in all since filtered; do wait_marker "$tmp/$f.out" 13; done

[ "$(seqs "$tmp/all.out")" = "4 5 6 7 8 9 10 11 12 13 " ] || fail "all: $(seqs "$tmp/all.out")"
[ "$(seqs "$tmp/since.out")" = "2 3 4 5 6 7 8 9 10 11 12 13 " ] || fail "since: $(seqs "$tmp/since.out")"
[ "$(seqs "$tmp/filtered.out")" = "4 5 11 12 13 " ] || fail "filtered: $(seqs "$tmp/filtered.out")"
grep -q '"seq":8,.*"type":"AuditLogRepaired"' "$tmp/all.out" || fail "no repair event"
grep -q '"seq":10,.*"type":"AuditLogRotated"' "$tmp/all.out" || fail "no rotation event"
# What follow prints is the log's own lines, byte for byte.
cat "$log.1" "$log" | grep -F -x -f "$tmp/all.out" | cmp -s - "$tmp/all.out" || fail "lines differ"
/usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]): json.loads(l)' "$tmp/all.out" || fail "not JSON lines"
"$OB" events verify "$log" | grep -q "ok: 4 events, last seq 13" || fail "verify after follow"

# Two rotations while the followers cannot look (stopped): they must replay
# the file in between (now audit.jsonl.1) from the rotated files.
kill -STOP "${pids[@]}"
"$APPEND" "$log" 1 SandboxStart sb-e       # 14 (in the file the followers hold)
"$OB" events rotate "$log" >/dev/null      # 15
"$APPEND" "$log" 1 SandboxExit sb-b        # 16
"$OB" events rotate "$log" >/dev/null      # 17
"$APPEND" "$log" 2 SandboxExit sb-b        # 18 19
kill -CONT "${pids[@]}"
"$APPEND" "$log" 1 SandboxExit sb-b        # 20: the marker, appended live
for f in all since filtered; do wait_marker "$tmp/$f.out" 20; done
[ "$(seqs "$tmp/all.out")" = "4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 " ] ||
    fail "all after two rotations: $(seqs "$tmp/all.out")"
[ "$(seqs "$tmp/filtered.out")" = "4 5 11 12 13 16 18 19 20 " ] ||
    fail "filtered after two rotations: $(seqs "$tmp/filtered.out")"
[ "$(seqs "$tmp/since.out")" = "2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 " ] ||
    fail "since after two rotations: $(seqs "$tmp/since.out")"
# A log that does not exist yet (nor its directory): follow waits for it
# instead of failing; the log appears only once follow has found it missing
# and waits (--since 1: it must print both lines).
late=$tmp/late/audit.jsonl
"$OB" events follow --since 1 "$late" >"$tmp/late.out" &
pids+=($!)
wait_polling $!
[ ! -e "$late" ] || fail "the late log exists before its first append"
"$APPEND" "$late" 2 SandboxStart sb-late
wait_lines "$tmp/late.out" 2
[ "$(seqs "$tmp/late.out")" = "1 2 " ] || fail "late log: $(seqs "$tmp/late.out")"
# SIGTERM ends follow cleanly (exit 0), promptly.
"$OB" events follow "$log" >/dev/null &
f=$!
wait_open $f
kill -TERM $f
rc=0
timeout 5 tail --pid=$f -f /dev/null || fail "follow did not end on SIGTERM"
wait $f || rc=$?
[ "$rc" -eq 0 ] || fail "follow exit status $rc on SIGTERM, want 0"
echo PASS
