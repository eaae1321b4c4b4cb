#!/usr/bin/python3
"""Memory snapshots (`env snapshot --memory`, docs/environments.md §Memory
snapshots) with real runsc: the environment is saved by `runsc checkpoint`
while idle, the archive gets the workspace and the image
(memory/checkpoint.img, its SHA-256 and size in the header), and the
environment goes on with its memory (its tmpfs /tmp and /dev/shm, its
kernel's clock); `env restore` boots a new environment from the image
(`runsc restore`): the same /tmp, /dev/shm and workspace, the clock going
on from the original's, execs and denials as in any environment. Refused
with one line, nothing written and the environment unharmed: an
environment with a secret (a process's memory or /tmp could hold it), one
with a network grant (gVisor cannot save a sandbox on the host network),
one with an exec running (gVisor cannot restore an open exec), a stopped
one. A memory image edited inside a well-formed archive is refused by its
hash, and leaves no environment, directory or image behind. Every wait
polls a condition with a deadline."""
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "network"))
from oblib import OMNIBASE, pids_mentioning, require_runsc, wait_for  # noqa: E402
import netlib  # noqa: E402
STATE = None
CFG = None
SECRET = "memory-secret-0c4be1d2"


def env():
    return dict(os.environ, OMNIBASE_STATE_DIR=STATE, OMNIBASE_CONFIG=CFG + "/config.json",
                OMNIBASE_TEMPLATE_DIR=CFG + "/templates")


def ob(*args, stdin=b"", check=None):
    p = subprocess.run([OMNIBASE] + list(args), input=stdin, capture_output=True, env=env(),
                       timeout=180)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check is not None and p.returncode != check:
        raise AssertionError("omnibase %s: exit %d (wanted %d)\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, check, out, err))
    return p.returncode, out, err


def create(template="python-agent", *extra):
    _, out, _ = ob("env", "create", "--owner", "alice", "--template", template, *extra,
                   check=0)
    return out.strip()


def sh(env_id, script):
    _, out, _ = ob("env", "exec", env_id, "--", "/bin/sh", "-c", script, check=0)
    return out


def uptime(env_id):
    return float(sh(env_id, "cat /proc/uptime").split()[0])


def audit_lines():
    with open(os.path.join(STATE, "audit.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def started_events(env_id):
    return [e for e in audit_lines() if e["type"] == "EnvironmentStarted"
            and e.get("env_id") == env_id]


def env_dirs():
    d = os.path.join(STATE, "envs")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def gzip_like_ours(data):
    """gzip as the snapshot writer makes it (docs/environments-workspace.md:
    a fixed header, no name, no time, OS 3), around raw deflate."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    return (bytes([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]) + body +
            struct.pack("<II", zlib.crc32(data) & 0xffffffff, len(data) & 0xffffffff))


class Memory(unittest.TestCase):
    def test_01_saved_goes_on_and_restores_elsewhere(self):
        a = create()
        sh(a, "echo in-memory > /tmp/mem; echo shm > /dev/shm/s; echo ws > /workspace/w")
        # the kernel's clock: a fresh sandbox's starts near 0
        wait_for("3 s of the sandbox's uptime", lambda: uptime(a) >= 3.0)
        sup = json.loads(ob("env", "show", a, "--json", check=0)[1])["supervisor_pid"]
        path = os.path.join(STATE + "-cfg", "a.tar.gz")
        _, out, _ = ob("env", "snapshot", a, "--memory", "--output", path, "--json", check=0)
        snap = json.loads(out)
        self.assertEqual((snap["path"], snap["memory"]), (path, True))
        # the environment goes on, its memory with it, under the same supervisor
        rec = json.loads(ob("env", "show", a, "--json", check=0)[1])
        self.assertEqual((rec["state"], rec["supervisor_pid"]), ("running", sup))
        self.assertEqual(started_events(a)[-1]["memory"], "kept")
        self.assertEqual(sh(a, "cat /tmp/mem /dev/shm/s /workspace/w"), "in-memory\nshm\nws\n")
        self.assertGreaterEqual(uptime(a), 3.0)
        # the archive: the workspace, then the image the header names
        with tarfile.open(path) as t:
            names = t.getnames()
            header = json.load(t.extractfile("omnibase-snapshot.json"))
            image = t.extractfile("memory/checkpoint.img").read()
        self.assertEqual(names[-1], "memory/checkpoint.img")
        self.assertIn("workspace/w", names)
        self.assertEqual(header["memory"], {"sha256": hashlib.sha256(image).hexdigest(),
                                            "bytes": len(image)})
        self.assertNotIn("checkpoint", os.listdir(os.path.join(STATE, "envs", a)))
        # a new environment from it: the same memory, its clock going on
        rc, out, err = ob("env", "restore", path, "--owner", "bob", "--json")
        self.assertEqual(rc, 0, err)
        b = json.loads(out)["id"]
        self.assertNotIn("checkpoint", os.listdir(os.path.join(STATE, "envs", b)))
        self.assertEqual(sh(b, "cat /tmp/mem /dev/shm/s /workspace/w"), "in-memory\nshm\nws\n")
        self.assertGreaterEqual(uptime(b), 3.0)
        # it is an environment like any: a denial is 126 and on the log as b's
        rc, out, err = ob("env", "exec", b, "--", "/bin/cat", "/etc/shadow")
        self.assertEqual(rc, 126, err)
        self.assertTrue([e for e in audit_lines() if e["type"] == "CapabilityDenied"
                         and e.get("env_id") == b and e.get("target") == "/etc/shadow"])
        taken = [e for e in audit_lines() if e["type"] == "SnapshotTaken" and e["env_id"] == a]
        restored = [e for e in audit_lines() if e["type"] == "SnapshotRestored"
                    and e["env_id"] == b]
        self.assertEqual((taken[-1]["memory"], restored[-1]["memory"]), ("yes", "yes"))
        # stop and start: a fresh boot (the image was used once), workspace kept
        ob("env", "stop", b, check=0)
        ob("env", "start", b, check=0)
        self.assertEqual(sh(b, "cat /workspace/w; ls /tmp"), "ws\n")
        for e in (a, b):
            ob("env", "delete", e, check=0)
        self.assertEqual(pids_mentioning(a) + pids_mentioning(b), [])
        rc, out, err = ob("events", "verify")
        self.assertEqual(rc, 0, out + err)

    def test_02_refused_with_one_line_and_nothing_written(self):
        out_path = os.path.join(STATE + "-cfg", "refused.tar.gz")
        secret_file = os.path.join(STATE + "-cfg", "token")
        with open(secret_file, "w") as f:
            f.write(SECRET)
        cases = [(create("python-agent", "--secret", "API_TOKEN=@" + secret_file),
                  "invalid", "secret"),
                 (create("net-agent"), "invalid", "network")]
        for env_id, code, word in cases:
            sh(env_id, "echo kept > /tmp/mark")
            started = len(started_events(env_id))
            rc, out, err = ob("env", "snapshot", env_id, "--memory", "--output", out_path,
                              "--json")
            self.assertEqual(rc, 125, out + err)
            e = json.loads(out)["error"]
            self.assertEqual(e["code"], code, e)
            self.assertIn(word, e["message"])
            rc, _, err = ob("env", "snapshot", env_id, "--memory", "--output", out_path)
            self.assertEqual((rc, len(err.strip().splitlines())), (125, 1), err)
            self.assertFalse(os.path.exists(out_path))
            self.assertEqual(sh(env_id, "echo still here"), "still here\n")
            # untouched: never saved and restarted, nothing of it written
            self.assertEqual(len(started_events(env_id)), started)
            self.assertEqual(sh(env_id, "cat /tmp/mark"), "kept\n")
            self.assertNotIn("checkpoint", os.listdir(os.path.join(STATE, "envs", env_id)))
            self.assertEqual([f for f in os.listdir(CFG) if ".tmp-" in f], [])
        # an exec running: busy, and that exec is unharmed
        plain = create()
        p = subprocess.Popen([OMNIBASE, "env", "exec", plain, "--", "/bin/sh", "-c",
                              "echo go; read line; echo got $line"], env=env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"go\n")
            rc, out, err = ob("env", "snapshot", plain, "--memory", "--output", out_path,
                              "--json")
            self.assertEqual(rc, 125, out + err)
            self.assertEqual(json.loads(out)["error"]["code"], "busy")
        finally:
            out_b, _ = p.communicate(b"y\n", timeout=120)
        self.assertEqual(out_b, b"got y\n")
        self.assertFalse(os.path.exists(out_path))
        # an output directory that does not exist: refused before any pause
        started = len(started_events(plain))
        rc, out, _ = ob("env", "snapshot", plain, "--memory", "--output",
                        "/nonexistent-ob-dir/x.tar.gz", "--json")
        self.assertEqual((rc, json.loads(out)["error"]["code"]), (125, "invalid"))
        self.assertEqual(len(started_events(plain)), started)
        # a stopped environment has no memory to save
        ob("env", "stop", plain, check=0)
        rc, out, _ = ob("env", "snapshot", plain, "--memory", "--output", out_path, "--json")
        self.assertEqual((rc, json.loads(out)["error"]["code"]), (125, "not_running"))
        self.assertFalse(os.path.exists(out_path))
        for e in [c[0] for c in cases] + [plain]:
            ob("env", "delete", e, check=0)

    def test_03_an_edited_image_is_refused_by_its_hash(self):
        a = create()
        sh(a, "echo x > /tmp/x")
        path = os.path.join(STATE + "-cfg", "edit.tar.gz")
        ob("env", "snapshot", a, "--memory", "--output", path, check=0)
        ob("env", "delete", a, check=0)
        with open(path, "rb") as f:
            raw = bytearray(zlib.decompress(f.read(), 16 + zlib.MAX_WBITS))
        with tarfile.open(fileobj=io.BytesIO(bytes(raw))) as t:
            m = t.getmember("memory/checkpoint.img")
        raw[m.offset_data + m.size // 2] ^= 0x01  # one bit of the image, nothing else
        bad = path + ".bad"
        with open(bad, "wb") as f:
            f.write(gzip_like_ours(bytes(raw)))
        before = env_dirs()
        rc, out, err = ob("env", "restore", bad, "--owner", "carol", "--json")
        self.assertEqual(rc, 125, out + err)
        e = json.loads(out)["error"]
        self.assertEqual(e["code"], "snapshot_corrupt", e)
        self.assertIn("memory/checkpoint.img", e["message"])
        self.assertEqual(env_dirs(), before)
        # a forger who rewrites the header too gets past the hash, not past
        # runsc: an image that is not gVisor's does not restore, one line,
        # no environment left
        with tarfile.open(fileobj=io.BytesIO(bytes(raw))) as t:
            members = t.getmembers()
            blobs = {m.name: t.extractfile(m).read() if m.isfile() else None for m in members}
        junk = b"not a gVisor image " * 64
        header = json.loads(blobs["omnibase-snapshot.json"])
        header["memory"] = {"sha256": hashlib.sha256(junk).hexdigest(), "bytes": len(junk)}
        blobs["omnibase-snapshot.json"] = json.dumps(header, separators=(",", ":")).encode()
        blobs["memory/checkpoint.img"] = junk
        forged = io.BytesIO()
        with tarfile.open(fileobj=forged, mode="w", format=tarfile.PAX_FORMAT) as t:
            for m in members:
                if m.isfile():
                    m.size = len(blobs[m.name])
                    t.addfile(m, io.BytesIO(blobs[m.name]))
                else:
                    t.addfile(m)
        with open(bad, "wb") as f:
            f.write(gzip_like_ours(forged.getvalue()))
        rc, out, err = ob("env", "restore", bad, "--owner", "carol")
        self.assertEqual(rc, 125, out + err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("does not restore into this environment", err)
        self.assertEqual(env_dirs(), before)
        self.assertEqual(pids_mentioning(STATE + "/runs"), [])
        # the archive as written restores
        rc, out, err = ob("env", "restore", path, "--owner", "carol", "--json")
        self.assertEqual(rc, 0, err)
        c = json.loads(out)["id"]
        self.assertEqual(sh(c, "cat /tmp/x"), "x\n")
        ob("env", "delete", c, check=0)


def main():
    global STATE, CFG
    require_runsc("environments start runsc sandboxes, cgroups and loop devices")
    netlib.require()  # one environment has a network grant
    lock = netlib.lock_suite()
    STATE = tempfile.mkdtemp(prefix="ob-memory-", dir="/var/tmp")
    CFG = STATE + "-cfg"
    os.makedirs(CFG + "/templates", 0o700)
    with open(CFG + "/config.json", "w") as f:
        json.dump({"max_environments_per_owner": 10}, f)
    for name in ("python-agent", "feature-default"):
        shutil.copy(os.path.join(HERE, "..", "..", "templates", name + ".json"),
                    CFG + "/templates")
    with open(os.path.join(HERE, "..", "..", "templates", "python-agent.json")) as f:
        tpl = json.load(f)
    tpl["name"] = "net-agent"
    tpl["description"] = "python-agent with one (unreachable) host service"
    tpl["capabilities"]["grants"].append(
        {"capability": "NETWORK_CONNECT", "target": "192.0.2.1:443", "policy_id": "svc"})
    with open(CFG + "/templates/net-agent.json", "w") as f:
        json.dump(tpl, f)
    ok = False
    try:
        prog = unittest.main(exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        for e in env_dirs():
            ob("env", "delete", e)
        ob("gc")
        left = pids_mentioning(STATE)
        if left:
            print("left behind: %s" % left, file=sys.stderr)
            ok = False
        shutil.rmtree(STATE, ignore_errors=True)
        shutil.rmtree(CFG, ignore_errors=True)
        lock.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
