#!/usr/bin/python3
"""`omnibase template list | show | check` (docs/environments-templates.md):
outputs, one-line positioned errors, exit statuses; and the seed generator's
--check (the committed synthetic:v1 bundle is what generate.py makes).
No root needed; temporary files under /var/tmp, removed."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oblib import OMNIBASE, skip_or_fail  # noqa: E402

SRC = os.environ.get("OMNIBASE_SOURCE_DIR",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

GOOD = {
    "name": "t1", "description": "a test template", "approved": False,
    "data_classification": "synthetic", "profile": "shell",
    "capabilities": {"version": 1, "grants": []},
    "ttl": {"default": "1h", "max": "1d"},
}


def run(*args, env=None):
    e = dict(os.environ)
    e.pop("OMNIBASE_TEMPLATE_DIR", None)
    e.update(env or {})
    return subprocess.run([OMNIBASE, *args], capture_output=True, text=True, env=e, timeout=60)


class TemplateCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ob-template-cli-", dir="/var/tmp")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_error(self, p, want):
        self.assertEqual(p.returncode, 125, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
        self.assertTrue(p.stderr.startswith("omnibase: "), p.stderr)
        self.assertIn(want, p.stderr)

    def test_list(self):
        p = run("template", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual([l.split()[0] for l in lines], ["feature-default", "python-agent"])
        self.assertEqual(lines[0].split()[1:], ["approved", "workstation"])
        p = run("template", "list", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        got = json.loads(p.stdout)
        self.assertEqual([t["name"] for t in got], ["feature-default", "python-agent"])
        self.assertTrue(all(t["approved"] for t in got))
        self.assertTrue(got[0]["file"].endswith("/templates/feature-default.json"))

    def test_list_own_dir(self):
        self.write("t1.json", json.dumps(GOOD))
        p = run("template", "list", env={"OMNIBASE_TEMPLATE_DIR": self.tmp})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["t1", "unapproved", "shell"])
        self.write("t2.json", "{\n  \"name\": 7\n}\n")
        p = run("template", "list", env={"OMNIBASE_TEMPLATE_DIR": self.tmp})
        self.assertEqual(p.stdout.split(), ["t1", "unapproved", "shell"])
        self.assertEqual(p.returncode, 125)
        self.assertIn("/t2.json:2:11: name: expected a string, got number", p.stderr)

    def test_show(self):
        p = run("template", "show", "feature-default")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("default seed:        synthetic:v1", p.stdout)
        self.assertIn("async-billing, dark-mode, new-checkout, onboarding", p.stdout)
        self.assertIn("memory_mb=512", p.stdout)
        self.assertIn("ttl:                 default 2d, max 14d", p.stdout)
        p = run("template", "show", "feature-default", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        t = json.loads(p.stdout)
        self.assertEqual(t["ttl"], {"default": "2d", "max": "14d"})
        self.assertEqual(t["default_seed"], "synthetic:v1")
        self.assertEqual(t["capabilities"]["limits"]["memory_mb"], 512)
        self.assertIn("onboarding", t["feature_flags"]["available"])
        # the JSON is itself a valid template file
        path = self.write("feature-default.json", p.stdout)
        p = run("template", "check", path)
        self.assertEqual((p.returncode, p.stdout), (0, path + ": ok\n"), p.stderr)
        self.assert_error(run("template", "show", "no-such-template"),
                          "template no-such-template not found in")
        self.assert_error(run("template", "show", "Bad_Name"), "invalid template name")

    def test_check(self):
        path = self.write("t1.json", json.dumps(GOOD, indent=2))
        p = run("template", "check", path)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, path + ": ok\n", ""))
        cases = [
            ("t1.json", dict(GOOD, colour=1), ":1:", "unknown key \"colour\""),
            ("t1.json", dict(GOOD, approved="yes"), ":1:", "approved: expected true or false"),
            ("t1.json", dict(GOOD, profile="nope"), ":1:", "profile: unknown profile"),
            ("t9.json", GOOD, ":1:", "differs from the file's base name \"t9\""),
            ("t1.json", dict(GOOD, feature_flags={"available": ["a"], "default": ["b"]}),
             ":1:", "\"b\" is not in feature_flags.available"),
        ]
        for name, doc, pos, msg in cases:
            path = self.write(name, json.dumps(doc))
            p = run("template", "check", path)
            self.assert_error(p, "omnibase: " + path + pos)
            self.assertIn(msg, p.stderr)
        # a bad capability inside "capabilities": line and column in the template
        text = ('{"name": "t1", "description": "d", "approved": false,\n'
                ' "data_classification": "x", "profile": "shell", "ttl": {"default": "1h",'
                ' "max": "1h"},\n'
                ' "capabilities": {"version": 1,\n'
                '   "grants": [{"capability": "FILE_RAED", "target": "/x"}]}}\n')
        path = self.write("t1.json", text)
        self.assert_error(run("template", "check", path),
                          path + ":4:30: capabilities: grants[0].capability: unknown capability")
        self.assert_error(run("template", "check", os.path.join(self.tmp, "nope.json")),
                          "no such file")
        # a name without '/' is a file in the current directory for check
        p = subprocess.run([OMNIBASE, "template", "check", "t1.json"], cwd=self.tmp,
                           capture_output=True, text=True)
        self.assert_error(p, "t1.json:4:30:")

    def test_usage(self):
        p = run("template", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("omnibase template check FILE", p.stdout)
        self.assertEqual(run("help", "template").stdout, p.stdout)
        self.assert_error(run("template", "frobnicate"), "unknown subcommand")
        self.assert_error(run("template", "check"), "template check: wrong arguments")
        self.assert_error(run("template", "list", "--bogus"), "unknown option")
        self.assertEqual(run("template").returncode, 125)

    def test_seed_generator(self):
        p = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "seeds/synthetic/generate.py"),
                            "--check"], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("matches (5 files)", p.stdout)
        out = os.path.join(self.tmp, "v1")
        subprocess.run(["/usr/bin/python3", os.path.join(SRC, "seeds/synthetic/generate.py"),
                        "--out", out], check=True, timeout=120)
        with open(os.path.join(out, "users.csv")) as f:
            rows = f.read().splitlines()
        self.assertEqual(len(rows), 201)
        self.assertTrue(all(r.split(",")[2].endswith("@example.test") for r in rows[1:]))
        with open(os.path.join(out, "billing_events.csv"), encoding="utf-8") as f:
            self.assertEqual(len(f.read().splitlines()), 301)


if __name__ == "__main__":
    if not os.access(OMNIBASE, os.X_OK):
        skip_or_fail("OMNIBASE_BIN is not set to the omnibase binary")
    unittest.main(verbosity=2)
