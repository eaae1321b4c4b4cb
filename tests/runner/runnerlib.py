"""Shared helpers for the runner's integration tests (real runsc, as root).

Each test gets a fresh OMNIBASE_STATE_DIR; tearDown kills any runsc process
left under it and checks that nothing of its runs remains."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import oblib  # noqa: E402
from oblib import OMNIBASE, PRINCIPAL, pids_mentioning, skip_or_fail  # noqa: E402,F401


def fill_script(path, mib):
    """A workload that writes path 1 MiB at a time, up to mib MiB, and says
    how far it got (and the errno that stopped it)."""
    return ("n = 0\n"
            "try:\n"
            "    with open(%r, 'wb') as f:\n"
            "        while n < %d:\n"
            "            f.write(b'x' * 1024 * 1024)\n"
            "            f.flush()\n"
            "            n += 1\n"
            "except OSError as e:\n"
            "    print('stopped after', n, 'MiB errno', e.errno)\n"
            "else:\n"
            "    print('wrote', n, 'MiB')\n") % (path, mib)


def require_runsc():
    oblib.require_runsc("the runner tests start runsc and create cgroups")


runsc_pids_under = pids_mentioning


def cgroup_dirs(sandbox_id=None):
    pattern = "/sys/fs/cgroup/*/omnibase" + ("/" + sandbox_id if sandbox_id else "")
    return glob.glob(pattern)


class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ob-runner-test-")
        os.chmod(self.tmp, 0o755)
        self.state = os.path.join(self.tmp, "state")
        self.env = dict(os.environ, OMNIBASE_STATE_DIR=self.state)
        self.ids = []

    def tearDown(self):
        left = runsc_pids_under(self.state)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(left, [], "runsc processes were left behind")
        for sid in self.ids:
            self.assertEqual(cgroup_dirs(sid), [], "cgroups of %s left" % sid)

    # -- helpers ----------------------------------------------------------
    def write(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def caps(self, grants=(), denials=(), limits=None, name="caps.json"):
        doc = {"version": 1, "principal": PRINCIPAL,
               "grants": [{"capability": k, "target": t} for k, t in grants],
               "denials": [{"capability": k, "target": t} for k, t in denials]}
        if limits:
            doc["limits"] = limits
        return self.write(name, json.dumps(doc))

    def omnibase(self, *args, timeout=120, **kw):
        return subprocess.run([OMNIBASE, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, **kw)

    def run_json(self, script, *args, caps=None, timeout=120):
        if caps is None:
            caps = self.caps()
        p = self.omnibase("sandbox", "run", script, "--capabilities", caps, "--json", *args,
                          timeout=timeout)
        try:
            res = json.loads(p.stdout)
        except ValueError:
            self.fail("no JSON result (exit %d): stdout=%r stderr=%r"
                      % (p.returncode, p.stdout, p.stderr))
        self.ids.append(res["sandbox_id"])
        self.assertEqual(p.returncode, res["exit_code"], p.stderr)
        return res

    _baseline_mb = None

    def baseline_mb(self):
        """Peak memory (MiB) of the sandbox's cgroup for a python that does
        nothing: sentry, gofer, sidecar and python. A sanitizer build's
        sidecar makes it several times larger: memory-limit tests set their
        limits above it."""
        if RunnerTest._baseline_mb is None:
            res = self.run_json(self.write("noop.py", "pass\n"))
            RunnerTest._baseline_mb = max(1, res["usage"]["max_rss_kb"] // 1024)
        return RunnerTest._baseline_mb

    def limit_above_baseline(self, mb):
        """mb when the baseline leaves room for a 10 MiB workload under it,
        else the baseline plus 40 MiB (so 10 MiB fit and 100 MiB do not)."""
        base = self.baseline_mb()
        return mb if base + 20 <= mb else base + 40

    def assert_bad_input(self, p, needle):
        """Exit 125, exactly one line on stderr mentioning needle, nothing left."""
        self.assertEqual(p.returncode, 125, p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("omnibase: "), lines[0])
        self.assertIn(needle, lines[0])
        self.assertEqual(p.stdout, "")
        self.assert_state_empty()

    def assert_state_empty(self):
        runs = os.path.join(self.state, "runs")
        left = os.listdir(runs) if os.path.isdir(runs) else []
        self.assertEqual(left, [], "state directories left")


def main():
    require_runsc()
    unittest.main(verbosity=2)
