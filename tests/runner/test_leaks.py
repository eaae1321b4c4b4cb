#!/usr/bin/python3
"""No leaks: 50 runs mixing normal exits, timeouts, OOMs, output floods and a
SIGKILLed runner followed by `omnibase gc` leave no cgroup, runsc container,
mount or state directory of omnibase behind. Runs alone (RUN_SERIAL), so it
may look at the whole host."""
import fcntl
import glob
import json
import os
import signal
import subprocess
import time

from runnerlib import OMNIBASE, RunnerTest, cgroup_dirs, main, runsc_pids_under

SCRIPTS = {
    "ok": "print('fine')\n",
    "exit": "import sys\nsys.exit(7)\n",
    "loop": "while True:\n    pass\n",
    "oom": "b = bytearray(120 * 1024 * 1024)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\n",
    "flood": "import sys\nwhile True:\n    sys.stdout.write('f' * 8192)\n",
}
EXPECT = {"ok": "ok", "exit": "ok", "loop": "timeout", "oom": "limit_exceeded",
          "flood": "limit_exceeded"}


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if path in l]


class Leaks(RunnerTest):
    def test_fifty_mixed_runs_then_gc(self):
        # (the oom script touches 120 MiB: above the limit in any build)
        mem = self.limit_above_baseline(64)
        self.assertLess(mem, self.baseline_mb() + 120)
        caps = self.caps(limits={"memory_mb": mem, "timeout_s": 3, "output_kb": 16})
        scripts = {k: self.write(k + ".py", v) for k, v in SCRIPTS.items()}
        kinds = list(SCRIPTS)
        seen = {}
        for i in range(48):
            kind = kinds[i % len(kinds)]
            res = self.run_json(scripts[kind], caps=caps)
            self.assertEqual(res["status"], EXPECT[kind], (kind, res))
            seen[kind] = seen.get(kind, 0) + 1
        self.assertEqual(set(seen), set(kinds))

        # two runners SIGKILLed while their sandboxes run
        killed = []
        for _ in range(2):
            p = subprocess.Popen([OMNIBASE, "sandbox", "run", scripts["loop"], "--capabilities",
                                  self.caps(limits={"timeout_s": 60}, name="long.json"),
                                  "--events", "-"], env=self.env, stdout=subprocess.PIPE,
                                 text=True)
            start = json.loads(p.stdout.readline())
            killed.append(start["sandbox_id"])
            time.sleep(0.5)
            p.kill()
            p.wait()
        self.ids.extend(killed)
        runs = os.path.join(self.state, "runs")
        self.assertEqual(sorted(os.listdir(runs)), sorted(killed))
        for sid in killed:
            self.assertTrue(cgroup_dirs(sid), "a killed run should have left its cgroup")

        p = self.omnibase("gc")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "gc: removed 2 runs")
        p = self.omnibase("gc")
        self.assertEqual(p.stdout.strip(), "gc: removed 0 runs")

        self.assertEqual(os.listdir(runs), [])
        for sid in self.ids:
            self.assertEqual(cgroup_dirs(sid), [], "cgroups of %s left" % sid)
        # the shared parent goes with the last run out; other runs on this host
        # (outside this test) hold the cgroup lock, then only ours are checked
        fd = os.open("/run/omnibase-cgroup.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.assertEqual(glob.glob("/sys/fs/cgroup/*/omnibase*"), [], "omnibase cgroups left")
        except BlockingIOError:
            print("note: other sandboxes run on this host; checked this test's cgroups only")
        finally:
            os.close(fd)
        self.assertEqual(runsc_pids_under(self.state), [])
        self.assertEqual(mounts_under(self.state), [])

    def test_gc_leaves_live_runs_alone(self):
        loop = self.write("loop.py", "import time\nprint('up', flush=True)\ntime.sleep(30)\n")
        p = subprocess.Popen([OMNIBASE, "sandbox", "run", loop, "--capabilities", self.caps(),
                              "--events", "-"], env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            sid = json.loads(p.stdout.readline())["sandbox_id"]
            self.ids.append(sid)
            self.assertEqual(p.stderr.readline(), "up\n")  # workload stdout: on stderr
            g = self.omnibase("gc")
            self.assertEqual(g.stdout.strip(), "gc: removed 0 runs")
            self.assertTrue(cgroup_dirs(sid))
            self.assertEqual(p.poll(), None, "gc disturbed a live run")
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=30)
            self.assertEqual(p.returncode, 130)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assert_state_empty()


if __name__ == "__main__":
    main()
