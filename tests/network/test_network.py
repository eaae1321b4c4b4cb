#!/usr/bin/python3
"""NETWORK_CONNECT end to end (issue 5): real netns, veth, BPF and runsc.
Servers run in test hosts (namespaces routed through the root namespace)."""
import errno
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlib  # noqa: E402
from netlib import OMNIBASE, NetTest  # noqa: E402

A = B = LOCK = None


def setUpModule():
    global A, B, LOCK
    netlib.require()
    LOCK = netlib.lock_suite()
    A, B = netlib.Host(1), netlib.Host(2)
    for h in (A, B):
        h.log = h.serve("tcp:8080", "tcp:8081", "tcp:8082", "udp:9999", "udp:9998")


def tearDownModule():
    for h in (A, B):
        if h:
            h.teardown()


def received(log):
    try:
        with open(log) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_received(log, line, timeout=60.0):
    """Waits until the server has logged line (a marker a sandbox sends once
    it runs); bounded by timeout, then the caller's assertion fails."""
    end = time.monotonic() + timeout
    while line not in received(log) and time.monotonic() < end:
        time.sleep(0.05)
    return received(log)


class Network(NetTest):
    def assert_ok(self, step, data=None):
        self.assertTrue(step["ok"], step)
        if data is not None:
            self.assertEqual(step["data"], data)

    def assert_eperm(self, step):
        self.assertFalse(step["ok"], step)
        self.assertEqual(step["errno"], errno.EPERM, step)
        self.assertLess(step["secs"], 1.0, step)

    def test_granted_connects_other_port_and_host_refused(self):
        res, probe, events, err = self.run_probe(
            ["%s:8080@p1" % A.ip4],
            "tcp:%s:8080" % A.ip4, "tcp:%s:8081" % A.ip4, "tcp:%s:8080" % B.ip4)
        self.assert_ok(probe[0], "hello 8080")
        self.assert_eperm(probe[1])
        self.assert_eperm(probe[2])
        denied = self.denied_events(events)
        self.assertEqual([e["target"] for e in denied], ["%s:8081" % A.ip4, "%s:8080" % B.ip4])
        for e in denied:
            self.assertEqual(e["capability"], "NETWORK_CONNECT")
            # the sidecar (inside) stops the connect before the BPF layer (outside) sees it
            self.assertEqual(e["layer"], "sidecar")
            self.assertEqual(e["syscall"], "connect")
            self.assertEqual(e["policy_id"], "default-deny")
            self.assertEqual(e["sandbox_id"], res["sandbox_id"])
        self.assertEqual(res["status"], "violation")
        self.assertEqual(res["exit_code"], 126)
        self.assertIn("SandboxViolationError: sandbox %s: 2 capability denials: "
                      "NETWORK_CONNECT %s:8081 (connect, default-deny)" % (res["sandbox_id"], A.ip4),
                      err)

    def test_clean_run_is_ok(self):
        res, probe, events, _ = self.run_probe(["%s:8080" % A.ip4], "tcp:%s:8080" % A.ip4)
        self.assert_ok(probe[0], "hello 8080")
        self.assertEqual(res["status"], "ok")
        self.assertEqual(self.denied_events(events), [])

    def test_udp_dropped_unless_granted(self):
        # the denied datagram first, then a granted one: the server answers
        # the second only once it has logged all it got before (server.py)
        tag = "udp-dropped-%d" % os.getpid()
        res, probe, events, _ = self.run_probe(
            ["%s:8080" % A.ip4, "%s:9999" % A.ip4],
            "udp:%s:9998=%s" % (A.ip4, tag), "udp:%s:9999=%s" % (A.ip4, tag))
        self.assert_eperm(probe[0])
        self.assert_ok(probe[1], tag)
        got = received(A.log)
        self.assertIn("udp 9999 " + tag, got)
        self.assertNotIn("udp 9998 " + tag, got)
        self.assertIn("%s:9998" % A.ip4, [e["target"] for e in self.denied_events(events)])

    def test_tc_backstop_drops_what_bypasses_the_cgroup(self):
        """A process in the run's namespace but outside its cgroup (so no
        sock_addr hook sees it) still cannot send to a non-granted port."""
        tag = "bypass-%d" % os.getpid()
        # the workload's first datagram: the run is set up (BPF attached) and running
        p = self.start(["%s:9999" % A.ip4], "udp:%s:9999=%s-up" % (A.ip4, tag), "sleep:4")
        self.assertIn("udp 9999 %s-up" % tag, wait_received(A.log, "udp 9999 %s-up" % tag))
        ids = os.listdir(os.path.join(self.state, "runs"))
        self.assertEqual(len(ids), 1)
        ns = "omnibase-" + ids[0]
        # 9998 (must be dropped) first, then 9999 (must arrive), awaiting its
        # echo: the server echoes only once it has logged all it got before
        code = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                "s.settimeout(10)\n"
                "for port in (9998, 9999):\n  s.sendto(b'%s', ('%s', port))\n"
                "sys.exit(s.recv(100) != b'%s')\n") % (tag, A.ip4, tag)
        subprocess.run(["nsenter", "--net=/run/netns/" + ns, netlib.PY, "-c", code], check=True)
        got = received(A.log)
        self.assertIn("udp 9999 " + tag, got)
        self.assertNotIn("udp 9998 " + tag, got)
        res, _, events, _ = self.finish(p)
        tc = [e for e in self.denied_events(events) if e.get("hook") == "tc"]
        self.assertIn("%s:9998" % A.ip4, [e["target"] for e in tc])

    def test_ipv6(self):
        res, probe, events, _ = self.run_probe(
            ["[%s]:8080" % A.ip6],
            "tcp:[%s]:8080" % A.ip6, "tcp:[%s]:8081" % A.ip6)
        self.assert_ok(probe[0], "hello 8080")
        self.assert_eperm(probe[1])
        self.assertIn("[%s]:8081" % A.ip6, [e["target"] for e in self.denied_events(events)])

    def test_cidr_grant(self):
        res, probe, _, _ = self.run_probe(
            ["10.214.0.0/16:8080"],
            "tcp:%s:8080" % A.ip4, "tcp:%s:8080" % B.ip4, "tcp:%s:8081" % B.ip4)
        self.assert_ok(probe[0], "hello 8080")
        self.assert_ok(probe[1], "hello 8080")
        self.assert_eperm(probe[2])

    def test_port_range_and_denial_policy_id(self):
        res, probe, events, _ = self.run_probe(
            ["%s:8080-8082@pr" % A.ip4],
            "tcp:%s:8080" % A.ip4, "tcp:%s:8082" % A.ip4, "tcp:%s:8081" % A.ip4,
            "tcp:%s:8083" % A.ip4,
            denials=["%s:8081@p9" % A.ip4])
        self.assert_ok(probe[0], "hello 8080")
        self.assert_ok(probe[1], "hello 8082")
        self.assert_eperm(probe[2])
        self.assert_eperm(probe[3])
        by_target = {e["target"]: e["policy_id"] for e in self.denied_events(events)}
        self.assertEqual(by_target, {"%s:8081" % A.ip4: "p9", "%s:8083" % A.ip4: "default-deny"})

    def test_host_omnibase_internal(self):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", 0))
        srv.listen(4)
        port = srv.getsockname()[1]

        def serve():
            c, _ = srv.accept()
            c.sendall(b"hello host\n")
            c.close()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        res, probe, _, _ = self.run_probe(
            ["host.omnibase.internal:%d" % port],
            "resolve:host.omnibase.internal", "tcp:host.omnibase.internal:%d" % port,
            "tcp:%s:8080" % A.ip4)
        srv.close()
        self.assertTrue(any(a.startswith("10.") for a in probe[0]["data"]), probe[0])
        self.assert_ok(probe[1], "hello host")
        self.assert_eperm(probe[2])

    def test_no_grant_means_loopback_only(self):
        res, probe, _, _ = self.run_probe([], "ifaces", "tcp:%s:8080" % A.ip4)
        self.assertEqual(probe[0]["data"], ["lo"])
        self.assertFalse(probe[1]["ok"])
        self.assertEqual(netlib.leftovers([res["sandbox_id"]]), [])

    def test_bad_or_exhausted_pool_is_125_and_leaves_nothing(self):
        caps = self.caps(["%s:8080" % A.ip4])
        # a malformed pool, and a pool whose only /30 overlaps test host A's route
        for pool, msg in (("10.213.0.0", "network pool \"10.213.0.0\""),
                          ("10.214.1.0/30", "network pool exhausted")):
            env = dict(self.env(), OMNIBASE_NET_POOL=pool)
            r = subprocess.run([OMNIBASE, "sandbox", "run", "--capabilities", caps, "--", "/bin/true"],
                               env=env, capture_output=True, text=True)
            self.assertEqual(r.returncode, 125, r.stderr)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertTrue(lines[0].startswith("omnibase: ") and msg in lines[0], r.stderr)
            self.assertEqual(os.listdir(os.path.join(self.state, "runs")), [])
        self.assertEqual(netlib.wait_no_leftovers(), [])

    def test_two_concurrent_sandboxes(self):
        # A barrier on the host: it answers neither workload before both have
        # connected, so each run's first step ends only while the other runs.
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", 0))
        srv.listen(4)
        srv.settimeout(60)
        port = srv.getsockname()[1]

        def barrier():
            conns = []
            try:
                while len(conns) < 2:
                    conns.append(srv.accept()[0])
                for c in conns:
                    c.sendall(b"both running\n")
                for c in conns:  # until the workload has closed its end
                    c.settimeout(30)
                    c.recv(1)
            except OSError:
                pass
            for c in conns:  # a reset: no FIN retransmitted to a run that is gone,
                # whose address a later run may have (its tc hook would report it)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
        t = threading.Thread(target=barrier, daemon=True)
        t.start()
        wait = "wait:host.omnibase.internal:%d" % port
        pa = self.start(["%s:8080" % A.ip4, "host.omnibase.internal:%d" % port],
                        wait, "tcp:%s:8080" % A.ip4, "tcp:%s:8080" % B.ip4)
        pb = self.start(["%s:8080" % B.ip4, "host.omnibase.internal:%d" % port],
                        wait, "tcp:%s:8080" % A.ip4, "tcp:%s:8080" % B.ip4)
        res_a, probe_a, _, _ = self.finish(pa)
        res_b, probe_b, _, _ = self.finish(pb)
        srv.close()
        self.assertEqual(len(probe_a), 3, res_a)
        self.assertEqual(len(probe_b), 3, res_b)
        self.assert_ok(probe_a[0], "both running")
        self.assert_ok(probe_b[0], "both running")
        self.assert_ok(probe_a[1], "hello 8080")
        self.assert_eperm(probe_a[2])
        self.assert_eperm(probe_b[1])
        self.assert_ok(probe_b[2], "hello 8080")

    def test_gc_after_sigkilled_runner(self):
        tag = "gc-%d" % os.getpid()
        # the workload's first datagram: its run is fully set up when it arrives
        p = self.start(["%s:8080" % A.ip4, "%s:9999" % A.ip4],
                       "udp:%s:9999=%s" % (A.ip4, tag), "sleep:30")
        self.assertIn("udp 9999 " + tag, wait_received(A.log, "udp 9999 " + tag))
        ids = os.listdir(os.path.join(self.state, "runs"))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        self.assertEqual(len(ids), 1)
        self.assertIn("/sys/fs/cgroup/unified/omnibase/" + ids[0], netlib.leftovers(ids))
        self.assertIn(netlib.OMNIBASE_NETNS + ids[0], netlib.leftovers(ids))
        r = subprocess.run([OMNIBASE, "gc"], env=self.env(), capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(netlib.wait_no_leftovers(ids), [])

    def test_zz_100_sequential_runs_leave_nothing(self):
        caps = self.caps(["%s:8080" % A.ip4])
        ids = []
        for i in range(100):
            r = subprocess.run([OMNIBASE, "sandbox", "run", "--json", "--capabilities", caps, "--",
                                "/bin/true"], env=self.env(), capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            ids.append(json.loads(r.stdout)["sandbox_id"])
        self.assertEqual(len(set(ids)), 100)
        self.assertEqual(netlib.wait_no_leftovers(ids), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
