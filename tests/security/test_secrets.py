#!/usr/bin/python3
"""Secrets: nothing of the runner's environment, open files or state reaches
the workload. The runner runs with a secret in its environment (seclib's
SECRET) and, here, with extra file descriptors open (inherited, non-CLOEXEC,
and through bash's `exec 7<file`); the workload looks for them everywhere it
can: os.environ, /proc/self/environ, /proc/1/environ, every /proc/*/environ
and cmdline, /proc/*/mem of other processes, and every fd above 2. While it
runs, the test also searches the run's state directory (bundle, config.json,
logs) for the secret."""
import glob
import json
import os
import subprocess
import time

from seclib import OMNIBASE, SECRET, AttackTest, main

HUNT = r'''
import glob, os, sys
secret = SECRET_REVERSED[::-1].encode()
found = []
if any(secret in (k + "=" + v).encode() for k, v in os.environ.items()):
    found.append("os.environ")
for p in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline") + ["/proc/1/environ"]:
    try:
        if secret in open(p, "rb").read():
            found.append(p)
    except OSError:
        pass
print("env_names:", sorted(os.environ))
print("found:", found)
fds = []
for fd in range(3, 1024):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
print("fds:", fds)
mem = []
for d in glob.glob("/proc/[0-9]*"):
    if int(d[6:]) == os.getpid():
        continue
    try:  # read at the first mapped address (offset 0 is never mapped)
        with open(d + "/maps") as f:
            start = int(f.readline().split("-")[0], 16)
        with open(d + "/mem", "rb") as f:
            f.seek(start)
            if f.read(1):
                mem.append(d)
    except (OSError, ValueError):
        pass
print("other_mem:", mem)
'''


class SecretAttacks(AttackTest):
    def hunt_script(self):
        # the script holds the secret reversed, so that neither its text nor
        # its argv carries the secret itself
        return self.write("hunt.py", "SECRET_REVERSED = %r\n" % SECRET[::-1] + HUNT)

    def check_hunt(self, res):
        v = self.verdicts(res)
        self.assertEqual(v["found"], "[]", res["stdout"])
        self.assertEqual(v["env_names"], "['HOME', 'LANG', 'PATH']", res["stdout"])
        self.assertEqual(v["fds"], "[]", "file descriptors leaked into the workload")
        self.assertEqual(v["other_mem"], "[]", "another process's memory was readable")

    def test_environment_and_fds(self):
        """Secret env vars and inherited fds (pass_fds and a non-CLOEXEC fd)."""
        script = self.hunt_script()
        secret_file = self.write("secret-file", SECRET + "\n", mode=0o600)
        fd1 = os.open(secret_file, os.O_RDONLY)  # not CLOEXEC: inherited by exec
        os.set_inheritable(fd1, True)
        fd2 = os.open(secret_file, os.O_RDONLY)
        try:
            res = self.run_json(script, caps=self.caps(),
                                popen_kw={"pass_fds": (fd1, fd2)})
        finally:
            os.close(fd1)
            os.close(fd2)
        self.assertIn(res["status"], ("ok", "violation"), res)
        self.check_hunt(res)

    def test_bash_exec_fd(self):
        """`exec 7<secret` in the shell that starts the runner, and 8<>, 9>."""
        script = self.hunt_script()
        secret_file = self.write("secret-file", SECRET + "\n", mode=0o600)
        caps = self.caps()
        sh = ('exec 7<%s 8<>%s 9>>%s; exec "$@"'
              % (secret_file, secret_file, self.tmp + "/w"))
        p = subprocess.run(["bash", "-c", sh, "bash", OMNIBASE, "sandbox", "run", "--json",
                            "--capabilities", caps, script],
                           env=self.env, capture_output=True, text=True, timeout=120)
        self.outputs += [p.stdout, p.stderr]
        res = json.loads(p.stdout)
        self.ids.append(res["sandbox_id"])
        self.assertIn(res["status"], ("ok", "violation"), res)
        self.check_hunt(res)

    def test_secret_not_in_state_or_events(self):
        """While the sandbox runs, no file of its state directory holds the
        secret; nor does the events stream or the dry-run plan."""
        script = self.write("sleep.py", "import time\nprint('up', flush=True)\n"
                            "time.sleep(3)\n")
        events = self.tmp + "/events.jsonl"
        caps = self.caps()
        p = subprocess.Popen([OMNIBASE, "sandbox", "run", "--json", "--events", events,
                              "--capabilities", caps, script],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        runs = os.path.join(self.state, "runs")
        scanned = 0
        deadline = time.time() + 20
        while p.poll() is None and time.time() < deadline:
            for run in glob.glob(runs + "/*"):  # a rogue local user cannot look in
                try:
                    self.assertEqual(os.stat(run).st_mode & 0o077, 0, run)
                except FileNotFoundError:
                    pass
            for path in glob.glob(runs + "/*/**", recursive=True):
                if "/rootfs/" in path or not os.path.isfile(path) or os.path.islink(path):
                    continue
                try:
                    with open(path, "rb") as f:
                        data = f.read(16 << 20)
                except OSError:
                    continue
                scanned += 1
                self.assertNotIn(SECRET.encode(), data, path)
            time.sleep(0.2)
        out, err = p.communicate(timeout=60)
        self.outputs += [out, err]
        res = json.loads(out)
        self.ids.append(res["sandbox_id"])
        self.assertIn(res["status"], ("ok", "violation"), res)
        self.assertGreater(scanned, 0, "the run's state directory was never seen")
        with open(events) as f:
            self.assertNotIn(SECRET, f.read())
        audit = os.path.join(self.state, "audit.jsonl")
        if os.path.exists(audit):
            with open(audit) as f:
                self.assertNotIn(SECRET, f.read())
        dry = subprocess.run([OMNIBASE, "sandbox", "run", "--dry-run", "-v", "--capabilities",
                              caps, script], env=self.env, capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.assertIn('"env"', dry.stdout)
        self.assertNotIn(SECRET, dry.stdout + dry.stderr)


if __name__ == "__main__":
    main()
