#!/usr/bin/python3
"""Exec through the dynamic loader (issue 9 mechanism 5, threat model F11).
The profile's loader has to be executable (it is every program's PT_INTERP),
and gVisor 20221219 does not apply `noexec` to executable mappings, so
`ld.so FILE` ran any file the workload could read: a FILE_READ-only binary,
or its own copy of one written to /tmp (noexec).

Now the sidecar refuses any execve/execveat whose target is the loader (by
name and by inode, whatever the grants say) with EACCES and a
CapabilityDenied FILE_EXEC on the loader's path, and checks every exec once
it has happened (PTRACE_EVENT_EXEC, race-free: /proc/PID/exe is what the
kernel loaded): a process whose program is the loader itself (a `#!` line
naming the loader, a path rewritten by a second thread after the check) is
killed before its first instruction, and reported. Python itself (the
loader as the interpreter of an allowed exec) keeps working."""
import os
import shutil

from seclib import PROBE, AttackTest, main

LOADER = "/usr/lib64/ld-linux-x86-64.so.2"
MARK = "ran-by-the-loader-5d0e"

ATTACK = PROBE + r'''
import shutil, subprocess
def run(name, argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        out = p.stdout.strip().replace("\n", " ")
        print("%s: %s rc %d %s" % (name, "SUCCEEDED" if MARK in out else "failed",
                                   p.returncode, out), flush=True)
    except OSError as e:
        print("%s: blocked %s" % (name, errno.errorcode.get(e.errno, e.errno)), flush=True)
shutil.copy(TARGET, "/tmp/own-elf")
run("control_python", [sys.executable, "-c", "print(%r)" % MARK])
run("loader_lib64", ["/lib64/ld-linux-x86-64.so.2", TARGET, MARK])
run("loader_usr_lib64", ["/usr/lib64/ld-linux-x86-64.so.2", TARGET, MARK])
run("loader_own_elf", ["/lib64/ld-linux-x86-64.so.2", "/tmp/own-elf", MARK])
os.symlink("/lib64/ld-linux-x86-64.so.2", "/tmp/innocent")
run("loader_via_symlink", ["/tmp/innocent", TARGET, MARK])
# fexecve: execveat(fd of the loader, "", AT_EMPTY_PATH)
fd = os.open("/lib64/ld-linux-x86-64.so.2", os.O_RDONLY)
pid = os.fork()
if pid == 0:
    try:
        os.execve(fd, ["ld.so", TARGET, MARK], {})
    except OSError as e:
        print("loader_fexecve: blocked %s" % errno.errorcode.get(e.errno, e.errno), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
'''

# a script whose #! line names the loader: the kernel runs the loader as the
# program. Where the workload may write and execute (a FILE_WRITE+FILE_EXEC
# grant), the check at execve lets the script through (the run's own script
# is a 0444 snapshot): the exec event stops it.
SHEBANG = PROBE + r'''
import subprocess
script = XDIR + "/s.sh"
with open(script, "w") as f:
    f.write("#!/lib64/ld-linux-x86-64.so.2 %s\n" % TARGET)
os.chmod(script, 0o755)
p = subprocess.run([script], capture_output=True, text=True, timeout=20)
out = p.stdout.strip().replace("\n", " ")
print("shebang_loader: %s rc %d %s" % ("SUCCEEDED" if script in out else "failed",
                                       p.returncode, out), flush=True)
'''


class LoaderExec(AttackTest):
    def setUp(self):
        super().setUp()
        # a binary the workload may read but not execute (it needs only libc)
        self.target = os.path.join(self.tmp, "bin", "echo")
        os.makedirs(os.path.dirname(self.target))
        shutil.copy("/usr/bin/echo", self.target)
        os.chmod(self.target, 0o755)

    def test_loader_runs_nothing(self):
        caps = self.caps(grants=[("FILE_READ", self.target)])
        res = self.run_py("TARGET, MARK = %r, %r\n" % (self.target, MARK) + ATTACK, caps=caps,
                          denied=[("FILE_EXEC", LOADER, "execve"),
                                  ("FILE_EXEC", LOADER, "execveat")])
        got = self.verdicts(res)
        self.assertTrue(got.get("control_python", "").startswith("SUCCEEDED"), res["stdout"])
        for name in ("loader_lib64", "loader_usr_lib64", "loader_own_elf", "loader_via_symlink",
                     "loader_fexecve"):
            self.assertIn(name, got, res["stdout"] + res["stderr"])
            self.assertEqual(got[name], "blocked EACCES", "%s: %s" % (name, got[name]))
        self.assertEqual((res["stdout"] + res["stderr"]).count(MARK), 1, res["stdout"])

    def test_shebang_naming_the_loader(self):
        xdir = os.path.join(self.tmp, "x")
        os.makedirs(xdir)
        os.chown(xdir, 65534, 65534)
        grants = [(k, t) for k in ("FILE_READ", "FILE_WRITE", "FILE_EXEC")
                  for t in (xdir, xdir + "/*")]
        caps = self.caps(grants=grants + [("FILE_READ", self.target)])
        res = self.run_py("TARGET, XDIR = %r, %r\n" % (self.target, xdir) + SHEBANG, caps=caps,
                          denied=[("FILE_EXEC", LOADER, "execve")])
        got = self.verdicts(res)
        self.assertIn("shebang_loader", got, res["stdout"] + res["stderr"])
        self.assertTrue(got["shebang_loader"].startswith("failed rc -9"), got["shebang_loader"])


if __name__ == "__main__":
    main()
