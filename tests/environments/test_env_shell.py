#!/usr/bin/python3
"""Interactive PTY sessions in a real runsc environment (issue 10's `env
shell` and `env exec -t`), driven through a real pseudo-terminal on the
host: the prompt; `tty` a /dev/pts path inside; `stty size` the host
terminal's size, then a resize (TIOCSWINSZ + SIGWINCH) seen by a second
`stty size`; uid 65534; a denial in the shell (CapabilityDenied with env_id
on the audit log, exit 126); `exit 3` is the CLI's status 3; the host
terminal raw during the session and restored after it (and after a
SIGTERM); a SIGKILL of the CLI ends the shell inside (nothing left but the
environment's PID 1) and the environment serves on; -t from a non-terminal
stdin (80x24, a script on stdin); and garbage on the framed input refused
without harm. Every wait reads until the expected output, with a deadline."""
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oblib import OMNIBASE, pids_mentioning, require_runsc, wait_for  # noqa: E402

STATE = None
ENV_ID = None
DEADLINE_S = 60


def env(config=None):
    return dict(os.environ, OMNIBASE_STATE_DIR=STATE,
                OMNIBASE_CONFIG=config or STATE + "-config.json", TERM="xterm")


def ob(*args, stdin=b"", check=None, timeout=180, config=None):
    p = subprocess.run([OMNIBASE] + list(args), input=stdin, capture_output=True,
                       env=env(config), timeout=timeout)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check is not None and p.returncode != check:
        raise AssertionError("omnibase %s: exit %d (wanted %d)\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, check, out, err))
    return p.returncode, out, err


def audit_lines():
    with open(os.path.join(STATE, "audit.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def sandbox_processes():
    """The commands running in the environment's sandbox (runsc ps)."""
    runs = os.path.join(STATE, "runs")
    (run,) = os.listdir(runs)
    p = subprocess.run(["runsc", "--root", os.path.join(runs, run, "runsc"), "ps", run],
                       capture_output=True, timeout=30)
    lines = p.stdout.decode().splitlines()[1:]
    return [line.split()[-1] for line in lines if line.strip()]


def runsc_execs(spares=False):
    """The host's runsc exec processes of this state dir: those of execs,
    or (spares=True) the supervisor's spares (a sidecar with no command
    yet: its command line ends with --exec-stdio; docs/environments.md
    §Exec)."""
    found = []
    for p in pids_mentioning(STATE):
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                cmd = f.read()
            if b"\0exec\0" in cmd and cmd.endswith(b"\0--exec-stdio\0") == spares:
                found.append(p)
        except OSError:
            pass
    return found


def only_sidecars_inside():
    """Inside, only the environment's PID 1 and the spare's sidecar if the
    host has a spare: no process of an exec."""
    procs = sandbox_processes()
    return procs == ["omnibase-sideca"] * (1 + len(runsc_execs(spares=True)))


class Session:
    """`omnibase ARGS` with a new host pty as its controlling terminal and
    stdin, stdout and stderr."""

    def __init__(self, *args, rows=40, cols=100):
        self.master, self.slave = os.openpty()
        set_size(self.slave, rows, cols)
        self.cooked = termios.tcgetattr(self.slave)
        slave = self.slave

        def ctty():
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([OMNIBASE] + list(args), stdin=slave, stdout=slave,
                                     stderr=slave, env=env(), start_new_session=True,
                                     preexec_fn=ctty)
        self.buf = b""

    def send(self, text):
        os.write(self.master, text.encode())

    def expect(self, pattern):
        """Reads until pattern (a regex) appears; returns the match."""
        deadline = time.time() + DEADLINE_S
        rx = re.compile(pattern.encode())
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("no %r within %d s; got %r" % (pattern, DEADLINE_S,
                                                                    self.buf[-2000:]))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # EIO: the last slave holder is gone
                    data = b""
                if not data:
                    raise AssertionError("end of output before %r; got %r"
                                         % (pattern, self.buf[-2000:]))
                self.buf += data

    def ask(self, tag, command):
        """Runs command in the shell; its output between two markers (the
        terminal's echo of the input never matches: there the marker is
        split by quotes, and the command is not yet its result)."""
        self.send("echo %s''%s-$(%s)-%s''%s\n" % (tag, tag, command, tag, tag))
        return self.expect(r"%s%s-([^\r\n]*)-%s%s\r\n" % (tag, tag, tag, tag)).group(1).decode()

    def wait(self):
        return self.proc.wait(timeout=DEADLINE_S)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class Shell(unittest.TestCase):
    def setUp(self):
        self.sessions = []

    def tearDown(self):
        for s in self.sessions:
            s.close()

    def session(self, *args, **kw):
        s = Session(*args, **kw)
        self.sessions.append(s)
        return s

    def test_01_shell_tty_size_resize_uid_exit_status_and_terminal_restored(self):
        s = self.session("env", "shell", ENV_ID, rows=40, cols=100)
        s.expect(r"\$ ")
        # the host terminal is raw while the session lasts
        self.assertFalse(termios.tcgetattr(s.slave)[3] & termios.ICANON)
        self.assertRegex(s.ask("T", "tty"), r"^/dev/pts/\d+$")
        self.assertEqual(s.ask("S1", "stty size"), "40 100")
        set_size(s.master, 50, 132)
        s.proc.send_signal(signal.SIGWINCH)
        self.assertEqual(s.ask("S2", "stty size"), "50 132")
        self.assertEqual(s.ask("U", "id -u"), "65534")
        self.assertEqual(s.ask("E", "echo $TERM"), "xterm")
        s.send("exit 3\n")
        self.assertEqual(s.wait(), 3)
        self.assertEqual(termios.tcgetattr(s.slave), s.cooked, "the terminal was not restored")
        started = [e for e in audit_lines() if e["type"] == "ExecStarted"
                   and e.get("env_id") == ENV_ID and e.get("tty") == "true"]
        self.assertTrue(started, "no ExecStarted with tty on the audit log")

    def test_02_denial_in_the_shell(self):
        s = self.session("env", "shell", ENV_ID)
        s.expect(r"\$ ")
        self.assertEqual(s.ask("C", "cat /etc/shadow >/dev/null 2>&1; echo $?"), "1")
        s.send("exit 0\n")
        s.expect(r"SandboxViolationError: FILE_READ /etc/shadow")
        self.assertEqual(s.wait(), 126)
        self.assertEqual(termios.tcgetattr(s.slave), s.cooked)
        denied = [e for e in audit_lines() if e["type"] == "CapabilityDenied"
                  and e.get("env_id") == ENV_ID and e.get("target") == "/etc/shadow"]
        self.assertTrue(denied, "no CapabilityDenied with env_id on the audit log")
        self.assertEqual(denied[-1]["owner"], "alice")

    def test_03_sigkill_of_the_cli_ends_the_shell_inside(self):
        s = self.session("env", "shell", ENV_ID)
        s.expect(r"\$ ")
        s.send("sleep 1000\n")
        wait_for("sleep inside the sandbox", lambda: "sleep" in sandbox_processes())
        s.proc.kill()
        s.proc.wait()
        # nothing of the session left: inside, only the environment's PID 1
        # (the sidecar holding it) and the next exec's spare; outside, no
        # runsc exec but the spare's
        wait_for("the session's end inside", only_sidecars_inside)
        wait_for("runsc exec's end", lambda: not runsc_execs())
        # the environment serves on
        _, out, _ = ob("env", "exec", ENV_ID, "--", "/bin/echo", "still here", check=0)
        self.assertEqual(out, "still here\n")

    def test_04_sigterm_restores_the_terminal(self):
        s = self.session("env", "shell", ENV_ID)
        s.expect(r"\$ ")
        self.assertFalse(termios.tcgetattr(s.slave)[3] & termios.ICANON)
        s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.wait(), -signal.SIGTERM)
        self.assertEqual(termios.tcgetattr(s.slave), s.cooked, "SIGTERM left the terminal raw")
        wait_for("the session's end inside", only_sidecars_inside)

    def test_05_exec_t_from_a_non_terminal(self):
        rc, out, err = ob("env", "exec", "-t", ENV_ID, "--", "/bin/sh", "-c",
                          "tty; stty size; exit 7", stdin=b"")
        self.assertEqual(rc, 7, err)
        self.assertRegex(out, r"^/dev/pts/\d+\r\n24 80\r\n$")
        # a script on stdin, typed into the terminal; its end is ^D
        rc, out, err = ob("env", "exec", "-t", ENV_ID, "--", "/bin/sh",
                          stdin=b"echo in-$((6*7))-in\nexit 5\n")
        self.assertEqual(rc, 5, err)
        self.assertIn("in-42-in\r\n", out)
        rc, out, err = ob("env", "exec", "-t", ENV_ID, "--", "/usr/bin/head", "-n", "1",
                          stdin=b"typed\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count("typed\r\n"), 2)  # the echo, and head's copy
        # -t with --json is refused, one line
        rc, _, err = ob("env", "exec", "-t", "--json", ENV_ID, "--", "/bin/true")
        self.assertEqual(rc, 125)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_06_garbage_on_the_framed_input(self):
        """A client speaking the control protocol itself: a data frame, then
        bytes that are no frame. The sidecar takes the first, refuses the
        rest (one line) and takes no more input; cat, waiting for more, ends
        at the exec's timeout (124) and the environment serves on."""
        sp = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctl = socket.socket(socket.AF_UNIX)
        ctl.connect(os.path.join(STATE, "envs", ENV_ID, "control.sock"))
        req = {"op": "exec", "argv": ["/bin/cat"], "cwd": "/workspace", "timeout_ms": 3000,
               "tty": {"rows": 24, "cols": 80, "term": "xterm"}}
        socket.send_fds(ctl, [json.dumps(req).encode() + b"\n"],
                        [sp[0].fileno(), out_w, err_w])
        sp[0].close()
        os.close(out_w)
        os.close(err_w)
        sp[1].sendall(b"d\x00\x06hello\n" + b"Z" * 70000 + b"d\xff\xff")
        sp[1].shutdown(socket.SHUT_WR)
        answer = b""
        ctl.settimeout(DEADLINE_S)
        while not answer.endswith(b"\n"):
            chunk = ctl.recv(65536)
            if not chunk:
                break
            answer += chunk
        ctl.close()
        sp[1].close()
        result = json.loads(answer)
        self.assertTrue(result["ok"], answer)
        self.assertEqual(result["result"]["exit_code"], 124, answer)
        with os.fdopen(out_r, "rb") as f:
            out = f.read()
        with os.fdopen(err_r, "rb") as f:
            err = f.read()
        self.assertEqual(out.count(b"hello\r\n"), 2, out)  # the echo, and cat's copy
        self.assertNotIn(b"Z", out)
        self.assertIn(b"not framed", err)
        # a bad tty request is refused by the supervisor, one error each
        for bad in ({"rows": 0, "cols": 80, "term": "xterm"},
                    {"rows": 24.5, "cols": 80, "term": "xterm"},
                    {"rows": 24, "cols": 10001, "term": "xterm"},
                    {"rows": 24, "cols": 80, "term": "xterm; rm -rf /"},
                    {"rows": 24, "cols": 80}):
            ctl = socket.socket(socket.AF_UNIX)
            ctl.connect(os.path.join(STATE, "envs", ENV_ID, "control.sock"))
            req["tty"] = bad
            fds = [os.open("/dev/null", os.O_RDWR) for _ in range(3)]
            socket.send_fds(ctl, [json.dumps(req).encode() + b"\n"], fds)
            for fd in fds:
                os.close(fd)
            ctl.settimeout(DEADLINE_S)
            answer = json.loads(ctl.recv(65536))
            ctl.close()
            self.assertFalse(answer["ok"], answer)
            self.assertEqual(answer["error"]["code"], "invalid", answer)
        _, out, _ = ob("env", "exec", ENV_ID, "--", "/bin/echo", "still here", check=0)
        self.assertEqual(out, "still here\n")

    def test_07_a_quiet_session_is_activity(self):
        """idle_stop_after 3s: an open shell, typing nothing for three times
        that, keeps the environment up; once it ends, the idle stop comes."""
        idle_cfg = STATE + "-idle.json"
        with open(idle_cfg, "w") as f:
            json.dump({"idle_stop_after": "3s"}, f)
        try:
            _, out, _ = ob("env", "create", "--owner", "ivan", "--template", "python-agent",
                           check=0, config=idle_cfg)
            env_id = out.strip()
            s = self.session("env", "shell", env_id)
            s.expect(r"\$ ")
            t0 = time.time()
            while time.time() - t0 < 9:  # a span to stay up through, not a wait for an event
                self.assertEqual(json.loads(ob("env", "show", env_id, "--json", check=0)[1])
                                 ["state"], "running")
                time.sleep(0.5)
            s.send("exit 0\n")
            self.assertEqual(s.wait(), 0)
            rec = wait_for("the idle stop", lambda: (lambda r: r if r["state"] == "stopped"
                                                     else None)(json.loads(ob(
                                                         "env", "show", env_id, "--json",
                                                         check=0)[1])))
            self.assertEqual(rec["reason"], "idle")
            ob("env", "delete", env_id, check=0)
        finally:
            os.unlink(idle_cfg)

    def test_08_nothing_left(self):
        ob("env", "delete", ENV_ID, check=0)
        self.assertEqual(pids_mentioning(STATE), [])
        self.assertEqual(os.listdir(os.path.join(STATE, "runs")), [])


def main():
    global STATE, ENV_ID
    require_runsc("environments start runsc sandboxes, cgroups and loop devices")
    STATE = tempfile.mkdtemp(prefix="ob-shell-", dir="/var/tmp")
    with open(STATE + "-config.json", "w") as f:
        json.dump({}, f)
    ok = False
    try:
        _, out, _ = ob("env", "create", "--owner", "alice", "--template", "python-agent",
                       check=0)
        ENV_ID = out.strip()
        prog = unittest.main(exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        for e in os.listdir(os.path.join(STATE, "envs")) if os.path.isdir(
                os.path.join(STATE, "envs")) else []:
            ob("env", "delete", e)
        ob("gc")
        shutil.rmtree(STATE, ignore_errors=True)
        os.unlink(STATE + "-config.json")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
