#!/usr/bin/python3
"""NETWORK_CONNECT grants and denials by host name (resolved once, at setup,
by the runner) and the -v diagnostics that show what reached the BPF maps:
a name that does not resolve grants nothing (and a denial by such a name is
reported as not enforced), a bad grant is exit 125 with its position."""
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
