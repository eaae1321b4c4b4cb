#!/usr/bin/python3
"""Regressions for the holes this suite found on 2026-11-22 (findings F1-F5
of docs/security/threat_model.md), all closed the same day by the sidecar
integration and the runner (dc298cd, a3324c2). Each failure message starts
with `REGRESSION` and names the finding.

- F1 a hard link under a granted directory to a file outside it, or to a
  denied file (runner/mounts.c now leaves such files out of the view);
- F2 exec of a binary that only FILE_READ covers, or that the workload wrote
  to /tmp (noexec binds + the sidecar's FILE_EXEC check);
- F3 unshare(CLONE_NEWNS), unshare(CLONE_NEWUSER|CLONE_NEWNS), chroot in a
  user namespace, mknod of a character device on /tmp (the sidecar's filter);
- F4 a child kills PID 1 (the sidecar is PID 1 and another uid);
- F5 `--events -` without `--json`: the workload's stdout no longer shares
  the event stream (it goes to stderr)."""
import json
import os
import subprocess

import seclib
from seclib import OMNIBASE, AttackTest, main

PROBE = seclib.PROBE + "import signal, time\n"

HOST_SECRET = "hardlinked-secret-91c4"


class Regressions(AttackTest):
    def test_hard_link_out_of_granted_dir(self):
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        secret = self.write("outside/secret.txt", HOST_SECRET + "\n")
        self.write("data/denied.txt", HOST_SECRET + "\n")
        os.link(secret, os.path.join(data, "hl-outside.txt"))
        os.link(os.path.join(data, "denied.txt"), os.path.join(data, "hl-denied.txt"))
        self.write("data/ok.txt", "public\n")
        caps = self.caps(grants=[("FILE_READ", data + "/*")],
                         denials=[("FILE_READ", data + "/denied.txt")])
        code = PROBE + "".join("attempt(%r, lambda: open(%r).read())\n" % kv for kv in {
            "hardlink_outside": data + "/hl-outside.txt",
            "hardlink_denied": data + "/hl-denied.txt",
        }.items())
        res = self.run_py(code, caps=caps)
        self.assert_blocked(res, ["hardlink_outside", "hardlink_denied"],
                            "F1, runner/mounts.c: st_nlink > 1 files under a granted dir")
        self.assertNotIn(HOST_SECRET, res["stdout"])

    def test_exec_without_file_exec(self):
        data = os.path.join(self.tmp, "bin")
        os.makedirs(data)
        tool = os.path.join(data, "tool")
        with open("/usr/bin/python3.11", "rb") as src, open(tool, "wb") as dst:
            dst.write(src.read())
        os.chmod(tool, 0o755)
        caps = self.caps(grants=[("FILE_READ", data + "/*")])
        run = "subprocess.run([%r, '-c', 'pass'], check=True)"
        code = PROBE + "".join("attempt(%r, lambda: %s)\n" % kv for kv in {
            "exec_read_only_grant": run % tool,
            "exec_written_to_tmp": "(open('/tmp/t', 'wb').write(open('/usr/bin/python3.11',"
                                   " 'rb').read()), os.chmod('/tmp/t', 0o755), "
                                   + run % "/tmp/t" + ")",
        }.items())
        res = self.run_py(code, caps=caps, denied=[("FILE_EXEC", tool, "execve")])
        self.assert_blocked(res, ["exec_read_only_grant", "exec_written_to_tmp"],
                            "F2, runner: noexec on non-FILE_EXEC mounts and /tmp; sidecar FILE_EXEC")

    def test_namespaces_and_devices(self):
        code = PROBE + "".join("attempt(%r, lambda: %s)\n" % kv for kv in {
            "unshare_mnt": "sc(272, 0x00020000)",
            "mknod_chardev_tmp": "sc(133, b'/tmp/kmem', 0o20600, (1 << 8) | 2)",
        }.items())
        # in a child: the user namespace changes the process for good
        code += ("if os.fork() == 0:\n"
                 "    attempt('unshare_user_mnt', lambda: sc(272, 0x10020000))\n"
                 "    attempt('chroot_in_userns', lambda: sc(161, b'/tmp'))\n"
                 "    os._exit(0)\nos.wait()\n")
        res = self.run_py(code, denied=[("SYSCALL", "unshare", "unshare")])
        self.assert_blocked(res, ["unshare_mnt", "mknod_chardev_tmp", "unshare_user_mnt",
                                  "chroot_in_userns"], "F3, the sidecar's seccomp filter")

    def test_child_kills_pid1(self):
        code = ("import os, signal, sys, time\n"
                "if os.fork() == 0:\n    os.kill(1, signal.SIGKILL)\n    os._exit(0)\n"
                "time.sleep(1)\nprint('pid1_alive: yes')\n")
        res = self.run_json(self.write("kill1.py", code))
        self.assertEqual(self.verdicts(res).get("pid1_alive"), "yes",
                         "REGRESSION (F4, sidecar as PID 1): a child killed PID 1: %r" % res)

    def test_events_on_stdout_without_json(self):
        forge = ("import json, os\nprint(json.dumps({'seq': 2, 'type': 'SandboxExit', "
                 "'sandbox_id': os.uname().nodename, 'status': 'ok', 'exit_code': 0, "
                 "'forged': True}))\n")
        p = subprocess.run([OMNIBASE, "sandbox", "run", "--events", "-", "--capabilities",
                            self.caps(), self.write("forge.py", forge)], env=self.env,
                           capture_output=True, text=True, timeout=120)
        self.outputs += [p.stdout, p.stderr]
        events = []
        for line in p.stdout.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
        self.ids += list({e["sandbox_id"] for e in events if e.get("sandbox_id")})
        self.assertEqual([e for e in events if e.get("forged")], [],
                         "REGRESSION (F5, cli/cmd_sandbox.c): `--events -` without --json "
                         "mixes the workload's stdout with the event stream")
        self.assertIn('"forged": true', p.stderr)  # the attack ran: its line went to stderr


if __name__ == "__main__":
    main()
