#!/usr/bin/python3
"""A SIGKILLed runner's run is closed in the audit log by gc (issue 14
defect 4): gc appends a SandboxExit with status "abandoned" for it, so every
SandboxStart has an end; the chain still verifies; a second gc writes
nothing more; and a run that ended normally gets no second end."""
import json
import os
import signal
import subprocess

from runnerlib import OMNIBASE, RunnerTest, main


class GcAudit(RunnerTest):
    def events(self):
        path = os.path.join(self.state, "audit.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_killed_runner_gets_an_abandoned_end(self):
        script = self.write("wait.py", "import sys, time\nprint('ready', flush=True)\n"
                            "time.sleep(600)\n")
        p = subprocess.Popen([OMNIBASE, "sandbox", "run", script, "--capabilities", self.caps()],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            # the workload ran: its line came through the runner's live copy
            self.assertEqual(p.stdout.readline(), "ready\n")
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
            p.stdout.close()
            p.stderr.close()
        starts = [e for e in self.events() if e["type"] == "SandboxStart"]
        self.assertEqual(len(starts), 1, self.events())
        sid = starts[0]["sandbox_id"]
        self.ids.append(sid)
        self.assertEqual([e for e in self.events() if e["type"] == "SandboxExit"], [])

        g = self.omnibase("gc")
        self.assertEqual(g.returncode, 0, g.stderr)
        self.assertIn("removed 1 run", g.stdout)
        ends = [e for e in self.events() if e["type"] == "SandboxExit"]
        self.assertEqual(len(ends), 1, self.events())
        self.assertEqual(ends[0]["sandbox_id"], sid)
        self.assertEqual(ends[0]["status"], "abandoned")
        self.assertEqual(ends[0]["principal"], starts[0]["principal"])
        v = self.omnibase("events", "verify", os.path.join(self.state, "audit.jsonl"))
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

        g = self.omnibase("gc")
        self.assertEqual(g.returncode, 0, g.stderr)
        self.assertEqual(len([e for e in self.events() if e["type"] == "SandboxExit"]), 1)

    def test_a_finished_run_has_one_end(self):
        res = self.run_json(self.write("hi.py", "print('hi')\n"))
        self.assertEqual(res["status"], "ok")
        g = self.omnibase("gc")
        self.assertEqual(g.returncode, 0, g.stderr)
        ends = [e for e in self.events() if e["type"] == "SandboxExit"]
        self.assertEqual([e["status"] for e in ends], ["ok"])


if __name__ == "__main__":
    main()
