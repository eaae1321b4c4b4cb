#!/usr/bin/python3
"""Host memory outside the limit (issue 9, mechanism 6, finding F12).

With a NETWORK_CONNECT grant the sentry's sockets are host sockets in the
run's network namespace (runsc --network=host there), so their buffers are
host kernel memory. Each case runs a workload with a small `memory_mb` that
fills socket buffers as far as the kernel lets it (many sockets, SO_SNDBUF /
SO_RCVBUF of 8 MiB, the receiving end never reading), sends `holding ...` on
a control connection once it cannot put in more, and waits there. On that line
the test sums, from the host, the buffer memory of every socket in the
run's namespace (`ss -tumnaH`, skmem r+w+f: the receive queues, the write
queues and what the socket has reserved) and asserts it stays within
`memory_mb` plus MARGIN; then it closes the control connection and the
workload exits 0. Before the fix (no memory.kmem.tcp limit) the same
workloads held 259 MiB (sink) and 641 MiB (loopback) with `memory_mb: 64`.

The peers: a sink on the host (root namespace, reached as
host.omnibase.internal) that accepts and never reads, with a 4 KiB receive
buffer so that what the run sends stays in the run's own send buffers; or
the run itself over loopback (granted 127.0.0.1:*), where both ends are the
run's."""
import json
import os
import re
import socket
import subprocess
import threading

from seclib import OMNIBASE, AttackTest, main

MEMORY_MB = 64
SOCKETS = 48  # 8 MiB each: 384 MiB asked for, six times the limit
MARGIN = 8 << 20  # pages the kernel charges past a limit (__GFP_NOFAIL), skb overhead

WORKLOAD = r'''
import socket, sys
mode, n, ctl_port, sink_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
host = [l.split()[0] for l in open("/etc/hosts")
        if "host.omnibase.internal" in l and "." in l.split()[0]][0]
big = 8 << 20
chunk = b"x" * 65536

def fill(s):
    # send until the socket takes nothing more for 0.2 s (its buffers are full)
    s.settimeout(0.2)
    n = 0
    try:
        while True:
            n += s.send(chunk)
    except OSError:
        pass
    return n

ctl = socket.create_connection((host, ctl_port))
keep, sent = [], 0
if mode != "sink":
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, big)
    listener.bind(("127.0.0.1", 0))
    listener.listen(n)
    keep.append(listener)
for i in range(n):
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, big)
    try:
        c.connect((host, sink_port) if mode == "sink" else listener.getsockname())
    except OSError as e:
        print("connect", i, e, file=sys.stderr, flush=True)
        break
    keep.append(c)
    if mode == "loopback":
        keep.append(listener.accept()[0])
    sent += fill(c)
ctl.sendall(b"holding %d %d\n" % (sent, len(keep)))
ctl.recv(1)
print("released", flush=True)
'''


def skmem_of_netns(netns):
    """Bytes held by the sockets of netns: the sum of skmem r (receive
    queues), w (write queues) and f (reserved) over every TCP/UDP socket,
    listening or not, accepted or not."""
    out = subprocess.run(["nsenter", "--net=/run/netns/" + netns, "ss", "-tumnaH"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError("ss in %s: %s" % (netns, out.stderr.strip()))
    out = out.stdout
    total = 0
    for m in re.finditer(r"skmem:\(([^)]*)\)", out):
        for field in m.group(1).split(","):
            kv = re.match(r"([a-z]+)(\d+)$", field)
            if kv and kv.group(1) in ("r", "w", "f"):
                total += int(kv.group(2))
    return total


class Server:
    """Two listeners in the root namespace on ephemeral ports: ctl (the
    workload's control connection, closed to release it) and a sink that
    accepts and never reads."""

    def __init__(self):
        self.ctl = socket.socket()
        self.ctl.bind(("0.0.0.0", 0))
        self.ctl.listen(4)
        self.sink = socket.socket()
        self.sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sink.bind(("0.0.0.0", 0))
        self.sink.listen(1024)
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.sink.accept()[0])
            except OSError:
                return

    def ports(self):
        return self.ctl.getsockname()[1], self.sink.getsockname()[1]

    def close(self):
        for s in [self.ctl, self.sink] + self.accepted:
            s.close()


class NetMemAttacks(AttackTest):
    def setUp(self):
        super().setUp()
        self.server = Server()
        self.addCleanup(self.server.close)

    def start(self, mode, grants=(), sockets=SOCKETS):
        """Starts the workload in mode; (process, control connection, run id,
        the workload's `holding` line) once it holds what it could."""
        ctl_port, sink_port = self.server.ports()
        caps = self.caps(grants=[("NETWORK_CONNECT", "host.omnibase.internal:%d" % p)
                                 for p in (ctl_port, sink_port)] + list(grants),
                         limits={"memory_mb": MEMORY_MB, "timeout_s": 90})
        script = self.write("netmem.py", WORKLOAD)
        self.events = os.path.join(self.tmp, "events.jsonl")
        p = subprocess.Popen([OMNIBASE, "sandbox", "run", script, mode, str(sockets),
                              str(ctl_port), str(sink_port), "--capabilities", caps,
                              "--events", self.events],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.addCleanup(self.reap, p)
        self.server.ctl.settimeout(60)
        ctl, _ = self.server.ctl.accept()
        self.addCleanup(ctl.close)
        ctl.settimeout(60)
        line = ctl.makefile("r").readline()
        runs = os.listdir(os.path.join(self.state, "runs"))
        self.assertEqual(len(runs), 1, runs)
        self.ids.append(runs[0])
        if not line.startswith("holding "):
            ctl.close()
            self.fail("the workload said %r: %s" % (line, p.communicate(timeout=60)[1]))
        return p, ctl, runs[0], line

    def finish(self, p, ctl):
        """Releases the workload; its exit status and stderr."""
        ctl.close()
        out, err = p.communicate(timeout=60)
        self.outputs += [out, err]
        self.assertEqual(out.strip(), "released", out + err)
        return p.returncode, err

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
            p.communicate()

    def hold(self, mode, grants=()):
        """Runs the workload in mode; the bytes its namespace's sockets held
        when it said it could hold no more."""
        p, ctl, run, line = self.start(mode, grants)
        held = skmem_of_netns("omnibase-" + run)
        rc, err = self.finish(p, ctl)
        self.assertEqual(rc, 0, err)
        print("%s: the workload sent %.1f MiB; its namespace's sockets held %.1f MiB "
              "(memory_mb %d)" % (mode, int(line.split()[1]) / 2**20, held / 2**20, MEMORY_MB))
        self.assertLessEqual(held, (MEMORY_MB << 20) + MARGIN,
                             "socket buffers held %.1f MiB with memory_mb %d"
                             % (held / 2**20, MEMORY_MB))
        return held

    def test_send_buffers_to_a_peer_that_does_not_read(self):
        self.hold("sink")

    def test_loopback_both_ends_in_the_run(self):
        self.hold("loopback", grants=[("NETWORK_CONNECT", "127.0.0.1:*")])

    def test_loopback_needs_a_grant_in_the_kernel_too(self):
        """Without a loopback grant the sidecar refuses connect(127.0.0.1)
        at its ptrace stop, which a second thread can race; the BPF connect
        hooks must refuse it as well, or the race reaches connections whose
        queued data is charged to no cgroup. A process in the run's network
        namespace and cgroup-v2 directory, outside gVisor (so no sidecar),
        tries it: EPERM from the hook, not ECONNREFUSED from the stack."""
        p, ctl, run, _ = self.start("sink", sockets=0)
        probe = ("import errno, socket\n"
                 "open('/sys/fs/cgroup/unified/omnibase/%s/cgroup.procs', 'w').write('0')\n"
                 "for fam, addr in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):\n"
                 "    try:\n"
                 "        socket.socket(fam).connect((addr, 1)); print('connected')\n"
                 "    except OSError as e:\n"
                 "        print(errno.errorcode[e.errno])\n" % run)
        r = subprocess.run(["nsenter", "--net=/run/netns/omnibase-" + run, "/usr/bin/python3",
                            "-c", probe], capture_output=True, text=True, timeout=30)
        rc, err = self.finish(p, ctl)
        self.assertEqual(r.stdout.split(), ["EPERM", "EPERM"], r.stdout + r.stderr)
        with open(self.events) as f:
            events = [json.loads(l) for l in f if l.strip()]
        targets = {e["target"] for e in events
                   if e["type"] == "CapabilityDenied" and e.get("layer") == "bpf"}
        self.assertEqual(targets, {"127.0.0.1:1", "[::1]:1"}, events)
        self.assertEqual(rc, 126, err)


if __name__ == "__main__":
    main()
