#!/usr/bin/python3
"""NETWORK_CONNECT grants and denials by host name (resolved once, at setup,
by the runner) and the -v diagnostics that show what reached the BPF maps:
a name that does not resolve grants nothing (and a denial by such a name is
reported as not enforced), a bad grant is exit 125 with its position."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlib  # noqa: E402
from netlib import OMNIBASE, NetTest  # noqa: E402

LOCK = None


def setUpModule():
    global LOCK
    netlib.require()
    LOCK = netlib.lock_suite()


class Names(NetTest):
    def run_true(self, caps, *args, env=None):
        return subprocess.run([OMNIBASE, "sandbox", "run", "--capabilities", caps, *args, "--",
                               "/bin/true"], env=env or self.env(), capture_output=True,
                              text=True, timeout=120)

    def test_names_resolved_at_setup_and_shown_by_verbose(self):
        caps = self.caps(["localhost:8080", "nohost.invalid:80"],
                         denials=["localhost:8081", "nodeny.invalid:*"])
        p = self.run_true(caps, "-v")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.startswith("omnibase: network: ")]
        self.assertIn("omnibase: network: localhost resolved to 127.0.0.1", lines)
        self.assertIn("omnibase: network: grant nohost.invalid: cannot resolve "
                      "(Name or service not known): nothing granted", lines)
        self.assertIn("omnibase: network: denial nodeny.invalid: cannot resolve "
                      "(Name or service not known): not enforced", lines)
        self.assertIn("omnibase: network: allow 127.0.0.1/32 ports 8080-8080", lines)
        self.assertIn("omnibase: network: deny 127.0.0.1/32 ports 8081-8081", lines)
        # nothing from the unresolvable names reached the maps
        self.assertEqual(len([l for l in lines if l.startswith("omnibase: network: allow ")]), 1,
                         lines)
        self.assertEqual(os.listdir(os.path.join(self.state, "runs")), [])
        self.assertEqual(netlib.wait_no_leftovers(), [])

    def test_bpf_debug_lets_libbpf_speak(self):
        env = dict(self.env(), OMNIBASE_BPF_DEBUG="1")
        p = self.run_true(self.caps(["127.0.0.1:8080"]), env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("libbpf: map 'allow4': created successfully", p.stderr)
        p = self.run_true(self.caps(["127.0.0.1:8080"]))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("libbpf", p.stderr)
        self.assertEqual(netlib.wait_no_leftovers(), [])

    def assert_refused(self, p, msg):
        self.assertEqual(p.returncode, 125, p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("omnibase: "), lines[0])
        self.assertIn(msg, lines[0])
        self.assertEqual(os.listdir(os.path.join(self.state, "runs")), [])
        self.assertEqual(netlib.wait_no_leftovers(), [])

    def test_address_like_denial_pattern_is_refused(self):
        p = self.run_true(self.caps(["127.0.0.1:8080"], denials=["10.1.*:80"]))
        self.assert_refused(p, "NETWORK_CONNECT denial 10.1.*:80: a host pattern that can "
                               "match addresses cannot be enforced in the kernel; "
                               "write it as a CIDR")
        # a pattern only names can match changes nothing
        p = self.run_true(self.caps(["127.0.0.1:8080"], denials=["*.evil.example:443"]))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(netlib.wait_no_leftovers(), [])

    def test_too_many_address_rules_is_refused(self):
        grants = ["10.50.%d.%d:80" % (i // 250, i % 250 + 1) for i in range(1025)]
        p = self.run_true(self.caps(grants))
        self.assert_refused(p, "more than 1024 network address rules: narrow the grants")

    def test_too_many_port_ranges_for_one_address_is_refused(self):
        # 17 separate ports of one address: more than the BPF value holds
        grants = ["10.60.0.1:%d" % (2 * i + 1) for i in range(17)]
        p = self.run_true(self.caps(grants))
        self.assert_refused(p, "network allowlist: more than 16 port ranges for one address")
        # 16 fit
        p = self.run_true(self.caps(grants[:16]))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(netlib.wait_no_leftovers(), [])

    def test_other_grants_and_principal_reach_the_sidecar(self):
        # the sidecar gets the enforced set: network rules as addresses, the rest as written
        doc = {"version": 1, "principal": "3f2a9c1e-0000-4000-8000-000000000001",
               "grants": [{"capability": "NETWORK_CONNECT", "target": "localhost:8080"},
                          {"capability": "FILE_READ", "target": "/etc/hostname"}],
               "denials": [{"capability": "FILE_READ", "target": "/etc/passwd"}]}
        caps = os.path.join(self.tmp, "mixed.json")
        with open(caps, "w") as f:
            json.dump(doc, f)
        os.chmod(caps, 0o644)
        script = os.path.join(self.tmp, "read.py")
        with open(script, "w") as f:
            f.write("print(open('/etc/hostname').read().strip())\n")
        os.chmod(script, 0o644)
        p = subprocess.run([OMNIBASE, "sandbox", "run", script, "--capabilities", caps, "--json"],
                           env=self.env(), capture_output=True, text=True, timeout=120)
        res = json.loads(p.stdout)
        self.assertEqual(res["status"], "ok", p.stdout + p.stderr)
        with open("/etc/hostname") as f:
            self.assertEqual(res["stdout"].strip(), f.read().strip())
        self.assertEqual(netlib.wait_no_leftovers([res["sandbox_id"]]), [])

    def test_bad_grants_are_125_with_position(self):
        for target, msg in (("10.0.0.1:99999", "port must be 1-65535"),
                            ("[::1:80", "expected [IPv6]:port"),
                            ("10.0.0.0/33:80", "bad prefix length"),
                            ("10.0.0.1", "expected host:port"),
                            ("10.0.0.1:90-80", "port must be"),
                            ("300.1.1.1:80", "bad host name")):
            caps = self.caps([target])
            p = self.run_true(caps)
            self.assertEqual(p.returncode, 125, p.stderr)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertTrue(lines[0].startswith("omnibase: %s:1:" % caps), lines[0])
            self.assertIn(msg, lines[0])
            self.assertFalse(os.path.exists(os.path.join(self.state, "runs")) and
                             os.listdir(os.path.join(self.state, "runs")))
        self.assertEqual(netlib.wait_no_leftovers(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
