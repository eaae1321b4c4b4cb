#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""omnibase-sidecar on the host kernel (the supervision logic is the same as
inside runsc): real python workloads, a real channel, exact denial events."""
import os
import select
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sidecar_harness as h  # noqa: E402

CTYPES_SYSCALL = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return r, ctypes.get_errno()
"""


def only_passwd_denials(run, n):
    d = run.denials()
    h.eq(len(d), n, run)
    for e in d:
        h.check(e["target"] == "/etc/passwd" and e["syscall"] == "openat", run)
        h.check(e["capability"] == "FILE_READ" and e["layer"] == "sidecar", run)
        h.eq(e["policy_id"], "default-deny", run)
    return d


class SidecarHost(h.SidecarTest):
    def test_permitted_and_denied_open(self):
        w = self.w
        ok = os.path.join(w, "ok.txt")
        with open(ok, "w") as f:
            f.write("hello\n")
        os.chmod(ok, 0o644)
        code = """
print(open(%r).read().strip())
try:
    open('/etc/passwd')
    print('READ')
except PermissionError as e:
    print('denied', e.errno)
""" % ok
        run = h.run_sidecar(w, h.python_argv(code), grants=[("FILE_READ", ok, "p1")])
        h.eq(run.rc, 0, run)
        h.eq(run.out, "hello\ndenied 13\n", run)
        only_passwd_denials(run, 1)
        start = [e for e in run.events if e["type"] == "SandboxStart"]
        h.check(len(start) == 1 and start[0]["argv0"] == "/usr/bin/python3", run)
        h.eq((run.events[0]["type"], run.events[-1]["type"]), ("SandboxStart", "SandboxExit"),
             run)
        h.eq(run.denials()[0]["pid"], start[0]["pid"], run)
        ex = run.exit_event()
        h.eq(ex, {"type": "SandboxExit", "exit_code": 0, "signal": 0, "denials": 1,
                      "dropped": 0, "pids_refused": 0}, run)

    def test_fork_thread_subprocess(self):
        w = self.w
        code = """
import os, threading, subprocess
def attempt(who):
    try:
        open('/etc/passwd'); print(who, 'READ', flush=True)
    except PermissionError:
        print(who, 'denied', flush=True)
pid = os.fork()
if pid == 0:
    attempt('child'); os._exit(0)
os.waitpid(pid, 0)
t = threading.Thread(target=attempt, args=('thread',)); t.start(); t.join()
r = subprocess.run(['/usr/bin/cat', '/etc/passwd'], capture_output=True)
print('subprocess', r.returncode, b'Permission denied' in r.stderr)
print('main', os.getpid())
"""
        run = h.run_sidecar(w, h.python_argv(code))
        h.eq(run.rc, 0, run)
        lines = run.out.splitlines()
        h.eq(lines[:3], ["child denied", "thread denied", "subprocess 1 True"], run)
        d = only_passwd_denials(run, 3)
        main_pid = int(lines[3].split()[1])
        pids = [e["pid"] for e in d]
        # the child and the cat process are other processes; the thread reports its process
        h.check(pids[1] == main_pid and pids[0] != main_pid and pids[2] != main_pid, run)

    def test_dangerous_syscalls(self):
        w = self.w
        code = CTYPES_SYSCALL + """
import os
results = []
results.append(sc(101, 16, os.getppid(), 0, 0))   # ptrace(PTRACE_ATTACH, sidecar)
results.append(sc(165, 0, 0, 0, 0, 0))           # mount
results.append(sc(321, 0, 0, 0))                 # bpf
results.append(sc(272, 0x10000000))              # unshare(CLONE_NEWUSER)
results.append(sc(56, 0x10000000 | 17, 0, 0, 0, 0))  # clone(CLONE_NEWUSER|SIGCHLD)
dev = ctypes.create_string_buffer(b'/tmp/ob-chardev')
results.append(sc(133, ctypes.addressof(dev), 0o20666, 0x0103))  # mknod(S_IFCHR, 1:3)
print(results)
"""
        run = h.run_sidecar(w, h.python_argv(code))
        h.eq(run.rc, 0, run)
        h.eq(run.out.strip(), str([(-1, 1)] * 6), run)
        d = run.denials()
        h.eq([e["target"] for e in d], ["ptrace", "mount", "bpf", "unshare", "clone",
                                            "mknod"], run)
        for e in d:
            h.check(e["layer"] == "seccomp" and e["capability"] == "SYSCALL", run)
            h.eq(e["syscall"], e["target"], run)

    def test_x32_abi_is_killed(self):
        w = self.w
        # an x32 openat (nr | 0x40000000) would bypass a native-only filter
        code = CTYPES_SYSCALL + """
print('before', flush=True)
print(sc(0x40000000 | 257, -100, 0, 0), flush=True)
"""
        run = h.run_sidecar(w, h.python_argv(code))
        h.eq(run.out, "before\n", run)
        h.check(run.rc == 128 + 31 and run.exit_event()["signal"] == 31, run)  # SIGSYS

    def test_cannot_reach_sidecar(self):
        w = self.w
        code = """
import os, signal, socket
try:
    os.kill(os.getppid(), signal.SIGKILL); print('killed')
except PermissionError:
    print('kill EPERM')
leaked = []
for fd in range(3, 1024):
    try:
        os.fstat(fd); leaked.append(fd)
    except OSError:
        pass
print('leaked', leaked)
print('uid', os.getuid(), os.getgid(), os.getgroups())
print('caps', [l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapBnd', 'CapPrm', 'CapAmb'))])
print('nnp', [l.split()[1] for l in open('/proc/self/status') if l.startswith('NoNewPrivs')])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(%r); print('connected')
except OSError as e:
    print('connect failed')
""" % os.path.join(w, "channel.sock")
        run = h.run_sidecar(w, h.python_argv(code), grants=[("FILE_READ", "/proc/*", "proc")])
        h.eq(run.rc, 0, run)
        lines = run.out.splitlines()
        h.eq(lines[0], "kill EPERM", run)
        h.eq(lines[1], "leaked []", run)
        h.eq(lines[2], "uid 65534 65534 [65534]", run)
        h.eq(lines[3], "caps " + str(["0000000000000000"] * 4), run)
        h.eq(lines[4], "nnp ['1']", run)
        h.eq(lines[5], "connect failed", run)

    def test_relative_dirfd_dotdot_symlink(self):
        w = self.w
        allowed = os.path.join(w, "allowed")
        os.mkdir(allowed)
        os.chmod(allowed, 0o755)
        with open(os.path.join(allowed, "ok.txt"), "w") as f:
            f.write("fine")
        with open(os.path.join(w, "secret"), "w") as f:
            f.write("secret")
        for name in ("ok.txt",):
            os.chmod(os.path.join(allowed, name), 0o644)
        os.chmod(os.path.join(w, "secret"), 0o644)
        os.symlink(os.path.join(w, "secret"), os.path.join(allowed, "link"))
        os.symlink("../secret", os.path.join(allowed, "rellink"))
        code = """
import os
def tryopen(label, *a, **k):
    try:
        fd = os.open(*a, **k); os.close(fd); print(label, 'ok')
    except PermissionError:
        print(label, 'denied')
d = os.open(%r, os.O_RDONLY | os.O_DIRECTORY)
tryopen('dirfd', 'ok.txt', os.O_RDONLY, dir_fd=d)
tryopen('dirfd-dotdot', '../secret', os.O_RDONLY, dir_fd=d)
os.chdir(%r)
tryopen('cwd', 'ok.txt', os.O_RDONLY)
tryopen('dotdot', './../allowed/../secret', os.O_RDONLY)
tryopen('symlink', 'link', os.O_RDONLY)
tryopen('rel-symlink', 'rellink', os.O_RDONLY)
""" % (allowed, allowed)
        grants = [("FILE_READ", allowed, "dir"), ("FILE_READ", allowed + "/*", "files")]
        run = h.run_sidecar(w, h.python_argv(code), grants=grants)
        h.eq(run.rc, 0, run)
        h.eq(run.out.split("\n")[:-1], [
            "dirfd ok", "dirfd-dotdot denied", "cwd ok", "dotdot denied", "symlink denied",
            "rel-symlink denied"], run)
        secret = os.path.join(w, "secret")
        h.eq([e["target"] for e in run.denials()], [secret] * 4, run)

    def test_symlink_swap_after_lookup(self):
        w = self.w
        # d is looked up (and remembered as "not a symlink"), then the workload
        # replaces it by a symlink to /etc: the next lookup must see the link
        box = os.path.join(w, "box")
        os.makedirs(os.path.join(box, "d"))
        os.chmod(box, 0o777)
        os.chmod(os.path.join(box, "d"), 0o777)
        with open(os.path.join(box, "d", "passwd"), "w") as f:
            f.write("mine")
        os.chmod(os.path.join(box, "d", "passwd"), 0o644)
        code = """
import os
box = %r
print(open(box + '/d/passwd').read())
os.rename(box + '/d', box + '/old')
os.symlink('/etc', box + '/d')
try:
    open(box + '/d/passwd'); print('READ')
except PermissionError:
    print('denied')
""" % box
        grants = [("FILE_READ", box + "/*", "box"), ("FILE_WRITE", box + "/*", "box")]
        run = h.run_sidecar(w, h.python_argv(code), grants=grants)
        h.check(run.rc == 0 and run.out == "mine\ndenied\n", run)
        h.eq([e["target"] for e in run.denials()], ["/etc/passwd"], run)

    def test_write_and_denial_rule(self):
        w = self.w
        out = os.path.join(w, "out")
        os.mkdir(out)
        os.chmod(out, 0o777)
        code = """
import os
def attempt(label, f):
    try:
        f(); print(label, 'ok')
    except PermissionError:
        print(label, 'denied')
attempt('write', lambda: open(%(out)r + '/a.txt', 'w').write('x'))
attempt('read-back', lambda: open(%(out)r + '/a.txt').read())
attempt('blocked', lambda: open(%(out)r + '/blocked.txt', 'w'))
attempt('mkdir', lambda: os.mkdir(%(w)r + '/newdir'))
attempt('unlink', lambda: os.unlink(%(out)r + '/a.txt'))
attempt('rename-out', lambda: os.rename(%(out)r + '/x', %(w)r + '/x'))
""" % {"out": out, "w": w}
        grants = [("FILE_WRITE", out + "/*", "pw"), ("FILE_READ", out + "/*", "pr")]
        denials = [("FILE_WRITE", out + "/blocked*", "p9")]
        run = h.run_sidecar(w, h.python_argv(code), grants=grants, denials=denials)
        h.eq(run.rc, 0, run)
        h.eq(run.out.split("\n")[:-1], [
            "write ok", "read-back ok", "blocked denied", "mkdir denied", "unlink ok",
            "rename-out denied"], run)
        d = run.denials()
        h.eq([(e["capability"], e["target"], e["syscall"], e["policy_id"]) for e in d], [
            ("FILE_WRITE", out + "/blocked.txt", "openat", "p9"),
            ("FILE_WRITE", w + "/newdir", "mkdir", "default-deny"),
            ("FILE_WRITE", w + "/x", "rename", "default-deny")], run)

    def test_network(self):
        w = self.w
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        threading.Thread(target=lambda: srv.accept(), daemon=True).start()
        srv2 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv2.bind(("127.0.0.1", 0))
        srv2.listen(4)
        port2 = srv2.getsockname()[1]
        threading.Thread(target=lambda: srv2.accept(), daemon=True).start()
        code = """
import socket, errno
def attempt(label, addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect(addr); print(label, 'ok')
    except OSError as e:
        print(label, errno.errorcode[e.errno])
attempt('granted', ('127.0.0.1', %d))
attempt('other', ('127.0.0.1', %d))
attempt('by-name', ('127.0.0.1', %d))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b'x', ('10.9.8.7', 53)); print('udp ok')
except OSError as e:
    print('udp', errno.errorcode[e.errno])
""" % (port, port + 1 if port < 65535 else port - 1, port2)
        # by-name: a grant on a host name allows the address /etc/hosts gives it
        run = h.run_sidecar(w, h.python_argv(code),
                            grants=[("NETWORK_CONNECT", "127.0.0.1:%d" % port, "net"),
                                    ("NETWORK_CONNECT", "localhost:%d" % port2, "net")])
        srv.close()
        srv2.close()
        h.eq(run.rc, 0, run)
        h.eq(run.out.split("\n")[:-1], ["granted ok", "other EPERM", "by-name ok",
                                             "udp EPERM"], run)
        d = run.denials()
        h.eq([(e["capability"], e["syscall"]) for e in d], [
            ("NETWORK_CONNECT", "connect"), ("NETWORK_CONNECT", "sendto")], run)
        h.eq(d[1]["target"], "10.9.8.7:53", run)

    def test_exit_status_and_orphans(self):
        w = self.w
        run = h.run_sidecar(w, h.python_argv("import sys; sys.exit(7)"))
        h.check(run.rc == 7 and run.exit_event()["exit_code"] == 7, run)
        run = h.run_sidecar(w, h.python_argv("import os, signal; os.kill(os.getpid(), 9)"))
        h.eq(run.rc, 137, run)
        ex = run.exit_event()
        h.check(ex["exit_code"] == 137 and ex["signal"] == 9, run)
        # a background grandchild must not keep the run alive, nor outlive it
        t0 = time.monotonic()
        run = h.run_sidecar(w, ["/usr/bin/sh", "-c", "/usr/bin/sleep 300 & echo $!"])
        h.check(run.rc == 0 and time.monotonic() - t0 < 30, run)
        pid = int(run.out.strip())
        # killed by the sidecar on its way out: it ends (a zombie of init's
        # at most) within a bound, or it survived
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            pidfd = None
        if pidfd is not None:
            ended = select.select([pidfd], [], [], 20)[0]
            os.close(pidfd)
            h.check(ended, "orphan survived")

    def test_signal_forwarding(self):
        w = self.w
        def on_start(proc, listener):
            listener.accepted.wait(30)
            time.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
        code = "import time\nprint('up', flush=True)\ntime.sleep(60)"
        run = h.run_sidecar(w, h.python_argv(code), on_start=on_start)
        h.eq(run.rc, 128 + signal.SIGTERM, run)
        h.eq(run.exit_event()["signal"], signal.SIGTERM, run)

    def test_bad_caps_file(self):
        w = self.w
        bad = os.path.join(w, "bad.json")
        with open(bad, "w") as f:
            f.write('{"version": 1,\n "grants": [{"capability": "FILE_RAED", "target": "/x"}]}')
        sock = os.path.join(w, "c.sock")
        listener = h.Listener(sock)
        import subprocess
        p = subprocess.run([h.sidecar_binary(), "--caps", bad, "--channel", sock, "--",
                            "/usr/bin/true"], capture_output=True, text=True, timeout=30)
        events = listener.finish()
        h.eq(p.returncode, 125, p)
        h.check(p.stderr.startswith("omnibase: %s:2:" % bad) and p.stderr.count("\n") == 1, p.stderr)
        h.eq(events, [], events)

    def test_directory_listing_is_not_a_read(self):
        w = self.w
        # a read-only O_DIRECTORY open lists names, like getdents: not checked
        code = "import os\nprint(sorted(os.listdir('/'))[:1], len(os.listdir('/etc')) > 0)"
        run = h.run_sidecar(w, h.python_argv(code))
        h.check(run.rc == 0 and run.out.endswith(" True\n"), run)
        h.eq(run.denials(), [], run)

    def test_missing_command_is_125_and_nothing_ran(self):
        w = self.w
        run = h.run_sidecar(w, ["/no/such/binary", "x"])
        h.eq(run.rc, 125, run)
        h.eq(run.err, "omnibase-sidecar: /no/such/binary: No such file or directory\n", run)
        h.eq([e["type"] for e in run.events], ["SandboxExit"], run)
        h.eq(run.exit_event()["exit_code"], 125, run)
        # present but not granted FILE_EXEC: the exec is denied (reported), nothing ran
        run = h.run_sidecar(w, ["/usr/sbin/nologin"])
        h.eq(run.rc, 125, run)
        h.eq([(e["capability"], e["target"]) for e in run.denials()], [
            ("FILE_EXEC", "/usr/sbin/nologin")], run)

    def test_channel_on_stdin(self):
        w = self.w
        # --channel-fd 0: the workload gets /dev/null as stdin, never the channel
        code = """
import os, stat
st = os.fstat(0)
print('stdin', 'chr' if stat.S_ISCHR(st.st_mode) else 'other', os.read(0, 10))
try:
    open('/etc/passwd')
except PermissionError:
    print('denied')
"""
        run = h.run_sidecar_fd(w, h.python_argv(code))
        h.check(run.rc == 0 and run.out == "stdin chr b''\ndenied\n", run)
        h.eq([e["type"] for e in run.events], ["SandboxStart", "CapabilityDenied",
                                                   "SandboxExit"], run)
        h.eq(run.denials()[0]["target"], "/etc/passwd", run)

    def test_scratch_dir(self):
        w = self.w
        # --scratch: what the workload makes there is its own; a path that is
        # not there, or another filesystem mounted below (a host path), is not
        import subprocess
        scratch = os.path.join(w, "scratch")
        other = os.path.join(scratch, "other")
        os.makedirs(other)
        os.chmod(scratch, 0o777)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=755", "none", other], check=True)
        try:
            with open(os.path.join(other, "host.txt"), "w") as f:
                f.write("host")
            os.chmod(os.path.join(other, "host.txt"), 0o644)
            code = """
import os
s = %r
def attempt(label, f):
    try:
        r = f(); print(label, 'ok', r)
    except OSError as e:
        print(label, e.errno)
attempt('create', lambda: open(s + '/mine.txt', 'w').write('x'))
attempt('read-own', lambda: open(s + '/mine.txt').read())
attempt('mkdir', lambda: os.mkdir(s + '/d'))
attempt('absent', lambda: open(s + '/absent.txt').read())
attempt('host', lambda: open(s + '/other/host.txt').read())
attempt('unlink', lambda: os.unlink(s + '/mine.txt'))
""" % scratch
            run = h.run_sidecar(w, h.python_argv(code), extra_args=["--scratch", scratch])
        finally:
            subprocess.run(["umount", other], check=True)
        h.eq(run.rc, 0, run)
        h.eq(run.out.splitlines(), ["create ok 1", "read-own ok x", "mkdir ok None",
                                        "absent 2", "host 13", "unlink ok None"], run)
        # a missing name of its own is the kernel's ENOENT, not a denial (issue 15)
        h.eq([e["target"] for e in run.denials()], [scratch + "/other/host.txt"], run)

    def test_list_libs(self):
        import subprocess
        p = subprocess.run([h.sidecar_binary(), "--list-libs"], capture_output=True, text=True,
                           timeout=30)
        h.eq(p.returncode, 0, p)
        rows = [line.split("\t") for line in p.stdout.splitlines()]
        names = [os.path.basename(r[0]) for r in rows]
        h.check(any(n.startswith("libseccomp.so") for n in names), p.stdout)
        h.check(any(n.startswith("libcap.so") for n in names), p.stdout)
        h.check(any(n.startswith("libc.so") for n in names), p.stdout)
        for dest, src in rows:
            h.check(dest.startswith("/") and os.path.isfile(src), rows)
            h.eq(os.path.realpath(dest), src, rows)


if __name__ == "__main__":
    if os.geteuid() != 0:
        h.skip("the sidecar needs root (setuid, capability bounding set)")
    unittest.main(verbosity=2)
