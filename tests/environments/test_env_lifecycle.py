#!/usr/bin/python3
"""Environments end to end with real runsc (issue 10): seed 000's create
command as written, exec output, stdin and exit codes, a denial in a child
(126 and an audit event with env_id and owner), --json results, secrets
(present inside, absent from every host file, argv and environ, gone after
delete), flags, quota (typed error), TTL expiry, extend with and without
approval, stop/start keeping the workspace, supervisor SIGKILL + gc, bad
input leaving nothing, 20 create/exec/delete cycles leaving nothing, and the
audit chain verifying at the end."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oblib import OMNIBASE, pids_mentioning, require_runsc  # noqa: E402

STATE = None
SECRET = "tok-7Hq2-ZxLp-9wVb-unique-needle"


def ob(*args, stdin=None, check=None, env_extra=None, timeout=180):
    env = dict(os.environ, OMNIBASE_STATE_DIR=STATE, OMNIBASE_CONFIG=STATE + "-config.json")
    env.update(env_extra or {})
    p = subprocess.run([OMNIBASE] + list(args), input=stdin, capture_output=True,
                       env=env, timeout=timeout)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check is not None and p.returncode != check:
        raise AssertionError("omnibase %s: exit %d (wanted %d)\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, check, out, err))
    return p.returncode, out, err


def create(*extra, owner="alice", template="python-agent"):
    _, out, _ = ob("env", "create", "--owner", owner, "--template", template,
                   *extra, check=0)
    return out.strip()


def show(env_id):
    _, out, _ = ob("env", "show", env_id, "--json", check=0)
    return json.loads(out)


def audit_lines():
    with open(os.path.join(STATE, "audit.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if path in line]


def loops_under(path):
    found = []
    for b in glob.glob("/sys/block/loop*/loop/backing_file"):
        with open(b) as f:
            if path in f.read():
                found.append(b)
    return found


def leftovers():
    """What a gone environment may not leave: runs, mounts, loop devices,
    runsc processes, cgroups."""
    runs = os.listdir(os.path.join(STATE, "runs")) if os.path.isdir(
        os.path.join(STATE, "runs")) else []
    cgroups = [d for d in glob.glob("/sys/fs/cgroup/memory/omnibase/*")
               if os.path.isdir(d) and os.path.basename(d) in runs]
    return {"runs": runs, "mounts": mounts_under(STATE), "loops": loops_under(STATE),
            "procs": pids_mentioning(STATE), "cgroups": cgroups}


def nothing_left():
    left = leftovers()
    return not any(left.values()), left


class Environments(unittest.TestCase):
    def assertNothingLeft(self):
        ok, left = nothing_left()
        self.assertTrue(ok, "left behind: %r" % left)

    def test_01_seed000_command_as_written(self):
        rc, out, err = ob("env", "create", "--owner", "alice", "--template", "feature-default",
                          "--ttl", "72h", "--seed", "synthetic:v1", "--feature-flags",
                          "onboarding,async-billing")
        self.assertEqual(rc, 0, err)
        env_id = out.strip()
        self.assertRegex(env_id, r"^env-[0-9a-f]{12}$")
        rec = show(env_id)
        self.assertEqual(rec["state"], "running")
        self.assertEqual(rec["owner"], "alice")
        self.assertEqual(rec["template"], "feature-default")
        self.assertEqual(sorted(rec["feature_flags"]), ["async-billing", "onboarding"])
        rc, out, err = ob("env", "exec", env_id, "--", "/bin/sh", "-c",
                          "python3 -c 'import os; print(os.listdir(\"/workspace/seed\"))'; "
                          "echo flags=$OMNIBASE_FEATURE_FLAGS; "
                          "cat /omnibase/flags.json")
        self.assertEqual(rc, 0, err)
        self.assertIn("users.csv", out)
        self.assertIn("flags=async-billing,onboarding", out)
        self.assertEqual(json.loads(out[out.index("{"):])["flags"],
                         {"async-billing": True, "onboarding": True})
        ob("env", "delete", env_id, check=0)
        self.assertEqual(show(env_id)["state"], "deleted")
        self.assertNothingLeft()

    def test_02_exec_output_stdin_exit_codes_and_denial(self):
        env_id = create("--name", "exec-test")
        rc, out, _ = ob("env", "exec", "exec-test", "--", "/bin/sh", "-c",
                        "read x; echo got $x; echo to-err >&2; exit 7", stdin=b"hello\n")
        self.assertEqual(rc, 7)
        self.assertEqual(out, "got hello\n")
        # the workspace persists between execs and is the working directory
        ob("env", "exec", env_id, "--", "/bin/sh", "-c", "echo kept > note.txt", check=0)
        _, out, _ = ob("env", "exec", env_id, "--", "/bin/cat", "/workspace/note.txt", check=0)
        self.assertEqual(out, "kept\n")
        # a denial in a child process: 126, one line, and the audit event
        rc, out, err = ob("env", "exec", env_id, "--", "/bin/sh", "-c",
                          "(cat /etc/shadow); echo after")
        self.assertEqual(rc, 126, err)
        self.assertIn("after", out)
        self.assertIn("SandboxViolationError: FILE_READ /etc/shadow", err)
        denied = [e for e in audit_lines() if e["type"] == "CapabilityDenied"
                  and e.get("env_id") == env_id]
        self.assertTrue(denied, "no CapabilityDenied with env_id on the audit log")
        self.assertEqual(denied[-1]["owner"], "alice")
        self.assertEqual(denied[-1]["target"], "/etc/shadow")
        # --json: the result object with env_id and the output
        rc, out, _ = ob("env", "exec", env_id, "--json", "--", "/bin/echo", "hi")
        self.assertEqual(rc, 0)
        res = json.loads(out)
        self.assertEqual(res["env_id"], env_id)
        self.assertEqual(res["stdout"], "hi\n")
        self.assertEqual(res["status"], "ok")
        # the command's own options stay the command's, with or without --
        _, out, _ = ob("env", "exec", env_id, "/bin/echo", "--timeout", "5", check=0)
        self.assertEqual(out, "--timeout 5\n")
        _, out, _ = ob("env", "exec", env_id, "--json", "--", "/bin/echo", "--json")
        self.assertEqual(json.loads(out)["stdout"], "--json\n")
        # the caller gone (Ctrl-C): the supervisor kills the command
        caller = subprocess.Popen(
            [OMNIBASE, "env", "exec", env_id, "--", "/bin/sleep", "600"],
            env=dict(os.environ, OMNIBASE_STATE_DIR=STATE,
                     OMNIBASE_CONFIG=STATE + "-config.json"), stdin=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and not [
                e for e in audit_lines() if e["type"] == "ExecStarted"
                and e.get("command") == "/bin/sleep" and e.get("env_id") == env_id]:
            time.sleep(0.1)
        caller.send_signal(signal.SIGINT)
        caller.wait(timeout=30)
        deadline = time.time() + 60
        exited = []
        while time.time() < deadline and not exited:
            started = [e["exec_id"] for e in audit_lines() if e["type"] == "ExecStarted"
                       and e.get("command") == "/bin/sleep"]
            exited = [e for e in audit_lines() if e["type"] == "ExecExited"
                      and e.get("exec_id") in started and e.get("env_id") == env_id]
            time.sleep(0.1)
        self.assertTrue(exited, "the exec outlived its caller")
        # not a timeout: the caller hung up (error, "interrupted by HUP", 129)
        self.assertEqual((exited[0]["status"], exited[0]["exit_code"]), ("error", "129"),
                         exited[0])
        # a client trickling a request one byte a second is dropped (5 s for
        # the whole request, not per byte); the supervisor serves the next
        slow = socket.socket(socket.AF_UNIX)
        slow.connect(os.path.join(STATE, "envs", env_id, "control.sock"))
        dropped = False
        for _ in range(20):  # the attack's pace, 20 s at most
            try:
                slow.sendall(b" ")
            except OSError:
                dropped = True
                break
            time.sleep(1)
        slow.close()
        self.assertTrue(dropped, "a trickling client held the supervisor for 20 s")
        _, out, _ = ob("env", "exec", env_id, "--", "/bin/echo", "after the slow one", check=0)
        self.assertEqual(out, "after the slow one\n")
        # a timeout is 124 and the environment serves on
        rc, _, _ = ob("env", "exec", env_id, "--timeout", "1", "--", "/bin/sleep", "30")
        self.assertEqual(rc, 124)
        ob("env", "exec", env_id, "--", "/bin/true", check=0)
        kinds = [e["type"] for e in audit_lines() if e.get("env_id") == env_id]
        self.assertIn("ExecStarted", kinds)
        self.assertIn("ExecExited", kinds)
        # env logs: the environment's events, in order, and only its own
        _, out, _ = ob("env", "logs", env_id, check=0)
        logged = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([e["type"] for e in logged], kinds)
        self.assertEqual({e["sandbox_id"] for e in logged}, {env_id})
        ob("env", "delete", env_id, check=0)
        self.assertNothingLeft()

    def test_02a_own_shm_loopback_pty_in_execs(self):
        """An environment's execs have the sandbox's own /dev/shm (a
        multiprocessing pool), loopback and ptys, like a run (issue 15
        items 5-7): exit 0, no denial."""
        env_id = create("--name", "own-test")
        code = ("import multiprocessing as mp, os, socket, stat\n"
                "print(oct(stat.S_IMODE(os.stat('/dev/shm').st_mode)))\n"
                "pool = mp.get_context('fork').Pool(2)\n"
                "print(pool.map(abs, [-1, -2]))\n"
                "pool.close(); pool.join()\n"
                "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)\n"
                "c = socket.create_connection(srv.getsockname()); a, _ = srv.accept()\n"
                "c.sendall(b'lo'); print(a.recv(2).decode())\n"
                "m, s = os.openpty(); os.write(m, b'pty\\n'); print(os.read(s, 8).decode().strip())\n")
        rc, out, err = ob("env", "exec", env_id, "--", "/usr/bin/python3", "-c", code)
        self.assertEqual((rc, out.split()), (0, ["0o1777", "[1,", "2]", "lo", "pty"]), err)
        ob("env", "delete", env_id, check=0)
        self.assertNothingLeft()

    def test_03_secrets_never_on_the_host(self):
        with tempfile.NamedTemporaryFile("w", dir="/var/tmp", delete=False) as f:
            f.write(SECRET)
            secret_file = f.name
        try:
            env_id = create("--secret", "API_TOKEN=@" + secret_file)
        finally:
            os.unlink(secret_file)
        rec = show(env_id)
        self.assertEqual(rec["secrets"], ["API_TOKEN"])
        _, out, _ = ob("env", "exec", env_id, "--", "/bin/sh", "-c", "echo $API_TOKEN",
                       check=0)
        self.assertEqual(out.strip(), SECRET)
        # an exec is running while we look: hold one open
        holder = subprocess.Popen(
            [OMNIBASE, "env", "exec", env_id, "--", "/bin/sleep", "5"],
            env=dict(os.environ, OMNIBASE_STATE_DIR=STATE,
                     OMNIBASE_CONFIG=STATE + "-config.json"))
        time.sleep(1.5)  # let it reach the sandbox; what we check is the host's state
        try:
            self.assertEqual(self.host_hits(), [])
        finally:
            holder.wait(timeout=30)
        ob("env", "delete", env_id, check=0)
        self.assertEqual(self.host_hits(), [])
        kinds = [e["type"] for e in audit_lines() if e.get("env_id") == env_id]
        self.assertIn("SecretRevoked", kinds)
        injected = [e for e in audit_lines() if e["type"] == "SecretInjected"
                    and e.get("env_id") == env_id]
        self.assertTrue(injected)
        self.assertEqual(injected[0]["name"], "API_TOKEN")
        self.assertRegex(injected[0]["fingerprint"], r"^[0-9a-f]{12}$")
        self.assertNothingLeft()

    def host_hits(self):
        needle = SECRET.encode()
        hits = []
        for root, _, files in os.walk(STATE):
            for name in files:
                p = os.path.join(root, name)
                try:
                    with open(p, "rb") as f:
                        if needle in f.read():
                            hits.append(p)
                except OSError:
                    pass
        for p in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ"):
            try:
                with open(p, "rb") as f:
                    if needle in f.read():
                        hits.append(p)
            except OSError:
                pass
        return hits

    def test_04_quota_is_a_typed_error(self):
        a = create(owner="bob")
        b = create(owner="bob")
        rc, out, err = ob("env", "create", "--owner", "bob", "--template", "python-agent",
                          "--json")
        self.assertEqual(rc, 125)
        self.assertEqual(json.loads(out)["error"]["code"], "quota_exceeded")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("QuotaRefused", [e["type"] for e in audit_lines()])
        for e in (a, b):
            ob("env", "delete", e, check=0)
        self.assertNothingLeft()

    def test_05_ttl_expiry(self):
        env_id = create("--ttl", "5s")
        deadline = time.time() + 90
        while time.time() < deadline and show(env_id)["state"] != "expired":
            time.sleep(0.5)
        self.assertEqual(show(env_id)["state"], "expired")
        kinds = [e["type"] for e in audit_lines() if e.get("env_id") == env_id]
        self.assertIn("EnvironmentExpired", kinds)
        deadline = time.time() + 30  # the supervisor exits after its teardown
        while time.time() < deadline and not nothing_left()[0]:
            time.sleep(0.2)
        self.assertNothingLeft()

    def test_06_extend_needs_approval_past_seven_days(self):
        env_id = create("--ttl", "6d", template="feature-default")
        rc, out, err = ob("env", "extend", env_id, "--ttl", "3d", "--json")
        self.assertEqual(rc, 125)
        self.assertEqual(json.loads(out)["error"]["code"], "ttl_needs_approval")
        before = show(env_id)["expires_at"]
        rc, out, err = ob("env", "extend", env_id, "--ttl", "3d", "--approved-by", "carol",
                          "--json")
        self.assertEqual(rc, 0, err)
        rec = json.loads(out)
        self.assertEqual(rec["approved_by"], "carol")
        self.assertGreater(rec["expires_at"], before)
        ob("env", "delete", env_id, check=0)

    def test_07_stop_and_start_keep_the_workspace(self):
        env_id = create()
        ob("env", "exec", env_id, "--", "/bin/sh", "-c", "echo persisted > /workspace/f",
           check=0)
        ob("env", "stop", env_id, check=0)
        self.assertEqual(show(env_id)["state"], "stopped")
        self.assertEqual(leftovers()["runs"], [])
        rc, _, err = ob("env", "exec", env_id, "--", "/bin/true")
        self.assertEqual(rc, 125)
        ob("env", "start", env_id, check=0)
        _, out, _ = ob("env", "exec", env_id, "--", "/bin/cat", "/workspace/f", check=0)
        self.assertEqual(out, "persisted\n")
        ob("env", "delete", env_id, check=0)
        self.assertNothingLeft()

    def test_08_supervisor_killed_then_gc(self):
        env_id = create()
        pid = show(env_id)["supervisor_pid"]
        self.assertGreater(pid, 0)
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline and os.path.exists("/proc/%d" % pid):
            time.sleep(0.1)
        ob("gc", check=0)
        rec = show(env_id)
        self.assertEqual(rec["state"], "failed")
        self.assertNothingLeft()
        ob("env", "delete", env_id, check=0)
        self.assertFalse(os.path.exists(os.path.join(STATE, "envs", env_id)))

    def test_09_bad_input_leaves_nothing(self):
        with open(STATE + "-secret", "w") as f:
            f.write("x")
        cases = [
            (["--owner", "alice", "--template", "no-such-template"], "template_not_found"),
            (["--owner", "alice", "--template", "python-agent", "--ttl", "5x"], "invalid"),
            (["--owner", "al ice", "--template", "python-agent"], "invalid"),
            (["--owner", "alice", "--template", "python-agent", "--secret",
              "TOKEN=@/var/tmp/does-not-exist-ob"], "invalid"),
            (["--owner", "alice", "--template", "feature-default", "--feature-flags",
              "not-a-flag"], "invalid"),
            (["--owner", "alice", "--template", "feature-default", "--ttl", "10d"],
             "ttl_needs_approval"),
            (["--owner", "alice", "--template", "python-agent", "--ttl", "30d"], "invalid"),
        ]
        with open(STATE + "-nul", "wb") as f:
            f.write(b"abc\0def")
        cases.append((["--owner", "alice", "--template", "python-agent", "--secret",
                       "BIN=@" + STATE + "-nul"], "invalid"))
        before = sorted(os.listdir(os.path.join(STATE, "envs"))) if os.path.isdir(
            os.path.join(STATE, "envs")) else []
        for args, code in cases:
            rc, out, err = ob("env", "create", *args, "--json")
            self.assertEqual(rc, 125, args)
            self.assertEqual(json.loads(out)["error"]["code"], code, (args, out))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        rc, out, err = ob("env", "show", "env-000000000000", "--json")
        self.assertEqual((rc, json.loads(out)["error"]["code"]), (125, "not_found"))
        a = create("--name", "dup")
        rc, out, err = ob("env", "create", "--owner", "alice", "--template", "python-agent",
                          "--name", "dup", "--json")
        self.assertEqual(rc, 125)
        self.assertEqual(json.loads(out)["error"]["code"], "invalid")
        ob("env", "delete", a, check=0)
        after = sorted(os.listdir(os.path.join(STATE, "envs")))
        self.assertEqual(after, before)
        self.assertNothingLeft()

    def test_10_twenty_cycles_leave_nothing(self):
        for i in range(20):
            env_id = create()
            _, out, _ = ob("env", "exec", env_id, "--", "/bin/echo", str(i), check=0)
            self.assertEqual(out, "%d\n" % i)
            ob("env", "delete", env_id, check=0)
        self.assertNothingLeft()
        self.assertEqual(os.listdir(os.path.join(STATE, "envs")), [])

    def test_10a_snapshot_restore_reset(self):
        env_id = create("--seed", "synthetic:v1", "--feature-flags", "onboarding",
                        template="feature-default", owner="dave")
        ob("env", "exec", env_id, "--", "/bin/sh", "-c", "echo work > /workspace/work.txt",
           check=0)
        _, out, _ = ob("env", "snapshot", env_id, "--json", check=0)
        snap = json.loads(out)
        rc, out, err = ob("env", "restore", snap["path"], "--owner", "erin", "--json")
        self.assertEqual(rc, 0, err)
        copy = json.loads(out)
        self.assertEqual((copy["owner"], copy["template"], copy["feature_flags"]),
                         ("erin", "feature-default", ["onboarding"]))
        _, out, _ = ob("env", "exec", copy["id"], "--", "/bin/cat", "/workspace/work.txt",
                       check=0)
        self.assertEqual(out, "work\n")
        _, out, _ = ob("env", "snapshot", copy["id"], "--json", check=0)
        self.assertEqual(json.loads(out)["tree_hash"], snap["tree_hash"])
        # an edited archive is refused by its manifest, and leaves nothing
        with open(snap["path"], "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0x40
        bad = snap["path"] + ".bad"
        with open(bad, "wb") as f:
            f.write(bytes(data))
        before = sorted(os.listdir(os.path.join(STATE, "envs")))
        rc, out, err = ob("env", "restore", bad, "--owner", "frank", "--json")
        self.assertEqual(rc, 125)
        self.assertEqual(json.loads(out)["error"]["code"], "snapshot_corrupt", out)
        self.assertEqual(sorted(os.listdir(os.path.join(STATE, "envs"))), before)
        # reset: the post-seed workspace, flags back to the template's
        ob("env", "flags", env_id, "--set", "dark-mode=on", check=0)
        ob("env", "reset", env_id, check=0)
        rec = show(env_id)
        self.assertEqual((rec["state"], rec["feature_flags"]), ("running", []))
        rc, out, _ = ob("env", "exec", env_id, "--", "/usr/bin/python3", "-c",
                        "import os; print(os.path.exists('/workspace/work.txt'), "
                        "len(os.listdir('/workspace/seed')) > 0)")
        self.assertEqual((rc, out), (0, "False True\n"))
        kinds = [e["type"] for e in audit_lines() if e.get("env_id") == env_id]
        for k in ("SnapshotTaken", "EnvironmentReset", "FlagsChanged"):
            self.assertIn(k, kinds)
        for e in (env_id, copy["id"]):
            ob("env", "delete", e, check=0)
        self.assertNothingLeft()

    def test_10b_seed_is_byte_identical(self):
        a = create("--seed", "synthetic:v1", template="feature-default", owner="gina")
        b = create("--seed", "synthetic:v1", template="feature-default", owner="hank")
        sums = []
        for e in (a, b):
            _, out, _ = ob("env", "exec", e, "--", "/usr/bin/python3", "-c",
                           "import hashlib, os\n"
                           "for root, _, files in sorted(os.walk('/workspace/seed')):\n"
                           "    for f in sorted(files):\n"
                           "        p = os.path.join(root, f); st = os.stat(p)\n"
                           "        print(p, oct(st.st_mode), st.st_mtime,"
                           " hashlib.sha256(open(p, 'rb').read()).hexdigest())", check=0)
            sums.append(out)
        self.assertIn("users.csv", sums[0])
        self.assertEqual(sums[0], sums[1])
        for e in (a, b):
            ob("env", "delete", e, check=0)

    def test_10c_idle_stop_then_start(self):
        idle_cfg = STATE + "-idle.json"
        with open(idle_cfg, "w") as f:
            json.dump({"idle_stop_after": "3s"}, f)
        try:
            _, out, _ = ob("env", "create", "--owner", "ivan", "--template", "python-agent",
                           check=0, env_extra={"OMNIBASE_CONFIG": idle_cfg})
            env_id = out.strip()
            ob("env", "exec", env_id, "--", "/bin/sh", "-c", "echo idle > /workspace/f",
               check=0)
            deadline = time.time() + 60
            while time.time() < deadline and show(env_id)["state"] != "stopped":
                time.sleep(0.5)
            rec = show(env_id)
            self.assertEqual((rec["state"], rec["reason"]), ("stopped", "idle"))
            ob("env", "start", env_id, check=0)
            _, out, _ = ob("env", "exec", env_id, "--", "/bin/cat", "/workspace/f", check=0)
            self.assertEqual(out, "idle\n")
            ob("env", "delete", env_id, check=0)
        finally:
            os.unlink(idle_cfg)
        self.assertNothingLeft()

    def test_11_audit_chain_verifies(self):
        ob("events", "verify", os.path.join(STATE, "audit.jsonl"), check=0)


def main():
    global STATE
    require_runsc("environments start runsc sandboxes, cgroups and loop devices")
    STATE = tempfile.mkdtemp(prefix="ob-env-", dir="/var/tmp")
    with open(STATE + "-config.json", "w") as f:
        json.dump({"max_environments_per_owner": 2}, f)
    try:
        prog = unittest.main(exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        ob("env", "sweep")
        for env in glob.glob(os.path.join(STATE, "envs", "*")):
            ob("env", "delete", os.path.basename(env))
        ob("gc")
        shutil.rmtree(STATE, ignore_errors=True)
        os.unlink(STATE + "-config.json")
        for extra in ("-secret", "-nul"):
            if os.path.exists(STATE + extra):
                os.unlink(STATE + extra)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
