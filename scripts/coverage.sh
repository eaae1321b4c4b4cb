#!/usr/bin/env bash
# Prints statement (line) coverage per source directory of a build made with
# -DOB_COVERAGE=ON after its tests ran. Usage: scripts/coverage.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-sanitize}
gcovr --root . --object-directory "$build" "$build" \
      --exclude 'tests/' --exclude 'benchmarks/' --exclude 'examples/' \
      --exclude "$build/" \
      --json-summary "$build/coverage.json" --print-summary >/dev/null
/usr/bin/python3 - "$build/coverage.json" <<'PY'
import json, os, sys
data = json.load(open(sys.argv[1]))
dirs = {}
for f in data["files"]:
    d = os.path.dirname(f["filename"]) or "."
    c, t = dirs.get(d, (0, 0))
    dirs[d] = (c + f["line_covered"], t + f["line_total"])
print(f"{'directory':<20} {'lines':>8} {'covered':>8} {'percent':>8}")
tc = tt = 0
for d in sorted(dirs):
    c, t = dirs[d]
    tc += c; tt += t
    print(f"{d:<20} {t:>8} {c:>8} {100.0 * c / t if t else 100.0:>7.1f}%")
print(f"{'total':<20} {tt:>8} {tc:>8} {100.0 * tc / tt if tt else 100.0:>7.1f}%")
PY
