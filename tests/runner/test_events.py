#!/usr/bin/python3
"""--events FILE|-: SandboxStart, ResourceLimitExceeded, SandboxExit as JSON lines."""
import json
import re

from runnerlib import PRINCIPAL, RunnerTest, main

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Events(RunnerTest):
    def read_events(self, path):
        with open(path) as f:
            return [json.loads(line) for line in f]

    def check_common(self, evs, sid):
        self.assertEqual([e["seq"] for e in evs], list(range(1, len(evs) + 1)))
        for e in evs:
            self.assertRegex(e["time"], TIME)
            self.assertEqual(e["sandbox_id"], sid)
            self.assertEqual(e["principal"], PRINCIPAL)

    def test_start_and_exit(self):
        script = self.write("x.py", "import sys\nsys.exit(5)\n")
        path = self.tmp + "/events.jsonl"
        res = self.run_json(script, "--events", path)
        evs = self.read_events(path)
        self.assertEqual([e["type"] for e in evs], ["SandboxStart", "SandboxExit"])
        self.check_common(evs, res["sandbox_id"])
        self.assertEqual(evs[0]["profile"], "python-minimal")
        self.assertEqual(evs[1]["status"], "ok")
        self.assertEqual(evs[1]["exit_code"], 5)

    def test_limit_exceeded(self):
        script = self.write("m.py", "b = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(b),"
                                    " 4096):\n    b[i] = 1\n")
        path = self.tmp + "/events.jsonl"
        res = self.run_json(script, "--events", path, "--memory", "64")
        evs = self.read_events(path)
        self.assertEqual([e["type"] for e in evs],
                         ["SandboxStart", "ResourceLimitExceeded", "SandboxExit"])
        self.check_common(evs, res["sandbox_id"])
        self.assertEqual(evs[1]["limit"], "memory")
        self.assertEqual(evs[1]["value"], 64)
        self.assertEqual(evs[2]["status"], "limit_exceeded")
        self.assertEqual(evs[2]["exit_code"], 137)

    def test_events_to_stdout(self):
        script = self.write("o.py", "print('payload')\n")
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.caps(), "--events", "-")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        # stdout is the event stream only: the workload's stdout goes to stderr
        # (a workload printing event-like lines cannot forge events: F5)
        self.assertEqual([json.loads(line)["type"] for line in lines],
                         ["SandboxStart", "SandboxExit"])
        self.assertEqual(p.stderr, "payload\n")
        self.ids.append(json.loads(lines[0])["sandbox_id"])
        # with --json the output is captured into the result, stdout carries both
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.caps(), "--events", "-",
                          "--json")
        lines = p.stdout.splitlines()
        self.assertEqual(json.loads(lines[-1])["stdout"], "payload\n")
        self.ids.append(json.loads(lines[-1])["sandbox_id"])


if __name__ == "__main__":
    main()
