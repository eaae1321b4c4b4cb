#!/usr/bin/env bash
# Can gVisor's runtime monitoring report what the sidecar reports? One
# python workload makes the attempts the sidecar reports as denials; it runs
#   1. in a bare `runsc run` (omnibase's plan, no sidecar) with the trace
#      points of bench_observe.sh (points.txt) sent to observe_sink, whose
#      saved points are decoded by decode.py (gVisor's .proto files from
#      GVISOR_GIT_DIR at COMMIT, Debian's protoc and python3-protobuf);
#   2. under `omnibase sandbox run --events`, for the sidecar's reports;
# then 3. whether the sentry drops points when the sink falls behind: the
# sink is stopped (SIGSTOP) while a sandbox makes 3,000 opens; the session's
# dropped count is read with `runsc trace list`, then the sink resumes and
# the workload makes 10 more opens (their header carries the dropped count);
# and 4. what gVisor itself answers, with no sidecar check, when another uid
# opens read-only what PID 1 holds (PID 1 root and non-dumpable as the
# sidecar, holding a socket and a file in a 0700 directory; the child as
# 65534, no capabilities, no_new_privs): the sidecar's open check is what
# stands between the two today, so this decides whether read-only opens
# could go untrapped.
# Prints the workload's own view (errno of each attempt), every point whose
# result is an error or whose path is one of the attempts, and the events.
#
#   benchmarks/observe/feasibility.sh [BUILD_DIR] GVISOR_GIT_DIR [COMMIT]
#   (COMMIT defaults to 611e6e1, gVisor of 2022-12-19, runsc 0.0~20221219)
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
gvisor_git=${2:?a gVisor git directory (fetch google/gvisor)}
commit=${3:-611e6e1247a0691f5fd198f411c68b3bc79d90af}
. "$src/benchmarks/observe/sink_lib.sh"
observe_setup feasibility "${1:?build dir}" /tmp/ob-observe-feas-XXXXXX omnibase-observe-feas

echo '{"version": 1, "grants": []}' >"$work/caps.json"
attempts='import os, socket, struct
def attempt(what, fn):
    try:
        fn(); print(f"{what}: allowed", flush=True)
    except OSError as e:
        print(f"{what}: {os.strerror(e.errno)} ({e.errno})", flush=True)
def run(path):
    pid = os.fork()
    if pid == 0:
        try: os.execv(path, [path])
        except OSError as e: os._exit(e.errno)
    return os.waitpid(pid, 0)[1] >> 8
def exec_attempt(what, path):
    err = run(path)
    print(f"{what}: {os.strerror(err)} ({err})" if err else f"{what}: allowed", flush=True)
attempt("open /etc/passwd (not mounted)", lambda: os.close(os.open("/etc/passwd", os.O_RDONLY)))
os.chdir("/usr/lib/python3.11")
attempt("open ../../../etc/shadow (relative, cwd /usr/lib/python3.11)",
        lambda: os.close(os.open("../../../etc/shadow", os.O_RDONLY)))
attempt("open os.py O_WRONLY (read-only mount)", lambda: os.close(os.open("os.py", os.O_WRONLY)))
os.symlink("/etc/hostname", "/tmp/link")
attempt("open /tmp/link -> /etc/hostname", lambda: os.close(os.open("/tmp/link", os.O_RDONLY)))
s = socket.socket()
attempt("connect 203.0.113.10:443", lambda: s.connect(("203.0.113.10", 443)))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
attempt("sendto 203.0.113.10:53", lambda: u.sendto(b"x", ("203.0.113.10", 53)))
with open("/tmp/run.sh", "w") as f: f.write("#!/bin/sh\n")
os.chmod("/tmp/run.sh", 0o755)
exec_attempt("execve /tmp/run.sh (noexec tmpfs)", "/tmp/run.sh")
exec_attempt("execve /usr/lib/python3.11/os.py (no FILE_EXEC, mode 644)", "/usr/lib/python3.11/os.py")
attempt("unlink /usr/lib/python3.11/os.py", lambda: os.unlink("/usr/lib/python3.11/os.py"))
attempt("mkdir /data", lambda: os.mkdir("/data"))
attempt("rename /tmp/run.sh -> /usr/run.sh", lambda: os.rename("/tmp/run.sh", "/usr/run.sh"))
print("done", flush=True)'

"$omnibase" sandbox run --profile python-minimal --capabilities "$work/caps.json" --dry-run \
    -- /usr/bin/python3 -c "$attempts" 2>/dev/null >"$work/plan.json"
"$src/benchmarks/bare_bundle.py" "$work/plan.json" "$work/bundle" --cgroup "/$bench_cgroup/a"
mkdir "$work/raw"
observe_sink_start "$sink" "$work/sink.sock" "$work/sink.stats" "$work/raw"
monitored=(--root "$bare_root" --network=none --platform=ptrace --pod-init-config "$work/pod-init.json")

echo "== 1. the workload in a bare runsc run, with runtime monitoring"
runsc "${monitored[@]}" run --bundle "$work/bundle" feas-1 </dev/null >"$work/feas-1.out" 2>&1 || true
cat "$work/feas-1.out"
echo "-- points received (result is an error, or a path of the attempts):"
"$src/benchmarks/observe/decode.py" "$gvisor_git" "$commit" "$work/raw/conn-1.bin" |
    grep -E 'errorno|etc/|/tmp/|os.py|/data|run.sh|address|Syscall' || true
echo "-- sink: $(cat "$work/sink.stats")"

echo "== 2. the same workload under omnibase sandbox run (the sidecar's events)"
"$omnibase" sandbox run --profile python-minimal --capabilities "$work/caps.json" \
    --events "$work/events.jsonl" -- /usr/bin/python3 -c "$attempts" </dev/null \
    >"$work/feas-omni.out" 2>&1 || true
cat "$work/feas-omni.out"
python3 - "$work/events.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event", e.get("type")) == "CapabilityDenied":
        print("CapabilityDenied", {k: e.get(k) for k in
              ("capability", "target", "syscall", "pid", "layer", "policy_id")
              if k in e})
EOF

echo "== 3. a sink that falls behind"
"$omnibase" sandbox run --profile python-minimal --capabilities "$work/caps.json" --dry-run \
    -- /usr/bin/python3 -c 'import os, sys
print("ready", flush=True)
sys.stdin.readline()
for _ in range(3000): os.close(os.open("/usr/lib/python3.11/os.py", os.O_RDONLY))
print("phase1", flush=True)
sys.stdin.readline()
for _ in range(10): os.close(os.open("/usr/lib/python3.11/os.py", os.O_RDONLY))
print("done", flush=True)' 2>/dev/null >"$work/plan-burst.json"
"$src/benchmarks/bare_bundle.py" "$work/plan-burst.json" "$work/bundle-burst" \
    --cgroup "/$bench_cgroup/b"
mkfifo "$work/in"
runsc "${monitored[@]}" run --bundle "$work/bundle-burst" feas-2 <"$work/in" >"$work/burst.out" 2>&1 &
runsc_pid=$!
exec 9>"$work/in"
wait_for() { # $1: a line the workload prints
    until grep -q "^$1" "$work/burst.out"; do
        kill -0 "$runsc_pid" 2>/dev/null || { cat "$work/burst.out" >&2; exit 1; }
        sleep 0.05
    done
}
# the sentry's connection and handshake are done before the workload starts
wait_for ready
kill -STOP "$sink_pid"
echo >&9
wait_for phase1
echo "-- after 3,000 opens with the sink stopped, runsc trace list:"
runsc --root "$bare_root" trace list feas-2 2>&1 | sed 's/^/   /'
kill -CONT "$sink_pid"
echo >&9
exec 9>&-
wait "$runsc_pid" || true
observe_sink_stop
echo "-- sink, after it resumed (connection 2): $(sed -n 2p "$work/sink.stats")"

echo "== 4. PID 1's descriptors and /proc/1, gVisor alone (no sidecar check)"
cat >"$work/pid1.py" <<'EOF'
import ctypes, os, socket
libc = ctypes.CDLL(None)
libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0, as the sidecar
held = socket.socketpair()
os.makedirs("/tmp/rootonly", mode=0o700)
with open("/tmp/rootonly/caps.json", "w") as f:
    f.write("{}")
held_file = open("/tmp/rootonly/caps.json")
pid = os.fork()
if pid == 0:
    os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    def attempt(what, fn):
        try:
            fn(); print(f"   {what}: opened", flush=True)
        except OSError as e:
            print(f"   {what}: {os.strerror(e.errno)}", flush=True)
    for p in ("mem", "environ", "exe", "maps", "root/tmp/rootonly/caps.json"):
        attempt("open /proc/1/" + p, lambda p=p: os.close(os.open("/proc/1/" + p, os.O_RDONLY)))
    attempt("list /proc/1/cwd", lambda: os.listdir("/proc/1/cwd"))
    for fd in sorted(os.listdir("/proc/1/fd"), key=int):
        attempt(f"open /proc/1/fd/{fd} -> {os.readlink('/proc/1/fd/' + fd)}",
                lambda fd=fd: os.close(os.open("/proc/1/fd/" + fd, os.O_RDONLY)))
    os._exit(0)
os.waitpid(pid, 0)
EOF
chmod 644 "$work/pid1.py"
echo "{\"version\": 1, \"grants\": [{\"capability\": \"FILE_READ\", \"target\": \"$work/pid1.py\"}]}" \
    >"$work/caps-pid1.json"
"$omnibase" sandbox run --profile python-minimal --capabilities "$work/caps-pid1.json" --dry-run \
    -- /usr/bin/python3 "$work/pid1.py" 2>/dev/null >"$work/plan-pid1.json"
"$src/benchmarks/bare_bundle.py" "$work/plan-pid1.json" "$work/bundle-pid1" \
    --cgroup "/$bench_cgroup/c"
python3 - "$work/bundle-pid1/config.json" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    cfg = json.load(f)
cfg["process"]["user"] = {"uid": 0, "gid": 0}  # PID 1 as root, as the sidecar
for k in cfg["process"]["capabilities"]:
    cfg["process"]["capabilities"][k] = ["CAP_SETUID", "CAP_SETGID"]
with open(sys.argv[1], "w") as f:
    json.dump(cfg, f)
EOF
runsc --root "$bare_root" --network=none --platform=ptrace run --bundle "$work/bundle-pid1" \
    feas-3 </dev/null >"$work/pid1.out" 2>&1 || true
cat "$work/pid1.out"
echo "-- and what the sidecar holds as PID 1 while the workload runs (omnibase, its check on):"
"$omnibase" sandbox run --profile python-minimal --capabilities "$work/caps.json" \
    -- /usr/bin/python3 -c 'import os
for fd in sorted(os.listdir("/proc/1/fd"), key=int):
    try:
        os.close(os.open("/proc/1/fd/" + fd, os.O_RDONLY)); r = "opened"
    except OSError as e:
        r = os.strerror(e.errno)
    link = os.readlink("/proc/1/fd/" + fd)
    print(f"   open /proc/1/fd/{fd} -> {link}: {r}")
' </dev/null >"$work/pid1-omni.out" 2>/dev/null || true
cat "$work/pid1-omni.out"
