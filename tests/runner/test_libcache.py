#!/usr/bin/python3
"""The library cache (issue 13 §1, docs/runner.md §2): the profile's and the
sidecar's library files that share a directory are one bind of a root-owned
copy in STATE/libcache (and the run's synthetic /etc files one bind of
their directory). A changed library makes a new copy; a cache that is
not root's, is writable by others, is a symlink or holds anything else is
refused (the files are then bound one by one), and what the sandbox sees is
the same either way."""
import json
import os
import re
import subprocess
import time

from runnerlib import OMNIBASE, RunnerTest, main

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE_LINE = re.compile(r"library cache: (\S+) \((\d+) files\) <- (\S+) \((made|reused)\)")


class LibCache(RunnerTest):
    def setUp(self):
        super().setUp()
        # two "libraries" of a profile of our own, in a directory of their own
        self.libdir = os.path.join(self.tmp, "libs")
        self.a = self.write("libs/a.txt", "A1\n")
        self.b = self.write("libs/b.txt", "B1\n")
        with open(os.path.join(SRC, "profiles", "shell.json")) as f:
            prof = json.load(f)
        prof["paths"] = prof["paths"] + [self.a, self.b]
        self.profile = self.write("mine.json", json.dumps(prof))

    def cat(self):
        p = self.omnibase("sandbox", "run", "--capabilities", self.caps(), "--profile",
                          self.profile, "-v", "--", "/bin/cat", self.a, self.b)
        self.assertEqual(p.returncode, 0, p.stderr)
        used = [m.groups() for m in CACHE_LINE.finditer(p.stderr)
                if m.group(1) == self.libdir]
        return p.stdout, used, p.stderr

    def entry_of(self, used):
        self.assertEqual(len(used), 1, used)
        self.assertEqual(used[0][1], "2")
        return used[0][2]

    def test_one_bind_made_then_reused(self):
        out, used, _ = self.cat()
        self.assertEqual(out, "A1\nB1\n")
        entry = self.entry_of(used)
        self.assertEqual(used[0][3], "made")
        self.assertEqual(os.path.dirname(entry), os.path.join(self.state, "libcache"))
        self.assertEqual(sorted(os.listdir(entry)), ["a.txt", "b.txt"])
        for p in [os.path.dirname(entry), entry] + [os.path.join(entry, n)
                                                     for n in os.listdir(entry)]:
            st = os.lstat(p)
            self.assertEqual(st.st_uid, 0, p)
            self.assertEqual(st.st_mode & 0o022, 0, p)
        out, used, _ = self.cat()
        self.assertEqual(out, "A1\nB1\n")
        self.assertEqual((self.entry_of(used), used[0][3]), (entry, "reused"))

    def test_rebuilt_when_a_library_changes(self):
        """A new size, and a same-size write with the mtime set back (only
        the ctime says so): a new copy each time, never the old content."""
        _, used, _ = self.cat()
        first = self.entry_of(used)
        with open(self.a, "w") as f:
            f.write("A2 longer\n")
        out, used, _ = self.cat()
        self.assertEqual(out, "A2 longer\nB1\n")
        second = self.entry_of(used)
        self.assertNotEqual(second, first)
        self.assertEqual(used[0][3], "made")
        st = os.stat(self.a)
        with open(self.a, "r+") as f:
            f.write("A3 longer\n")
        os.utime(self.a, ns=(st.st_atime_ns, st.st_mtime_ns))
        out, used, _ = self.cat()
        self.assertEqual(out, "A3 longer\nB1\n")
        self.assertNotIn(self.entry_of(used), (first, second))

    def refused(self, why):
        out, used, err = self.cat()
        self.assertEqual(out, "A1\nB1\n", why)  # bound one by one
        self.assertEqual(used, [], why)
        self.assertIn("library cache: %s/libcache refused" % self.state, err, why)
        self.assertIn("mount ro %s <- %s (profile)" % (self.a, self.a), err)

    def test_symlinked_cache_refused(self):
        os.makedirs(self.state, mode=0o700)
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.mkdir(elsewhere, 0o700)
        os.symlink(elsewhere, os.path.join(self.state, "libcache"))
        self.refused("a symlink")
        self.assertEqual(os.listdir(elsewhere), [], "written through the symlink")

    def test_cache_not_roots_refused(self):
        os.makedirs(os.path.join(self.state, "libcache"), mode=0o700)
        os.chown(os.path.join(self.state, "libcache"), 65534, 65534)
        self.refused("owned by another user")
        os.chown(os.path.join(self.state, "libcache"), 0, 0)
        os.chmod(os.path.join(self.state, "libcache"), 0o770)
        self.refused("group-writable")

    def test_tampered_entry_refused(self):
        _, used, _ = self.cat()
        entry = self.entry_of(used)
        os.chmod(os.path.join(entry, "a.txt"), 0o644)
        self.refused("a writable copy")
        os.chmod(os.path.join(entry, "a.txt"), 0o444)
        os.chown(os.path.join(entry, "a.txt"), 65534, 65534)
        self.refused("a copy of another user's")
        os.chown(os.path.join(entry, "a.txt"), 0, 0)
        with open(os.path.join(entry, "planted.txt"), "w") as f:
            f.write("x")
        os.chmod(os.path.join(entry, "planted.txt"), 0o444)
        self.refused("a file of another set")
        os.unlink(os.path.join(entry, "planted.txt"))
        os.unlink(os.path.join(entry, "b.txt"))
        os.symlink(self.b, os.path.join(entry, "b.txt"))
        self.refused("a symlink in the entry")

    def test_python_sees_only_its_libraries(self):
        """hello.py with python-minimal: one bind for /usr/lib/x86_64-linux-gnu,
        holding the profile's and the sidecar's libraries (the plan's file
        binds, -v) and nothing else; a library outside the profile is not there."""
        caps = self.caps()
        script = self.write("probe.py", (
            "import errno, os\n"
            "d = '/usr/lib/x86_64-linux-gnu'\n"
            "for p in (d + '/libbpf.so.1', d + '/libc.so.6'):\n"
            "    try:\n"
            "        open(p, 'rb').close()\n"
            "        print('read', os.path.basename(p))\n"
            "    except OSError as e:\n"
            "        print(errno.errorcode[e.errno])\n"))
        p = self.omnibase("sandbox", "run", script, "--capabilities", caps, "--json", "-v")
        m = [g.groups() for g in CACHE_LINE.finditer(p.stderr)]
        # the profile's libraries there, and the sidecar's three (libc is both)
        with open(os.path.join(SRC, "profiles", "python-minimal.json")) as f:
            prof = {os.path.basename(x) for x in json.load(f)["paths"]
                    if x.startswith("/usr/lib/x86_64-linux-gnu/")}
        want = len(prof | {"libcap.so.2", "libcjson.so.1", "libseccomp.so.2"})
        self.assertEqual([(d, n) for d, n, _, _ in m],
                         [("/usr/lib/x86_64-linux-gnu", str(want))], p.stderr)
        self.assertEqual(sorted(os.listdir(m[0][2])), sorted(
            os.path.basename(line.split(" <- ")[0].split()[-1])
            for line in p.stderr.splitlines()
            if re.search(r"mount ro /usr/lib/x86_64-linux-gnu/\S+ <- ", line)))
        res = json.loads(p.stdout)
        self.assertEqual((res["status"], res["violations"]), ("ok", []), res)
        # not in the profile: absent (the kernel's ENOENT, no denial)
        self.assertEqual(res["stdout"].splitlines(), ["ENOENT", "read libc.so.6"], res)

    def test_etc_one_bind_unless_something_else_is_there(self):
        """The sandbox's /etc files are one bind of the run's etc directory,
        the same view as one bind per file; a grant under /etc keeps them
        per file (it needs its own mount point there)."""
        script = self.write("etc.py", (
            "import os\n"
            "print(sorted(os.listdir('/etc')))\n"
            "print(os.readlink('/etc/localtime'))\n"
            "print(open('/etc/passwd').read().split(':')[0])\n"
            "if os.path.exists('/etc/debian_version'): print(len(open('/etc/debian_version').read()) > 0)\n"))
        netbase = [n for n in ("protocols", "services") if os.path.isfile("/etc/" + n)]
        want = [str(sorted(["group", "hostname", "hosts", "localtime", "nsswitch.conf",
                            "passwd"] + netbase)),
                "/usr/share/zoneinfo/Etc/UTC", "root"]
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.caps(), "-v")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("sandbox /etc: one bind of the run's etc directory", p.stderr)
        self.assertEqual(p.stdout.splitlines(), want)
        caps = self.caps(grants=[("FILE_READ", "/etc/debian_version")], name="etc.json")
        p = self.omnibase("sandbox", "run", script, "--capabilities", caps, "-v")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("sandbox /etc: one bind", p.stderr)
        self.assertEqual(p.stdout.splitlines(), [
            str(sorted(["debian_version", "group", "hostname", "hosts", "localtime",
                        "nsswitch.conf", "passwd"] + netbase)), want[1], want[2], "True"])

    def test_gc_removes_what_no_sandbox_uses(self):
        """gc removes an entry no run used in the last hour that no
        sandbox has bound (an upgraded library's old copy), and a dead
        build's temporary directory; it keeps a recently used entry, one a
        running sandbox binds (in its gofer's mount namespace) whatever its
        age, and a live build's directory."""
        _, used, _ = self.cat()
        entry = self.entry_of(used)
        top = os.path.dirname(entry)
        old = time.time() - 2 * 3600
        dead = os.path.join(top, os.path.basename(entry) + ".tmp.%d" % dead_pid())
        live = os.path.join(top, os.path.basename(entry) + ".tmp.%d" % os.getpid())
        os.mkdir(dead, 0o700)
        os.mkdir(live, 0o700)
        # the sidecar's library lists: the one in use (read by the runs
        # here, so touched; a fresh state directory's first run plans before
        # the directory exists and does not keep it), and a replaced
        # binary's, two hours old
        self.cat()
        (lists,) = [[n for n in os.listdir(top) if n.startswith("sidecar-libs-")]]
        self.assertEqual(len(lists), 1, lists)
        stale = os.path.join(top, "sidecar-libs-" + "0" * 64)
        with open(stale, "w") as f:
            f.write("gone\t/no/such/lib\n")
        os.utime(stale, (old, old))
        os.utime(os.path.join(top, lists[0]), (old, old))
        _, used, _ = self.cat()  # reads the list: it is in use again
        self.gc()  # everything else is recent, or live
        self.assertEqual(sorted(os.listdir(top)),
                         sorted(os.path.basename(p) for p in (entry, live)) + lists)
        os.rmdir(live)
        # bound by a running sandbox: kept however old
        sync = os.path.join(self.tmp, "sync")
        os.mkdir(sync)
        go = os.path.join(sync, "go")
        waiter = subprocess.Popen(
            [OMNIBASE, "sandbox", "run", "--capabilities",
             self.caps(grants=[("FILE_READ", sync + "/*")], name="sync.json"), "--profile",
             self.profile, "--", "/bin/sh", "-c",
             "echo ready; while [ ! -e %s ]; do sleep 0.05; done" % go],
            env=self.env, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(waiter.stdout.readline(), "ready\n")
            os.utime(entry, (old, old))
            self.gc()
            self.assertTrue(os.path.isdir(entry))
        finally:
            open(go, "w").close()
            waiter.communicate(timeout=60)
        self.assertEqual(waiter.returncode, 0)
        os.utime(entry, (old, old))
        self.gc()
        self.assertFalse(os.path.exists(entry))
        out, used, _ = self.cat()  # made again when needed
        self.assertEqual((out, used[0][3]), ("A1\nB1\n", "made"))

    def gc(self):
        p = self.omnibase("gc")
        self.assertEqual(p.returncode, 0, p.stderr)


def dead_pid():
    """A pid no process has: one of ours that was reaped."""
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    return p.pid


if __name__ == "__main__":
    main()
