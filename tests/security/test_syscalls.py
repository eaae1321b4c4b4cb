#!/usr/bin/python3
"""Attacks through dangerous syscalls and the host's sockets: raw and packet
sockets, namespaces (unshare without a user namespace, setns), mount,
ptrace and kill of PID 1, bpf, keyctl/add_key, chroot, module loading,
perf_event_open; and reaching a host Unix socket (under the test's tmp dir
and under /run) by every path: its own path, a granted directory around it,
/proc/1/root, /proc/self/root, and the abstract namespace (of the host, and
of a network run's netns, where runsc's own control socket is).

unshare(CLONE_NEWNS), unshare(CLONE_NEWUSER|CLONE_NEWNS), mknod of a device on
/tmp and a child killing PID 1 succeeded before the sidecar was integrated
(finding F3, F4): they are in test_regressions.py."""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import seclib
from seclib import OMNIBASE, AttackTest, main

PROBE = seclib.PROBE + "import signal, socket, time\n"

# x86_64 syscall numbers
ATTACKS = {
    "raw_icmp": "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)",
    "raw_tcp": "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)",
    "raw_ipv6": "socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)",
    "packet_raw": "socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)",
    "packet_dgram": "socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)",
    "inet_connect": "socket.create_connection(('1.1.1.1', 80), timeout=3)",
    "unshare_net": "sc(272, 0x40000000)",
    "unshare_pid": "sc(272, 0x20000000)",
    "unshare_uts": "sc(272, 0x04000000)",
    "setns": "sc(308, os.open('/proc/self/ns/net', os.O_RDONLY), 0)",
    "mount_tmpfs": "sc(165, b'none', b'/tmp', b'tmpfs', 0, None)",
    "mount_proc": "sc(165, b'proc', b'/tmp', b'proc', 0, None)",
    "umount_proc": "sc(166, b'/proc', 2)",
    "pivot_root": "sc(155, b'/tmp', b'/tmp')",
    "chroot": "sc(161, b'/tmp')",
    "bpf_map": "sc(321, 0, ctypes.create_string_buffer(128), 128)",
    "bpf_prog": "sc(321, 5, ctypes.create_string_buffer(128), 128)",
    "keyctl": "sc(250, 0, -3, 1)",
    "add_key": "sc(248, b'user', b'k', b'v', 1, -3)",
    "request_key": "sc(249, b'user', b'k', None, -3)",
    "init_module": "sc(175, ctypes.create_string_buffer(64), 64, b'')",
    "finit_module": "sc(313, 0, b'', 0)",
    "kexec_load": "sc(246, 0, 0, None, 0)",
    "perf_event_open": "sc(298, ctypes.create_string_buffer(128), 0, -1, -1, 0)",
    "reboot": "sc(169, 0xfee1dead, 672274793, 0x4321fedc, None)",
    "sethostname": "sc(170, b'evil', 4)",
    "settimeofday": "sc(164, ctypes.create_string_buffer(16), None)",
    "iopl": "sc(172, 3)",
    "mknod_dev_in_ro": "sc(133, b'/omnibase/kmem', 0o20600, (1 << 8) | 2)",
    "setuid_root": "sc(105, 0)",
    "setgid_root": "sc(106, 0)",
}

# A host process in the run's netns: binds an abstract name, shows that a
# process of that netns reaches it, then counts what it accepts until its
# stdin closes.
LISTENER = r'''
import select, socket, sys
srv = socket.socket(socket.AF_UNIX)
srv.bind("\0" + sys.argv[1])
srv.listen(8)
with socket.socket(socket.AF_UNIX) as c:
    c.connect("\0" + sys.argv[1])
    srv.accept()[0].close()
print("bound and reachable", flush=True)
n = 0
while True:
    r, _, _ = select.select([srv, sys.stdin], [], [])
    if srv in r:
        srv.accept()[0].close()
        n += 1
    if sys.stdin in r and not sys.stdin.read(1):
        break
print("accepted", n)
'''

CHILD_VS_PID1 = r'''
pid = os.fork()
if pid == 0:
    me = os.getpid()
    if me != 1:
        attempt("ptrace_attach_pid1", lambda: sc(101, 16, 1, 0, 0))
        attempt("ptrace_seize_pid1", lambda: sc(101, 0x4206, 1, 0, 0))
        attempt("pid1_mem_write", lambda: open("/proc/1/mem", "wb").write(b"x"))
        sys.stdout.flush()
        if KILL:
            for s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
                try:
                    os.kill(1, s)
                except OSError:
                    pass
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.2)
print("pid1_alive: yes")
'''


class SyscallAttacks(AttackTest):
    def test_dangerous_syscalls(self):
        code = PROBE + "".join("attempt(%r, lambda: %s)\n" % kv for kv in ATTACKS.items())
        code += "print('uid:', os.getuid(), os.geteuid(), os.getgid())\n"
        code += "print('caps:', [l for l in open('/proc/self/status') if l.startswith('Cap')])\n"
        # with the sidecar: one CapabilityDenied (capability SYSCALL) per name
        res = self.run_py(code, denied=[("SYSCALL", n, n) for n in
                                        ("unshare", "mount", "bpf", "keyctl", "chroot")])
        got = self.verdicts(res)
        for name in ATTACKS:
            self.assertIn(name, got, res["stdout"] + res["stderr"])
            self.assertTrue(got[name].startswith("blocked"), "%s: %s" % (name, got[name]))
        self.assertEqual(got["uid"], "65534 65534 65534")
        for line in eval(got["caps"]):  # the process's capability sets are empty
            if line.split(":")[0] in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                self.assertEqual(int(line.split()[1], 16), 0, line)

    def test_pid1_cannot_be_traced(self):
        """A child tries to ptrace PID 1 and write its memory (killing it is
        in test_regressions.py)."""
        res = self.run_py(PROBE + "KILL = False\n" + CHILD_VS_PID1,
                          denied=[("SYSCALL", "ptrace", "ptrace")])
        got = self.verdicts(res)
        for name in ("ptrace_attach_pid1", "ptrace_seize_pid1", "pid1_mem_write"):
            self.assertTrue(got.get(name, "").startswith("blocked"), res["stdout"])
        self.assertEqual(got["pid1_alive"], "yes")

    def test_host_unix_sockets(self):
        """Servers on the host under tmp, /run, and abstract; none is reachable."""
        sockdir = os.path.join(self.tmp, "socks")
        os.makedirs(sockdir)
        os.chmod(sockdir, 0o777)
        paths = [os.path.join(sockdir, "host.sock"), "/run/ob-sec-%d.sock" % os.getpid()]
        abstract = "\0ob-sec-%d" % os.getpid()
        servers, accepted = [], []
        for addr in paths + [abstract]:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(addr)
            if not addr.startswith("\0"):
                os.chmod(addr, 0o777)
            s.listen(8)
            s.settimeout(0.2)
            servers.append(s)
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                for s in servers:
                    try:
                        c, _ = s.accept()
                        accepted.append(s.getsockname())
                        c.close()
                    except OSError:
                        pass
        t = threading.Thread(target=serve)
        t.start()
        try:
            targets = {"tmp_direct": paths[0], "run_direct": paths[1],
                       "tmp_proc1_root": "/proc/1/root" + paths[0],
                       "run_proc1_root": "/proc/1/root" + paths[1],
                       "tmp_self_root": "/proc/self/root" + paths[0],
                       "tmp_dotdot": sockdir + "/../socks/host.sock",
                       "abstract": abstract}
            code = PROBE + "".join(
                "attempt(%r, lambda: socket.socket(socket.AF_UNIX).connect(%r))\n" % kv
                for kv in targets.items())
            code += "attempt('dgram', lambda: socket.socket(socket.AF_UNIX, " \
                    "socket.SOCK_DGRAM).sendto(b'x', %r))\n" % paths[0]
            # grants on the socket itself and on its directory: still unreachable
            caps = self.caps(grants=[("FILE_READ", sockdir + "/*"),
                                     ("FILE_WRITE", sockdir + "/*"),
                                     ("FILE_WRITE", paths[1])])
            # the abstract namespace is gVisor's own: no capability question,
            # nothing reported; the connect is refused (nobody bound it there)
            res = self.run_py(code, caps=caps)
        finally:
            stop.set()
            t.join()
            for s in servers:
                s.close()
            os.unlink(paths[0])
            os.unlink(paths[1])
        got = self.verdicts(res)
        for name in list(targets) + ["dgram"]:
            self.assertTrue(got.get(name, "").startswith("blocked"),
                            "%s: %s" % (name, got.get(name)))
        self.assertEqual(got["abstract"], "blocked ECONNREFUSED", res["stdout"])
        self.assertNotIn("unix:@", str(res["violations"]))
        self.assertEqual(accepted, [], "a host socket accepted a connection from the sandbox")

    def test_host_abstract_socket_in_the_runs_netns(self):
        """A network run (NETWORK_CONNECT grant) runs runsc with
        --network=host inside the runner's netns, where runsc's own control
        socket is an abstract name: a host process's abstract socket in that
        netns, and runsc's control socket, must not be reachable (gVisor
        serves AF_UNIX itself). The listener is in the run's netns for sure:
        a host process there connects to it first."""
        sync = os.path.join(self.tmp, "sync")
        os.makedirs(sync)
        os.chmod(sync, 0o777)
        name = "ob-sec-netns-%d" % os.getpid()
        code = PROBE + (
            "ready, go = %r, %r\n"
            "open(ready + '.tmp', 'w').write(socket.gethostname())\n"
            "os.rename(ready + '.tmp', ready)\n"
            "while not os.path.exists(go):\n"
            "    time.sleep(0.05)\n"
            "for label, n in (('host_abstract', %r),\n"
            "                 ('runsc_control', 'runsc-sandbox.' + socket.gethostname())):\n"
            "    attempt(label, lambda: socket.socket(socket.AF_UNIX).connect('\\0' + n))\n"
        ) % (sync + "/ready", sync + "/go", name)
        caps = self.caps(grants=[("NETWORK_CONNECT", "10.0.0.5:443"), ("FILE_WRITE", sync),
                                 ("FILE_WRITE", sync + "/*")])
        script = self.write("netns.py", code)
        run = subprocess.Popen([OMNIBASE, "sandbox", "run", script, "--capabilities", caps,
                                "--json"], env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        listener = None
        try:
            while not os.path.exists(sync + "/ready") and run.poll() is None:
                time.sleep(0.05)
            self.assertIsNone(run.poll(), "the run ended before it was ready")
            with open(sync + "/ready") as f:
                netns = "/run/netns/omnibase-" + f.read().strip()
            listener = subprocess.Popen(
                ["nsenter", "--net=" + netns, sys.executable, "-c", LISTENER, name],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.assertEqual(listener.stdout.readline().strip(), "bound and reachable")
            open(sync + "/go", "w").close()
            out, err = run.communicate(timeout=120)
            listener.stdin.close()
            accepted = listener.stdout.read().strip()
        finally:
            for p in (run, listener):
                if p and p.poll() is None:
                    p.kill()
                if p:
                    p.wait()
                    for f in (p.stdin, p.stdout, p.stderr):
                        if f:
                            f.close()
        res = json.loads(out)
        self.ids.append(res["sandbox_id"])
        got = self.verdicts(res)
        self.assertEqual(got.get("host_abstract"), "blocked ECONNREFUSED", res)
        self.assertEqual(got.get("runsc_control"), "blocked ECONNREFUSED", res)
        self.assertEqual(accepted, "accepted 0", "a host abstract socket in the run's netns "
                         "accepted a connection from the sandbox")
        self.assertEqual((res["status"], res["violations"]), ("ok", []), res)


if __name__ == "__main__":
    main()
