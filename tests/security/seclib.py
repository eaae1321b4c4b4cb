"""Shared helpers of the attack regression suite (real runsc, as root).

Each attack is a workload run by `omnibase sandbox run` and a check that it
failed. Every test case gets its own OMNIBASE_STATE_DIR and a secret in the
runner's environment; tearDown checks that nothing of the case's runs is left
(runsc processes, cgroups, network namespaces, state directories) and that
the secret never reached a captured output or the events."""
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
from oblib import OMNIBASE, PRINCIPAL, netns_names, pids_mentioning, skip_or_fail  # noqa: E402,F401
SECRET = "ob-sec-7f3c91d2e4a8-canary"

# The start of an attack workload: sc(nr, *args) makes a raw syscall through
# ctypes (OSError on failure); attempt(name, fn) prints "NAME: SUCCEEDED r"
# or "NAME: blocked ERRNO" (a failed subprocess: "blocked <the error>"), the
# lines AttackTest.verdicts() reads.
PROBE = r'''
import ctypes, errno, os, stat, struct, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a
                                          for a in args])
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
def attempt(name, fn):
    try:
        r = fn()
        print("%s: SUCCEEDED %r" % (name, r), flush=True)
    except (OSError, subprocess.SubprocessError) as e:
        print("%s: blocked %s" % (name, errno.errorcode.get(getattr(e, "errno", 0), e)),
              flush=True)
'''


def require_runsc():
    oblib.require_runsc("the attack suite starts runsc sandboxes")


class AttackTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ob-sec-test-")
        os.chmod(self.tmp, 0o755)
        self.state = os.path.join(self.tmp, "state")
        self.env = dict(os.environ, OMNIBASE_STATE_DIR=self.state, OB_SECRET_TOKEN=SECRET,
                        AWS_SECRET_ACCESS_KEY=SECRET)
        self.ids = []
        self.outputs = []
        self.netns_before = netns_names()

    def tearDown(self):
        left = pids_mentioning(self.state)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        runs = os.path.join(self.state, "runs")
        runs_left = os.listdir(runs) if os.path.isdir(runs) else []
        audit = os.path.join(self.state, "audit.jsonl")
        if os.path.exists(audit):
            v = subprocess.run([OMNIBASE, "events", "verify", audit], env=self.env,
                               capture_output=True, text=True, timeout=60)
            with open(audit) as f:
                self.outputs.append(f.read())
        else:
            v = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        if v is not None:
            self.assertEqual(v.returncode, 0, "audit log: " + v.stdout + v.stderr)
        self.assertEqual(left, [], "runsc processes were left behind")
        self.assertEqual(runs_left, [], "state directories were left behind")
        for sid in self.ids:
            self.assertEqual(glob.glob("/sys/fs/cgroup/*/omnibase/" + sid), [],
                             "cgroups of %s left" % sid)
            self.assertEqual([n for n in netns_names() if sid in n], [],
                             "netns of %s left" % sid)
        for out in self.outputs:
            self.assertNotIn(SECRET, out, "the runner's secret reached the output")

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
        doc["limits"] = dict({"timeout_s": 30}, **(limits or {}))
        return self.write(name, json.dumps(doc))

    def run_json(self, script, *args, caps=None, timeout=120, events=None, popen_kw=None):
        """Run SCRIPT (or `-- CMD` when script is a list) with --json and
        --events to a file; the result, with the run's events in res["events"]."""
        if caps is None:
            caps = self.caps()
        target = ["--", *script] if isinstance(script, list) else [script]
        self.nrun = getattr(self, "nrun", 0) + 1
        events = events or os.path.join(self.tmp, "events-%d.jsonl" % self.nrun)
        cmd = [OMNIBASE, "sandbox", "run", "--capabilities", caps, "--json", *args,
               "--events", events]
        p = subprocess.run(cmd + target, env=self.env, capture_output=True, text=True,
                           timeout=timeout, **(popen_kw or {}))
        self.outputs += [p.stdout, p.stderr]
        try:
            res = json.loads(p.stdout)
        except ValueError:
            self.fail("no JSON result (exit %d): stdout=%r stderr=%r"
                      % (p.returncode, p.stdout[:2000], p.stderr[:2000]))
        if res["sandbox_id"]:
            self.ids.append(res["sandbox_id"])
        self.assertEqual(p.returncode, res["exit_code"], p.stderr)
        res["events"] = []
        if os.path.exists(events):
            with open(events) as f:
                res["events"] = [json.loads(l) for l in f if l.strip()]
        return res

    def run_py(self, code, denied=(), **kw):
        """Run a Python workload that tries attacks; the result.

        Every attempt must be blocked (the caller checks the verdicts). When
        `denied` lists (capability, target, syscall) triples, the run must
        end `violation`/126 and each triple must be named by a violation in
        the `--json` result, by a CapabilityDenied in the `--events` stream
        and by one in the audit log. Without it, a run may still be a
        violation (other attempts denied), but every violation must be
        well-formed."""
        res = self.run_json(self.write("attack.py", code), **kw)
        if denied or res["status"] == "violation":
            self.assert_denied(res, denied)
        else:
            self.assertEqual(res["status"], "ok", res)
            self.assertEqual(res["exit_code"], 0, res)
        return res

    def assert_denied(self, res, denied):
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126), res)
        self.assertTrue(res["violations"], res)
        for v in res["violations"]:
            for key in ("capability", "target", "syscall", "policy_id"):
                self.assertTrue(v.get(key), "violation without %s: %r" % (key, v))
        audit = [e for e in self.audit_events() if e.get("sandbox_id") == res["sandbox_id"]]
        for source, items in (("--json violations", res["violations"]),
                              ("--events", [e for e in res["events"]
                                            if e["type"] == "CapabilityDenied"]),
                              ("audit log", [e for e in audit
                                             if e["type"] == "CapabilityDenied"])):
            named = {(v["capability"], v["target"], v["syscall"]) for v in items}
            for triple in denied:
                self.assertIn(tuple(triple), named, "no CapabilityDenied in %s names %r: %r"
                              % (source, triple, sorted(named)))

    def audit_events(self):
        path = os.path.join(self.state, "audit.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def assert_blocked(self, res, names, owner):
        """Each attempt NAME printed `NAME: blocked ...`; else a REGRESSION
        naming the finding and the layer (owner) that should have held."""
        got = self.verdicts(res)
        for name in names:
            self.assertIn(name, got, res["stdout"] + res["stderr"])
            self.assertTrue(got[name].startswith("blocked"),
                            "REGRESSION (%s): %s: %s" % (owner, name, got[name]))

    def verdicts(self, res):
        """The workload prints `NAME: VERDICT detail` lines; a dict NAME -> line."""
        out = {}
        for line in res["stdout"].splitlines():
            name, _, rest = line.partition(": ")
            out[name] = rest
        return out


def main():
    require_runsc()
    unittest.main(verbosity=2)
