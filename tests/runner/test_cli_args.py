#!/usr/bin/python3
"""How `omnibase sandbox run` reads its command line (issue 14's defects 1,
8, 10): a script's arguments that start with '-' after `--`, an unknown
option after SCRIPT suggests `--`, conflicting or incomplete capability
sources say what is wrong, an ELF binary given as SCRIPT is refused with a
hint, and a state directory several levels deep is made like mkdir -p."""
import json
import os
import stat

from runnerlib import RunnerTest, main


class CliArgs(RunnerTest):
    def setUp(self):
        super().setUp()
        self.script = self.write("argv.py", "import sys, json\nprint(json.dumps(sys.argv[1:]))\n")

    def test_dash_arguments_after_double_dash(self):
        p = self.omnibase("sandbox", "run", self.script, "--capabilities", self.caps(),
                          "--", "-n", "5", "--json", "--")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), ["-n", "5", "--json", "--"])
        # options before SCRIPT, plain arguments after it, then `--`
        p = self.omnibase("sandbox", "run", "--capabilities", self.caps(), self.script, "a",
                          "--", "-x")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), ["a", "-x"])
        # without a SCRIPT, `--` still starts the command
        p = self.omnibase("sandbox", "run", "--capabilities", self.caps(), "--", "/bin/echo",
                          "-n", "x")
        self.assertEqual((p.returncode, p.stdout), (0, "x"), p.stderr)

    def test_unknown_option_after_script_suggests_double_dash(self):
        p = self.omnibase("sandbox", "run", self.script, "-n", "5", "--capabilities",
                          self.caps())
        self.assert_bad_input(p, 'unknown option "-n"; to pass it to the script, put it '
                              'after --: %s [OPTIONS] -- -n' % self.script)

    def test_capability_sources_say_what_is_wrong(self):
        caps = self.caps()
        cases = [
            (["--policy", caps], "--policy FILE needs --principal UUID"),
            (["--registry", self.tmp], "--registry DIR needs --principal UUID"),
            (["--capabilities", caps, "--registry", self.tmp],
             "--capabilities and --registry exclude each other"),
            (["--capabilities", caps, "--policy", caps],
             "--capabilities and --policy exclude each other"),
            (["--policy", caps, "--registry", self.tmp, "--principal", "x"],
             "--policy and --registry exclude each other"),
            (["--capabilities", caps, "--principal", "x"],
             "--principal goes with --policy or --registry"),
            (["--principal", "x"], "--principal needs --policy FILE or --registry DIR"),
            ([], "give --capabilities FILE, or --policy FILE or --registry DIR"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assert_bad_input(self.omnibase("sandbox", "run", self.script, *args),
                                      needle)

    def test_limits_outside_their_bounds_are_refused_where_they_are_written(self):
        # issue 14: one table of limits; a capability file with memory_mb 16 or
        # cpus 0.001 was accepted, then refused by the runner with no position
        for limits, where, needle in (
                ({"memory_mb": 16}, ":1:", "limits.memory_mb: 16 is below the minimum 32"),
                ({"cpus": 0.001}, ":1:", "limits.cpus: 0.001 is below the minimum 0.010"),
                ({"output_kb": 70000}, ":1:", "limits.output_kb: 70000 is above the maximum 65536")):
            caps = self.write("lim.json", json.dumps({"version": 1, "grants": [],
                                                      "limits": limits}))
            p = self.omnibase("sandbox", "run", self.script, "--capabilities", caps)
            self.assert_bad_input(p, caps + where)
            self.assertIn(needle, p.stderr)
        for flag, value, needle in (("--memory", "16", "--memory: memory_mb: 16 is below"),
                                    ("--cpus", "0.001", "--cpus: cpus: 0.001 is below"),
                                    ("--timeout", "999999999", "--timeout: timeout_s: 999999999 is above")):
            p = self.omnibase("sandbox", "run", self.script, "--capabilities", self.caps(),
                              flag, value)
            self.assert_bad_input(p, needle)

    def test_missing_command_is_one_line(self):
        # issue 14 defect 10: the sidecar's own error line and the runner's were both
        # printed; before the workload's exec, stderr is held and becomes the message
        p = self.omnibase("sandbox", "run", "--capabilities", self.caps(), "--", "/bin/nope")
        self.assertEqual(p.returncode, 125, p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertRegex(p.stderr, r"^omnibase: sandbox ob-[0-9a-f]{16}: the workload could not "
                         r"be started: omnibase-sidecar: /bin/nope: No such file or directory\n$")
        # and what a workload writes to stderr still goes out live, in order
        script = self.write("err.py", "import sys\nsys.stderr.write('one\\n')\n"
                            "sys.stderr.flush()\nsys.stderr.write('two\\n')\n")
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.caps())
        self.assertEqual((p.returncode, p.stderr), (0, "one\ntwo\n"), p.stderr)

    def test_elf_binary_as_script_is_refused(self):
        binary = os.path.join(self.tmp, "true")
        with open("/bin/true", "rb") as src, open(binary, "wb") as dst:
            dst.write(src.read())
        p = self.omnibase("sandbox", "run", binary, "--capabilities", self.caps())
        self.assert_bad_input(p, "%s: an ELF binary, not a script: run it with -- %s"
                              % (binary, binary))

    def test_deep_state_dir_is_made_like_mkdir_p(self):
        deep = os.path.join(self.tmp, "x", "a", "b")
        env = dict(self.env, OMNIBASE_STATE_DIR=deep)
        import subprocess
        from runnerlib import OMNIBASE
        p = subprocess.run([OMNIBASE, "sandbox", "run", self.script, "--capabilities",
                            self.caps(), "--json"], env=env, capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.ids.append(json.loads(p.stdout)["sandbox_id"])
        self.assertTrue(os.path.isfile(os.path.join(deep, "audit.jsonl")))
        for d in ("x", "x/a", "x/a/b", "x/a/b/runs"):
            mode = stat.S_IMODE(os.stat(os.path.join(self.tmp, d)).st_mode)
            self.assertEqual(mode, 0o700, d)


if __name__ == "__main__":
    main()
