#!/usr/bin/python3
"""omnibased end to end (issue 11), with curl over the Unix socket and real
runsc environments: seed 000's POST /sandboxes body as written, list/show,
exec with stdin, a denial as status "violation", quota_exceeded as 429,
Idempotency-Key, bad JSON / unknown route / wrong method / oversized body,
the OpenAPI document against the routes, Server-Sent Events with
Last-Event-ID, two real uids (an owner cannot see, exec into or delete
another's environment; an observer lists but cannot delete), the server
killed (SIGTERM, SIGKILL) and restarted with the environment still serving,
slow clients that stall nobody, a gone client's exec killed, --listen
refusals and TLS with bearer tokens, and nothing left at the end."""
import glob
import grp
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oblib import OMNIBASE, OMNIBASED, pids_mentioning, require_runsc  # noqa: E402

STATE = None
SOCK_DIR = None
SOCK = None
CONFIG = None
USERS = ("omnitest-a", "omnitest-b")
CREATED_USERS = []
SEED000 = {
    "owner": "alice@company.com",
    "template": "feature-default",
    "ttl_hours": 72,
    "seed_profile": "synthetic:v1",
    "feature_flags": ["onboarding", "async-billing"],
}
# The routes of the operation table (issue 11); the server walks the table,
# this list is what the test expects to find there.
ROUTES = [
    ("post", "/sandboxes"), ("get", "/sandboxes"), ("get", "/sandboxes/{id}"),
    ("delete", "/sandboxes/{id}"), ("post", "/sandboxes/{id}/exec"),
    ("post", "/sandboxes/{id}/extend"), ("post", "/sandboxes/{id}/flags"),
    ("post", "/sandboxes/{id}/reset"), ("post", "/sandboxes/{id}/snapshot"),
    ("post", "/sandboxes/{id}/stop"), ("post", "/sandboxes/{id}/start"),
    ("get", "/sandboxes/{id}/logs"), ("get", "/sandboxes/{id}/render"),
    ("post", "/snapshots/restore"), ("post", "/sweep"), ("get", "/templates"),
    ("get", "/templates/{name}"), ("post", "/templates/check"),
    ("get", "/templates/{name}/render"), ("post", "/runs"), ("post", "/policies/check"),
    ("post", "/policies/compile"), ("post", "/policies/explain"), ("get", "/events"),
    ("post", "/events/verify"),
]


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out after %gs waiting for %s" % (timeout, what))


class Server:
    def __init__(self, sock, *extra):
        self.sock = sock
        self.extra = list(extra)
        self.proc = None

    def start(self, chmod=True):
        env = dict(os.environ, OMNIBASE_CONFIG=CONFIG)
        with open(STATE + "-server.log", "a") as log:
            self.proc = subprocess.Popen([OMNIBASED, "--socket", self.sock, "--state-dir",
                                          STATE] + self.extra, env=env, stdin=subprocess.DEVNULL,
                                         stderr=log)
        wait_for(lambda: self.proc.poll() is not None or os.path.exists(self.sock)
                 and curl("GET", "/healthz", sock=self.sock, check=None)[0] == 200,
                 30, "the server's /healthz")
        if self.proc.poll() is not None:
            raise AssertionError("omnibased exited %d" % self.proc.returncode)
        if chmod:
            os.chmod(self.sock, 0o666)  # the test's uids reach it (else: group omnibase)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        return self.proc.returncode


SERVER = None


def curl(method, path, body=None, headers=(), user=None, sock=None, check=None, timeout=180,
         raw=None):
    """One request with curl over the Unix socket; (status, parsed JSON body)."""
    cmd = []
    if user:
        pw = pwd.getpwnam(user)
        cmd = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups"]
    cmd += ["curl", "-q", "-sS", "--unix-socket", sock or SOCK, "-X", method,
            "-w", "\n%{http_code}", "-m", str(timeout)]
    for h in headers:
        cmd += ["-H", h]
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    cmd.append("http://omnibase" + path)
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout + 10)
    out = p.stdout.decode()
    text, _, code = out.rpartition("\n")
    status = int(code) if code.isdigit() else 0
    try:
        doc = json.loads(text) if text else None
    except ValueError:
        doc = text
    if check is not None and status != check:
        raise AssertionError("%s %s: %d (wanted %d): %s %s" % (method, path, status, check,
                                                               text, p.stderr.decode()))
    return status, doc


def audit_lines():
    try:
        with open(os.path.join(STATE, "audit.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if path in line]


def leftovers():
    runs_dir = os.path.join(STATE, "runs")
    runs = os.listdir(runs_dir) if os.path.isdir(runs_dir) else []
    envs_dir = os.path.join(STATE, "envs")
    envs = os.listdir(envs_dir) if os.path.isdir(envs_dir) else []
    procs = [p for p in pids_mentioning(STATE) if SERVER.proc is None or p != SERVER.proc.pid]
    return {"runs": runs, "envs": envs, "mounts": mounts_under(STATE), "procs": procs}


def server_sockets():
    """How many sockets the server holds open."""
    n = 0
    for fd in glob.glob("/proc/%d/fd/*" % SERVER.proc.pid):
        try:
            n += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return n


class SSE:
    """curl -N on a stream: its events as dicts with id, event, data."""

    def __init__(self, path, headers=(), user=None):
        cmd = ["curl", "-q", "-sS", "-N", "-i", "--unix-socket", SOCK]
        if user:
            pw = pwd.getpwnam(user)
            cmd = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                   "--clear-groups"] + cmd
        for h in headers:
            cmd += ["-H", h]
        self.proc = subprocess.Popen(cmd + ["http://omnibase" + path], stdout=subprocess.PIPE)
        self.buf = b""
        self.status = None
        self.headers = {}

    def line(self, timeout):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return None
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode().rstrip("\r")

    def head(self, timeout=30):
        first = self.line(timeout)
        if first is None:
            return None
        self.status = int(first.split()[1])
        while True:
            line = self.line(timeout)
            if not line:
                return self.status
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()

    def event(self, timeout=60, comments=False):
        """The next event (or comment line when comments), None at the deadline."""
        deadline = time.time() + timeout
        ev = {}
        while True:
            line = self.line(max(0.0, deadline - time.time()))
            if line is None:
                return None
            if line.startswith(":"):
                if comments:
                    return {"comment": line}
                continue
            if not line:
                if ev:
                    ev["data"] = json.loads(ev["data"])
                    return ev
                continue
            k, _, v = line.partition(": ")
            ev[k] = v

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class Rest(unittest.TestCase):
    env_a = None  # seed 000's environment, kept across tests

    @classmethod
    def env(cls):
        if not Rest.env_a:
            status, doc = curl("POST", "/sandboxes", SEED000, check=201)
            Rest.env_a = doc["id"]
        return Rest.env_a

    def test_01_seed000_create_list_show_exec(self):
        status, doc = curl("POST", "/sandboxes", SEED000)
        self.assertEqual(status, 201, doc)
        Rest.env_a = env_id = doc["id"]
        self.assertRegex(env_id, r"^env-[0-9a-f]{12}$")
        self.assertEqual((doc["state"], doc["owner"], doc["template"], doc["seed"]),
                         ("running", "alice@company.com", "feature-default", "synthetic:v1"))
        self.assertEqual(sorted(doc["feature_flags"]), ["async-billing", "onboarding"])
        _, lst = curl("GET", "/sandboxes", check=200)
        self.assertIn(env_id, [e["id"] for e in lst["environments"]])
        _, lst = curl("GET", "/sandboxes?owner=alice%40company.com&all=false", check=200)
        self.assertEqual([e["id"] for e in lst["environments"]], [env_id])
        _, shown = curl("GET", "/sandboxes/" + env_id, check=200)
        self.assertEqual((shown["id"], shown["state"]), (env_id, "running"))
        _, res = curl("POST", "/sandboxes/%s/exec" % env_id,
                      {"argv": ["/bin/sh", "-c", "read x; echo got $x; "
                                "echo flags=$OMNIBASE_FEATURE_FLAGS; ls /workspace/seed"],
                       "stdin": "hello\n"}, check=200)
        self.assertEqual((res["status"], res["exit_code"]), ("ok", 0), res)
        self.assertTrue(res["stdout"].startswith("got hello\nflags=async-billing,onboarding\n"),
                        res["stdout"])
        self.assertIn("users.csv", res["stdout"])
        # a denial: the call succeeds, the result says violation and names it
        _, res = curl("POST", "/sandboxes/%s/exec" % env_id,
                      {"argv": ["/bin/cat", "/etc/shadow"]}, check=200)
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126))
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("FILE_READ", "/etc/shadow")])
        # a memory snapshot, and a new environment from it with the same /tmp
        curl("POST", "/sandboxes/%s/exec" % env_id,
             {"argv": ["/bin/sh", "-c", "echo in-memory > /tmp/m"]}, check=200)
        _, snap = curl("POST", "/sandboxes/%s/snapshot" % env_id, {"memory": True}, check=200)
        _, copy = curl("POST", "/snapshots/restore", {"snapshot": snap["snapshot"]}, check=201)
        _, res = curl("POST", "/sandboxes/%s/exec" % copy["id"],
                      {"argv": ["/bin/cat", "/tmp/m"]}, check=200)
        self.assertEqual(res["stdout"], "in-memory\n", res)
        curl("DELETE", "/sandboxes/" + copy["id"], check=200)

    def test_02_idempotency_key_and_quota(self):
        self.env()
        body = {"owner": "alice@company.com", "template": "python-agent"}
        key = "Idempotency-Key: rest-test-%d" % os.getpid()
        s1, first = curl("POST", "/sandboxes", body, headers=[key])
        self.assertEqual(s1, 201, first)
        s2, second = curl("POST", "/sandboxes", body, headers=[key])
        self.assertEqual(s2, 201, second)
        self.assertEqual(second["id"], first["id"])
        self.assertEqual((first["existed"], second["existed"]), (False, True))
        # alice has two now, the configured maximum
        status, err = curl("POST", "/sandboxes", body)
        self.assertEqual(status, 429, err)
        self.assertEqual(err["error"]["code"], "quota_exceeded")
        self.assertIsInstance(err["error"]["message"], str)
        curl("DELETE", "/sandboxes/" + first["id"], check=200)
        _, gone = curl("GET", "/sandboxes/" + first["id"], check=200)
        self.assertEqual(gone["state"], "deleted")

    def test_03_bad_requests(self):
        status, err = curl("POST", "/sandboxes", raw=b'{"owner": "alice",\n "template": }')
        self.assertEqual(status, 400)
        self.assertEqual(err["error"]["code"], "invalid")
        self.assertRegex(err["error"]["message"], r"^body: 2:\d+: ")
        status, err = curl("POST", "/sandboxes", raw=b"[1, 2]")
        self.assertEqual((status, err["error"]["code"]), (400, "invalid"))
        status, err = curl("POST", "/sandboxes", {"template": "python-agent", "colour": "red"})
        self.assertEqual(status, 400)
        self.assertIn("colour", err["error"]["message"])
        status, err = curl("GET", "/sandboxes?all=maybe")
        self.assertEqual((status, err["error"]["code"]), (400, "invalid"))
        env_id = self.env()
        for path, word in (("/sandboxes?all=true&all=false", "twice"),
                           ("/sandboxes/%s/logs?limit=ten" % env_id, "not an integer"),
                           ("/sandboxes/%s/logs?limit=0" % env_id, "limit"),
                           ("/events?after_seq=-1x", "not an integer")):
            status, err = curl("GET", path, timeout=20)
            self.assertEqual((status, err["error"]["code"]), (400, "invalid"), path)
            self.assertIn(word, err["error"]["message"], path)
        status, err = curl("GET", "/sandboxes", raw=b'{"all": true}')
        self.assertEqual(status, 400)
        self.assertIn("query string", err["error"]["message"])
        status, err = curl("POST", "/sandboxes/%s/exec" % env_id,
                           {"argv": ["/bin/true"], "id": "env-000000000000"})
        self.assertEqual(status, 400)
        self.assertIn('"id" is given by the path', err["error"]["message"])
        _, lst = curl("GET", "/sandboxes?all=true", check=200)
        self.assertIn(env_id, [e["id"] for e in lst["environments"]])
        status, err = curl("GET", "/no/such/route")
        self.assertEqual((status, err["error"]["code"]), (404, "not_found"))
        status, err = curl("PUT", "/sandboxes")
        self.assertEqual(status, 405)
        status, err = curl("GET", "/sandboxes/env-000000000000")
        self.assertEqual((status, err["error"]["code"]), (404, "not_found"))
        big = json.dumps({"template": "python-agent", "name": "x" * (1024 * 1024 + 10)})
        status, err = curl("POST", "/sandboxes", raw=big.encode())
        self.assertEqual(status, 413)
        self.assertEqual(err["error"]["code"], "too_large")
        # a chunked body (no Content-Length) over the bound is refused too
        status, err = curl("POST", "/sandboxes", raw=big.encode(),
                           headers=["Transfer-Encoding: chunked"])
        self.assertEqual(status, 413)
        # the server still serves
        curl("GET", "/healthz", check=200)

    def test_04_openapi_lists_every_route(self):
        _, doc = curl("GET", "/openapi.json", check=200)
        self.assertEqual(doc["openapi"][:3], "3.1")
        have = {(m, p) for p, ops in doc["paths"].items() for m in ops}
        missing = [r for r in ROUTES if r not in have]
        self.assertEqual(missing, [], "routes missing from /openapi.json")
        # and the server routes every path it documents (a 404 there is the
        # operation's own not_found, never "no route")
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                if op.get("responses", {}).get("200", {}).get("content", {}).get(
                        "text/event-stream") or path == "/events":
                    continue
                if method in ("post",) and path in ("/sweep", "/runs"):
                    continue  # they would do work; covered elsewhere
                url = path.replace("{id}", "env-000000000000").replace("{name}", "no-such")
                status, res = curl(method.upper(), url, body={} if method == "post" else None)
                self.assertNotEqual(status, 405, (method, path, res))
                if status == 404:
                    self.assertFalse(res["error"]["message"].startswith("no route"),
                                     (method, path, res))

    def test_05_sse_events_and_last_event_id(self):
        env_id = self.env()
        before = max([e["seq"] for e in audit_lines()] or [0])
        sockets_before = server_sockets()
        stream = SSE("/events?type=ExecStarted,ExecExited&env=" + env_id)
        try:
            self.assertEqual(stream.head(), 200)
            self.assertTrue(stream.headers["content-type"].startswith("text/event-stream"))
            _, res = curl("POST", "/sandboxes/%s/exec" % env_id, {"argv": ["/bin/true"]},
                          check=200)
            got = None
            while not got:
                ev = stream.event(timeout=60)
                self.assertIsNotNone(ev, "no event on the stream")
                self.assertIn(ev["event"], ("ExecStarted", "ExecExited"))
                self.assertEqual(ev["data"]["env_id"], env_id)
                if ev["data"].get("exec_id") == res["exec_id"] and ev["event"] == "ExecStarted":
                    got = ev
            seq = int(got["id"])
            self.assertGreater(seq, before)
            self.assertEqual(got["data"]["seq"], seq)
        finally:
            stream.close()
        # Last-Event-ID: the stream resumes after it
        again = SSE("/events?type=ExecStarted,ExecExited&env=" + env_id,
                    headers=["Last-Event-ID: %d" % (seq - 1)])
        try:
            self.assertEqual(again.head(), 200)
            self.assertEqual(int(again.event(timeout=30)["id"]), seq)
            nxt = again.event(timeout=30)
            self.assertGreater(int(nxt["id"]), seq)
            self.assertEqual((nxt["event"], nxt["data"]["exec_id"]),
                             ("ExecExited", res["exec_id"]))
        finally:
            again.close()
        # an environment's logs as a stream: an exec made after connecting
        logs = SSE("/sandboxes/%s/logs?type=ExecExited" % env_id,
                   headers=["Last-Event-ID: %d" % seq])
        try:
            self.assertEqual(logs.head(), 200)
            ev = logs.event(timeout=30)  # the exec above, after seq
            self.assertEqual((ev["event"], ev["data"]["exec_id"]), ("ExecExited", res["exec_id"]))
            _, res2 = curl("POST", "/sandboxes/%s/exec" % env_id, {"argv": ["/bin/true"]},
                           check=200)
            ev = logs.event(timeout=30)
            self.assertEqual((ev["event"], ev["data"]["exec_id"], ev["data"]["env_id"]),
                             ("ExecExited", res2["exec_id"], env_id))
        finally:
            logs.close()
        # and its keepalive when quiet
        logs = SSE("/sandboxes/%s/logs?type=NoSuchEvent" % env_id)
        try:
            self.assertEqual(logs.head(), 200)
            ev = logs.event(timeout=25, comments=True)
            self.assertEqual(ev, {"comment": ": keepalive"})
        finally:
            logs.close()
        # the streams end with their clients: the server holds no more sockets
        wait_for(lambda: server_sockets() <= sockets_before, 10, "the streams to end")

    def test_06_two_uids_and_an_observer(self):
        a, b = USERS
        status, env_b_sees = curl("POST", "/sandboxes", {"template": "python-agent"}, user=a)
        self.assertEqual(status, 201, env_b_sees)
        mine = env_b_sees["id"]
        self.assertEqual(env_b_sees["owner"], a)
        try:
            _, lst = curl("GET", "/sandboxes", user=b, check=200)
            self.assertEqual(lst["environments"], [])
            status, err = curl("GET", "/sandboxes?owner=" + a, user=b)
            self.assertEqual((status, err["error"]["code"]), (403, "forbidden"))
            for method, path, body in (("GET", "/sandboxes/" + mine, None),
                                       ("POST", "/sandboxes/%s/exec" % mine,
                                        {"argv": ["/bin/true"]}),
                                       ("DELETE", "/sandboxes/" + mine, None),
                                       ("POST", "/sandboxes/%s/extend" % mine, {"ttl": "1h"}),
                                       ("GET", "/sandboxes/%s/logs" % mine, None)):
                status, err = curl(method, path, body, user=b, timeout=20)
                self.assertEqual((status, err["error"]["code"]), (404, "not_found"),
                                 (method, path, err))
            status, err = curl("POST", "/sandboxes", {"template": "python-agent", "owner": a},
                               user=b)
            self.assertEqual((status, err["error"]["code"]), (403, "forbidden"))
            # b made an observer: sees a's, changes nothing
            with open(CONFIG, "w") as f:
                json.dump({"max_environments_per_owner": 2, "api": {"observers": [b]}}, f)
            _, lst = curl("GET", "/sandboxes", user=b, check=200)
            self.assertIn(mine, [e["id"] for e in lst["environments"]])
            curl("GET", "/sandboxes/" + mine, user=b, check=200)
            status, err = curl("DELETE", "/sandboxes/" + mine, user=b)
            self.assertEqual((status, err["error"]["code"]), (403, "forbidden"))
            status, err = curl("POST", "/sandboxes/%s/exec" % mine, {"argv": ["/bin/true"]},
                               user=b)
            self.assertEqual(status, 403)
            # a's own: exec works for a
            _, res = curl("POST", "/sandboxes/%s/exec" % mine, {"argv": ["/bin/echo", "a"]},
                          user=a, check=200)
            self.assertEqual(res["stdout"], "a\n")
            # the audit stream: a sees its exec, b (an owner again) nothing of a's
            with open(CONFIG, "w") as f:
                json.dump({"max_environments_per_owner": 2}, f)
            seen = {}
            for who in (a, b):
                stream = SSE("/events?type=ExecStarted", user=who)
                try:
                    self.assertEqual(stream.head(), 200)
                    envs = set()
                    while True:
                        ev = stream.event(timeout=3)
                        if ev is None:
                            break
                        envs.add(ev["data"].get("env_id"))
                    seen[who] = envs
                finally:
                    stream.close()
            self.assertIn(mine, seen[a])
            self.assertNotIn(mine, seen[b])
            self.assertEqual(seen[b], set())
        finally:
            with open(CONFIG, "w") as f:
                json.dump({"max_environments_per_owner": 2}, f)
        curl("DELETE", "/sandboxes/" + mine, user=a, check=200)

    def test_07_server_killed_and_restarted(self):
        env_id = self.env()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            rc = SERVER.stop(sig)
            if sig == signal.SIGTERM:
                self.assertEqual(rc, 0)
                self.assertFalse(os.path.exists(SOCK), "the socket outlived a clean stop")
            SERVER.start()
            _, shown = curl("GET", "/sandboxes/" + env_id, check=200)
            self.assertEqual(shown["state"], "running")
            _, res = curl("POST", "/sandboxes/%s/exec" % env_id,
                          {"argv": ["/bin/echo", "after", sig.name]}, check=200)
            self.assertEqual(res["stdout"], "after %s\n" % sig.name)

    def test_07a_sweep_at_start_and_one_server_per_socket(self):
        # an environment whose supervisor died is marked failed by the
        # server's sweep (at start, then each minute) without any CLI call
        status, doc = curl("POST", "/sandboxes", {"owner": "carol", "template": "python-agent"})
        self.assertEqual(status, 201, doc)
        os.kill(doc["supervisor_pid"], signal.SIGKILL)
        wait_for(lambda: not os.path.exists("/proc/%d" % doc["supervisor_pid"]), 10,
                 "the supervisor to die")
        # a second server on a live socket is refused, the first serves on
        p = subprocess.run([OMNIBASED, "--socket", SOCK, "--state-dir", STATE],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode(),
                         "omnibased: --socket %s: another server is answering on it\n" % SOCK)
        curl("GET", "/healthz", check=200)
        SERVER.stop()
        SERVER.start()
        wait_for(lambda: curl("GET", "/sandboxes/" + doc["id"])[1]["state"] == "failed", 30,
                 "the sweep to mark it failed")
        curl("DELETE", "/sandboxes/" + doc["id"], check=200)

    def test_07b_socket_group(self):
        made = False
        try:
            grp.getgrnam("omnibase")
        except KeyError:
            subprocess.run(["groupadd", "--system", "omnibase"], check=True)
            made = True
        sock3 = os.path.join(SOCK_DIR, "group.sock")
        srv = Server(sock3)
        try:
            srv.start(chmod=False)
            st = os.stat(sock3)
            self.assertEqual((st.st_mode & 0o7777, st.st_gid),
                             (0o660, grp.getgrnam("omnibase").gr_gid))
            self.assertEqual(os.stat(SOCK_DIR).st_mode & 0o7777, 0o755)
        finally:
            srv.stop()
            if made:
                subprocess.run(["groupdel", "omnibase"], check=True)
        self.assertFalse(os.path.exists(sock3))

    def test_08_slow_clients_stall_nobody(self):
        env_id = self.env()
        # a client that sent half a request and waits, and one that sent
        # headers promising a body it never sends
        half = socket.socket(socket.AF_UNIX)
        half.connect(SOCK)
        half.sendall(b"GET /sandb")
        opened = time.time()
        body = socket.socket(socket.AF_UNIX)
        body.connect(SOCK)
        body.sendall(b"POST /sandboxes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 1000\r\n\r\n{\"owner\": ")
        # and one that trickles its body a byte every 2 s (never idle 30 s):
        # the body has 60 s in all
        trickle = socket.socket(socket.AF_UNIX)
        trickle.connect(SOCK)
        trickle.sendall(b"POST /sandboxes HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        b"application/json\r\nContent-Length: 1000\r\n\r\n{")
        dropped_after = []

        def trickler():
            start = time.time()
            while time.time() - start < 120:
                try:
                    trickle.sendall(b" ")
                except OSError:
                    dropped_after.append(time.time() - start)
                    return
                time.sleep(2)

        trickle_thread = threading.Thread(target=trickler)
        trickle_thread.start()
        t = time.time()
        curl("GET", "/healthz", check=200, timeout=10)
        _, res = curl("POST", "/sandboxes/%s/exec" % env_id, {"argv": ["/bin/echo", "hi"]},
                      check=200, timeout=60)
        self.assertEqual(res["stdout"], "hi\n")
        self.assertLess(time.time() - t, 30)
        # a slow exec does not hold up another client's request
        slow = subprocess.Popen(
            ["curl", "-q", "-sS", "--unix-socket", SOCK, "-X", "POST", "-d",
             json.dumps({"argv": ["/bin/sleep", "4"]}),
             "http://omnibase/sandboxes/%s/exec" % env_id], stdout=subprocess.PIPE)
        wait_for(lambda: [e for e in audit_lines() if e["type"] == "ExecStarted"
                          and e.get("command") == "/bin/sleep" and e.get("env_id") == env_id],
                 60, "the slow exec to start")
        t = time.time()
        curl("GET", "/sandboxes/" + env_id, check=200)
        self.assertLess(time.time() - t, 2.0, "a GET waited for a running exec")
        self.assertIsNone(slow.poll(), "the slow exec ended before the GET was answered")
        out, _ = slow.communicate(timeout=60)
        self.assertEqual(json.loads(out)["status"], "ok")
        # the client of a long exec goes away: its worker ends, the
        # supervisor kills the command (as for a Ctrl-C'd CLI)
        def sleeps():
            return {e["exec_id"] for e in audit_lines() if e["type"] == "ExecStarted"
                    and e.get("command") == "/bin/sleep" and e.get("env_id") == env_id}

        before = sleeps()
        gone = subprocess.Popen(
            ["curl", "-q", "-sS", "--unix-socket", SOCK, "-X", "POST", "-d",
             json.dumps({"argv": ["/bin/sleep", "600"]}),
             "http://omnibase/sandboxes/%s/exec" % env_id], stdout=subprocess.DEVNULL)
        exec_ids = wait_for(lambda: sleeps() - before, 60, "the long exec")
        gone.kill()
        gone.wait()
        exited = wait_for(lambda: [e for e in audit_lines() if e["type"] == "ExecExited"
                                   and e.get("exec_id") in exec_ids
                                   and e.get("env_id") == env_id], 60,
                          "the gone client's exec to end")
        # killed because its caller left: an error, "interrupted by HUP", not a timeout
        self.assertEqual((exited[0]["status"], exited[0]["exit_code"]), ("error", "129"),
                         exited[0])
        # the silent clients are dropped after the 30 s idle timeout
        for s in (half, body):
            s.settimeout(max(1.0, 45 - (time.time() - opened)))
            try:
                data = s.recv(65536)
            except socket.timeout:
                self.fail("a silent client was kept past the idle timeout")
            except ConnectionResetError:
                data = b""
            self.assertFalse(data.startswith(b"HTTP/1.1 2"), data)
            s.close()
        trickle_thread.join()
        trickle.close()
        self.assertTrue(dropped_after, "a trickling client was kept for 120 s")
        self.assertLess(dropped_after[0], 80)

    def test_09_listen_needs_tls_and_tokens(self):
        env_id = self.env()
        sock2 = os.path.join(SOCK_DIR, "tcp.sock")

        def refused(*args):
            p = subprocess.run([OMNIBASED, "--socket", sock2, "--state-dir", STATE] + list(args),
                               capture_output=True, timeout=30)
            err = p.stderr.decode()
            self.assertNotEqual(p.returncode, 0, args)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertTrue(err.startswith("omnibased: "), err)
            self.assertFalse(os.path.exists(sock2), "a refused start left its socket")
            return err

        self.assertIn("--tls-cert", refused("--listen", "127.0.0.1:0"))
        tdir = tempfile.mkdtemp(prefix="ob-srv-tls-", dir="/var/tmp")
        try:
            cert, key, tokens = (os.path.join(tdir, n) for n in ("cert.pem", "key.pem", "tokens"))
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                            key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                           check=True, capture_output=True)
            token = "t0k3n-%s" % os.urandom(12).hex()
            with open(tokens, "w") as f:
                f.write("# token owner\n%s alice@company.com\n" % token)
            os.chmod(tokens, 0o644)
            self.assertIn("mode 0644",
                          refused("--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                                  "--token-file", tokens))
            os.chmod(tokens, 0o600)
            self.assertIn("--tls-key", refused("--listen", "127.0.0.1:0", "--tls-cert", cert,
                                               "--token-file", tokens))
            refused("--listen", "127.0.0.1:0", "--tls-cert", tokens, "--tls-key", tokens,
                    "--token-file", tokens)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            srv = Server(sock2, "--listen", "127.0.0.1:%d" % port, "--tls-cert", cert,
                         "--tls-key", key, "--token-file", tokens)
            srv.start()
            try:
                base = ["curl", "-q", "-sS", "-k", "-w", "\n%{http_code}", "-m", "60"]
                url = "https://127.0.0.1:%d/sandboxes" % port

                def tcp(*extra):
                    p = subprocess.run(base + list(extra) + [url], capture_output=True,
                                       timeout=70)
                    text, _, code = p.stdout.decode().rpartition("\n")
                    return int(code or 0), json.loads(text) if text else None

                status, err = tcp()
                self.assertEqual((status, err["error"]["code"]), (401, "unauthorized"))
                status, err = tcp("-H", "Authorization: Bearer " + token + "x")
                self.assertEqual(status, 401)
                status, lst = tcp("-H", "Authorization: Bearer " + token)
                self.assertEqual(status, 200, lst)
                # the token's owner sees its own environments only
                self.assertEqual({e["owner"] for e in lst["environments"]},
                                 {"alice@company.com"})
                self.assertIn(env_id, [e["id"] for e in lst["environments"]])
                p = subprocess.run(["curl", "-q", "-sS", "-m", "10",
                                    "http://127.0.0.1:%d/healthz" % port], capture_output=True)
                self.assertNotIn(b'"ok"', p.stdout, "plain HTTP answered on the TLS port")
            finally:
                self.assertEqual(srv.stop(), 0)
        finally:
            shutil.rmtree(tdir, ignore_errors=True)

    def test_10_everything_deleted_leaves_nothing(self):
        _, lst = curl("GET", "/sandboxes", check=200)
        for e in lst["environments"]:
            curl("DELETE", "/sandboxes/" + e["id"], check=200)
        _, lst = curl("GET", "/sandboxes", check=200)
        self.assertEqual(lst["environments"], [])
        deadline = time.time() + 60  # supervisors exit after their teardown
        while time.time() < deadline and any(leftovers().values()):
            time.sleep(0.2)
        self.assertFalse(any(leftovers().values()), "left behind: %r" % leftovers())
        self.assertEqual(SERVER.stop(), 0)
        self.assertFalse(os.path.exists(SOCK))
        p = subprocess.run([OMNIBASE, "events", "verify", os.path.join(STATE, "audit.jsonl")],
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)


def make_users():
    for u in USERS:
        try:
            pwd.getpwnam(u)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", u], check=True)
            CREATED_USERS.append(u)


def main():
    global STATE, SOCK_DIR, SOCK, CONFIG, SERVER
    require_runsc("omnibased starts runsc environments and reads peer uids")
    if not os.access(OMNIBASED, os.X_OK):
        from oblib import skip_or_fail
        skip_or_fail("OMNIBASED_BIN is not set to the omnibased binary")
    for tool in ("curl", "setpriv", "useradd", "openssl"):
        if not shutil.which(tool):
            from oblib import skip_or_fail
            skip_or_fail(tool + " is not installed")
    STATE = tempfile.mkdtemp(prefix="ob-srv-", dir="/var/tmp")
    SOCK_DIR = tempfile.mkdtemp(prefix="ob-srv-sock-", dir="/var/tmp")
    os.chmod(SOCK_DIR, 0o755)
    SOCK = os.path.join(SOCK_DIR, "api.sock")
    CONFIG = STATE + "-config.json"
    with open(CONFIG, "w") as f:
        json.dump({"max_environments_per_owner": 2}, f)
    ok = False
    try:
        make_users()
        SERVER = Server(SOCK)
        SERVER.start()
        prog = unittest.main(exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        if SERVER:
            SERVER.stop(signal.SIGKILL)
        env = dict(os.environ, OMNIBASE_STATE_DIR=STATE, OMNIBASE_CONFIG=CONFIG)
        for d in glob.glob(os.path.join(STATE, "envs", "*")):
            subprocess.run([OMNIBASE, "env", "delete", os.path.basename(d)], env=env,
                           capture_output=True)
        subprocess.run([OMNIBASE, "gc"], env=env, capture_output=True)
        for u in CREATED_USERS:
            subprocess.run(["userdel", u], capture_output=True)
        if ok:
            shutil.rmtree(STATE, ignore_errors=True)
            for extra in ("-config.json", "-server.log"):
                if os.path.exists(STATE + extra):
                    os.unlink(STATE + extra)
        else:
            print("state kept for a look: %s (server log %s-server.log)" % (STATE, STATE),
                  file=sys.stderr)
        shutil.rmtree(SOCK_DIR, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
