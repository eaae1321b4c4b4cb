#!/usr/bin/python3
"""Each limit ends the run with its documented status and a clear message."""
import json
import signal
import subprocess
import time

from runnerlib import OMNIBASE, RunnerTest, fill_script, main, runsc_pids_under

FORK_BOMB = r'''
import os, time
n = 0
err = None
while n < 500:
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    n += 1
print("forked", n, "errno", err, flush=True)
'''


class Limits(RunnerTest):
    def test_fork_bomb_under_pids_limit(self):
        script = self.write("bomb.py", FORK_BOMB)
        caps = self.caps(limits={"pids": 16, "memory_mb": 512})
        res = self.run_json(script, caps=caps)
        # the fork fails inside (EAGAIN) and the workload ends on its own; the run
        # says the pids limit was hit (issue 14 defect 6: it was "ok" with no event)
        self.assertEqual((res["status"], res["limit"], res["exit_code"]),
                         ("limit_exceeded", "pids", 0), res)
        words = res["stdout"].split()
        self.assertEqual(words[0], "forked", res)
        self.assertLess(int(words[1]), 16)
        self.assertEqual(words[3], "11")  # EAGAIN
        p = self.omnibase("sandbox", "run", script, "--capabilities", caps)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ResourceLimitExceeded: pids 16 tasks: sandbox ", p.stderr)
        self.assertIn("pids limit exceeded, a fork or thread failed (EAGAIN)", p.stderr)

    def test_threads_at_the_pids_limit_and_under_it(self):
        code = ("import threading, time\nev = threading.Event()\nn = 0\n"
                "try:\n    for i in range(%d):\n"
                "        threading.Thread(target=ev.wait, daemon=True).start(); n += 1\n"
                "except RuntimeError as e:\n    print('refused after', n)\n"
                "else:\n    print('started', n)\nev.set()\n")
        caps = self.caps(limits={"pids": 6})
        res = self.run_json(self.write("t.py", code % 20), caps=caps)
        self.assertEqual((res["status"], res["limit"], res["ended_by"]),
                         ("limit_exceeded", "pids", "limit_exceeded"), res)
        self.assertTrue(res["stdout"].startswith("refused after "), res)
        # under the limit nothing is reported
        res = self.run_json(self.write("t2.py", code % 2), caps=caps)
        self.assertEqual((res["status"], res["limit"], res["stdout"]),
                         ("ok", None, "started 2\n"), res)

    def test_tmp_filled_past_tmpfs_size(self):
        script = self.write("fill.py", fill_script("/tmp/fill", 200))
        caps = self.caps(limits={"tmpfs_mb": 8, "memory_mb": 512})
        res = self.run_json(script, caps=caps)
        self.assertEqual(res["status"], "ok", res)
        words = res["stdout"].split()
        self.assertEqual(words[0], "stopped", res)
        self.assertLessEqual(int(words[2]), 8)
        self.assertEqual(words[-1], "28")  # ENOSPC

    def test_stdout_flood_past_output_cap(self):
        script = self.write("flood.py", "import sys\nwhile True:\n    sys.stdout.write('y' * 4096)\n")
        res = self.run_json(script, "--output", "64")
        self.assertEqual(res["status"], "limit_exceeded")
        self.assertEqual(res["limit"], "output")
        self.assertEqual(res["exit_code"], 137)
        self.assertTrue(res["stdout_truncated"])
        self.assertEqual(len(res["stdout"]), 64 * 1024)
        self.assertEqual(set(res["stdout"]), {"y"})

    def test_flood_without_json_stops_at_cap_too(self):
        script = self.write("flood.py", "import sys\nwhile True:\n    sys.stdout.write('z' * 4096)\n")
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.caps(),
                          "--output", "32")
        self.assertEqual(p.returncode, 137)
        self.assertEqual(len(p.stdout), 32 * 1024)
        self.assertIn("output limit exceeded", p.stderr)

    def test_memory_kill_without_json_says_so_on_stderr(self):
        # exit 137 from a limit: one ResourceLimitExceeded line with the limit and value
        mb = self.limit_above_baseline(50)
        script = self.write("hog.py", "b = bytearray(300 * 1024 * 1024)\nb[::4096] = b'x' * len(b[::4096])\n")
        p = self.omnibase("sandbox", "run", script,
                          "--capabilities", self.caps(limits={"memory_mb": mb}))
        self.assertEqual(p.returncode, 137, p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.startswith("ResourceLimitExceeded:")]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("ResourceLimitExceeded: memory %d MiB" % mb), lines[0])

    def test_self_sigkill_prints_no_limit_line(self):
        # exit 137 from the workload's own SIGKILL: no ResourceLimitExceeded line
        script = self.write("suicide.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.caps())
        self.assertEqual(p.returncode, 137, p.stderr)
        self.assertNotIn("ResourceLimitExceeded", p.stderr)
        self.assertNotIn("limit exceeded", p.stderr)

    def test_reader_goes_away(self):
        # `omnibase sandbox run flood.py | head`: the runner survives the closed
        # pipe, the output cap still ends the run, and everything is cleaned up
        script = self.write("flood.py", "import sys\nwhile True:\n    sys.stdout.write('q' * 4096)\n")
        p = subprocess.Popen([OMNIBASE, "sandbox", "run", script, "--capabilities", self.caps(),
                              "--output", "256"], env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.read(100), b"q" * 100)
            p.stdout.close()
            err = p.stderr.read().decode()
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 137, err)
        self.assertIn("output limit exceeded", err)
        self.assert_state_empty()

    def test_infinite_loop_past_timeout(self):
        script = self.write("loop.py", "while True:\n    pass\n")
        t0 = time.monotonic()
        res = self.run_json(script, "--timeout", "2")
        took = time.monotonic() - t0
        self.assertEqual(res["status"], "timeout")
        self.assertEqual(res["exit_code"], 124)
        self.assertGreaterEqual(res["usage"]["wall_ms"], 2000)
        self.assertLess(took, 15)
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.caps(), "--timeout", "1")
        self.assertEqual(p.returncode, 124)
        self.assertIn("timeout", p.stderr)

    def test_upward_override_is_refused(self):
        top = self.limit_above_baseline(64)
        caps = self.caps(limits={"memory_mb": top, "timeout_s": 5})
        script = self.write("hi.py", "print('hi')\n")
        p = self.omnibase("sandbox", "run", script, "--capabilities", caps, "--memory",
                          str(top + 64))
        self.assert_bad_input(p, "memory_mb")
        p = self.omnibase("sandbox", "run", script, "--capabilities", caps, "--timeout", "6")
        self.assert_bad_input(p, "timeout_s")
        # downward is fine, and a limit the file does not set may be set by a flag
        res = self.run_json(script, "--memory", str(top - 4), "--pids", "8", caps=caps)
        self.assertEqual(res["status"], "ok")

    def test_sigterm_to_runner_stops_and_cleans(self):
        script = self.write("sleep.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
        p = subprocess.Popen([OMNIBASE, "sandbox", "run", script, "--capabilities", self.caps(),
                              "--events", "-"], env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            start = json.loads(p.stdout.readline())
            self.ids.append(start["sandbox_id"])
            self.assertEqual(p.stderr.readline(), "up\n")  # workload stdout: on stderr
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 128 + signal.SIGTERM)
        self.assertIn("interrupted", err)
        self.assertIn('"SandboxExit"', out)
        self.assert_state_empty()
        self.assertEqual(runsc_pids_under(self.state), [])


if __name__ == "__main__":
    main()
