#!/usr/bin/env bash
# The differential test (see CMakeLists.txt). Skips (exit 77) when node or
# cedar-wasm is missing; with OMNIBASE_MUST_WORK=1 that is a failure.
# Usage: run.sh [SEED [NSETS]]   (default 20261122, 1000 sets x 6 requests)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seed=${1:-20261122}
nsets=${2:-1000}
diff_bin=${POLICY_DIFF:-${OMNIBASE_BUILD_DIR:-$here/../../build}/tests/cedar/policy_diff}

skip() {
    if [ -n "${OMNIBASE_MUST_WORK:-}" ] && [ "${OMNIBASE_MUST_WORK}" != 0 ]; then
        echo "FAIL (skip not allowed, OMNIBASE_MUST_WORK): $1" >&2
        exit 1
    fi
    echo "SKIP: $1" >&2
    exit 77
}

command -v node >/dev/null 2>&1 || skip "node is not installed (scripts/install-deps.sh)"
[ -f "$here/node_modules/@cedar-policy/cedar-wasm/package.json" ] ||
    skip "cedar-wasm is not installed: run 'npm ci' in tests/cedar (scripts/install-deps.sh does)"
[ -x "$diff_bin" ] || { echo "run.sh: $diff_bin not built" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node "$here/gen.js" "$seed" "$nsets" >"$tmp/cases.jsonl"
node "$here/cedar_driver.js" "$tmp/cases.jsonl" >"$tmp/expected.jsonl"
echo "cedar-wasm $(node -p "require('$here/node_modules/@cedar-policy/cedar-wasm/package.json').version"), seed $seed"
"$diff_bin" "$tmp/cases.jsonl" "$tmp/expected.jsonl"
