#!/usr/bin/python3
"""Attacks on the sidecar's path resolution (issue 9 mechanism 2, F8): making
the sidecar check another path than the one the kernel opens.

The sidecar resolves a tracee's path itself (sidecar/resolve.c) and checks
the result. Before F8 was fixed, a readlink that failed (EACCES: the sidecar
is root without CAP_DAC_READ_SEARCH, so a 0700 directory of the workload hid
its symlinks) was taken as "not a symlink", and the `..` after it was
collapsed textually; the name of a deleted cwd ("/x (deleted)") was taken as
a path too. The workload makes the sidecar see /tmp/.env (a decoy of its own,
allowed) while the kernel opens the workspace's .env, whose FILE_READ is
denied but which the FILE_WRITE grant mounts.

Every attempt must now be refused with EACCES and a CapabilityDenied: for the
real file (the sidecar sees through the 0700 directory) or, where the sidecar
cannot know what the kernel will open, for the path as written with policy
`unresolvable-path`. No attempt may print the secret."""
import os

from seclib import AttackTest, main

SECRET_TEXT = "resolve-secret-0c4e71"

PROBE = r'''
import errno, os, sys
SECRET = %r
def attempt(name, fn):
    try:
        r = fn()
        if isinstance(r, bytes):
            r = r.decode(errors="replace")
        print("%%s: %%s %%r" %% (name, "LEAKED" if SECRET in r else "read", r))
    except OSError as e:
        print("%%s: blocked %%s" %% (name, errno.errorcode.get(e.errno, e.errno)))
def read(path, dir_fd=None):
    fd = os.open(path, os.O_RDONLY, dir_fd=dir_fd)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)
# the decoy: what the sidecar used to believe it was checking (the workload's
# own file in its scratch /tmp, allowed)
open("/tmp/.env", "w").write("decoy\n")
'''


class ResolveAttacks(AttackTest):
    def setUp(self):
        super().setUp()
        self.ws = os.path.join(self.tmp, "ws")
        os.makedirs(os.path.join(self.ws, "sub", "deeper"))
        self.env_file = self.write("ws/.env", SECRET_TEXT + "\n")
        self.write("ws/notes.txt", "public\n")
        for d in (self.ws, self.ws + "/sub", self.ws + "/sub/deeper"):
            os.chmod(d, 0o777)
        # FILE_READ and FILE_WRITE on the workspace, FILE_READ denied on .env:
        # the FILE_WRITE grant mounts the workspace whole, so only the sidecar
        # stands between the workload and .env
        self.caps_file = self.caps(grants=[("FILE_READ", self.ws + "/*"),
                                           ("FILE_WRITE", self.ws + "/*")],
                                   denials=[("FILE_READ", self.env_file)])

    def run_attacks(self, setup, attacks, denied):
        code = PROBE % SECRET_TEXT + setup
        code += "".join("attempt(%r, lambda: %s)\n" % kv for kv in attacks.items())
        # what the workload may read it still reads: absolute, relative to a
        # cwd and to a dirfd on the host-backed grant (the name check of the
        # cwd and the dirfd passes there)
        code += "print('control:', read(%r).decode().strip())\n" % (self.ws + "/notes.txt")
        code += "os.chdir(%r); wfd = os.open('.', os.O_RDONLY | os.O_DIRECTORY)\n" % self.ws
        code += "print('control_rel:', read('notes.txt').decode().strip(),\n"
        code += "      read('sub/../notes.txt', dir_fd=wfd).decode().strip())\n"
        res = self.run_py(code, caps=self.caps_file, denied=denied)
        got = self.verdicts(res)
        for name in attacks:
            self.assertIn(name, got, res["stdout"] + res["stderr"])
            self.assertEqual(got[name], "blocked EACCES", "%s: %s" % (name, got[name]))
        self.assertEqual(got["control"], "public", res["stdout"] + res["stderr"])
        self.assertEqual(got["control_rel"], "public public", res["stdout"] + res["stderr"])
        self.assertNotIn(SECRET_TEXT, res["stdout"] + res["stderr"])
        self.assertNotIn(SECRET_TEXT, "".join(self.outputs))
        return res

    def test_symlink_in_0700_directory(self):
        """The issue's attack: /tmp/d (0700) holds l -> ws/sub/deeper, and
        /tmp/d/l/../../.env is the workspace's .env; absolute, relative to the
        cwd, to a dirfd, through /proc/self/cwd and /proc/self/fd/N, and a
        chain of two hidden links."""
        setup = r'''
# the links first, then the directories closed: 0700 to anyone but 65534
os.mkdir("/tmp/d")
os.symlink(%r, "/tmp/d/l")
os.mkdir("/tmp/e")
os.symlink("/tmp/e/m", "/tmp/d/chain")
os.symlink(%r, "/tmp/e/m")
os.chmod("/tmp/d", 0o700)
os.chmod("/tmp/e", 0o700)
os.chdir("/tmp/d")
dfd = os.open("/tmp/d", os.O_RDONLY | os.O_DIRECTORY)
''' % (self.ws + "/sub/deeper", self.ws + "/sub/deeper")
        attacks = {
            "absolute": "read('/tmp/d/l/../../.env')",
            "relative_cwd": "read('l/../../.env')",
            "relative_dirfd": "read('l/../../.env', dir_fd=dfd)",
            "proc_self_cwd": "read('/proc/self/cwd/l/../../.env')",
            "proc_self_fd": "read('/proc/self/fd/%d/l/../../.env' % dfd)",
            "chain": "read('/tmp/d/chain/../../.env')",
        }
        res = self.run_attacks(setup, attacks, denied=[("FILE_READ", self.env_file, "openat")])
        # the sidecar saw through the 0700 directory: each attempt is a
        # denial of the real file, none is one it could not resolve
        reads = [v for v in res["violations"] if v["syscall"] == "openat"]
        self.assertEqual([(v["target"], v["policy_id"] != "unresolvable-path") for v in reads],
                         [(self.env_file, True)] * len(attacks), res["violations"])

    def test_deleted_cwd_named_like_a_link(self):
        """The workload's cwd is a deleted directory of the workspace; the
        sidecar reads its name as "ws/gone (deleted)", which the workload has
        made a symlink to /tmp/a: `../.env` from the dead cwd is the
        workspace's .env for the kernel, /tmp/.env by that name. The same
        through /proc/self/cwd, a dirfd of the dead directory, /proc/self/fd/N
        of it, and /proc/<pid>/cwd of another process of the workload."""
        gone, gone2 = self.ws + "/gone", self.ws + "/gone2"
        setup = r'''
os.mkdir("/tmp/a")
os.mkdir(%(gone)r)
os.chdir(%(gone)r)
dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
os.rmdir(%(gone)r)
os.symlink("/tmp/a", %(gone)r + " (deleted)")
print("cwd_link:", os.readlink("/proc/self/cwd"))
# another process whose cwd is dead too, alive until we are done
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()
child = os.fork()
if child == 0:
    os.mkdir(%(gone2)r)
    os.chdir(%(gone2)r)
    os.rmdir(%(gone2)r)
    os.symlink("/tmp/a", %(gone2)r + " (deleted)")
    os.write(ready_w, b"x")
    os.read(go_r, 1)
    os._exit(0)
os.read(ready_r, 1)
''' % {"gone": gone, "gone2": gone2}
        attacks = {
            "deleted_cwd": "read('../.env')",
            "deleted_proc_self_cwd": "read('/proc/self/cwd/../.env')",
            "deleted_dirfd": "read('../.env', dir_fd=dfd)",
            "deleted_proc_self_fd": "read('/proc/self/fd/%d/../.env' % dfd)",
            "deleted_other_cwd": "read('/proc/%d/cwd/../.env' % child)",
        }
        res = self.run_attacks(setup, attacks, denied=[("FILE_READ", "../.env", "openat")])
        self.assertEqual(self.verdicts(res)["cwd_link"], gone + " (deleted)")
        reads = [v for v in res["violations"] if v["syscall"] == "openat"]
        self.assertEqual(len(reads), len(attacks), reads)
        self.assertEqual({v["policy_id"] for v in reads}, {"unresolvable-path"}, reads)

if __name__ == "__main__":
    main()
