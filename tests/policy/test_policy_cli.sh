#!/usr/bin/env bash
# Drives `omnibase policy check|compile|explain`: outputs, exit codes, and
# one-line errors with positions (exit 125) for every kind of bad input.
set -euo pipefail
bin=${OMNIBASE_BIN:?OMNIBASE_BIN is not set}
py=/usr/bin/python3
U=3f2a9c1e-0000-4000-8000-000000000001
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run NAME EXPECTED_STATUS CMD...: captures stdout/stderr into $tmp/out, $tmp/err.
run() {
    local name=$1 want=$2 st=0
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" || st=$?
    [ "$st" -eq "$want" ] || fail "$name: exit $st, expected $want ($(head -c 300 "$tmp/err"))"
}

# bad NAME FILE REGEX: exit 125, nothing on stdout, exactly one stderr line matching.
bad() {
    local name=$1 file=$2 re=$3
    run "$name" 125 "$bin" policy check "$file"
    [ ! -s "$tmp/out" ] || fail "$name: printed to stdout"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$name: expected one stderr line, got: $(cat "$tmp/err")"
    grep -Eq "^omnibase: $re" "$tmp/err" || fail "$name: stderr \"$(cat "$tmp/err")\" does not match \"$re\""
}

cat >"$tmp/good.json" <<JSON
{
  "staticPolicies": {
    "read-data": {
      "effect": "permit",
      "principal": {"op": "==", "entity": {"type": "Component", "id": "$U"}},
      "action": {"op": "==", "entity": {"type": "Action", "id": "FILE_READ"}},
      "resource": {"op": "All"},
      "conditions": [{"kind": "when", "body": {"like": {"left": {".": {"left": {"Var": "resource"}, "attr": "path"}},
                                                        "pattern": [{"Literal": "/data/"}, "Wildcard"]}}}]
    },
    "no-secrets": {
      "effect": "forbid",
      "principal": {"op": "All"},
      "action": {"op": "All"},
      "resource": {"op": "is", "entity_type": "File"},
      "conditions": [{"kind": "when", "body": {"like": {"left": {".": {"left": {"Var": "resource"}, "attr": "path"}},
                                                        "pattern": [{"Literal": "/data/secret/"}, "Wildcard"]}}}]
    },
    "api": {
      "effect": "permit",
      "principal": {"op": "All"},
      "action": {"op": "==", "entity": {"type": "Action", "id": "NETWORK_CONNECT"}},
      "resource": {"op": "==", "entity": {"type": "Endpoint", "id": "10.0.0.5:443"}},
      "conditions": []
    }
  },
  "templates": {},
  "templateLinks": []
}
JSON

# check
run check-ok 0 "$bin" policy check "$tmp/good.json"
[ "$(cat "$tmp/out")" = "ok: 3 policies" ] || fail "check-ok: stdout $(cat "$tmp/out")"

# compile: a capability file with the grants and denials and their ids
run compile 0 "$bin" policy compile "$tmp/good.json" --principal "$U"
$py - "$tmp/out" "$U" <<'PY' || fail "compile: wrong capability file: $(cat "$tmp/out")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["version"] == 1 and c["principal"] == sys.argv[2], c
g = [(x["capability"], x["target"], x["policy_id"]) for x in c["grants"]]
d = [(x["capability"], x["target"], x["policy_id"]) for x in c["denials"]]
assert g == [("FILE_READ", "/data/*", "read-data"), ("NETWORK_CONNECT", "10.0.0.5:443", "api")], g
assert d == [(k, "/data/secret/*", "no-secrets") for k in ("FILE_READ", "FILE_WRITE", "FILE_EXEC")], d
PY
run compile-other 0 "$bin" policy compile "$tmp/good.json" --principal 3f2a9c1e-0000-4000-8000-000000000002
grep -q '"read-data"' "$tmp/out" && fail "compile-other: got the other principal's grant"

# explain: first line Allow or Deny, then the reasons
run explain-allow 0 "$bin" policy explain "$tmp/good.json" --principal "$U" --request FILE_READ:/data/x
[ "$(head -1 "$tmp/out")" = Allow ] || fail "explain-allow: $(cat "$tmp/out")"
grep -qx "reason: read-data" "$tmp/out" || fail "explain-allow: no reason line"
run explain-deny 0 "$bin" policy explain "$tmp/good.json" --principal "$U" --request FILE_READ:/data/secret/k
[ "$(head -1 "$tmp/out")" = Deny ] || fail "explain-deny: $(cat "$tmp/out")"
grep -qx "reason: no-secrets" "$tmp/out" || fail "explain-deny: no reason line"
run explain-json 0 "$bin" policy explain "$tmp/good.json" --principal "$U" --request NETWORK_CONNECT:10.0.0.5:443 --json
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d=={"decision":"Allow","reasons":["api"],"errors":[]}, d' "$tmp/out" ||
    fail "explain-json: $(cat "$tmp/out")"
run explain-default 0 "$bin" policy explain "$tmp/good.json" --principal "$U" --request FILE_WRITE:/x --json
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d=={"decision":"Deny","reasons":[],"errors":[]}, d' "$tmp/out" ||
    fail "explain-default: $(cat "$tmp/out")"

# explain on a set that errors: Cedar's answer with the error, and a warning
cat >"$tmp/erring.json" <<'JSON'
{"effect": "forbid", "principal": {"op": "All"}, "action": {"op": "All"}, "resource": {"op": "All"},
 "conditions": [{"kind": "when", "body": {"==": {"left": {".": {"left": {"Var": "resource"}, "attr": "host"}}, "right": {"Value": "x"}}}}]}
JSON
run explain-error 0 "$bin" policy explain "$tmp/erring.json" --principal "$U" --request FILE_READ:/a --json
$py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["decision"]=="Deny" and d["errors"][0]["policy_id"]=="policy0", d' "$tmp/out" ||
    fail "explain-error: $(cat "$tmp/out")"
grep -q "^omnibase: warning: $tmp/erring.json:2:" "$tmp/err" || fail "explain-error: no warning: $(cat "$tmp/err")"
run explain-error-text 0 "$bin" policy explain "$tmp/erring.json" --principal "$U" --request FILE_READ:/a
grep -q "^error: policy0: 2:" "$tmp/out" || fail "explain-error-text: $(cat "$tmp/out")"

# registry layout
mkdir "$tmp/reg"
cp "$tmp/good.json" "$tmp/reg/$U.cedar.json"
run registry-compile 0 "$bin" policy compile --principal "$U" --registry "$tmp/reg"
grep -q '"/data/\*"' "$tmp/out" || fail "registry-compile: $(cat "$tmp/out")"
run registry-explain 0 "$bin" policy explain --registry "$tmp/reg" --principal "$U" --request FILE_READ:/data/a
[ "$(head -1 "$tmp/out")" = Allow ] || fail "registry-explain"
# principals are lower-cased everywhere: so is the registry's file name
run registry-upper-case 0 "$bin" policy compile --principal "${U^^}" --registry "$tmp/reg"
grep -q '"/data/\*"' "$tmp/out" || fail "registry-upper-case: $(cat "$tmp/out")"
run registry-bad-uuid 125 "$bin" policy compile --principal ../x --registry "$tmp/reg"
run registry-missing 125 "$bin" policy compile --principal 3f2a9c1e-0000-4000-8000-00000000000f --registry "$tmp/reg"
grep -q "^omnibase: $tmp/reg/3f2a9c1e-0000-4000-8000-00000000000f.cedar.json: cannot read" "$tmp/err" || fail "registry-missing: $(cat "$tmp/err")"

# bad input: one line with FILE:LINE:COL, exit 125
printf '{"staticPolicies": {\n  "p": ' >"$tmp/trunc.json"
bad malformed "$tmp/trunc.json" "$tmp/trunc.json:2:[0-9]+: invalid JSON"
printf '{"effect": 1,\n "principal": {"op": "All"}, "action": {"op": "All"}, "resource": {"op": "All"}, "conditions": []}' >"$tmp/type.json"
bad wrong-type "$tmp/type.json" "$tmp/type.json:1:12: \"effect\" must be \"permit\" or \"forbid\""
sed 's/"like": {"left"/"likes": {"left"/' "$tmp/good.json" >"$tmp/kind.json"
bad unknown-expression "$tmp/kind.json" "$tmp/kind.json:8:[0-9]+: unsupported in omnibase's Cedar subset: expression \"likes\""
sed 's/"id": "FILE_READ"/"id": "FILE_RAED"/' "$tmp/good.json" >"$tmp/action.json"
bad unknown-action "$tmp/action.json" "$tmp/action.json:6:[0-9]+: policy \"read-data\": unknown action \"FILE_RAED\""
sed 's/"op": "is", "entity_type"/"op": "isa", "entity_type"/' "$tmp/good.json" >"$tmp/op.json"
bad unknown-op "$tmp/op.json" "$tmp/op.json:15:26: unknown resource op \"isa\""
sed 's/"conditions": \[\]/"conditions": [], "extra": true/' "$tmp/good.json" >"$tmp/key.json"
bad unknown-key "$tmp/key.json" "$tmp/key.json:[0-9]+:[0-9]+: unknown key \"extra\" in \"policy\""
bad can-error "$tmp/erring.json" "$tmp/erring.json:2:[0-9]+: policy \"policy0\" can error when the action is FILE_READ"
$py -c '
import sys
body = "{\"Value\": true}"
for _ in range(100): body = "{\"!\": {\"arg\": %s}}" % body
sys.stdout.write("{\"effect\":\"permit\",\"principal\":{\"op\":\"All\"},\"action\":{\"op\":\"All\"},\"resource\":{\"op\":\"All\"},\"conditions\":[{\"kind\":\"when\",\"body\":%s}]}" % body)' >"$tmp/deep.json"
bad deep "$tmp/deep.json" "$tmp/deep.json:1:[0-9]+: invalid JSON: nesting too deep"
printf '{"effect": "perm\xc3\x28it"}' >"$tmp/utf8.json"
bad utf8 "$tmp/utf8.json" "$tmp/utf8.json:1:17: invalid UTF-8"
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$tmp/huge.json"
bad huge "$tmp/huge.json" "$tmp/huge.json: policy file too large \(limit 16777216 bytes\)"
: >"$tmp/empty.json"
bad empty "$tmp/empty.json" "$tmp/empty.json:1:1: invalid JSON"
bad missing "$tmp/nope.json" "$tmp/nope.json: cannot read: No such file or directory"
bad directory "$tmp" "$tmp: cannot read: Is a directory"
printf '{"staticPolicies": {}, "templates": {"t": {}}}' >"$tmp/tmpl.json"
bad templates "$tmp/tmpl.json" "$tmp/tmpl.json:1:24: unsupported in omnibase's Cedar subset: templates"

# compile refuses what it cannot express, naming the policy
cat >"$tmp/neg.json" <<'JSON'
{"effect": "permit", "principal": {"op": "All"}, "action": {"op": "==", "entity": {"type": "Action", "id": "FILE_READ"}}, "resource": {"op": "All"},
 "conditions": [{"kind": "unless", "body": {"like": {"left": {".": {"left": {"Var": "resource"}, "attr": "path"}}, "pattern": [{"Literal": "/tmp/"}, "Wildcard"]}}}]}
JSON
run compile-negated 125 "$bin" policy compile "$tmp/neg.json" --principal "$U"
grep -Eq "^omnibase: $tmp/neg.json:2:[0-9]+: policy \"policy0\" cannot be compiled for FILE_READ: a negated pattern" "$tmp/err" ||
    fail "compile-negated: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "compile-negated: printed a capability file"

# usage
for sub in check compile explain; do
    run "help-$sub" 0 "$bin" policy "$sub" --help
    grep -q "^usage: omnibase policy check FILE" "$tmp/out" || fail "help-$sub"
done
run help 0 "$bin" policy --help
run no-sub 125 "$bin" policy
run unknown-sub 125 "$bin" policy verify "$tmp/good.json"
run no-file 125 "$bin" policy check
run two-files 125 "$bin" policy check "$tmp/good.json" "$tmp/good.json"
run bad-option 125 "$bin" policy check --frobnicate "$tmp/good.json"
run compile-no-principal 125 "$bin" policy compile "$tmp/good.json"
run compile-bad-principal 125 "$bin" policy compile "$tmp/good.json" --principal nope
run explain-no-request 125 "$bin" policy explain "$tmp/good.json" --principal "$U"
run explain-bad-kind 125 "$bin" policy explain "$tmp/good.json" --principal "$U" --request FILE_RAED:/x
grep -q "unknown capability kind \"FILE_RAED\"" "$tmp/err" || fail "explain-bad-kind: $(cat "$tmp/err")"
run explain-bad-target 125 "$bin" policy explain "$tmp/good.json" --principal "$U" --request NETWORK_CONNECT:host
run explain-relative 125 "$bin" policy explain "$tmp/good.json" --principal "$U" --request FILE_READ:data/x
run registry-and-file 125 "$bin" policy check "$tmp/good.json" --registry "$tmp/reg" --principal "$U"

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)" >&2
    exit 1
fi
echo "policy CLI: all cases passed"
