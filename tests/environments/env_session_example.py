#!/usr/bin/python3
"""An agent's session through the public environment API (examples/
env_session.c, linked against the shared library with public headers only;
argv[1] is its binary): create from a template, commands (output, a denial
as 126, a file kept in /workspace between two of them), a feature flag, the
record as JSON, delete; then the CLI sees it deleted and nothing of it is
left (no supervisor, runsc, mount, loop device)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oblib import OMNIBASE, pids_mentioning, require_runsc  # noqa: E402

EXAMPLE = sys.argv.pop(1) if len(sys.argv) > 1 else ""


class EnvSession(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ob-env-api-")
        self.state = os.path.join(self.tmp, "state")
        self.config = os.path.join(self.tmp, "config.json")
        with open(self.config, "w") as f:
            f.write("{}\n")
        self.env = dict(os.environ, OMNIBASE_STATE_DIR=self.state, OMNIBASE_CONFIG=self.config)

    def tearDown(self):
        subprocess.run([OMNIBASE, "gc"], env=self.env, capture_output=True, timeout=120)
        left = pids_mentioning(self.state)
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if self.state in line.split()[4]]
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(left, [], "processes left")
        self.assertEqual(mounts, [], "mounts left")

    def test_a_session(self):
        p = subprocess.run([EXAMPLE, "alice", "feature-default", "dark-mode",
                            "echo hello-from-env",
                            "cat /etc/shadow",
                            "echo kept > note.txt",
                            "cat note.txt"],
                           env=self.env, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith("created env-"), lines)
        self.assertTrue(lines[0].endswith("(running)"), lines)
        env_id = lines[0].split()[1]
        self.assertEqual(lines[1:8], ["hello-from-env", "exit 0", "exit 126", "exit 0", "kept",
                                      "exit 0", "flags: dark-mode"])
        rec = json.loads(lines[8])
        self.assertEqual((rec["id"], rec["owner"], rec["template"], rec["state"]),
                         (env_id, "alice", "feature-default", "running"))
        self.assertEqual(rec["feature_flags"], ["dark-mode"])
        self.assertEqual(lines[9], "deleted " + env_id)
        self.assertIn("CapabilityDenied", p.stderr + self.audit())  # the denial, on the log
        ls = subprocess.run([OMNIBASE, "env", "list", "--all", "--json"], env=self.env,
                            capture_output=True, text=True, timeout=60)
        self.assertEqual([(e["id"], e["state"]) for e in json.loads(ls.stdout)],
                         [(env_id, "deleted")])
        self.assertEqual(pids_mentioning(self.state), [])
        loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
        self.assertNotIn(self.state, loops)

    def audit(self):
        path = os.path.join(self.state, "audit.jsonl")
        with open(path) as f:
            return f.read()


if __name__ == "__main__":
    if not os.access(EXAMPLE, os.X_OK):
        print("usage: env_session_example.py EXAMPLE_BINARY", file=sys.stderr)
        sys.exit(2)
    require_runsc("environments start runsc and mount their workspaces")
    unittest.main(verbosity=2)
