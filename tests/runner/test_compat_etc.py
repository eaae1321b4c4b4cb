#!/usr/bin/python3
"""Issue 15 items 8, 9, 10 (docs/compatibility.md, "The sandbox's own /etc,
time zones, CA certificates, non-UTF-8 names"): a synthetic /etc/passwd and
/etc/hostname (never the host's), the time zone database with a UTC
/etc/localtime, the CA certificates in a network run, and non-UTF-8 names in
the sandbox's /tmp. Each run goes through the CLI under real runsc, with no
grants under python-minimal unless the case needs one."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import uuid

from runnerlib import RunnerTest, main

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "network"))

SYNTHETIC_PASSWD = ("root:x:0:0:root:/root:/usr/sbin/nologin\n"
                    "sandbox:x:65534:65534:sandbox:/tmp:/usr/sbin/nologin\n")


def host_users():
    with open("/etc/passwd") as f:
        return [line.split(":")[0] for line in f if line.strip()]


class CompatEtc(RunnerTest):
    def run_clean(self, code, *args, caps=None):
        res = self.run_json(self.write("w.py", code), *args, caps=caps)
        self.assertEqual(res["violations"], [], res)
        self.assertEqual((res["status"], res["exit_code"], res["stderr"]), ("ok", 0, ""), res)
        return res["stdout"].splitlines()

    # -- item 8: the sandbox user -----------------------------------------
    def test_item8_passwd_is_synthetic(self):
        """getpass/pwd know the sandbox user; the file holds no host user,
        not even one added on the host just before the run."""
        name = "obt" + uuid.uuid4().hex[:8]
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        try:
            self.assertIn(name, host_users())
            out = self.run_clean(
                "import getpass, os, pwd, socket\n"
                "print(getpass.getuser())\n"
                "p = pwd.getpwuid(os.getuid())\n"
                "print(p.pw_name, p.pw_uid, p.pw_gid, p.pw_dir)\n"
                "print(pwd.getpwnam('root').pw_uid)\n"
                "print(os.path.expanduser('~'))\n"
                "print(open('/etc/hostname').read().strip() == socket.gethostname())\n"
                "print(repr(open('/etc/passwd').read()))\n")
        finally:
            subprocess.run(["userdel", name], capture_output=True)
        self.assertEqual(out[:5], ["sandbox", "sandbox 65534 65534 /tmp", "0", "/tmp", "True"])
        passwd = eval(out[5])  # a repr printed by the workload
        self.assertEqual(passwd, SYNTHETIC_PASSWD)
        names = [line.split(":")[0] for line in passwd.splitlines()]
        self.assertNotIn(name, names)
        self.assertEqual([u for u in host_users() if u in names and u != "root"], [])

    def test_item8_id_and_ls_in_shell(self):
        """`id` and `ls -l` name the sandbox user and root, with no denial."""
        p = self.omnibase("sandbox", "run", "--profile", "shell", "--capabilities", self.caps(),
                          "--json", "--", "/bin/sh", "-c",
                          "id; touch /tmp/f; ls -l /tmp /etc/passwd; whoami; cat /etc/hostname")
        res = json.loads(p.stdout)
        self.ids.append(res["sandbox_id"])
        self.assertEqual(res["violations"], [], res)
        self.assertEqual((res["status"], res["exit_code"]), ("ok", 0), res)
        out = res["stdout"].splitlines()
        self.assertEqual(out[0], "uid=65534(sandbox) gid=65534(sandbox) groups=65534(sandbox)")
        self.assertTrue(any(line.split()[2:4] == ["root", "root"] and
                            line.endswith("/etc/passwd") for line in out), out)
        self.assertTrue(any(line.split()[2:4] == ["sandbox", "sandbox"] and
                            line.endswith(" f") for line in out), out)
        self.assertEqual(out[-2:], ["sandbox", res["sandbox_id"]])

    def test_item8_host_files_of_etc_stay_denied(self):
        """What is not synthetic stays the host's and denied: /etc/shadow."""
        res = self.run_json(self.write("w.py", "try:\n    open('/etc/shadow')\n"
                                               "except PermissionError:\n    print('denied')\n"))
        self.assertEqual((res["status"], res["exit_code"], res["stdout"]),
                         ("violation", 126, "denied\n"), res)
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("FILE_READ", "/etc/shadow")])

    def test_item8_service_and_protocol_names(self):
        """netbase's public tables (/etc/services, /etc/protocols) are the
        host's package data copied in: getservbyname/getprotobyname work
        with no denial, in a run with no network too."""
        out = self.run_clean(
            "import socket\n"
            "print(socket.getservbyname('http', 'tcp'), socket.getservbyport(22, 'tcp'))\n"
            "print(socket.getprotobyname('tcp'), socket.getprotobyname('udp'))\n")
        self.assertEqual(out, ["80 ssh", "6 17"])

    # -- item 9: time zones and CA certificates ----------------------------
    def test_item9_zoneinfo(self):
        """localtime is UTC (the host's zone is not shown); zoneinfo works."""
        out = self.run_clean(
            "import datetime, os, time, zoneinfo\n"
            "print(time.localtime().tm_zone, os.readlink('/etc/localtime'))\n"
            "z = zoneinfo.ZoneInfo('Europe/Paris')\n"
            "print(datetime.datetime(2026, 7, 1, tzinfo=z).utcoffset())\n"
            "os.environ['TZ'] = 'America/New_York'\n"
            "time.tzset()\n"
            "print(time.strftime('%Z', time.localtime(1782864000)))\n")
        self.assertEqual(out, ["UTC /usr/share/zoneinfo/Etc/UTC", "2:00:00", "EDT"])

    def make_ca(self):
        """A test CA and a server certificate for host.omnibase.internal."""
        d = os.path.join(self.tmp, "pki")
        os.makedirs(d)

        def ossl(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=omnibase test CA", "-keyout", "ca.key", "-out", "ca.pem")
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=host.omnibase.internal",
             "-keyout", "srv.key", "-out", "srv.csr")
        with open(os.path.join(d, "ext"), "w") as f:
            f.write("subjectAltName=DNS:host.omnibase.internal\n")
        ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "srv.pem")
        os.chmod(d, 0o755)
        os.chmod(os.path.join(d, "ca.pem"), 0o644)
        return d

    def test_item9_tls(self):
        """System CAs in a network run; a verified HTTPS-like handshake with
        a host-side server whose CA is handed in with FILE_READ and
        SSL_CERT_FILE; a wrong host name and the system store both refused."""
        import netlib
        netlib.require()
        lock = netlib.lock_suite()
        self.addCleanup(lock.close)
        pki = self.make_ca()
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(os.path.join(pki, "srv.pem"), os.path.join(pki, "srv.key"))
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", 0))
        srv.listen(4)
        self.addCleanup(srv.close)
        port = srv.getsockname()[1]

        def serve():
            for _ in range(3):
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                try:
                    with sctx.wrap_socket(c, server_side=True) as t:
                        t.sendall(b"hello tls\n")
                except (OSError, ssl.SSLError):
                    pass
        threading.Thread(target=serve, daemon=True).start()
        ca = os.path.join(pki, "ca.pem")
        caps = self.caps(grants=[("NETWORK_CONNECT", "host.omnibase.internal:%d" % port),
                                 ("FILE_READ", ca)])
        out = self.run_clean(
            "import os, socket, ssl\n"
            "def hello(ctx, name):\n"
            "    try:\n"
            "        with socket.create_connection(('host.omnibase.internal', %d)) as s:\n"
            "            with ctx.wrap_socket(s, server_hostname=name) as t:\n"
            "                return t.recv(64).decode().strip()\n"
            "    except ssl.SSLCertVerificationError as e:\n"
            "        return 'refused: ' + e.verify_message\n"
            "system = ssl.create_default_context()\n"
            "print(system.cert_store_stats()['x509_ca'] > 0)\n"
            "print(sorted(f for f in os.listdir('/etc/ssl/certs')\n"
            "             if not os.path.exists('/etc/ssl/certs/' + f)))\n"
            "print(hello(system, 'host.omnibase.internal'))\n"
            "os.environ['SSL_CERT_FILE'] = %r\n"
            "ctx = ssl.create_default_context()\n"
            "print(ctx.cert_store_stats()['x509_ca'])\n"
            "print(hello(ctx, 'host.omnibase.internal'))\n"
            "print(hello(ctx, 'wrong.omnibase.internal'))\n" % (port, ca), caps=caps)
        # every link of the CA directory resolves as on the host (the host's
        # own CAs of /usr/local/share/ca-certificates included)
        dangling = sorted(f for f in os.listdir("/etc/ssl/certs")
                          if not os.path.exists("/etc/ssl/certs/" + f))
        self.assertEqual(out[:2], ["True", repr(dangling)])
        self.assertTrue(out[2].startswith("refused: unable to get local issuer"), out)
        self.assertEqual(out[3:5], ["1", "hello tls"])
        self.assertTrue(out[5].startswith("refused: Hostname mismatch"), out)

    # -- item 10: non-UTF-8 names -------------------------------------------
    def test_item10_non_utf8_names_in_tmp(self):
        """Create, list, rename, unlink such files and directories in /tmp."""
        out = self.run_clean(
            "import os\n"
            "with open(b'/tmp/\\xff\\xfe', 'wb') as f:\n    f.write(b'x')\n"
            "print(open(b'/tmp/\\xff\\xfe', 'rb').read())\n"
            "os.mkdir(b'/tmp/d\\xff')\n"
            "with open(b'/tmp/d\\xff/f\\xfe', 'w') as f:\n    f.write('y')\n"
            "print(sorted(os.listdir(b'/tmp')), os.listdir(b'/tmp/d\\xff'))\n"
            "os.rename(b'/tmp/\\xff\\xfe', b'/tmp/\\xfe\\xff')\n"
            "os.rename(b'/tmp/d\\xff', b'/tmp/e\\xff')\n"
            "os.chdir(b'/tmp/e\\xff')\n"
            "os.rename(b'f\\xfe', b'g\\xfe')\n"
            "print(sorted(os.listdir(b'/tmp')), os.listdir(b'.'))\n"
            "os.unlink(b'g\\xfe')\n"
            "os.chdir('/')\n"
            "os.unlink(b'/tmp/\\xfe\\xff'); os.rmdir(b'/tmp/e\\xff')\n"
            "print(os.listdir(b'/tmp'))\n")
        self.assertEqual(out, ["b'x'", "[b'd\\xff', b'\\xff\\xfe'] [b'f\\xfe']",
                               "[b'e\\xff', b'\\xfe\\xff'] [b'g\\xfe']", "[]"])

    def test_item10_denial_covers_non_utf8_names(self):
        """A denial whose pattern matches the name's U+FFFD spelling still
        refuses it in /tmp, with its policy id."""
        caps = self.write("deny.json", json.dumps({
            "version": 1, "grants": [],
            "denials": [{"capability": "FILE_WRITE", "target": "/tmp/secret*",
                         "policy_id": "p-secret"}]}))
        res = self.run_json(self.write("w.py", (
            "open(b'/tmp/ok\\xff', 'w').write('x')\n"
            "try:\n    open(b'/tmp/secret\\xff', 'w')\n"
            "except PermissionError:\n    print('denied')\n")), caps=caps)
        self.assertEqual((res["status"], res["stdout"]), ("violation", "denied\n"), res)
        self.assertEqual([(v["capability"], v["target"], v["policy_id"])
                          for v in res["violations"]],
                         [("FILE_WRITE", "/tmp/secret\ufffd", "p-secret")])

    def test_item10_non_utf8_outside_tmp_is_denied(self):
        """Outside /tmp such a name stays a denial, even under a granted
        directory, and the event's target is valid UTF-8 (U+FFFD)."""
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        os.chmod(data, 0o755)
        with open(os.fsencode(data) + b"/k\xff", "w") as f:
            f.write("host\n")
        os.chmod(os.fsencode(data) + b"/k\xff", 0o644)
        self.write("data/ok.txt", "ok\n")
        events = os.path.join(self.tmp, "events.jsonl")
        caps = self.caps(grants=[("FILE_READ", data + "/*")])
        res = self.run_json(self.write("w.py", (
            "print(open(%r).read().strip())\n"
            "for p in (%r, b'/usr/\\xff'):\n"
            "    try:\n        open(p, 'rb')\n"
            "    except PermissionError:\n        print('denied')\n"
        ) % (data + "/ok.txt", os.fsencode(data) + b"/k\xff")), "--events", events, caps=caps)
        self.assertEqual((res["status"], res["exit_code"], res["stdout"]),
                         ("violation", 126, "ok\ndenied\ndenied\n"), res)
        want = [("FILE_READ", data + "/k\ufffd"), ("FILE_READ", "/usr/\ufffd")]
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]], want)
        with open(events, "rb") as f:
            lines = [json.loads(line.decode("utf-8")) for line in f]
        self.assertEqual([(e["capability"], e["target"]) for e in lines
                          if e["type"] == "CapabilityDenied"], want)


if __name__ == "__main__":
    if not shutil.which("openssl") or not shutil.which("useradd"):
        from runnerlib import skip_or_fail
        skip_or_fail("openssl and useradd are needed")
    main()
