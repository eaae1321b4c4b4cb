#!/usr/bin/env bash
# omnibase events verify/rotate on real logs written by the library:
# 1,000 appends verify; an edited, dropped, swapped, duplicated or forged
# line and a torn last line each fail at the right seq and line; 4 writer
# processes x 250 events verify; the chain matches an independent Python
# implementation of the documented canonical hash (docs/events.md).
set -euo pipefail
OB=${OMNIBASE_BIN:?OMNIBASE_BIN unset}
APPEND=${AUDIT_APPEND:?AUDIT_APPEND unset}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/ob-audit-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/audit.jsonl

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# verify FILE must exit 1 and name seq SEQ at line LINE.
expect_bad() {
    local file=$1 seq=$2 line=$3 out rc
    set +e
    out=$("$OB" events verify "$file" 2>&1)
    rc=$?
    set -e
    [ "$rc" -eq 1 ] || fail "verify $file: exit $rc, want 1: $out"
    [[ "$out" == "bad: $file:$line"*": seq $seq: "* ]] ||
        fail "verify $file: '$out' does not name seq $seq at line $line"
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "verify printed more than one line"
    echo "  detected: $out"
}

# An independent check of the documented format: canonical bytes = the line
# with ,"hash":"<64 hex>"} replaced by }, hash = SHA-256 hex, prev_hash chain.
py_check() {
    "$PY" - "$1" <<'PYEOF'
import hashlib, json, sys
prev, seq = "0" * 64, 0
for n, raw in enumerate(open(sys.argv[1], "rb").read().split(b"\n")[:-1], 1):
    obj = json.loads(raw)
    keys = list(obj)
    assert keys[:5] == ["seq", "time", "type", "sandbox_id", "principal"], keys
    assert keys[-2:] == ["prev_hash", "hash"], keys
    suffix = b',"hash":"' + obj["hash"].encode() + b'"}'
    assert raw.endswith(suffix)
    canon = raw[: -len(suffix)] + b"}"
    assert hashlib.sha256(canon).hexdigest() == obj["hash"], n
    assert obj["prev_hash"] == prev and obj["seq"] == seq + 1, n
    prev, seq = obj["hash"], obj["seq"]
print(seq)
PYEOF
}

echo "== 1,000 appends verify"
"$APPEND" "$log" 1000
out=$("$OB" events verify "$log")
[[ "$out" == "ok: 1000 events, last seq 1000, last hash "* ]] || fail "verify: $out"
[ "$(py_check "$log")" = 1000 ] || fail "independent chain check"
out=$(OMNIBASE_STATE_DIR=$tmp "$OB" events verify)
[[ "$out" == "ok: 1000 events, last seq 1000"* ]] || fail "default path: $out"

echo "== tampering is detected at the right seq"
sed '500s/"n":499,/"n":498,/' "$log" >"$tmp/edited"
cmp -s "$log" "$tmp/edited" && fail "sed did not edit"
expect_bad "$tmp/edited" 500 500
sed '500d' "$log" >"$tmp/dropped"
expect_bad "$tmp/dropped" 500 500
sed '1000d' "$log" >"$tmp/dropped-last"
"$OB" events verify "$tmp/dropped-last" | grep -q "ok: 999 events" ||
    fail "dropping the last line cannot be seen without an anchor (docs say so)"
awk 'NR==500 {keep=$0; next} NR==501 {print; print keep; next} {print}' "$log" >"$tmp/swapped"
expect_bad "$tmp/swapped" 500 500
sed '300p' "$log" >"$tmp/duplicated"
expect_bad "$tmp/duplicated" 301 301
# A forged line with a correct hash chained to seq 300: the next line breaks.
"$PY" - "$log" "$tmp/forged" <<'PYEOF'
import hashlib, json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
prev = json.loads(lines[299])["hash"]
body = ('{"seq":301,"time":"2026-11-22T05:40:00.000000Z","type":"SandboxExit",'
        '"sandbox_id":"forged","principal":null,"prev_hash":"%s"}' % prev).encode()
h = hashlib.sha256(body).hexdigest()
forged = body[:-1] + (',"hash":"%s"}' % h).encode()
open(sys.argv[2], "wb").write(b"\n".join(lines[:300] + [forged] + lines[300:]) + b"\n")
PYEOF
expect_bad "$tmp/forged" 302 302
sed '700s/"hash":"\(.\)/"hash":"f\1/' "$log" >"$tmp/badhash" # 65 hex digits
expect_bad "$tmp/badhash" 700 700
head -c -10 "$log" >"$tmp/torn"
expect_bad "$tmp/torn" 1000 1000
grep -q "torn last line" <("$OB" events verify "$tmp/torn" || true) || fail "torn not named"

echo "== verify waits for an append that is under way"
# A writer holding the lock has written half a line: verify, started then,
# must wait for the lock and see the whole line, not report a torn one.
cp "$log" "$tmp/racing"
/usr/bin/python3 - "$tmp/racing" "$tmp/racing.ready" <<'PYEOF' &
import fcntl, os, sys, time
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
last = lines[-1]
with open(sys.argv[1], "wb") as f:  # the log without its last line...
    f.write(b"\n".join(lines[:-1]) + b"\n")
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, last[:100])  # ...then half of it, under the writers' lock
open(sys.argv[2], "w").close()
time.sleep(1)
os.write(fd, last[100:] + b"\n")
fcntl.flock(fd, fcntl.LOCK_UN)
PYEOF
writer=$!
for _ in $(seq 100); do [ -e "$tmp/racing.ready" ] && break; sleep 0.02; done
out=$("$OB" events verify "$tmp/racing" || true)
wait "$writer"
[[ "$out" == "ok: 1000 events, last seq 1000"* ]] || fail "verify during an append: $out"

echo "== command failures exit 125"
set +e
"$OB" events verify "$tmp/missing" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 125 ] || fail "missing log: exit $rc"
grep -q "^omnibase: $tmp/missing: No such file or directory$" "$tmp/err" || fail "$(cat "$tmp/err")"
set +e
"$OB" events verify a b 2>/dev/null
rc1=$?
"$OB" events frobnicate 2>/dev/null
rc2=$?
"$OB" events follow --since x "$log" 2>/dev/null
rc3=$?
set -e
[ "$rc1$rc2$rc3" = 125125125 ] || fail "bad usage: $rc1 $rc2 $rc3"
set +e
"$OB" events verify --bogus "$log" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 125 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
    grep -q '^omnibase: events verify: unknown option "--bogus"' "$tmp/err" ||
    fail "unknown option: $rc $(cat "$tmp/err")"

echo "== 4 writer processes x 250 events"
clog=$tmp/concurrent.jsonl
for i in 1 2 3 4; do
    "$APPEND" "$clog" 250 SandboxStart "sb-$i" &
done
wait
out=$("$OB" events verify "$clog")
[[ "$out" == "ok: 1000 events, last seq 1000"* ]] || fail "concurrent: $out"
for i in 1 2 3 4; do
    [ "$(grep -c "\"sandbox_id\":\"sb-$i\"" "$clog")" -eq 250 ] || fail "writer $i lost events"
done
[ "$(py_check "$clog")" = 1000 ] || fail "independent chain check (concurrent)"

echo "== rotation keeps the chain"
out=$("$OB" events rotate "$log")
[ "$out" = "rotated: $log.1 ends at seq 1000" ] || fail "rotate: $out"
"$APPEND" "$log" 5
out=$("$OB" events verify "$log")
[[ "$out" == "ok: 6 events, last seq 1006"* ]] || fail "after rotation: $out"
head -1 "$log" | grep -q '"seq":1001,.*"type":"AuditLogRotated".*"previous_file":"audit.jsonl.1"' ||
    fail "first line after rotation: $(head -1 "$log")"
"$OB" events verify "$log.1" | grep -q "ok: 1000 events" || fail "rotated file"
mv "$log.1" "$tmp/elsewhere"
set +e
out=$("$OB" events verify "$log")
rc=$?
set -e
[ "$rc" -eq 1 ] && [[ "$out" == *"seq 1001: "*"predecessor"* ]] || fail "no predecessor: $out"
"$OB" events verify --continue "$log" | grep -q "ok: 6 events, last seq 1006" || fail "--continue"
echo "PASS"
