#!/usr/bin/python3
"""The supervisor's spare exec (docs/environments.md §Exec) with real runsc:
a `runsc exec` of a sidecar started before there is a command, which the
next `env exec` takes. Shown here: the exec really goes through it (that
runsc exec serves the command and is gone after, a new spare replaces it)
with the same output, directory, stdin, exit status, variables, secrets
and denials (126, CapabilityDenied with env_id) as a cold exec; no secret
in any host process's argv or environ while a spare waits; a spare killed
on the host is dropped and leaves nothing inside, and execs go on; with
`exec_spare_idle` the spare is dropped after that much idleness (nothing
inside but PID 1), and with 0 there is never one; a command running beside
a waiting spare can neither write into its channel or output nor signal it
(an attack that fails); a caller merging stdout and stderr does not take
it (their order as cold); output to regular files arrives whole; the
output relay, forked with the spare, holds no secret of the exec it serves;
nothing is left after delete. Every wait polls a condition with a deadline."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oblib import OMNIBASE, pids_mentioning, require_runsc, wait_for  # noqa: E402

STATE = None
SECRET = "spare-secret-6f1c0e9a2b"


def ob(*args, stdin=b"", check=None, config="default"):
    env = dict(os.environ, OMNIBASE_STATE_DIR=STATE,
               OMNIBASE_CONFIG=os.path.join(STATE + "-cfg", config + ".json"))
    p = subprocess.run([OMNIBASE] + list(args), input=stdin, capture_output=True, env=env,
                       timeout=180)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check is not None and p.returncode != check:
        raise AssertionError("omnibase %s: exit %d (wanted %d)\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, check, out, err))
    return p.returncode, out, err


def argv_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def children(pid):
    kids = []
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, t)) as f:
            kids += [int(c) for c in f.read().split()]
    return kids


def supervisor(env_id, config="default"):
    _, out, _ = ob("env", "show", env_id, "--json", check=0, config=config)
    return json.loads(out)["supervisor_pid"]


def spares(env_id, config="default"):
    """The supervisor's runsc execs of a sidecar with no command yet."""
    return [c for c in children(supervisor(env_id, config))
            if "exec" in argv_of(c) and argv_of(c)[-1] == "--exec-stdio"]


def inside(env_id, config="default"):
    """The commands running in the environment's sandbox (runsc ps)."""
    for c in children(supervisor(env_id, config)):
        a = argv_of(c)
        if "run" in a and "--root" in a:
            p = subprocess.run(["runsc", "--root", a[a.index("--root") + 1], "ps", a[-1]],
                               capture_output=True, timeout=30)
            return [line.split()[-1] for line in p.stdout.decode().splitlines()[1:]
                    if line.strip()]
    raise AssertionError("no runsc run under the supervisor")


def audit_lines():
    with open(os.path.join(STATE, "audit.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


class Spare(unittest.TestCase):
    def create(self, config="default", *extra):
        _, out, _ = ob("env", "create", "--owner", "alice", "--template", "python-agent",
                       *extra, check=0, config=config)
        return out.strip()

    def test_01_an_exec_goes_through_the_spare_as_a_cold_one_would(self):
        secret_file = os.path.join(STATE + "-cfg", "token")
        with open(secret_file, "w") as f:
            f.write(SECRET)
        env_id = self.create("default", "--secret", "API_TOKEN=@" + secret_file)
        (first,) = wait_for("the first spare", lambda: spares(env_id))
        # nothing secret is on any host process while a spare waits
        for pid in pids_mentioning(STATE) + [supervisor(env_id)]:
            for what in ("cmdline", "environ"):
                try:
                    with open("/proc/%d/%s" % (pid, what), "rb") as f:
                        self.assertNotIn(SECRET.encode(), f.read(), (pid, what))
                except OSError:
                    pass
        rc, out, err = ob("env", "exec", env_id, "--cwd", "/tmp", "--", "/bin/sh", "-c",
                          "pwd; echo id=$OMNIBASE_ENV_ID; echo tok=$API_TOKEN; cat; "
                          "echo oops >&2; exit 3", stdin=b"in put\n")
        self.assertEqual(rc, 3, err)
        self.assertEqual(out, "/tmp\nid=%s\ntok=%s\nin put\n" % (env_id, SECRET))
        self.assertEqual(err, "oops\n")
        # that runsc exec served the command and ended; a new spare is there
        self.assertEqual(argv_of(first), [])
        (second,) = wait_for("the next spare", lambda: spares(env_id))
        self.assertNotEqual(second, first)
        # a denial through the spare: 126, one line, on the audit log
        rc, out, err = ob("env", "exec", env_id, "--json", "--", "/bin/cat", "/etc/shadow")
        self.assertEqual(rc, 126, err)
        self.assertEqual(argv_of(second), [])
        res = json.loads(out)
        self.assertEqual(res["status"], "violation")
        self.assertEqual(res["violations"][0]["target"], "/etc/shadow")
        self.assertTrue([e for e in audit_lines() if e["type"] == "CapabilityDenied"
                         and e.get("env_id") == env_id and e.get("target") == "/etc/shadow"])
        # a missing directory is one error, as cold
        rc, _, err = ob("env", "exec", env_id, "--cwd", "/no/such/dir", "--", "/bin/true")
        self.assertEqual(rc, 125)
        self.assertIn("/no/such/dir", err)
        ob("env", "delete", env_id, check=0)
        self.assertEqual(pids_mentioning(env_id), [])

    def test_02_a_spare_killed_on_the_host_is_dropped(self):
        env_id = self.create()
        (spare,) = wait_for("the spare", lambda: spares(env_id))
        os.kill(spare, signal.SIGKILL)
        # its sidecar inside ends with it (the supervisor closes its channel):
        # inside, PID 1 and at most a new spare's sidecar, never the old one's
        wait_for("the old spare's end", lambda: spare not in spares(env_id))
        wait_for("only PID 1 inside",
                 lambda: inside(env_id) == ["omnibase-sideca"] * (1 + len(spares(env_id))))
        rc, out, err = ob("env", "exec", env_id, "--", "/bin/echo", "still here")
        self.assertEqual((rc, out), (0, "still here\n"), err)
        wait_for("a new spare", lambda: spares(env_id))
        ob("env", "delete", env_id, check=0)

    def test_03_an_idle_spare_is_dropped(self):
        env_id = self.create("idle2s")
        rc, out, err = ob("env", "exec", env_id, "--", "/bin/echo", "one", config="idle2s")
        self.assertEqual((rc, out), (0, "one\n"), err)
        wait_for("the spare's drop", lambda: not spares(env_id, "idle2s"))
        wait_for("only PID 1 inside", lambda: inside(env_id, "idle2s") == ["omnibase-sideca"])
        rc, out, err = ob("env", "exec", env_id, "--", "/bin/echo", "two", config="idle2s")
        self.assertEqual((rc, out), (0, "two\n"), err)
        wait_for("a spare again", lambda: spares(env_id, "idle2s"))
        ob("env", "delete", env_id, check=0, config="idle2s")

    def test_04_no_spare_when_they_are_off(self):
        env_id = self.create("off")
        for word in ("one", "two"):
            rc, out, err = ob("env", "exec", env_id, "--", "/bin/echo", word, config="off")
            self.assertEqual((rc, out), (0, word + "\n"), err)
            self.assertEqual(spares(env_id, "off"), [])
        self.assertEqual(inside(env_id, "off"), ["omnibase-sideca"])
        ob("env", "delete", env_id, check=0, config="off")

    def test_05_a_workload_cannot_reach_a_waiting_spare(self):
        """A command running beside a waiting spare (an exec that did not
        take it: its caller merges stdout and stderr) sees the spare's
        sidecar in /proc; it can neither write to the spare's channel or
        output (its fds through /proc), nor signal it; the next exec
        through that spare is unharmed."""
        env_id = self.create()
        probe = os.path.join(STATE, "envs", env_id, "workspace", "probe.py")
        with open(probe, "w") as f:
            f.write(PROBE)
        os.chown(probe, 65534, 65534)
        env = dict(os.environ, OMNIBASE_STATE_DIR=STATE,
                   OMNIBASE_CONFIG=os.path.join(STATE + "-cfg", "default.json"))
        (spare,) = wait_for("the spare", lambda: spares(env_id))
        # (not --json: the CLI would capture stdout and stderr apart)
        a = subprocess.run([OMNIBASE, "env", "exec", env_id, "--", "/usr/bin/python3",
                            "/workspace/probe.py"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=120)
        with open(probe + ".out") as f:
            found = json.load(f)
        self.assertEqual(spares(env_id), [spare])  # the probe's exec did not take it
        self.assertTrue(found["spares"], "the probe saw no spare: %s" % found)
        self.assertEqual(found["opened"], [], found)
        self.assertEqual(found["killed"], [], found)
        # the attempts are denials of the probe's own exec (126)
        self.assertEqual(a.returncode, 126, a.stdout)
        self.assertIn(b"SandboxViolationError: FILE_WRITE /proc/%d/fd/" % found["spares"][0],
                      a.stdout)
        rc, out, err = ob("env", "exec", env_id, "--", "/bin/echo", "unharmed")
        self.assertEqual((rc, out, err), (0, "unharmed\n", ""))
        ob("env", "delete", env_id, check=0)

    def test_06_merged_output_goes_cold(self):
        """A caller that merges stdout and stderr (2>&1) keeps their order:
        that exec does not take the spare. A relative directory is refused
        before anything runs, the spare kept."""
        env_id = self.create()
        (spare,) = wait_for("the spare", lambda: spares(env_id))
        env = dict(os.environ, OMNIBASE_STATE_DIR=STATE,
                   OMNIBASE_CONFIG=os.path.join(STATE + "-cfg", "default.json"))
        p = subprocess.run([OMNIBASE, "env", "exec", env_id, "--", "/bin/sh", "-c",
                            "echo a; echo b >&2; echo c; echo d >&2"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual((p.returncode, p.stdout), (0, b"a\nb\nc\nd\n"))
        self.assertEqual(spares(env_id), [spare])  # not taken
        rc, _, err = ob("env", "exec", env_id, "--cwd", "rel", "--", "/bin/true")
        self.assertEqual(rc, 125)
        self.assertIn("must be absolute", err)
        self.assertEqual(spares(env_id), [spare])
        # separate pipes: the spare serves it
        rc, out, err = ob("env", "exec", env_id, "--", "/bin/echo", "served")
        self.assertEqual((rc, out), (0, "served\n"), err)
        self.assertEqual(argv_of(spare), [])
        ob("env", "delete", env_id, check=0)

    def test_07_output_to_files(self):
        """Output redirected to regular files arrives whole, cold (one file
        for both streams) and through the spare (a file each): nothing of
        the command's is overwritten by the other stream or by the CLI's
        own last line."""
        env_id = self.create()
        wait_for("the spare", lambda: spares(env_id))
        env = dict(os.environ, OMNIBASE_STATE_DIR=STATE,
                   OMNIBASE_CONFIG=os.path.join(STATE + "-cfg", "default.json"))
        cmd = [OMNIBASE, "env", "exec", env_id, "--", "/bin/sh", "-c",
               "echo one; echo two >&2; echo three; cat /etc/shadow"]
        both = os.path.join(STATE + "-cfg", "both.txt")
        with open(both, "w") as f:
            p = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 126)
        with open(both) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[:3], ["one", "two", "three"], lines)
        self.assertIn("/etc/shadow", lines[3])
        self.assertTrue(lines[4].startswith("SandboxViolationError: FILE_READ /etc/shadow"), lines)
        out, err = (os.path.join(STATE + "-cfg", n) for n in ("out.txt", "err.txt"))
        (spare,) = wait_for("the spare", lambda: spares(env_id))
        with open(out, "w") as fo, open(err, "w") as fe:
            p = subprocess.run(cmd, env=env, stdout=fo, stderr=fe, timeout=120)
        self.assertEqual(p.returncode, 126)
        self.assertEqual(argv_of(spare), [])  # it went through the spare
        with open(out) as f:
            self.assertEqual(f.read(), "one\nthree\n")
        with open(err) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "two")
        self.assertIn("/etc/shadow", lines[1])
        self.assertTrue(lines[2].startswith("SandboxViolationError: FILE_READ /etc/shadow"), lines)
        ob("env", "delete", env_id, check=0)

    def test_08_no_secret_in_the_output_relay(self):
        """The spare's output relay (a fork of the supervisor) is made with
        the spare, before any request: while an exec with a secret runs
        through it, the secret is nowhere in the relay's memory (read as
        root through /proc/PID/mem; under ASan, whose heap lies in
        reservations too large to read, only the smaller mappings are read:
        the release build's run is the one that shows it)."""
        secret_file = os.path.join(STATE + "-cfg", "token8")
        with open(secret_file, "w") as f:
            f.write(SECRET + "-relay")
        env_id = self.create("default", "--secret", "API_TOKEN=@" + secret_file)
        (spare,) = wait_for("the spare", lambda: spares(env_id))
        sup = supervisor(env_id)
        relays = [c for c in children(sup) if argv_of(c) == argv_of(sup)]
        self.assertEqual(len(relays), 1, relays)  # made with the spare, waiting
        env = dict(os.environ, OMNIBASE_STATE_DIR=STATE,
                   OMNIBASE_CONFIG=os.path.join(STATE + "-cfg", "default.json"))
        p = subprocess.Popen([OMNIBASE, "env", "exec", env_id, "--", "/bin/sh", "-c",
                              'test -n "$API_TOKEN" && echo go; sleep 60'], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"go\n")
            self.assertEqual(argv_of(spare)[:2], ["runsc", "--root"])  # serving it
            self.assertNotIn(SECRET.encode() + b"-relay", memory_of(relays[0]))
            # the check can see: the supervisor itself holds the name now (not
            # under ASan, whose heap is inside reservations too large to read)
            if not sanitized(sup):
                self.assertIn(b"API_TOKEN", memory_of(sup))
        finally:
            p.terminate()  # the caller leaves: the exec is killed
            p.communicate(timeout=60)
        ob("env", "delete", env_id, check=0)


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def memory_of(pid):
    """Every readable mapping of a process up to 256 MiB (ASan's shadow and
    allocator reservations are terabytes), as root."""
    data = []
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb") as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("r") or "[vvar]" in line or "[vsyscall]" in line:
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if hi - lo > 256 << 20:
                continue
            try:
                mem.seek(lo)
                data.append(mem.read(hi - lo))
            except OSError:
                pass
    return b"".join(data)


PROBE = r"""
import json, os, signal, time
spares, opened, killed, mine = [], [], [], set()
pid = os.getpid()
while pid > 1:  # this exec's own sidecar was a spare too: not a waiting one
    mine.add(pid)
    pid = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
deadline = time.time() + 60
while not spares and time.time() < deadline:
    for p in os.listdir("/proc"):
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
        except (OSError, ValueError):
            continue
        if (b"omnibase-sidecar" in cmd[0] and cmd[-2:] == [b"--exec-stdio", b""]
                and int(p) not in mine):
            spares.append(int(p))
    time.sleep(0.05)
for pid in spares:
    for fd in range(10):
        try:
            f = os.open("/proc/%d/fd/%d" % (pid, fd), os.O_WRONLY)
        except OSError:
            continue
        target = os.readlink("/proc/self/fd/%d" % f)
        os.close(f)
        if target != "/dev/null":  # its fd 0: nothing of the spare's
            opened.append("%d/%d %s" % (pid, fd, target))
    try:
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    except OSError:
        pass
with open("/workspace/probe.py.out", "w") as f:
    json.dump({"spares": spares, "opened": opened, "killed": killed}, f)
"""


def main():
    global STATE
    require_runsc("environments start runsc sandboxes, cgroups and loop devices")
    STATE = tempfile.mkdtemp(prefix="ob-spare-", dir="/var/tmp")
    os.mkdir(STATE + "-cfg", 0o700)
    for name, cfg in (("default", {}), ("idle2s", {"exec_spare_idle": "2s"}),
                      ("off", {"exec_spare_idle": 0})):
        with open(os.path.join(STATE + "-cfg", name + ".json"), "w") as f:
            json.dump(dict(cfg, max_environments_per_owner=10), f)
    ok = False
    try:
        prog = unittest.main(exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        envs = os.path.join(STATE, "envs")
        for e in os.listdir(envs) if os.path.isdir(envs) else []:
            ob("env", "delete", e)
        ob("gc")
        left = pids_mentioning(STATE)
        if left:
            print("left behind: %s" % left, file=sys.stderr)
            ok = False
        shutil.rmtree(STATE, ignore_errors=True)
        shutil.rmtree(STATE + "-cfg", ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
