#!/usr/bin/env bash
# Policy benchmark: runs the built bench_policy (omnibase) and, on the same
# policy sets and requests in the same run, cedar-wasm's pre-parsed API
# (preparsePolicySet once, then statefulIsAuthorized), and prints both with
# the ratios. Builds nothing.
# Usage: benchmarks/bench_policy.sh [BUILD_DIR]   (default build)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
bench=$build/benchmarks/bench_policy
cedar=$src/tests/cedar/node_modules/@cedar-policy/cedar-wasm
[ -x "$bench" ] || { echo "bench_policy.sh: build $bench first (cmake --build $build --target bench_policy)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== omnibase (parse + check + compile for one principal; capset check and evaluator per request)"
"$bench" --emit "$tmp" | tee "$tmp/ours.txt"
if ! command -v node >/dev/null 2>&1 || [ ! -d "$cedar" ]; then
    echo "cedar-wasm not installed (npm ci in tests/cedar): no baseline" >&2
    exit 0
fi
echo "== cedar-wasm (same sets and requests)"
node "$src/benchmarks/bench_policy_cedar.js" "$cedar" "$tmp" 10 100 1000 10000 | tee "$tmp/cedar.txt"
echo "== ratios (cedar-wasm / omnibase)"
/usr/bin/python3 - "$tmp/ours.txt" "$tmp/cedar.txt" <<'PY'
import sys
ours = {int(l.split()[0]): l.split() for l in open(sys.argv[1]) if not l.startswith('#')}
cedar = {int(l.split()[0]): l.split() for l in open(sys.argv[2]) if not l.startswith('#')}
print("# policies | parse+check+compile: omnibase_ms (cpu_ms)  cedar preparse_ms  ratio"
      " | per request median (p99): omnibase capset_ns  omnibase evaluator_ns  cedar stateful_ns"
      "  ratio cedar/capset  ratio cedar/evaluator | same allow count")
for n in sorted(ours):
    o, c = ours[n], cedar[n]
    tot, cp = float(o[4]), float(c[1])
    cpu = float(o[5])
    cap, cap99, ev, ev99 = (float(x) for x in o[6:10])
    ced, ced99 = float(c[2]), float(c[3])
    print(f"{n:9d} | {tot:10.3f} ({cpu:.3f}) {cp:10.3f} {cp / tot:6.1f}x"
          f" | {cap:6.0f} ({cap99:.0f})  {ev:9.0f} ({ev99:.0f})  {ced:10.0f} ({ced99:.0f})"
          f"  {ced / cap:8.0f}x  {ced / ev:6.0f}x"
          f" | {'yes' if o[10] == c[4] else 'NO (%s vs %s)' % (o[10], c[4])}")
PY
