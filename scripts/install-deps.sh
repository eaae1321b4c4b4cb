#!/usr/bin/env bash
# Installs everything omnibase needs to build, run and test, from Debian's
# packages and npm only. Used by the README's first command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential cmake pkg-config clang llvm lld libclang-rt-14-dev \
    libcjson-dev libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev \
    libbpf-dev libelf-dev zlib1g-dev libsystemd-dev libcmocka-dev libssl-dev \
    libsqlite3-dev sqlite3 libarchive-dev e2fsprogs libmicrohttpd-dev curl openssl \
    bpftool \
    runsc iproute2 procps psmisc dbus-daemon dbus-bin netbase \
    gcovr python3-jsonschema python3-minimal ca-certificates groff-base bash-completion \
    python3-kubernetes python3-yaml python3-numpy python3-pandas \
    strace libpython3.11-testsuite \
    python3-protobuf protobuf-compiler \
    chromium wrk \
    clang-format git

# Node.js with npm runs the Cedar reference and the MCP SDK's client. Machines
# of this kind ship NodeSource's nodejs (npm included), which conflicts with
# Debian's npm.
if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi

# The Cedar reference implementation for the differential test (npm only).
if [ -f tests/cedar/package.json ]; then
    (cd tests/cedar && npm ci --no-audit --no-fund --loglevel=error)
fi

# The official MCP SDK, whose client drives `omnibase mcp` in tests/mcp (npm only).
if [ -f tests/mcp/package.json ]; then
    (cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
fi

# playwright-core drives Debian's chromium (above) against the dashboard in
# tests/web (npm only; it downloads no browser of its own).
if [ -f tests/web/package.json ]; then
    (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi
