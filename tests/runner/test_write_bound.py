#!/usr/bin/python3
"""The write bound (limit write_mb, issue 9): what a run may write under its
FILE_WRITE grants on host directories is bounded by an overlay whose upper
layer is a write_mb ext4 image; the writes land on the host when the run
ends (or at gc after a killed runner), never through a link, and a run that
tries to write more gets ENOSPC. Real runsc, real overlays and loop devices."""
import glob
import os
import signal
import subprocess
import time

from runnerlib import OMNIBASE, RunnerTest, fill_script, main

MiB = 1024 * 1024


MARKER = "checked"


def wait_for_host(sync):
    """Workload code: say "written", then wait until the host (the test)
    creates sync/checked, which a FILE_READ grant shows. The test creates
    it after checking what it must check while the run is alive."""
    return ("print('written', flush=True)\n"
            "import os, time\n"
            "while not os.path.exists(%r):\n"
            "    time.sleep(0.01)\n") % os.path.join(sync, MARKER)


class WriteBound(RunnerTest):
    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, "data")
        os.mkdir(self.data)
        os.chown(self.data, 65534, 65534)
        self.sync = os.path.join(self.tmp, "sync")
        os.mkdir(self.sync)

    def tearDown(self):
        try:
            self.assert_nothing_left()
        finally:
            # what a failed test left: its mounts (the loop devices go with them)
            with open("/proc/self/mountinfo") as f:
                mounts = [line.split()[4] for line in f]
            for m in reversed([m for m in mounts if m.startswith(self.tmp)]):
                subprocess.run(["umount", "-l", m], capture_output=True)
            super().tearDown()

    def assert_nothing_left(self):
        writes = os.path.join(self.state, "writes")
        self.assertEqual(os.listdir(writes) if os.path.isdir(writes) else [], [],
                         "staged writes left")
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        self.assertEqual([m for m in mounts if m.startswith(self.tmp)], [], "mounts left")
        loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
        self.assertNotIn(self.tmp, loops, "loop devices left")

    def host_file(self, name, text, mode=0o644):
        path = os.path.join(self.data, name)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
            os.chown(os.path.dirname(path), 65534, 65534)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        os.chown(path, 65534, 65534)
        return path

    def read(self, name):
        with open(os.path.join(self.data, name)) as f:
            return f.read()

    def run_checked(self, script, caps, while_alive):
        """Runs script (which ends its writes with wait_for_host), calls
        while_alive() once it said "written", then lets it go on; returns
        (exit code, stdout after "written", stderr)."""
        p = subprocess.Popen([OMNIBASE, "sandbox", "run", script, "--capabilities", caps],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            self.assertEqual(p.stdout.readline(), "written\n")
            while_alive()
            open(os.path.join(self.sync, MARKER), "w").close()
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        return p.returncode, out, err

    def bound_caps(self, mb, target=None):
        return self.caps(grants=[("FILE_WRITE", target or self.data + "/*"),
                                 ("FILE_READ", self.sync + "/*")],
                         limits={"write_mb": mb})

    def test_writes_land_when_the_run_ends_and_the_bound_holds(self):
        self.host_file("keep.txt", "old\n")
        self.host_file("gone.txt", "gone\n")
        self.host_file("old-name.txt", "moved\n")
        self.host_file("sub/deep.txt", "deep\n")
        d = self.data
        script = self.write("w.py", (
            "import os\n"
            "d = %r\n"
            "open(d + '/new.txt', 'w').write('new\\n')\n"
            "open(d + '/keep.txt', 'a').write('more\\n')\n"
            "os.unlink(d + '/gone.txt')\n"
            "os.rename(d + '/old-name.txt', d + '/new-name.txt')\n"
            "os.makedirs(d + '/a/b')\n"
            "open(d + '/a/b/c.txt', 'w').write('c')\n"
            "os.symlink('keep.txt', d + '/ln')\n"
            "import shutil; shutil.rmtree(d + '/sub')\n"
            % d) + wait_for_host(self.sync) + fill_script(d + "/big", 64))

        def staged():  # the host directory is as it was while the run lives
            self.assertEqual(sorted(os.listdir(d)),
                             ["gone.txt", "keep.txt", "old-name.txt", "sub"])
            self.assertEqual(self.read("keep.txt"), "old\n")
        rc, out, err = self.run_checked(script, self.bound_caps(16), staged)
        self.assertEqual(rc, 0, err)
        self.assertIn("errno 28", out)  # ENOSPC: the bound
        self.assertEqual(sorted(os.listdir(d)),
                         ["a", "big", "keep.txt", "ln", "new-name.txt", "new.txt"])
        self.assertEqual(self.read("new.txt"), "new\n")
        self.assertEqual(self.read("keep.txt"), "old\nmore\n")
        self.assertEqual(self.read("new-name.txt"), "moved\n")
        self.assertEqual(self.read("a/b/c.txt"), "c")
        self.assertEqual(os.readlink(os.path.join(d, "ln")), "keep.txt")
        big = os.path.getsize(os.path.join(d, "big"))
        self.assertGreater(big, 4 * MiB)
        self.assertLessEqual(big, 16 * MiB)
        st = os.stat(os.path.join(d, "new.txt"))
        self.assertEqual((st.st_uid, st.st_gid), (65534, 65534))
        self.assertEqual(glob.glob(os.path.join(d, ".ob-commit-*")), [])

    def test_a_granted_file_is_bounded_and_its_siblings_stay_hidden(self):
        out = self.host_file("out.txt", "")
        self.host_file("sibling.txt", "secret sibling\n")
        script = self.write("w.py", (
            "import os\n"
            "try:\n"
            "    open(%r).read()\n"
            "    print('sibling read')\n"
            "except OSError as e:\n"
            "    print('sibling', e.errno)\n" % os.path.join(self.data, "sibling.txt"))
            + fill_script(out, 64))
        res = self.run_json(script, caps=self.caps(grants=[("FILE_WRITE", out)],
                                                    limits={"write_mb": 8}))
        self.assertNotIn("sibling read", res["stdout"])
        self.assertIn("errno 28", res["stdout"])
        self.assertLessEqual(os.path.getsize(out), 8 * MiB)
        self.assertGreater(os.path.getsize(out), 1 * MiB)
        self.assertEqual(self.read("sibling.txt"), "secret sibling\n")
        self.assertEqual(sorted(os.listdir(self.data)), ["out.txt", "sibling.txt"])

    def test_without_a_bound_writes_go_through_at_once(self):
        script = self.write("w.py", "open(%r, 'w').write('now')\n"
                            % os.path.join(self.data, "now.txt") + wait_for_host(self.sync))
        caps = self.caps(grants=[("FILE_WRITE", self.data + "/*"),
                                 ("FILE_READ", self.sync + "/*")])
        rc, _, err = self.run_checked(script, caps,
                                      lambda: self.assertEqual(self.read("now.txt"), "now"))
        self.assertEqual(rc, 0, err)

    def test_bad_bounds_are_one_line_and_leave_nothing(self):
        script = self.write("w.py", "print('ran')\n")
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.bound_caps(4))
        self.assert_bad_input(p, "write_mb: 4 is below the minimum 8 (unset: no bound)")
        # an override may only lower the bound; 0 (no bound) is no lowering
        for flag, why in (("64", "write_mb: 64 is above the capability set's 16"),
                          ("0", "--write: expected a positive integer")):
            p = self.omnibase("sandbox", "run", script, "--capabilities", self.bound_caps(16),
                              "--write", flag)
            self.assert_bad_input(p, why)
        # a bound set by the flag alone
        big = os.path.join(self.data, "big")
        res = self.run_json(self.write("fill.py", fill_script(big, 64)), "--write", "8",
                            caps=self.caps(grants=[("FILE_WRITE", self.data + "/*")]))
        self.assertEqual(res["status"], "ok")
        self.assertIn("errno 28", res["stdout"])
        self.assertLessEqual(os.path.getsize(big), 8 * MiB)

    def test_a_killed_runner_s_writes_land_at_gc(self):
        script = self.write("w.py", (
            "open(%r, 'w').write('kept')\nprint('written', flush=True)\n"
            "import time\ntime.sleep(600)\n") % os.path.join(self.data, "k.txt"))
        p = subprocess.Popen([OMNIBASE, "sandbox", "run", script, "--capabilities",
                              self.bound_caps(8)], env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline(), "written\n")
        finally:
            p.send_signal(signal.SIGKILL)
            p.communicate()
        self.assertEqual(os.listdir(self.data), [])
        self.assertEqual(len(os.listdir(os.path.join(self.state, "writes"))), 1)
        g = self.omnibase("gc")
        self.assertEqual(g.returncode, 0, g.stderr)
        self.assertEqual(self.read("k.txt"), "kept")

    def test_a_failed_commit_is_an_error_and_keeps_the_writes_for_gc(self):
        script = self.write("w.py", "open(%r, 'w').write('safe')\n"
                            % os.path.join(self.data, "w.txt") + wait_for_host(self.sync))
        aside = self.data + ".aside"

        def replace_the_directory():  # by a file, while the run lives
            os.rename(self.data, aside)
            with open(self.data, "w") as f:
                f.write("not a directory")
        rc, _, err = self.run_checked(script, self.bound_caps(8), replace_the_directory)
        self.assertEqual(rc, 125, err)
        self.assertIn("kept in", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(os.listdir(aside), [])
        os.unlink(self.data)
        os.rename(aside, self.data)
        g = self.omnibase("gc")
        self.assertEqual(g.returncode, 0, g.stderr)
        self.assertEqual(self.read("w.txt"), "safe")

    def test_attack_the_commit_never_follows_a_link_on_the_host(self):
        """A link planted in the granted directory (by an earlier run without
        a bound, say) to a directory outside it: the workload replaces it
        with a directory of its own and writes into that. The commit, which
        writes as root, must replace the link, never write through it."""
        victim = os.path.join(self.tmp, "victim")
        os.mkdir(victim)
        os.symlink(victim, os.path.join(self.data, "out"))
        os.symlink(victim + "/f.txt", os.path.join(self.data, "f.txt"))
        d = self.data
        script = self.write("w.py", (
            "import os\nd = %r\n"
            "os.unlink(d + '/out')\nos.mkdir(d + '/out')\n"
            "open(d + '/out/pwned', 'w').write('x')\n"
            "os.unlink(d + '/f.txt')\nopen(d + '/f.txt', 'w').write('x')\n") % d)
        res = self.run_json(script, caps=self.bound_caps(8))
        self.assertEqual(res["status"], "ok", res)
        self.assertEqual(os.listdir(victim), [])
        self.assertFalse(os.path.islink(os.path.join(d, "out")))
        self.assertEqual(os.listdir(os.path.join(d, "out")), ["pwned"])
        self.assertFalse(os.path.islink(os.path.join(d, "f.txt")))


if __name__ == "__main__":
    main()
