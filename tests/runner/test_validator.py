#!/usr/bin/python3
"""The example validator (examples/validator.c) judges sandboxed scripts
through the public C API; argv[1] is its binary."""
import os
import subprocess
import sys

from runnerlib import RunnerTest, main

VALIDATOR = sys.argv.pop(1) if len(sys.argv) > 1 else ""
EXAMPLES = os.path.join(os.environ.get("OMNIBASE_SOURCE_DIR", ""), "examples")


class Validator(RunnerTest):
    def validate(self, script, caps, expected):
        return subprocess.run([VALIDATOR, script, caps, expected], env=self.env,
                              capture_output=True, text=True, timeout=60)

    def test_pass_fail_error(self):
        hello = os.path.join(EXAMPLES, "hello.py")
        caps = os.path.join(EXAMPLES, "caps-none.json")
        p = self.validate(hello, caps, "hello from the sandbox")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(p.stdout.startswith("PASS"), p.stdout)
        p = self.validate(hello, caps, "something else")
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAIL: unexpected output", p.stdout)
        greedy = self.write("greedy.py", "b = bytearray(300 * 1024 * 1024)\n"
                                         "for i in range(0, len(b), 4096):\n    b[i] = 1\n")
        p = self.validate(greedy, caps, "")
        self.assertEqual(p.returncode, 1)
        self.assertIn("status limit_exceeded, limit memory (exit 137)", p.stdout)
        p = self.validate(os.path.join(self.tmp, "missing.py"), caps, "")
        self.assertEqual(p.returncode, 2)
        self.assertIn("ERROR:", p.stdout)
        self.assert_state_empty()


if __name__ == "__main__":
    if not os.access(VALIDATOR, os.X_OK):
        print("usage: test_validator.py VALIDATOR_BINARY", file=sys.stderr)
        sys.exit(2)
    main()
