#!/usr/bin/env bash
# The README's first command: install what omnibase needs, build it, and run
# the acceptance demo: a Python script in a gVisor sandbox that may read one
# file (data/allowed.txt) and nothing else: not data/other.txt, not the
# host's /etc/shadow, and no network.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

demo=${OMNIBASE_DEMO_DIR:-/tmp/omnibase-demo}
rm -rf "$demo"
mkdir -p "$demo/data"
echo "the allowed file" >"$demo/data/allowed.txt"
echo "the other file" >"$demo/data/other.txt"
chmod 0644 "$demo/data/"*.txt
cat >"$demo/caps.json" <<JSON
{
  "version": 1,
  "grants": [
    {"capability": "FILE_READ", "target": "$demo/data/allowed.txt", "policy_id": "demo"}
  ],
  "limits": {"memory_mb": 64, "timeout_s": 20}
}
JSON

echo "+ omnibase sandbox run examples/acceptance.py $demo/data --capabilities $demo/caps.json"
set +e
build/cli/omnibase sandbox run examples/acceptance.py "$demo/data" --capabilities "$demo/caps.json"
status=$?
set -e
echo "(exit status $status)"
