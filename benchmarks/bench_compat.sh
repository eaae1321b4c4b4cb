#!/usr/bin/env bash
# Compatibility (issue 15): CPython 3.11's own regression suite (Debian's
# libpython3.11-testsuite), module by module, three ways in one run:
#   host      /usr/bin/python3 as uid 65534 (nobody), no sandbox
#   bare      `runsc run` of an equivalent bundle (the same mounts, limits and
#             flags as omnibase's plan, python as PID 1 as uid 65534, no
#             sidecar) with a private 1777 /dev/shm
#   omnibase  `omnibase sandbox run` granting only FILE_READ /usr/lib/python3.11/*
# Prints per module passed/failed/errors/skipped and seconds for each way, the
# omnibase run's status and exit code, totals, the ratio of omnibase's passes
# to bare runsc's (target >= 0.995) and of its time (target <= 1.10).
# Every way runs benchmarks/compat/run_module.py (unittest, one JSON line).
#
#   benchmarks/bench_compat.sh [OMNIBASE_BINARY] [MODULE...]
#       default binary: build/cli/omnibase; default modules: the issue's list
#   COMPAT_TIMEOUT=S (default 900) bounds each module in each way.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
omnibase=${1:-$src/build/cli/omnibase}
shift || true
[ -f /usr/lib/python3.11/test/test_os.py ] ||
    { echo "bench_compat: install libpython3.11-testsuite (scripts/install-deps.sh)" >&2; exit 1; }
limit=${COMPAT_TIMEOUT:-900}
if [ $# -gt 0 ]; then
    modules=("$@")
else
    modules=(test_os test_io test_tempfile test_shutil test_pathlib test_subprocess
             test_threading test_multiprocessing_spawn test_signal test_selectors test_socket
             test_csv test_datetime test_gzip test_tarfile test_zipfile test_pickle
             test_decimal test_logging test_argparse test_asyncio.test_tasks
             test_asyncio.test_subprocess test_asyncio.test_streams test_mmap test_pty
             test_fcntl test_posix)
fi

. "$src/benchmarks/bench_lib.sh"
bench_setup bench_compat "$omnibase" "${TMPDIR:-/var/tmp}/ob-compat-XXXXXX" omnibase-compat

runner=$work/run_module.py
install -m 0644 "$src/benchmarks/compat/run_module.py" "$runner"
cat >"$work/caps.json" <<'CAPS'
{"version": 1,
 "grants": [{"capability": "FILE_READ", "target": "/usr/lib/python3.11/*", "policy_id": "stdlib"}]}
CAPS
limits=(--memory 1024 --tmpfs 512 --timeout "$limit")

# the last line of a way's stdout that is the runner's JSON, or a stand-in
result_of() { # $1 file, $2 module
    grep -a '^{"module"' "$1" | tail -1 | grep . ||
        printf '{"module": "%s", "run": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "seconds": 0, "failed_ids": [], "crashed": true}\n' "$2"
}
now_ms() { date +%s%3N; }

host_run() { # $1 module, $2 out
    local tmp; tmp=$(mktemp -d "$work/host-XXXXXX")
    chown 65534:65534 "$tmp"
    (cd "$tmp" && timeout -k 5 "$limit" setpriv --reuid=65534 --regid=65534 --clear-groups \
        env -i HOME="$tmp" TMPDIR="$tmp" PATH=/usr/bin:/bin LANG=C.UTF-8 \
        /usr/bin/python3 -I -B "$runner" "test.$1" </dev/null >"$2.raw" 2>"$2.err") || true
    result_of "$2.raw" "test.$1" >"$2"
    rm -rf "$tmp"
}

# The bare bundle: omnibase's own plan (--dry-run) without the sidecar, its
# mount points made by hand, with a 1777 /dev/shm, in its own cgroup.
make_bundle() { # $1 module, $2 bundle dir
    "$omnibase" sandbox run "$runner" --capabilities "$work/caps.json" "${limits[@]}" \
        --dry-run -- "test.$1" 2>/dev/null >"$work/plan.json"
    "$src/benchmarks/bare_bundle.py" "$work/plan.json" "$2" --private-shm --no-sidecar
}
n_bare=0
bare_run() { # $1 module, $2 out
    local id bundle
    n_bare=$((n_bare + 1)); id=compat-$$-$n_bare; bundle=$work/bundle-$n_bare
    make_bundle "$1" "$bundle"
    "$src/benchmarks/bare_bundle.py" --set-cgroup "$bundle/config.json" "/omnibase-compat/$id"
    timeout -k 5 "$limit" runsc --root "$bare_root" --network=none --platform=ptrace \
        run --bundle "$bundle" "$id" </dev/null >"$2.raw" 2>"$2.err" || true
    runsc --root "$bare_root" delete --force "$id" >/dev/null 2>&1 || true
    result_of "$2.raw" "test.$1" >"$2"
    rm -rf "$bundle"
}

omni_run() { # $1 module, $2 out
    "$omnibase" sandbox run "$runner" --capabilities "$work/caps.json" "${limits[@]}" \
        --output 4096 --json -- "test.$1" </dev/null >"$2.json" 2>"$2.err" || true
    /usr/bin/python3 - "$2.json" "test.$1" >"$2" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError:
    r = {"status": "error", "exit_code": -1, "stdout": "", "violations": []}
line = [l for l in r.get("stdout", "").splitlines() if l.startswith('{"module"')]
res = json.loads(line[-1]) if line else {"module": sys.argv[2], "run": 0, "passed": 0,
                                        "failed": 0, "errors": 0, "skipped": 0,
                                        "seconds": 0, "failed_ids": [], "crashed": True}
res["status"] = r.get("status")
res["exit_code"] = r.get("exit_code")
res["violations"] = sorted({v.get("capability", "") + " " + v.get("target", "")
                            for v in r.get("violations", [])})
print(json.dumps(res))
PY
}

cat >"$work/report.py" <<'PY'
import json, os, sys
work = sys.argv[1]
mods = open(os.path.join(work, "done")).read().split()
row_only = sys.argv[2:] == ["row"]
if row_only:
    mods = mods[-1:]
def load(m, way):
    r = json.load(open(os.path.join(work, f"{m}.{way}")))
    r["wall"] = int(open(os.path.join(work, f"{m}.{way}.ms")).read()) / 1000
    return r
cell = lambda r: "%4d/%d/%d %6.1fs" % (r["passed"], r["failed"], r["errors"], r["wall"])
if not row_only or len(open(os.path.join(work, "done")).read().split()) == 1:
    print("%-28s %-20s %-20s %-20s %s" % ("module", "host p/f/e time", "bare runsc", "omnibase", "omnibase status"), flush=True)
tot = {w: [0, 0, 0, 0.0] for w in ("host", "bare", "omni")}
clean_ok = clean = 0
diffs = []
for m in mods:
    rs = {w: load(m, w) for w in tot}
    for w, r in rs.items():
        t = tot[w]; t[0] += r["passed"]; t[1] += r["failed"]; t[2] += r["errors"]; t[3] += r["wall"]
    o = rs["omni"]
    st = "%s/%s" % (o["status"], o["exit_code"])
    if o.get("violations"):
        st += " (%d denied: %s)" % (len(o["violations"]), "; ".join(o["violations"][:2]))
    if o["failed"] == 0 and o["errors"] == 0 and not o.get("crashed"):
        clean += 1
        clean_ok += o["status"] == "ok" and o["exit_code"] == 0
    if row_only:
        print("%-28s %-20s %-20s %-20s %s" % (m, cell(rs["host"]), cell(rs["bare"]), cell(o), st), flush=True)
    lost = sorted(set(o["failed_ids"]) - set(rs["bare"]["failed_ids"]))
    if lost or o.get("crashed"):
        diffs.append((m, lost, o.get("crashed")))
if row_only:
    sys.exit(0)
print("%-28s %-20s %-20s %-20s" % ("total", *("%4d/%d/%d %6.1fs" % tuple(tot[w]) for w in tot)))
b, o = tot["bare"], tot["omni"]
print("passes omnibase/bare runsc: %d/%d = %.4f (target >= 0.995)" % (o[0], b[0], o[0] / max(b[0], 1)))
print("passes bare runsc/host:     %d/%d = %.4f" % (b[0], tot["host"][0], b[0] / max(tot["host"][0], 1)))
print("time omnibase/bare runsc:   %.1f/%.1f s = %.3f (target <= 1.10)" % (o[3], b[3], o[3] / max(b[3], 0.001)))
print("modules with no failure under omnibase that ended ok/0: %d of %d" % (clean_ok, clean))
for m, lost, crashed in diffs:
    print("  %s: %s%s" % (m, "no result (crash/timeout); " if crashed else "",
                          ", ".join(lost[:6]) + (" ..." if len(lost) > 6 else "")))
print("host load average at the end: %s" % open("/proc/loadavg").read().split()[:3])
PY

printf 'CPython %s regression suite, three ways (timeout %s s per module and way)\n' \
    "$(/usr/bin/python3 -c 'import platform; print(platform.python_version())')" "$limit"
for m in "${modules[@]}"; do
    out=$work/$m
    t0=$(now_ms); host_run "$m" "$out.host"; echo $(( $(now_ms) - t0 )) >"$out.host.ms"
    t0=$(now_ms); bare_run "$m" "$out.bare"; echo $(( $(now_ms) - t0 )) >"$out.bare.ms"
    t0=$(now_ms); omni_run "$m" "$out.omni"; echo $(( $(now_ms) - t0 )) >"$out.omni.ms"
    echo "$m" >>"$work/done"
    /usr/bin/python3 "$work/report.py" "$work" row
done
/usr/bin/python3 "$work/report.py" "$work"

