#!/usr/bin/python3
"""Bad input: exit 125, one clear line, nothing left behind."""
import json
import os

from runnerlib import RunnerTest, main


class Errors(RunnerTest):
    def setUp(self):
        super().setUp()
        self.script = self.write("hi.py", "print('hi')\n")

    def test_script_does_not_exist(self):
        missing = os.path.join(self.tmp, "nope.py")
        p = self.omnibase("sandbox", "run", missing, "--capabilities", self.caps())
        self.assert_bad_input(p, missing + ": No such file or directory")

    def test_invalid_capability_file_names_line_and_column(self):
        bad = self.write("bad.json", '{"version": 1,\n "grants": [{"capability": "FILE_RAED",'
                                     ' "target": "/x"}]}\n')
        p = self.omnibase("sandbox", "run", self.script, "--capabilities", bad)
        self.assert_bad_input(p, bad + ":2:")
        self.assertIn("FILE_RAED", p.stderr)
        notjson = self.write("notjson.json", "{\"version\": 1,,}")
        p = self.omnibase("sandbox", "run", self.script, "--capabilities", notjson)
        self.assert_bad_input(p, notjson + ":1:")
        unknown = self.write("unknown.json", '{"version": 1, "grants": [], "extra": true}')
        p = self.omnibase("sandbox", "run", self.script, "--capabilities", unknown)
        self.assert_bad_input(p, "extra")

    def test_missing_capability_file(self):
        p = self.omnibase("sandbox", "run", self.script, "--capabilities",
                          os.path.join(self.tmp, "none.json"))
        self.assert_bad_input(p, "none.json")

    def test_bad_flags(self):
        caps = self.caps()
        for args, needle in [(["--memory", "lots"], "--memory"),
                             (["--timeout", "-3"], "--timeout"),
                             (["--cpus", "0"], "--cpus"),
                             (["--bogus"], "--bogus"),
                             (["--memory", "4"], "memory_mb"),
                             (["--profile", "../etc"], "profile"),
                             (["--profile", "nosuchprofile"], "unknown profile")]:
            p = self.omnibase("sandbox", "run", self.script, "--capabilities", caps, *args)
            self.assert_bad_input(p, needle)
        p = self.omnibase("sandbox", "run", self.script)
        self.assert_bad_input(p, "--capabilities")
        p = self.omnibase("sandbox", "run", "--capabilities", caps)
        self.assert_bad_input(p, "SCRIPT")

    def test_invalid_profile_file(self):
        prof = self.write("p.json", '{"version": 1, "interpreter": ["/usr/bin/python3"],\n'
                                    '  "paths": ["/usr"], "mounts": []}')
        p = self.omnibase("sandbox", "run", self.script, "--capabilities", self.caps(),
                          "--profile", prof)
        self.assert_bad_input(p, prof + ":2:")
        self.assertIn('unknown key "mounts"', p.stderr)

    def test_runsc_failure_is_125_and_cleaned(self):
        # a command that does not exist inside: the sidecar cannot start it
        p = self.omnibase("sandbox", "run", "--capabilities", self.caps(), "--",
                          "/no/such/binary")
        self.assertEqual(p.returncode, 125, p.stderr)
        self.assertIn("the workload could not be started: omnibase-sidecar: /no/such/binary: "
                      "No such file or directory", p.stderr)
        self.assert_state_empty()

    def test_cli_surface(self):
        for args in (["sandbox", "--help"], ["sandbox", "run", "--help"], ["gc", "--help"]):
            p = self.omnibase(*args)
            self.assertEqual(p.returncode, 0, args)
            self.assertIn("usage:", p.stdout)
        caps = self.caps()
        cases = [(["sandbox"], 'expected "run"'),
                 (["sandbox", "list"], 'expected "run"'),
                 (["gc", "now"], 'unexpected argument "now"'),
                 (["sandbox", "run", self.script, "--capabilities"], "--capabilities needs a value"),
                 (["sandbox", "run", self.script, "--capabilities", caps, "--cpus", "x"], "--cpus"),
                 (["sandbox", "run", self.script, "--capabilities=" + caps, "--pids=0"], "--pids"),
                 (["sandbox", "run", self.script, "--capabilities", caps, "--events",
                   os.path.join(self.tmp, "no", "dir", "ev")], "No such file or directory"),
                 (["sandbox", "run", self.script, "--registry", self.tmp, "--principal", "x"],
                  "registry: invalid principal"),
                 (["sandbox", "run", self.script, "--capabilities", caps, "--policy", caps,
                   "--principal", "x"], "--capabilities and --policy exclude each other"),
                 (["sandbox", "run", "--capabilities", caps, "--"], "SCRIPT or -- CMD")]
        for args, needle in cases:
            p = self.omnibase(*args)
            self.assert_bad_input(p, needle)

    def test_verbose_and_output_paths(self):
        # without --json: a timeout and a non-ok status add one omnibase: line
        loop = self.write("loop.py", "import sys\nprint('x', file=sys.stderr, flush=True)\n"
                                     "while True:\n    pass\n")
        # 3 s: python must have started and printed before the deadline, on a loaded host too
        p = self.omnibase("sandbox", "run", loop, "--capabilities", self.caps(), "--timeout", "3",
                          "-v")
        self.assertEqual(p.returncode, 124)
        self.assertIn("mount ro /omnibase/script.py", p.stderr)
        self.assertIn("wall-clock timeout", p.stderr)
        self.assertIn("x\n", p.stderr)
        self.assert_state_empty()

    def test_json_failure_is_one_object(self):
        missing = os.path.join(self.tmp, "nope.py")
        p = self.omnibase("sandbox", "run", missing, "--capabilities", self.caps(), "--json")
        self.assertEqual(p.returncode, 125)
        res = json.loads(p.stdout)
        self.assertEqual(res["status"], "error")
        self.assertEqual(res["exit_code"], 125)
        self.assertIsNone(res["sandbox_id"])
        self.assertIn("No such file or directory", res["error"])
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        self.assert_state_empty()

    def test_dry_run_runs_nothing(self):
        p = self.omnibase("sandbox", "run", self.script, "--capabilities", self.caps(), "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        plan = json.loads(p.stdout)
        # the sidecar (PID 1) in front of the workload
        self.assertEqual(plan["argv"][0], "/omnibase/sidecar/omnibase-sidecar")
        self.assertEqual(plan["argv"][-5:],
                         ["--", "/usr/bin/python3", "-I", "-B", "/omnibase/script.py"])
        self.assertEqual(plan["limits"]["memory_mb"], 256)
        self.assertIn("config", plan)
        self.assertFalse(os.path.exists(self.state))


if __name__ == "__main__":
    main()
