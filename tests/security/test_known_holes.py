#!/usr/bin/python3
"""Attacks that SUCCEED today (found by this suite, 2026-11-22), kept as
failing tests until the layer that owns each is fixed. Each failure message
starts with `KNOWN HOLE` and names the owner; docs/security/threat_model.md
lists them under "Open findings". Do not weaken these tests: fix the hole.

- hard link under a granted directory to a file outside it, or to a denied
  file: the directory is bind-mounted whole, the inode is readable (runner
  mount plan, runner/mounts.c);
- exec of a binary that only FILE_READ covers, or that the workload wrote to
  /tmp: mounts are not `noexec` and nothing checks FILE_EXEC before the
  sidecar (runner/mounts.c, runner/spec.c; the sidecar once integrated);
- unshare(CLONE_NEWNS) and unshare(CLONE_NEWUSER|CLONE_NEWNS) succeed as the
  unprivileged workload inside gVisor (then chroot works in the new user
  namespace): no OCI seccomp profile (runner/spec.c; the sidecar's filter);
- mknod of a character device on /tmp succeeds (tmpfs without `nodev`);
- a child kills PID 1 (the workload itself until the sidecar is PID 1);
- `--events -` without `--json`: the workload's live stdout and the event
  stream share the runner's stdout, so a forged event line is
  indistinguishable from a real one (cli/cmd_sandbox.c)."""
import json
import os
import subprocess

from seclib import OMNIBASE, AttackTest, main

PROBE = r'''
import ctypes, errno, os, signal, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a
                                          for a in args])
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
def attempt(name, fn):
    try:
        r = fn()
        print("%s: SUCCEEDED %r" % (name, r), flush=True)
    except (OSError, subprocess.SubprocessError) as e:
        print("%s: blocked %s" % (name, errno.errorcode.get(getattr(e, "errno", 0), e)),
              flush=True)
'''

HOST_SECRET = "hardlinked-secret-91c4"


class KnownHoles(AttackTest):
    def assert_blocked(self, res, names, owner):
        got = self.verdicts(res)
        for name in names:
            self.assertIn(name, got, res["stdout"] + res["stderr"])
            self.assertTrue(got[name].startswith("blocked"),
                            "KNOWN HOLE (%s): %s: %s" % (owner, name, got[name]))

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
                            "runner/mounts.c: st_nlink > 1 files under a granted dir")

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
        res = self.run_py(code, caps=caps)
        self.assert_blocked(res, ["exec_read_only_grant", "exec_written_to_tmp"],
                            "runner: noexec on non-FILE_EXEC mounts and /tmp; sidecar FILE_EXEC")

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
        res = self.run_py(code)
        self.assert_blocked(res, ["unshare_mnt", "mknod_chardev_tmp", "unshare_user_mnt",
                                  "chroot_in_userns"],
                            "runner/spec.c: no OCI seccomp, /tmp without nodev; sidecar filter")

    def test_child_kills_pid1(self):
        code = ("import os, signal, sys, time\n"
                "if os.fork() == 0:\n    os.kill(1, signal.SIGKILL)\n    os._exit(0)\n"
                "time.sleep(1)\nprint('pid1_alive: yes')\n")
        res = self.run_json(self.write("kill1.py", code))
        self.assertEqual(self.verdicts(res).get("pid1_alive"), "yes",
                         "KNOWN HOLE (no sidecar as PID 1 yet): a child killed PID 1: %r" % res)

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
                         "KNOWN HOLE (cli/cmd_sandbox.c): `--events -` without --json mixes "
                         "the workload's stdout with the event stream")


if __name__ == "__main__":
    main()
