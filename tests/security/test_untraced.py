#!/usr/bin/python3
"""Attacks with a task the sidecar never sees (issue 9 mechanism 7, threat
model F13): clone(CLONE_UNTRACED) makes a child that ptrace's auto-attach
skips; the main process then exits and, before the fix, the untraced child
kept the sandbox alive until its deadline (status "timeout").

Now the filter traps clone with CLONE_UNTRACED (refused with EPERM and a
CapabilityDenied SYSCALL clone), clone3 fails with ENOSYS (its flags are in
memory), and when the main process ends PID 1 kills every task left
(kill(-1, SIGKILL)), traced or not."""
from seclib import AttackTest, main

PROBE = r'''
import ctypes, errno, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
CLONE_UNTRACED, CLONE_PARENT, SIGCHLD = 0x00800000, 0x00008000, 17

def raw_fork(flags):
    # clone(flags, stack=0, ...) behaves like fork(): the child returns 0 on
    # a copy of this stack; it only sleeps (no other Python bookkeeping ran)
    pid = libc.syscall(ctypes.c_long(56), ctypes.c_long(flags), ctypes.c_long(0),
                       ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
    if pid == 0:
        time.sleep(3600)
        os._exit(0)
    if pid < 0:
        e = ctypes.get_errno()
        print("%s: blocked %s" % (NAME, errno.errorcode.get(e, e)), flush=True)
        return
    tracer = [l.split()[1] for l in open("/proc/%d/status" % pid) if l.startswith("TracerPid")]
    print("%s: SUCCEEDED pid %d tracer %s" % (NAME, pid, tracer), flush=True)

for NAME, flags in ATTEMPTS:
    raw_fork(flags)
# clone3(struct clone_args {flags = CLONE_UNTRACED, exit_signal = SIGCHLD}, 88)
args = ctypes.create_string_buffer(88)
ctypes.c_uint64.from_buffer(args, 0).value = CLONE_UNTRACED
ctypes.c_uint64.from_buffer(args, 32).value = SIGCHLD
pid = libc.syscall(ctypes.c_long(435), args, ctypes.c_long(88))
if pid == 0:
    time.sleep(3600)
    os._exit(0)
print("clone3_untraced: %s" % ("blocked %s" % errno.errorcode.get(ctypes.get_errno())
                               if pid < 0 else "SUCCEEDED pid %d" % pid), flush=True)
'''


class UntracedTasks(AttackTest):
    def run_attempts(self, attempts):
        # a deadline far beyond what the workload needs: a run that lasts
        # until it ends "timeout" means a task outlived the main process
        caps = self.caps(limits={"timeout_s": 40})
        code = "ATTEMPTS = %r\n" % (attempts,) + PROBE
        res = self.run_py(code, caps=caps, denied=[("SYSCALL", "clone", "clone")])
        self.assertNotEqual(res["status"], "timeout",
                            "a task outlived the main process: %r" % res)
        got = self.verdicts(res)
        for name, _ in attempts:
            self.assertIn(name, got, res["stdout"] + res["stderr"])
            self.assertEqual(got[name], "blocked EPERM", res["stdout"])
        self.assertEqual(got.get("clone3_untraced"), "blocked ENOSYS", res["stdout"])
        return res

    def test_clone_untraced(self):
        """fork() with CLONE_UNTRACED, then the main process exits."""
        self.run_attempts([("clone_untraced", 0x00800000 | 17)])

    def test_clone_untraced_parent(self):
        """CLONE_UNTRACED|CLONE_PARENT: the child would be PID 1's own."""
        self.run_attempts([("clone_untraced_parent", 0x00800000 | 0x00008000 | 17)])


if __name__ == "__main__":
    main()
