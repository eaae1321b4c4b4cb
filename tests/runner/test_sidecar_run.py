#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`omnibase sandbox run` with the sidecar as PID 1 (issue 4): denials from
the workload, its children and threads reach --events as CapabilityDenied,
the run ends as a violation (exit 126, one SandboxViolationError: line, the
violations in --json); dangerous syscalls fail and are reported; the
workload cannot reach the sidecar or the channel."""
import json
import os
import sys
from unittest import main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runnerlib import RunnerTest  # noqa: E402

TREE = r'''
import os, threading, subprocess
def attempt(who):
    try:
        open('/etc/shadow'); print(who, 'READ', flush=True)
    except PermissionError:
        print(who, 'denied', flush=True)
attempt('main')
pid = os.fork()
if pid == 0:
    attempt('child'); os._exit(0)
os.waitpid(pid, 0)
t = threading.Thread(target=attempt, args=('thread',)); t.start(); t.join()
r = subprocess.run(['/usr/bin/python3', '-I', '-c', 'open("/etc/shadow")'], capture_output=True)
print('subprocess', r.returncode, b'PermissionError' in r.stderr)
'''

DANGER = r'''
import ctypes, os, signal, socket
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *a):
    return libc.syscall(nr, *[ctypes.c_long(x) for x in a]), ctypes.get_errno()
print(sc(101, 16, 1, 0, 0), sc(165, 0, 0, 0, 0, 0), sc(321, 0, 0, 0), sc(272, 0x10000000))
try:
    os.kill(1, signal.SIGKILL); print('killed 1')
except PermissionError:
    print('kill EPERM')
import stat
# the channel is the sidecar's inherited socket (runsc's stdin): the workload's
# fd 0 is /dev/null and it has no fd above 2 (3 is listdir's own); the
# sidecar's directory (capability files) is root's only
print('stdin', 'chr' if stat.S_ISCHR(os.fstat(0).st_mode) else 'other',
      sorted(int(f) for f in os.listdir('/proc/self/fd')) == [0, 1, 2, 3])
try:
    os.listdir('/omnibase/run'); print('run dir listed')
except PermissionError:
    print('run dir EACCES')
'''


class SidecarRun(RunnerTest):
    def run_events(self, script, *args):
        events = os.path.join(self.tmp, "events.jsonl")
        p = self.omnibase("sandbox", "run", self.write("w.py", script), "--capabilities",
                          self.caps(), "--json", "--events", events, *args)
        res = json.loads(p.stdout)
        self.ids.append(res["sandbox_id"])
        with open(events) as f:
            evs = [json.loads(line) for line in f]
        return p, res, evs

    def test_denials_from_the_whole_tree(self):
        p, res, evs = self.run_events(TREE)
        self.assertEqual(res["stdout"].splitlines(),
                         ["main denied", "child denied", "thread denied", "subprocess 1 True"])
        self.assertEqual((p.returncode, res["status"], res["exit_code"]), (126, "violation", 126))
        denied = [e for e in evs if e["type"] == "CapabilityDenied"]
        self.assertEqual(len(denied), 4, evs)
        for e in denied:
            self.assertEqual((e["capability"], e["target"], e["syscall"], e["policy_id"],
                              e["layer"]),
                             ("FILE_READ", "/etc/shadow", "openat", "default-deny", "sidecar"))
            self.assertEqual(e["sandbox_id"], res["sandbox_id"])
        self.assertEqual(len({e["pid"] for e in denied}), 3)  # main (+thread), child, subprocess
        self.assertEqual([e["type"] for e in evs][0], "SandboxStart")
        self.assertEqual(evs[-1]["type"], "SandboxExit")
        self.assertEqual(evs[-1]["denials"], 4)
        self.assertEqual(len(res["violations"]), 4)
        lines = p.stderr.splitlines()
        self.assertEqual(len([l for l in lines if l.startswith("SandboxViolationError:")]), 1,
                         p.stderr)

    def test_dangerous_syscalls_and_pid1(self):
        p, res, evs = self.run_events(DANGER)
        out = res["stdout"].splitlines()
        self.assertEqual(out[0], "(-1, 1) (-1, 1) (-1, 1) (-1, 1)")  # EPERM each
        self.assertEqual(out[1:], ["kill EPERM", "stdin chr True", "run dir EACCES"])
        self.assertEqual([e["target"] for e in evs if e["type"] == "CapabilityDenied"],
                         ["ptrace", "mount", "bpf", "unshare"])
        self.assertEqual(res["status"], "violation")

    def test_clean_run_is_ok(self):
        p, res, evs = self.run_events("import json, os\nprint(sorted(os.listdir('/usr/bin')))\n")
        self.assertEqual((res["status"], res["exit_code"], res["violations"]), ("ok", 0, []),
                         res)
        self.assertEqual([e["type"] for e in evs], ["SandboxStart", "SandboxExit"])


if __name__ == "__main__":
    main()
