#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""omnibase-sidecar inside gVisor: a hand-made OCI bundle (empty rootfs,
read-only binds of /usr and /etc, the sidecar binary bind-mounted in, the
channel socket's directory bind-mounted and reached with --host-uds=open),
the sidecar as the container's process (PID 1), a python workload under it.
Proves that seccomp RET_TRACE + ptrace + PEEKDATA + syscall skipping work
in this runsc, not only on the host kernel."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sidecar_harness as h  # noqa: E402

RUNSC = os.environ.get("OMNIBASE_RUNSC", shutil.which("runsc") or "/usr/bin/runsc")
SIDECAR_IN = "/omnibase/omnibase-sidecar"
RUN_IN = "/run/omnibase"

# what the sidecar needs as the container's process: become another user,
# empty the bounding set, trace the workload, see through its 0700 directories
# (as runner/spec.c gives it)
SIDECAR_CAPS = ["CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_SYS_PTRACE", "CAP_KILL",
                "CAP_DAC_READ_SEARCH"]


def bind(src, dst, ro=True):
    return {"destination": dst, "type": "bind", "source": src,
            "options": ["rbind", "ro" if ro else "rw", "nosuid", "nodev"]}


def make_bundle(w, argv, grants, caps=SIDECAR_CAPS):
    bundle = os.path.join(w, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    run = os.path.join(w, "run")
    os.makedirs(rootfs)
    os.makedirs(run)
    os.chmod(run, 0o755)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"),
                         ("sbin", "usr/sbin")):
        os.symlink(target, os.path.join(rootfs, link))
    h.write_caps(run, list(h.BASELINE) + list(grants))
    sidecar = os.path.realpath(h.sidecar_binary())
    config = {
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "omnibase",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "cwd": "/",
            "args": [SIDECAR_IN, "--caps", RUN_IN + "/caps.json",
                     "--channel", RUN_IN + "/channel.sock", "--", *argv],
            "env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
            "capabilities": {k: caps for k in
                             ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]},
            bind("/usr", "/usr"),
            bind("/etc", "/etc"),
            bind(sidecar, SIDECAR_IN),
            bind(run, RUN_IN, ro=False),
        ],
        "linux": {"namespaces": [{"type": t} for t in
                                 ("pid", "ipc", "uts", "mount", "network")]},
    }
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    return bundle, run


def run_in_runsc(w, argv, grants=(), timeout=120, caps=SIDECAR_CAPS):
    bundle, run = make_bundle(w, argv, grants, caps)
    listener = h.Listener(os.path.join(run, "channel.sock"))
    root = os.path.join(w, "runsc-root")
    os.makedirs(root)
    cid = "ob-sidecar-test-" + uuid.uuid4().hex[:8]
    cmd = [RUNSC, "--root", root, "--network=none", "--platform=ptrace", "--host-uds=open",
           "--log", os.path.join(w, "runsc.log"), "run", "--bundle", bundle, cid]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        subprocess.run([RUNSC, "--root", root, "delete", "--force", cid],
                       capture_output=True)
    events = listener.finish()
    return h.Run(p.returncode, p.stdout, p.stderr, events)


class SidecarRunsc(h.SidecarTest):
    def test_denial_inside_gvisor(self):
        w = self.w
        code = """
import os, threading, subprocess
def attempt(who):
    try:
        open('/etc/passwd'); print(who, 'READ', flush=True)
    except PermissionError:
        print(who, 'denied', flush=True)
print('pid', os.getpid(), 'ppid', os.getppid(), 'uid', os.getuid(), flush=True)
attempt('main')
pid = os.fork()
if pid == 0:
    attempt('child'); os._exit(0)
os.waitpid(pid, 0)
t = threading.Thread(target=attempt, args=('thread',)); t.start(); t.join()
r = subprocess.run(['/usr/bin/cat', '/etc/passwd'], capture_output=True)
print('subprocess', r.returncode)
print(open('/etc/hostname').read().strip() if os.path.exists('/etc/hostname') else 'nohost')
"""
        run = run_in_runsc(w, h.python_argv(code), grants=[("FILE_READ", "/etc/hostname", "h")])
        h.eq(run.rc, 0, run)
        lines = run.out.splitlines()
        h.check(lines[0].startswith("pid ") and lines[0].split()[3] == "1", run)  # sidecar is PID 1
        h.eq(lines[0].split()[5], "65534", run)
        h.eq(lines[1:5], ["main denied", "child denied", "thread denied", "subprocess 1"], run)
        d = [e for e in run.denials() if e["target"] == "/etc/passwd"]
        h.check(len(d) == 4 and len(run.denials()) == 4, run)
        h.check(all(e["syscall"] == "openat" and e["layer"] == "sidecar" for e in d), run)
        h.check(run.events[0]["type"] == "SandboxStart" and run.exit_event()["denials"] == 4, run)

    def test_dangerous_and_pid1_inside_gvisor(self):
        w = self.w
        code = """
import ctypes, os, signal, socket
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return r, ctypes.get_errno()
print(sc(101, 16, 1, 0, 0), sc(165, 0, 0, 0, 0, 0), sc(321, 0, 0, 0), sc(272, 0x20000))
try:
    os.kill(1, signal.SIGKILL); print('killed')
except PermissionError:
    print('kill EPERM')
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect('%s/channel.sock'); print('channel connected')
except OSError:
    print('channel refused')
s.close()
leaked = []
for fd in range(3, 1024):
    try:
        os.fstat(fd); leaked.append(fd)
    except OSError:
        pass
print('leaked', leaked)
""" % RUN_IN
        run = run_in_runsc(w, h.python_argv(code))
        h.eq(run.rc, 0, run)
        lines = run.out.splitlines()
        h.eq(lines[0], "(-1, 1) (-1, 1) (-1, 1) (-1, 1)", run)  # each failed with EPERM
        h.eq(lines[1:], ["kill EPERM", "channel refused", "leaked []"], run)
        targets = [e["target"] for e in run.denials() if e["layer"] == "seccomp"]
        h.eq(targets, ["ptrace", "mount", "bpf", "unshare"], run)

    def test_channel_on_stdin_without_host_uds(self):
        w = self.w
        # the runner's way: the channel is runsc's stdin (a socketpair end), so
        # runsc runs without --host-uds and no host socket is reachable at all
        bundle, _ = make_bundle(w, [], [])
        root = os.path.join(w, "runsc-root")
        cid = "ob-sidecar-test-" + uuid.uuid4().hex[:8]

        def runner(cmd, stdin):
            with open(os.path.join(bundle, "config.json")) as f:
                config = json.load(f)
            inner = list(cmd)
            inner[0] = SIDECAR_IN
            inner[inner.index("--caps") + 1] = RUN_IN + "/caps.json"
            config["process"]["args"] = inner
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(config, f)
            return subprocess.Popen([RUNSC, "--root", root, "--network=none", "--platform=ptrace",
                                     "run", "--bundle", bundle, cid], stdin=stdin,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        code = """
import os, socket, stat
print('stdin', 'chr' if stat.S_ISCHR(os.fstat(0).st_mode) else 'other')
try:
    open('/etc/passwd'); print('READ')
except PermissionError:
    print('denied')
"""
        try:
            run = h.run_sidecar_fd(os.path.join(w, "run"), h.python_argv(code), runner=runner)
        finally:
            subprocess.run([RUNSC, "--root", root, "delete", "--force", cid], capture_output=True)
        h.check(run.rc == 0 and run.out == "stdin chr\ndenied\n", run)
        h.eq([e["type"] for e in run.events], ["SandboxStart", "CapabilityDenied",
                                                   "SandboxExit"], run)

    def test_hidden_symlink_fails_closed_inside_gvisor(self):
        w = self.w
        # F8: a 0700 directory of the workload holds l -> /etc/ssl, so
        # /tmp/d/l/../passwd is /etc/passwd for the kernel and /tmp/d/passwd as
        # text. Without CAP_DAC_READ_SEARCH gVisor refuses the sidecar's readlink
        # (EACCES): it must deny and say it could not resolve; with it (as the
        # runner runs it) it sees the link and denies /etc/passwd itself.
        code = """
import os
os.mkdir('/tmp/d')
os.symlink('/etc/ssl', '/tmp/d/l')
os.chmod('/tmp/d', 0o700)
try:
    open('/tmp/d/l/../passwd').read(); print('READ')
except PermissionError:
    print('denied')
"""
        grants = [("FILE_READ", "/tmp/*", "tmp"), ("FILE_WRITE", "/tmp/*", "tmp")]
        for caps, want in (([c for c in SIDECAR_CAPS if c != "CAP_DAC_READ_SEARCH"],
                            ("/tmp/d/l/../passwd", "unresolvable-path")),
                           (SIDECAR_CAPS, ("/etc/passwd", "default-deny"))):
            ww = os.path.join(w, str(len(caps)))
            os.makedirs(ww)
            run = run_in_runsc(ww, h.python_argv(code), grants=grants, caps=caps)
            h.check(run.rc == 0 and run.out == "denied\n", (caps, run))
            got = [(e["target"], e["policy_id"]) for e in run.denials() if e["syscall"] == "openat"]
            h.eq(got, [want], (caps, run))


if __name__ == "__main__":
    if os.geteuid() != 0:
        h.skip("runsc needs root")
    if not os.access(RUNSC, os.X_OK):
        h.skip("runsc not installed")
    unittest.main(verbosity=2)
