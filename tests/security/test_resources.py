#!/usr/bin/python3
"""Denial of service against the host and the runner: fork bomb, memory bomb,
tmpfs fill, output flood, sleeping past the timeout, closing stdout and
running on, and exiting while children (daemons holding stdout, ignoring
signals) linger. Each run must end within its limit plus a bound (the runner
never hangs), with the documented status, and leave nothing behind (seclib's
tearDown)."""
import time

from seclib import AttackTest, main

SLACK_S = 20  # start-up, kill and cleanup under a loaded 2-core host


class ResourceAttacks(AttackTest):
    def run_bounded(self, code, limits, statuses):
        caps = self.caps(limits=limits)
        t0 = time.monotonic()
        res = self.run_json(self.write("dos.py", code), caps=caps,
                            timeout=limits.get("timeout_s", 30) + 60)
        wall = time.monotonic() - t0
        self.assertIn(res["status"], statuses, res)
        self.assertLess(wall, limits.get("timeout_s", 30) + SLACK_S, "the runner took too long")
        return res, wall

    def test_fork_bomb(self):
        code = ("import os, time\nend = time.time() + 4\nn = 0\n"
                "while time.time() < end:\n"
                "    try:\n        os.fork(); n += 1\n"
                "    except OSError:\n        pass\n")
        # the bomb's own exit status varies (its interpreter may fail to
        # start a task); what matters is that the run ends within its bound,
        # leaves nothing, and the host still runs the next sandbox
        res, _ = self.run_bounded(code, {"pids": 16, "timeout_s": 8},
                                  ("timeout", "limit_exceeded"))
        if res["status"] == "limit_exceeded":  # the pids limit is reported (issue 14)
            self.assertEqual(res["limit"], "pids", res)
        res = self.run_py("print('after: fine')\n")
        self.assertEqual(self.verdicts(res)["after"], "fine")

    def test_memory_bomb(self):
        code = ("b = []\nwhile True:\n    b.append(bytearray(8 << 20))\n"
                "    b[-1][::4096] = b'x' * (len(b[-1]) // 4096)\n")
        res, _ = self.run_bounded(code, {"memory_mb": 64, "timeout_s": 20},
                                  ("limit_exceeded",))
        self.assertEqual(res["limit"], "memory")
        self.assertEqual(res["exit_code"], 137)

    def test_tmpfs_fill(self):
        code = ("import errno\nn = 0\nf = open('/tmp/fill', 'wb')\n"
                "try:\n    while True:\n        f.write(b'x' * (1 << 20)); f.flush(); n += 1\n"
                "except OSError as e:\n    print('stopped:', errno.errorcode[e.errno], n)\n")
        res, _ = self.run_bounded(code, {"tmpfs_mb": 8, "timeout_s": 20}, ("ok",))
        verdict = self.verdicts(res)["stopped"].split()
        self.assertEqual(verdict[0], "ENOSPC")
        self.assertLessEqual(int(verdict[1]), 8)

    def test_output_flood(self):
        code = ("import sys\nwhile True:\n    sys.stdout.write('A' * 65536)\n"
                "    sys.stderr.write('B' * 65536)\n")
        res, _ = self.run_bounded(code, {"output_kb": 16, "timeout_s": 20}, ("limit_exceeded",))
        self.assertEqual(res["limit"], "output")
        self.assertLessEqual(len(res["stdout"]), 16 * 1024)
        self.assertLessEqual(len(res["stderr"]), 16 * 1024)

    def test_sleep_past_timeout(self):
        res, wall = self.run_bounded("import time\ntime.sleep(3600)\n", {"timeout_s": 2},
                                     ("timeout",))
        self.assertEqual(res["exit_code"], 124)
        self.assertGreaterEqual(wall, 2)

    def test_signals_ignored_past_timeout(self):
        code = ("import signal, time\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
                "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n")
        res, _ = self.run_bounded(code, {"timeout_s": 2}, ("timeout",))
        self.assertEqual(res["exit_code"], 124)

    def test_closed_stdout_keeps_running(self):
        code = "import os, time\nos.close(1)\nos.close(2)\nos.close(0)\ntime.sleep(3600)\n"
        res, _ = self.run_bounded(code, {"timeout_s": 3}, ("timeout",))
        self.assertEqual(res["exit_code"], 124)

    def test_exit_while_children_linger(self):
        """The main process exits 3 at once; a setsid daemon holding stdout
        and ignoring signals, and a double-forked grandchild, stay behind."""
        code = ("import os, signal, sys, time\n"
                "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\n"
                "    signal.signal(s, signal.SIG_IGN)\n"
                "if os.fork() == 0:\n    os.setsid()\n"
                "    if os.fork() == 0:\n        time.sleep(3600)\n"
                "    while True:\n        time.sleep(1)\n"
                "print('parent leaves', flush=True)\nsys.exit(3)\n")
        res, wall = self.run_bounded(code, {"timeout_s": 60}, ("ok", "timeout"))
        self.assertEqual(res["status"], "ok",
                         "the run did not end with its main process: %r" % res)
        self.assertEqual(res["exit_code"], 3)
        self.assertLess(wall, 30)


if __name__ == "__main__":
    main()
