#!/usr/bin/env python3
"""The warm pool (docs/runner.md §10) with real runsc: `omnibase pool
start|status|stop` and `sandbox run --warm`. A warm run's result, events and
audit log are a cold run's (SandboxStart says warm); a pooled sandbox is used
once (a second run sees nothing of the first: /tmp, the inbox, processes); a
set that differs by one grant or one limit runs cold; stop and SIGKILL + gc
leave nothing."""
import json
import os
import signal
import subprocess
import time

import runnerlib
from runnerlib import RunnerTest, cgroup_dirs, runsc_pids_under

HELLO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                     "hello.py")
DEADLINE_S = 90


class PoolTest(RunnerTest):
    def setUp(self):
        super().setUp()
        self.pool_ids = set()

    def tearDown(self):
        st = self.status(check=False)
        if st:
            self.omnibase("pool", "stop")
            try:
                os.kill(st["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
        super().tearDown()

    # -- helpers ----------------------------------------------------------
    def status(self, check=True):
        p = self.omnibase("pool", "status", "--json")
        if p.returncode != 0:
            if check:
                self.fail("pool status: %s" % p.stderr)
            return None
        return json.loads(p.stdout)

    def wait_for(self, pred, what):
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            st = self.status()
            self.remember_runs()
            if pred(st):
                return st
            time.sleep(0.05)
        self.fail("timed out waiting for %s: %s" % (what, self.status()))

    def remember_runs(self):
        runs = os.path.join(self.state, "runs")
        if os.path.isdir(runs):
            self.pool_ids.update(os.listdir(runs))

    def start_pool(self, caps, size=2, profile=None):
        args = ["pool", "start", "--size", str(size), "--capabilities", caps]
        if profile:
            args += ["--profile", profile]
        p = self.omnibase(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return self.wait_for(lambda st: st["ready"] == size, "%d ready sandboxes" % size)

    def run_sb(self, script, caps, *args, warm=True):
        ev = os.path.join(self.tmp, "events-%d.jsonl" % time.monotonic_ns())
        p = self.omnibase("sandbox", "run", script, "--capabilities", caps, "--json",
                          "--events", ev, *(["--warm", "-v"] if warm else []), *args)
        res = json.loads(p.stdout)
        self.assertEqual(p.returncode, res["exit_code"], p.stderr)
        with open(ev) as f:
            events = [json.loads(line) for line in f]
        return res, events, p.stderr

    def assert_nothing_left(self):
        self.assertEqual(runsc_pids_under(self.state), [], "runsc processes left")
        runs = os.path.join(self.state, "runs")
        self.assertEqual(os.listdir(runs) if os.path.isdir(runs) else [], [], "runs left")
        self.assertFalse(os.path.exists(os.path.join(self.state, "pool", "pool.sock")))
        for sid in self.pool_ids:
            self.assertEqual(cgroup_dirs(sid), [], "cgroups of %s left" % sid)
        with open("/proc/mounts") as f:
            self.assertNotIn(self.state, f.read(), "mounts left")

    # -- tests ------------------------------------------------------------
    def test_01_warm_run_is_a_cold_run(self):
        caps = self.caps()
        self.start_pool(caps)
        cold, cold_ev, _ = self.run_sb(HELLO, caps, warm=False)
        warm1, ev1, err1 = self.run_sb(HELLO, caps)
        warm2, ev2, _ = self.run_sb(HELLO, caps)
        self.assertIn("warm: took the pooled sandbox", err1)
        for w, ev in ((warm1, ev1), (warm2, ev2)):
            self.assertTrue(w.get("warm"), w)
            self.assertNotIn("warm", cold)
            for k in ("status", "exit_code", "stdout", "stderr", "violations", "denials",
                      "ended_by", "limit", "error"):
                self.assertEqual(w[k], cold[k], k)
            self.assertEqual([e["type"] for e in ev], [e["type"] for e in cold_ev])
            self.assertEqual(ev[0]["warm"], True)
            self.assertNotIn("warm", cold_ev[0])
            for k in ("profile", "command", "mounts", "memory_mb", "cpus_milli", "pids",
                      "timeout_s", "principal"):
                self.assertEqual(ev[0][k], cold_ev[0][k], k)
            for k in ("status", "ended_by", "exit_code", "denials"):
                self.assertEqual(ev[-1][k], cold_ev[-1][k], k)
            self.assertTrue(all(e["sandbox_id"] == w["sandbox_id"] for e in ev))
        self.assertNotEqual(warm1["sandbox_id"], warm2["sandbox_id"])
        # the audit log holds all three runs and its chain verifies
        p = self.omnibase("events", "verify")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(os.path.join(self.state, "audit.jsonl")) as f:
            logged = [json.loads(line) for line in f]
        for w in (warm1, warm2):
            mine = [e["type"] for e in logged if e.get("sandbox_id") == w["sandbox_id"]]
            self.assertEqual(mine, ["SandboxStart", "SandboxExit"])
        # used once, replaced in the background
        st = self.wait_for(lambda st: st["ready"] == 2 and st["taken"] == 2, "the refill")
        self.assertEqual(st["cold_refusals"], 0)
        self.assertEqual(st["boot_failures"], 0)

    def test_02_second_run_sees_nothing_of_the_first(self):
        caps = self.caps()
        self.start_pool(caps)
        first = self.write("first.py", (
            "import os, subprocess\n"
            "open('/tmp/left-by-first', 'w').write('secret')\n"
            "subprocess.Popen(['/usr/bin/python3', '-c',\n"
            "                  'import time; time.sleep(60)  # first-run-sleeper'])\n"
            "print(sorted(os.listdir('/tmp')), sorted(os.listdir('/omnibase/in')))\n"))
        second = self.write("second.py", (
            "import os\n"
            "procs = []\n"
            "for p in os.listdir('/proc'):\n"
            "    if p.isdigit():\n"
            "        with open('/proc/%s/cmdline' % p, 'rb') as f:\n"
            "            procs.append(f.read().decode(errors='replace'))\n"
            "print(sorted(os.listdir('/tmp')), sorted(os.listdir('/omnibase/in')))\n"
            "print(any('first-run-sleeper' in c for c in procs), len(procs))\n"))
        r1, _, _ = self.run_sb(first, caps)
        self.assertEqual(r1["status"], "ok", r1)
        self.assertTrue(r1.get("warm"))
        self.assertEqual(r1["stdout"], "['left-by-first'] ['script.py']\n")
        r2, _, _ = self.run_sb(second, caps)
        self.assertTrue(r2.get("warm"))
        self.assertEqual(r2["status"], "ok", r2)
        lines = r2["stdout"].splitlines()
        self.assertEqual(lines[0], "[] ['script.py']")  # no /tmp file, only its own script
        self.assertEqual(lines[1], "False 2")  # the sidecar and itself, nothing of the first
        self.assertNotEqual(r1["sandbox_id"], r2["sandbox_id"])

    def test_03_denial_in_a_warm_run(self):
        caps = self.caps()
        self.start_pool(caps, size=1)
        script = self.write("deny.py", (
            "try:\n    open('/etc/shadow').read()\nexcept OSError as e:\n"
            "    print('denied', e.errno)\n"))
        res, ev, err = self.run_sb(script, caps)
        self.assertTrue(res.get("warm"))
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126))
        self.assertEqual(res["stdout"], "denied 13\n")
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("FILE_READ", "/etc/shadow")])
        self.assertEqual([e["type"] for e in ev],
                         ["SandboxStart", "CapabilityDenied", "SandboxExit"])
        self.assertIn("SandboxViolationError:", err)

    def test_04_a_different_set_runs_cold(self):
        caps = self.caps(limits={"timeout_s": 20})
        self.start_pool(caps, size=1)
        data = self.write("data.txt", "x\n")
        one_more_grant = self.caps(grants=[("FILE_READ", data)], limits={"timeout_s": 20},
                                   name="more.json")
        for c, extra in ((one_more_grant, ()), (caps, ("--timeout", "19"))):
            res, ev, err = self.run_sb(HELLO, c, *extra)
            self.assertNotIn("warm", res)
            self.assertNotIn("warm", ev[0])
            self.assertEqual(res["stdout"], "hello from the sandbox\n")
            self.assertIn("warm: the profile, capability set or limits differ from the pool's: "
                          "starting cold", err)
        # a command runs with the shell profile: not the pool's either
        p = self.omnibase("sandbox", "run", "--capabilities", caps, "--warm", "-v", "--",
                          "/bin/true")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("starting cold", p.stderr)
        st = self.status()
        self.assertEqual((st["taken"], st["cold_refusals"], st["ready"]), (0, 3, 1))
        # without a pool: cold, and -v says so
        self.assertEqual(self.omnibase("pool", "stop").returncode, 0)
        res, _, err = self.run_sb(HELLO, caps)
        self.assertNotIn("warm", res)
        self.assertIn("warm: no pool is running", err)

    def test_05_stop_and_sigkill_gc_leave_nothing(self):
        caps = self.caps()
        self.start_pool(caps)
        res, _, _ = self.run_sb(HELLO, caps)
        self.assertTrue(res.get("warm"))
        self.wait_for(lambda st: st["ready"] == 2, "the refill")
        p = self.omnibase("pool", "start", "--capabilities", caps)
        self.assertEqual(p.returncode, 125)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("already running", p.stderr)
        p = self.omnibase("pool", "stop")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_nothing_left()
        p = self.omnibase("pool", "status")
        self.assertEqual(p.returncode, 125)
        self.assertTrue(p.stderr.startswith("omnibase: no pool is running"), p.stderr)
        # SIGKILL the daemon with a full pool: gc removes what it held
        st = self.start_pool(caps)
        os.kill(st["pid"], signal.SIGKILL)
        end = time.monotonic() + DEADLINE_S
        while os.path.exists("/proc/%d" % st["pid"]) and time.monotonic() < end:
            time.sleep(0.02)
        p = self.omnibase("gc")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("gc: removed 2 runs", p.stdout)
        self.assert_nothing_left()
        # a pool that cannot boot a sandbox is not started: one line, 125, nothing left
        env = dict(self.env, OMNIBASE_RUNSC="/nonexistent/runsc")
        p = subprocess.run([runnerlib.OMNIBASE, "pool", "start", "--capabilities", caps], env=env,
                           capture_output=True, text=True, timeout=DEADLINE_S)
        self.assertEqual(p.returncode, 125)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("/nonexistent/runsc", p.stderr)
        self.assertIsNone(self.status(check=False))
        self.assert_nothing_left()
        self.assertFalse(os.path.exists(os.path.join(self.state, "pool", "pool.lock")))

    def test_06_network_grant(self):
        # the pooled sandbox has its netns and egress allowlist from boot
        caps = self.caps(grants=[("NETWORK_CONNECT", "127.0.0.1:8080")])
        self.start_pool(caps, size=1)
        script = self.write("net.py", (
            "import socket\n"
            "for addr in [('127.0.0.1', 8080), ('10.1.2.3', 80)]:\n"
            "    s = socket.socket(); s.settimeout(2)\n"
            "    try:\n"
            "        s.connect(addr); print(addr[0], 'connected')\n"
            "    except OSError as e:\n"
            "        print(addr[0], e.errno)\n"))
        warm, _, _ = self.run_sb(script, caps)
        cold, _, _ = self.run_sb(script, caps, warm=False)
        self.assertTrue(warm.get("warm"))
        self.assertEqual(warm["stdout"], "127.0.0.1 111\n10.1.2.3 1\n")
        for k in ("status", "exit_code", "stdout", "violations"):
            self.assertEqual(warm[k], cold[k], k)
        self.assertEqual(self.omnibase("pool", "stop").returncode, 0)
        self.assert_nothing_left()
        self.assertTrue(self.pool_ids)
        left = [n for n in runnerlib.oblib.netns_names() if any(i in n for i in self.pool_ids)]
        self.assertEqual(left, [], "network namespaces left")

    def test_07_interrupt_and_a_long_run(self):
        caps = self.caps(limits={"timeout_s": 60})
        self.start_pool(caps, size=2)
        sleeper = self.write("sleeper.py", "import time\ntime.sleep(50)\n")
        ev = os.path.join(self.tmp, "int-events.jsonl")
        proc = subprocess.Popen([runnerlib.OMNIBASE, "sandbox", "run", sleeper, "--capabilities",
                                 caps, "--warm", "--events", ev], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:  # the run has started: its SandboxStart is logged
            if os.path.exists(ev):
                with open(ev) as f:
                    if "SandboxStart" in f.read():
                        break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE_S)
        # as a cold run's SIGINT: the sandbox is stopped, error, 130, one line
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("interrupted by INT", err)
        with open(ev) as f:
            last = [json.loads(line) for line in f][-1]
        self.assertEqual((last["type"], last["status"], last["exit_code"]),
                         ("SandboxExit", "error", 130))
        # a warm run longer than the control socket's 5 s I/O bound
        slow = self.write("slow.py", "import time\ntime.sleep(6)\nprint('done')\n")
        res, _, _ = self.run_sb(slow, caps)
        self.assertTrue(res.get("warm"))
        self.assertEqual((res["status"], res["stdout"]), ("ok", "done\n"))


if __name__ == "__main__":
    runnerlib.main()
