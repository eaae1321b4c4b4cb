#!/usr/bin/env bash
# Runs one of the MCP tests (test_*.mjs) under node with the official SDK
# (tests/mcp/node_modules, installed by scripts/install-deps.sh with `npm ci`).
# Skips (exit 77) when node, the SDK or, with --root, root and runsc are
# missing; with OMNIBASE_MUST_WORK=1 (CI) a skip is a failure.
# Usage: run.sh [--root] test_NAME.mjs
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

skip() {
    if [ -n "${OMNIBASE_MUST_WORK:-}" ] && [ "${OMNIBASE_MUST_WORK}" != 0 ]; then
        echo "FAIL (skip not allowed, OMNIBASE_MUST_WORK): $1" >&2
        exit 1
    fi
    echo "SKIP: $1" >&2
    exit 77
}

need_root=0
if [ "${1:-}" = --root ]; then
    need_root=1
    shift
fi
test=${1:?usage: run.sh [--root] test_NAME.mjs}

command -v node >/dev/null 2>&1 || skip "node is not installed (scripts/install-deps.sh)"
[ -f "$here/node_modules/@modelcontextprotocol/sdk/package.json" ] ||
    skip "@modelcontextprotocol/sdk is not installed: run 'npm ci' in tests/mcp (scripts/install-deps.sh does)"
[ -x "${OMNIBASE_BIN:-}" ] || { echo "run.sh: OMNIBASE_BIN is not the omnibase binary" >&2; exit 1; }
if [ "$need_root" = 1 ]; then
    [ "$(id -u)" -eq 0 ] || skip "environments start runsc sandboxes, cgroups and loop devices: run as root"
    command -v runsc >/dev/null 2>&1 || skip "runsc is not installed (apt-get install runsc)"
    [ -d /sys/fs/cgroup/memory ] || skip "no cgroup v1 memory controller at /sys/fs/cgroup/memory"
fi
echo "@modelcontextprotocol/sdk $(node -p "require('$here/node_modules/@modelcontextprotocol/sdk/package.json').version"), node $(node --version)"
exec node --test-reporter=spec "$here/$test"
