#!/usr/bin/python3
"""An environment whose template grants NETWORK_CONNECT (issue 10), with
real runsc, a real network namespace, veth and BPF allowlist: an exec
reaches the granted server on the host; another port on the same host is a
denial (126, CapabilityDenied with env_id); the network survives stop/start
(a new namespace) and a reset; after delete no namespace, veth, cgroup or
BPF program of the environment's runs is left."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "network"))
from oblib import OMNIBASE, pids_mentioning, require_runsc  # noqa: E402
import netlib  # noqa: E402

CLIENT = r"""
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("host.omnibase.internal", port), timeout=20)
s.sendall(b"ping\n")
print(s.makefile().readline().strip())
"""


class Server:
    """A TCP server on the host that answers each connection with one line."""

    def __init__(self, greeting):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.greeting = greeting
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.makefile().readline()
                c.sendall(self.greeting.encode() + b"\n")

    def close(self):
        self.sock.close()


class EnvNetwork(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_runsc("environments start runsc sandboxes")
        netlib.require()
        cls.lock = netlib.lock_suite()
        cls.tmp = tempfile.mkdtemp(prefix="ob-env-net-", dir="/var/tmp")
        os.chmod(cls.tmp, 0o755)
        cls.state = os.path.join(cls.tmp, "state")
        cls.granted = Server("hello granted")
        cls.other = Server("hello other")
        tpl_dir = os.path.join(cls.tmp, "templates")
        os.makedirs(tpl_dir)
        with open(os.path.join(HERE, "..", "..", "templates", "python-agent.json")) as f:
            tpl = json.load(f)
        tpl["name"] = "net-agent"
        tpl["description"] = "python-agent with one host service"
        tpl["capabilities"]["grants"].append(
            {"capability": "NETWORK_CONNECT",
             "target": "host.omnibase.internal:%d" % cls.granted.port, "policy_id": "svc"})
        with open(os.path.join(tpl_dir, "net-agent.json"), "w") as f:
            json.dump(tpl, f)
        config = os.path.join(cls.tmp, "config.json")
        with open(config, "w") as f:
            json.dump({}, f)
        cls.env = dict(os.environ, OMNIBASE_STATE_DIR=cls.state,
                       OMNIBASE_TEMPLATE_DIR=tpl_dir, OMNIBASE_CONFIG=config)

    @classmethod
    def tearDownClass(cls):
        cls.granted.close()
        cls.other.close()
        subprocess.run([OMNIBASE, "gc"], env=cls.env, capture_output=True, timeout=120)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.lock.close()

    def ob(self, *args, check=None, stdin=None):
        p = subprocess.run([OMNIBASE, *args], env=self.env, capture_output=True, text=True,
                           input=stdin, timeout=180)
        if check is not None:
            self.assertEqual(p.returncode, check, "omnibase %s: %s%s"
                             % (" ".join(args), p.stdout, p.stderr))
        return p

    def runs(self):
        d = os.path.join(self.state, "runs")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def connect(self, env_id, port):
        return self.ob("env", "exec", env_id, "--", "/usr/bin/python3", "-c", CLIENT, str(port))

    def test_granted_service_other_port_denied_and_nothing_left(self):
        env_id = self.ob("env", "create", "--owner", "alice", "--template", "net-agent",
                         check=0).stdout.strip()
        seen_runs = set(self.runs())
        self.assertEqual(len(seen_runs), 1, seen_runs)
        run_id = next(iter(seen_runs))
        self.assertIn("omnibase-" + run_id, netlib.leftovers([run_id]))

        p = self.connect(env_id, self.granted.port)
        self.assertEqual((p.returncode, p.stdout), (0, "hello granted\n"), p.stderr)

        # the same host, a port the template does not grant: a denial
        p = self.connect(env_id, self.other.port)
        self.assertEqual(p.returncode, 126, p.stdout + p.stderr)
        self.assertIn("SandboxViolationError", p.stderr)
        self.assertNotIn("hello other", p.stdout)
        with open(os.path.join(self.state, "audit.jsonl")) as f:
            denied = [json.loads(line) for line in f if '"CapabilityDenied"' in line]
        self.assertTrue(any(e.get("env_id") == env_id and e.get("capability") == "NETWORK_CONNECT"
                            and str(self.other.port) in e.get("target", "") for e in denied),
                        denied)

        # stop and start: a new sandbox, a new namespace, the same grant
        self.ob("env", "stop", env_id, check=0)
        self.assertEqual(netlib.wait_no_leftovers(sorted(seen_runs)), [])
        self.ob("env", "start", env_id, check=0)
        seen_runs |= set(self.runs())
        p = self.connect(env_id, self.granted.port)
        self.assertEqual((p.returncode, p.stdout), (0, "hello granted\n"), p.stderr)

        # a reset keeps the environment's network
        self.ob("env", "reset", env_id, check=0)
        seen_runs |= set(self.runs())
        p = self.connect(env_id, self.granted.port)
        self.assertEqual((p.returncode, p.stdout), (0, "hello granted\n"), p.stderr)

        self.ob("env", "delete", env_id, check=0)
        self.assertEqual(self.runs(), [])
        self.assertEqual(netlib.wait_no_leftovers(sorted(seen_runs)), [])
        self.assertEqual(pids_mentioning(self.state), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
