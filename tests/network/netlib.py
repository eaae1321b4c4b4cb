"""Helpers for the network tests: test hosts (network namespaces the test
makes, routed through the root namespace, so traffic never leaves this
machine), servers inside them, and sandbox runs through the CLI."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oblib import OMNIBASE, skip_or_fail  # noqa: E402,F401
PY = "/usr/bin/python3"
OMNIBASE_NETNS = "omnibase-"
HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "probe.py")
SERVER = os.path.join(HERE, "server.py")


def require():
    if os.geteuid() != 0:
        skip_or_fail("network tests make namespaces, veths and BPF programs: run as root")
    for tool in ("runsc", "ip", "nsenter"):
        if not shutil.which(tool):
            skip_or_fail(tool + " is not installed")
    if not os.path.isdir("/sys/fs/cgroup/unified") and not os.path.isfile("/sys/fs/cgroup/cgroup.procs"):
        skip_or_fail("no cgroup-v2 tree at /sys/fs/cgroup/unified")
    if not os.access(OMNIBASE, os.X_OK):
        skip_or_fail("OMNIBASE_BIN is not set to the omnibase binary")


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


class Host:
    """A test host: netns obt<N>, veth obt<N>r (root) / obt<N>s (inside),
    10.214.N.0/30 and fd00:214:N::/126, routed via the root namespace."""

    def __init__(self, n):
        self.n = n
        self.ns = "obt%d" % n
        self.ip4 = "10.214.%d.2" % n
        self.gw4 = "10.214.%d.1" % n
        self.ip6 = "fd00:214:%d::2" % n
        self.gw6 = "fd00:214:%d::1" % n
        self.servers = []
        r, s = "obt%dr" % n, "obt%ds" % n
        self.root_if = r
        self.teardown()
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", r, "type", "veth", "peer", "name", s)
        sh("ip", "link", "set", s, "netns", self.ns)
        sh("ip", "addr", "add", self.gw4 + "/30", "dev", r)
        sh("ip", "-6", "addr", "add", self.gw6 + "/126", "dev", r, "nodad")
        sh("ip", "link", "set", r, "up")
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.ns, "addr", "add", self.ip4 + "/30", "dev", s)
        sh("ip", "-n", self.ns, "-6", "addr", "add", self.ip6 + "/126", "dev", s, "nodad")
        sh("ip", "-n", self.ns, "link", "set", s, "up")
        sh("ip", "-n", self.ns, "route", "add", "default", "via", self.gw4)
        sh("ip", "-n", self.ns, "-6", "route", "add", "default", "via", self.gw6)
        # replies to the sandbox come in here and are forwarded to its veth
        with open("/proc/sys/net/ipv4/conf/%s/forwarding" % r, "w") as f:
            f.write("1")
        ff = "/proc/sys/net/ipv6/conf/%s/force_forwarding" % r
        if os.path.exists(ff):
            with open(ff, "w") as f:
                f.write("1")

    def serve(self, *specs):
        """Starts server.py in the namespace: specs like 'tcp:8080', 'udp:9999'.
        Returns the path of the file where it logs what it received."""
        log = tempfile.mktemp(prefix="obt-server-")
        p = subprocess.Popen(["nsenter", "--net=/run/netns/" + self.ns, PY, SERVER, log] + list(specs),
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        self.servers.append(p)
        self.logs = getattr(self, "logs", []) + [log]
        return log

    def teardown(self):
        for p in getattr(self, "servers", []):
            p.kill()
            p.wait()
        self.servers = []
        for log in getattr(self, "logs", []):  # nothing of the test left in /tmp
            if os.path.exists(log):
                os.unlink(log)
        self.logs = []
        sh("ip", "netns", "del", self.ns, check=False)
        sh("ip", "link", "del", self.root_if, check=False)


def lock_suite():
    """One network suite at a time on a host (they share test-host names and
    count BPF programs host-wide). Returns the open lock file."""
    import fcntl
    f = open("/run/omnibase-net-test.lock", "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def leftovers(ids=None):
    """What network runs leave behind (should be nothing): the namespace,
    host veth and cgroup directories of the runs ids (all omnibase-* and ob*
    when ids is None), and any omnibase BPF program."""
    out = []
    names = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    out += [n for n in names if n.startswith("omnibase-") and (ids is None or n[9:] in ids)]
    vets = ["ob" + i[3:16] for i in ids] if ids is not None else None
    for l in sh("ip", "-o", "link").stdout.splitlines():
        name = l.split(":")[1].strip().split("@")[0]
        if name.startswith("ob") and not name.startswith("obt") and (vets is None or name in vets):
            out.append(name)
    out += [d for i in (ids or ()) for d in glob.glob("/sys/fs/cgroup/*/omnibase/" + i)]
    if shutil.which("bpftool"):
        progs = json.loads(sh("bpftool", "-j", "prog", "list").stdout or "[]")
        out += ["bpf:%s" % p.get("name") for p in progs
                if p.get("name") in ("ob_connect4", "ob_connect6", "ob_sendmsg4", "ob_sendmsg6", "ob_tc_egress")]
    return out


def wait_no_leftovers(ids=None, timeout=5.0):
    """BPF programs are freed asynchronously after their cgroup goes."""
    end = time.time() + timeout
    while True:
        left = leftovers(ids)
        if not left or time.time() > end:
            return left
        time.sleep(0.1)


class NetTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ob-net-test-")
        os.chmod(self.tmp, 0o755)
        self.state = os.path.join(self.tmp, "state")

    def tearDown(self):
        subprocess.run([OMNIBASE, "gc"], env=self.env(), capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self):
        e = dict(os.environ)
        e["OMNIBASE_STATE_DIR"] = self.state
        return e

    def caps(self, grants, denials=()):
        doc = {"version": 1, "grants": [], "denials": []}
        for g in grants:
            t, _, pid = g.partition("@")
            doc["grants"].append(dict({"capability": "NETWORK_CONNECT", "target": t},
                                      **({"policy_id": pid} if pid else {})))
        for d in denials:
            t, _, pid = d.partition("@")
            doc["denials"].append(dict({"capability": "NETWORK_CONNECT", "target": t},
                                       **({"policy_id": pid} if pid else {})))
        path = tempfile.mktemp(dir=self.tmp, suffix=".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        os.chmod(path, 0o644)
        return path

    def start(self, grants, *probe_args, denials=()):
        cmd = [OMNIBASE, "sandbox", "run", PROBE] + list(probe_args) + [
            "--capabilities", self.caps(grants, denials), "--json", "--events", "-"]
        return subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def finish(self, p, timeout=60):
        out, err = p.communicate(timeout=timeout)
        lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        events = [l for l in lines if "type" in l]
        results = [l for l in lines if "status" in l and "type" not in l]
        self.assertEqual(len(results), 1, out + err)
        res = results[0]
        probe = [json.loads(l) for l in res["stdout"].splitlines() if l.startswith("{")]
        return res, probe, events, err

    def run_probe(self, grants, *probe_args, denials=()):
        return self.finish(self.start(grants, *probe_args, denials=denials))

    def denied_events(self, events):
        return [e for e in events if e["type"] == "CapabilityDenied"]
