# SPDX-License-Identifier: Apache-2.0
"""Shared by the sidecar tests: a capability file, an event channel socket
the test listens on (one connection, then the path is unlinked, as the
runner does), and strict checks on what comes over it."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

# The drivers (unittest, SidecarTest below) check with check() and eq(),
# never a bare assert, which python3 -O would remove; and they refuse to run
# under -O at all, so that a bare assert added later cannot pass unnoticed.
if not __debug__:
    raise SystemExit("FAIL: the sidecar tests do not run under python3 -O (asserts vanish)")


def check(cond, msg=""):
    """Raises AssertionError(msg) unless cond; runs whatever python's flags."""
    if not cond:
        raise AssertionError(msg)


def eq(got, want, msg=""):
    """Raises AssertionError naming both values unless got == want."""
    if got != want:
        raise AssertionError("%r != %r%s" % (got, want, "\n%s" % (msg,) if msg != "" else ""))


MUST_WORK = os.environ.get("OMNIBASE_MUST_WORK", "") not in ("", "0")

# What a python workload needs to start (the runner's profile plays this
# part in `omnibase sandbox run`).
BASELINE = [
    ("FILE_READ", "/usr/*", "system"),
    ("FILE_READ", "/lib/*", "system"),
    ("FILE_READ", "/lib64/*", "system"),
    ("FILE_READ", "/etc/ld.so.cache", "system"),
    ("FILE_READ", "/etc/locale.alias", "system"),
    ("FILE_EXEC", "/usr/bin/*", "system"),
]

MESSAGE_KEYS = {
    "SandboxStart": {"type", "pid", "argv0"},
    "CapabilityDenied": {"type", "capability", "target", "syscall", "pid", "policy_id", "layer"},
    "SandboxExit": {"type", "exit_code", "signal", "denials", "dropped", "pids_refused"},
}


def skip(reason):
    if MUST_WORK:
        print("FAIL (skip not allowed, OMNIBASE_MUST_WORK): " + reason, file=sys.stderr)
        sys.exit(1)
    print("SKIP: " + reason, file=sys.stderr)
    sys.exit(77)


def sidecar_binary():
    path = os.environ.get("OMNIBASE_SIDECAR")
    if not path:
        build = os.environ.get("OMNIBASE_BUILD_DIR", "build")
        path = os.path.join(build, "sidecar", "omnibase-sidecar")
    if not os.access(path, os.X_OK):
        skip("omnibase-sidecar not built: " + path)
    return path


def write_caps(directory, grants, denials=(), name="caps.json"):
    doc = {
        "version": 1,
        "grants": [{"capability": c, "target": t, "policy_id": p} for c, t, p in grants],
        "denials": [{"capability": c, "target": t, "policy_id": p} for c, t, p in denials],
    }
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    os.chmod(path, 0o644)
    return path


def parse_events(data):
    """Every line must be one message of the documented schema."""
    events = []
    check(data == b"" or data.endswith(b"\n"), "torn last line: %r" % data[-80:])
    for line in data.decode("utf-8").splitlines():
        ev = json.loads(line)
        check(ev["type"] in MESSAGE_KEYS, "unknown type in %s" % line)
        eq(set(ev), MESSAGE_KEYS[ev["type"]], "bad keys in %s" % line)
        events.append(ev)
    return events


class Listener:
    """The runner's side of the channel: accepts one connection, unlinks
    the socket path, reads to the end."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o600)
        self.sock.listen(1)
        self.sock.settimeout(60)
        self.data = b""
        self.accepted = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        os.unlink(self.path)
        self.sock.close()
        self.accepted.set()
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                self.data += chunk

    def finish(self, timeout=60):
        self.thread.join(timeout)
        check(not self.thread.is_alive(), "channel never closed")
        return parse_events(self.data)


class Run:
    def __init__(self, rc, out, err, events):
        self.rc, self.out, self.err, self.events = rc, out, err, events

    def denials(self):
        return [e for e in self.events if e["type"] == "CapabilityDenied"]

    def exit_event(self):
        ex = [e for e in self.events if e["type"] == "SandboxExit"]
        eq(len(ex), 1, self.events)
        return ex[0]

    def __repr__(self):
        return "rc=%r\nstdout=%s\nstderr=%s\nevents=%s" % (
            self.rc, self.out, self.err, json.dumps(self.events, indent=1))


def run_sidecar(workdir, argv, grants=(), denials=(), timeout=120, cwd="/", on_start=None,
                extra_args=()):
    caps = write_caps(workdir, list(BASELINE) + list(grants), denials)
    sock = os.path.join(workdir, "channel.sock")
    listener = Listener(sock)
    cmd = [sidecar_binary(), "--caps", caps, "--channel", sock, *extra_args, "--", *argv]
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            pass_fds=())
    if on_start:
        on_start(proc, listener)
    out, err = proc.communicate(timeout=timeout)
    events = listener.finish()
    return Run(proc.returncode, out.decode(), err.decode(), events)


def run_sidecar_fd(workdir, argv, grants=(), runner=None, timeout=120):
    """The channel as stdin: one end of a socketpair (no socket path at all).
    runner(cmd, stdin) starts the command (default: the sidecar directly)."""
    caps = write_caps(workdir, list(BASELINE) + list(grants))
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    cmd = [sidecar_binary(), "--caps", caps, "--channel-fd", "0", "--", *argv]
    if runner:
        proc = runner(cmd, theirs)
    else:
        proc = subprocess.Popen(cmd, stdin=theirs, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    theirs.close()
    data = b""
    ours.settimeout(timeout)
    while True:
        chunk = ours.recv(65536)
        if not chunk:
            break
        data += chunk
    out, err = proc.communicate(timeout=timeout)
    return Run(proc.returncode, out.decode(), err.decode(), parse_events(data))


def python_argv(code):
    # -I: no cwd on sys.path, no user site; -S: no site-packages .pth files
    # (a host may run code from them at startup): only what the run must open
    return ["/usr/bin/python3", "-I", "-S", "-c", code]


def workdir():
    d = tempfile.mkdtemp(prefix="ob-sidecar-")
    os.chmod(d, 0o755)
    return os.path.realpath(d)


class SidecarTest(unittest.TestCase):
    """A test with its own work directory, self.w, removed after it."""

    def setUp(self):
        self.w = workdir()
        self.addCleanup(subprocess.run, ["rm", "-rf", self.w])
