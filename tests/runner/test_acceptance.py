#!/usr/bin/python3
"""The seed's acceptance criteria (002 §6), under real runsc."""
import json
import os
import socket
import threading

from runnerlib import PRINCIPAL, RunnerTest, main

PROBE = r'''
import socket, sys
what = sys.argv[1]
if what == "passwd":
    print(repr(open("/etc/passwd").read()))
elif what == "shadow":
    try:
        print(open("/etc/shadow").read()[:40])
    except OSError as e:
        print("ERR", e.errno)
elif what == "tcp":
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((sys.argv[2], int(sys.argv[3])))
        s.sendall(b"escaped")
        print("CONNECTED")
    except OSError as e:
        print("ERR", e.errno)
elif what == "mem":
    b = bytearray(int(sys.argv[2]) * 1024 * 1024)
    for i in range(0, len(b), 4096):
        b[i] = 1
    print("TOUCHED", sys.argv[2])
elif what == "read":
    for p in sys.argv[2:]:
        try:
            print(p, "OK", open(p).read().strip())
        except OSError as e:
            print(p, "ERR", e.errno)
'''


def outward_address():
    """The host's own address on its default route (no packet is sent), or
    None when it has none."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        addr = s.getsockname()[0]
    except OSError:
        addr = None
    finally:
        s.close()
    return None if not addr or addr.startswith("127.") else addr


class Acceptance(RunnerTest):
    def setUp(self):
        super().setUp()
        self.probe = self.write("probe.py", PROBE)

    def test_no_caps_cannot_read_the_hosts_etc_passwd(self):
        """Seed 002's criterion as amended (docs/compatibility.md, "The
        acceptance contract"): the host's /etc/passwd is blocked by the FS
        mask; what a run reads at that path is the sandbox's own synthetic
        file (root and the sandbox user), never a host user."""
        with open("/etc/passwd") as f:
            host = [line.split(":")[0] for line in f if line.strip()]
        others = [u for u in host if u != "root"]
        self.assertNotEqual(others, [], "the host's /etc/passwd names only root")
        res = self.run_json(self.probe, "passwd")
        self.assertEqual((res["status"], res["exit_code"], res["violations"]), ("ok", 0, []), res)
        seen = eval(res["stdout"])  # the repr the probe printed
        self.assertEqual(seen, "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                               "sandbox:x:65534:65534:sandbox:/tmp:/usr/sbin/nologin\n")
        names = [line.split(":")[0] for line in seen.splitlines()]
        self.assertEqual([u for u in others if u in names], [])

    def test_no_caps_cannot_read_etc_shadow(self):
        res = self.run_json(self.probe, "shadow")
        # the sidecar denies it (EACCES) before the mount mask would say ENOENT
        self.assertEqual(res["status"], "violation", res)
        self.assertEqual(res["exit_code"], 126)
        self.assertEqual(res["stdout"].strip(), "ERR 13")
        self.assertEqual([(v["capability"], v["target"], v["syscall"], v["policy_id"])
                          for v in res["violations"]],
                         [("FILE_READ", "/etc/shadow", "openat", "default-deny")])

    def test_no_caps_cannot_connect_out(self):
        """A host server, on the host's loopback and on its outward address,
        sees nothing. Outward: EPERM from the sidecar and a violation
        (SandboxViolationError). 127.0.0.1 is the sandbox's own loopback
        (--network=none: gVisor's netstack, issue 15 item 5): nothing
        listens there, ECONNREFUSED, and it is no capability question."""
        outward = outward_address() or "192.0.2.1"  # TEST-NET-1: no route, no server
        srv = socket.socket()
        srv.bind(("0.0.0.0", 0))
        srv.listen(1)
        srv.settimeout(0.2)
        port = srv.getsockname()[1]
        got = []
        done = threading.Event()

        def accept():
            while not done.is_set():
                try:
                    c, _ = srv.accept()
                    got.append(c.recv(16))
                    c.close()
                except OSError:
                    pass
        t = threading.Thread(target=accept)
        t.start()
        try:
            res = self.run_json(self.probe, "tcp", outward, str(port))
            own = self.run_json(self.probe, "tcp", "127.0.0.1", str(port))
        finally:
            done.set()
            t.join()
            srv.close()
        self.assertEqual(res["status"], "violation", res)
        self.assertEqual(res["stdout"].strip(), "ERR 1")  # EPERM from the sidecar
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("NETWORK_CONNECT", "%s:%d" % (outward, port))])
        self.assertEqual((own["status"], own["stdout"].strip(), own["violations"]),
                         ("ok", "ERR 111", []), own)  # ECONNREFUSED: its own loopback
        self.assertEqual(got, [], "the host server saw a connection from the sandbox")

    def test_memory_limit_kills_100mb_keeps_10mb(self):
        caps = self.caps(limits={"memory_mb": self.limit_above_baseline(50)})
        big = self.run_json(self.probe, "mem", "100", caps=caps)
        self.assertEqual(big["status"], "limit_exceeded", big)
        self.assertEqual(big["limit"], "memory")
        self.assertEqual(big["exit_code"], 137)
        self.assertNotIn("TOUCHED", big["stdout"])
        small = self.run_json(self.probe, "mem", "10", caps=caps)
        self.assertEqual(small["status"], "ok", small)
        self.assertEqual(small["exit_code"], 0)
        self.assertEqual(small["stdout"].strip(), "TOUCHED 10")

    def test_memory_flag_lowers_the_limit(self):
        res = self.run_json(self.probe, "mem", "100", "--memory",
                            str(self.limit_above_baseline(50)))
        self.assertEqual(res["status"], "limit_exceeded")
        self.assertEqual(res["exit_code"], 137)

    def test_file_read_grant_reads_allowed_not_other(self):
        allowed = self.write("data/allowed.txt", "secret-allowed")
        other = self.write("data/other.txt", "secret-other")
        caps = self.caps(grants=[("FILE_READ", allowed)])
        res = self.run_json(self.probe, "read", allowed, other, caps=caps)
        lines = res["stdout"].splitlines()
        self.assertEqual(lines[0], allowed + " OK secret-allowed")
        # not in the view, and denied by the sidecar first: EACCES and a violation
        self.assertEqual(lines[1], other + " ERR 13")
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126), res)
        self.assertEqual([(v["capability"], v["target"], v["policy_id"])
                          for v in res["violations"]],
                         [("FILE_READ", other, "default-deny")])

    def policy(self, data_dir):
        like = lambda pat: {"like": {"left": {".": {"left": {"Var": "resource"}, "attr": "path"}},
                                     "pattern": [{"Literal": pat}, "Wildcard"]}}
        return {"staticPolicies": {
            "read-data": {"effect": "permit",
                          "principal": {"op": "==", "entity": {"type": "Component", "id": PRINCIPAL}},
                          "action": {"op": "==", "entity": {"type": "Action", "id": "FILE_READ"}},
                          "resource": {"op": "All"},
                          "conditions": [{"kind": "when", "body": like(data_dir + "/")}]},
            "no-other": {"effect": "forbid", "principal": {"op": "All"},
                         "action": {"op": "==", "entity": {"type": "Action", "id": "FILE_READ"}},
                         "resource": {"op": "All"},
                         "conditions": [{"kind": "when", "body": like(data_dir + "/other")}]}}}

    def test_policy_and_registry_compile_on_the_fly(self):
        data = os.path.join(self.tmp, "data")
        allowed = self.write("data/allowed.txt", "via-policy")
        other = self.write("data/other.txt", "hidden")
        text = json.dumps(self.policy(data))
        pol = self.write("policy.cedar.json", text)
        self.write("registry/%s.cedar.json" % PRINCIPAL, text)
        for how in (["--policy", pol], ["--registry", os.path.join(self.tmp, "registry")]):
            p = self.omnibase("sandbox", "run", self.probe, "read", allowed, other, *how,
                              "--principal", PRINCIPAL, "--json")
            res = json.loads(p.stdout)
            self.ids.append(res["sandbox_id"])
            lines = res["stdout"].splitlines()
            # the forbid is enforced by the sidecar, named by its policy id
            self.assertEqual(lines, [allowed + " OK via-policy", other + " ERR 13"], how)
            self.assertEqual([(v["target"], v["policy_id"]) for v in res["violations"]],
                             [(other, "no-other")], how)
        # an unknown principal compiles to nothing: default deny
        p = self.omnibase("sandbox", "run", self.probe, "read", allowed, "--policy", pol,
                          "--principal", "3f2a9c1e-0000-4000-8000-0000000000ff", "--json")
        res = json.loads(p.stdout)
        self.ids.append(res["sandbox_id"])
        # nothing granted, nothing mounted: under the sandbox's own /tmp the
        # name does not exist, the kernel's ENOENT and no report (issue 15)
        self.assertEqual(res["stdout"].strip(), allowed + " ERR 2")
        self.assertEqual(res["violations"], [])
        p = self.omnibase("sandbox", "run", self.probe, "--policy", pol, "--principal", "nope")
        self.assert_bad_input(p, "nope")

    def test_exit_status_passes_through(self):
        script = self.write("exit3.py", "import sys\nprint('out')\nsys.exit(3)\n")
        res = self.run_json(script)
        self.assertEqual(res["status"], "ok")
        self.assertEqual(res["exit_code"], 3)
        # without --json the output passes through live and the status is the same
        p = self.omnibase("sandbox", "run", script, "--capabilities", self.caps())
        self.assertEqual(p.returncode, 3)
        self.assertEqual(p.stdout, "out\n")


if __name__ == "__main__":
    main()
