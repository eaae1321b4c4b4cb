#!/usr/bin/python3
"""The mount mask: only granted paths exist inside, symlinks cannot escape,
write grants are writable and read grants are not."""
import json
import os

from runnerlib import RunnerTest, main

LIST = r'''
import os, sys
for p in sys.argv[1:]:
    try:
        if os.path.isdir(p):
            print(p, "DIR", sorted(os.listdir(p)))
        else:
            print(p, "OK", open(p).read().strip())
    except OSError as e:
        print(p, "ERR", e.errno)
'''


class Mounts(RunnerTest):
    def setUp(self):
        super().setUp()
        self.lister = self.write("list.py", LIST)

    def test_root_view_is_the_profile_only(self):
        res = self.run_json(self.lister, "/", "/etc", "/home", "/root", "/usr/bin", self.tmp)
        lines = dict(l.split(" ", 1) for l in res["stdout"].splitlines())
        self.assertEqual(lines["/"], "DIR ['bin', 'dev', 'etc', 'lib', 'lib64', 'omnibase', "
                                     "'proc', 'sys', 'tmp', 'usr']")
        # the sandbox's own synthetic files and netbase's public tables (the
        # host's, when it has them) only (docs/compatibility.md)
        etc = ['group', 'hostname', 'hosts', 'localtime', 'nsswitch.conf', 'passwd'] + [
            n for n in ('protocols', 'services') if os.path.isfile("/etc/" + n)]
        self.assertEqual(lines["/etc"], "DIR %s" % sorted(etc))
        # outside the view: the sidecar denies the read before the kernel says ENOENT
        self.assertEqual(lines["/home"], "ERR 13")
        self.assertEqual(lines["/usr/bin"], "DIR ['python3', 'python3.11']")
        # a host path under /tmp that nothing mounts: in the sandbox's own
        # /tmp the name does not exist, the kernel's ENOENT (issue 15)
        self.assertEqual(lines[self.tmp], "ERR 2")
        self.assertEqual(res["status"], "violation")
        self.assertEqual(sorted(v["target"] for v in res["violations"]),
                         sorted(["/home", "/root"]))

    def test_symlink_in_granted_dir_to_etc_shadow(self):
        self.write("data/ok.txt", "fine")
        link = os.path.join(self.tmp, "data", "shadow")
        os.symlink("/etc/shadow", link)
        for i, target in enumerate((os.path.join(self.tmp, "data", "*"),
                                    os.path.join(self.tmp, "data", "*o*"))):
            caps = self.caps(grants=[("FILE_READ", target)], name="c%d.json" % i)
            res = self.run_json(self.lister, os.path.join(self.tmp, "data", "ok.txt"), link,
                                caps=caps)
            out = res["stdout"].splitlines()
            self.assertEqual(out[0], os.path.join(self.tmp, "data", "ok.txt") + " OK fine")
            self.assertNotIn("root:", res["stdout"])
            # the link is in the view (ERR 2 from the mount mask) or, when the sidecar
            # resolves it, denied as what it points to
            self.assertIn(out[1], (link + " ERR 2", link + " ERR 13"), target)
            if out[1].endswith("13"):
                self.assertEqual([v["target"] for v in res["violations"]], ["/etc/shadow"])

    def test_literal_symlink_grant_outside_is_not_mounted(self):
        link = os.path.join(self.tmp, "passwd-link")
        os.symlink("/etc/passwd", link)
        caps = self.caps(grants=[("FILE_READ", link)])
        p = self.omnibase("sandbox", "run", self.lister, link, "--capabilities", caps, "-v",
                          "--json")
        res = json.loads(p.stdout)
        self.ids.append(res["sandbox_id"])
        self.assertEqual(res["stdout"].strip(), link + " ERR 2")
        self.assertIn("resolves to /etc/passwd, outside the grant: not mounted", p.stderr)
        # -v also names the effective limits and the sidecar's filter
        self.assertRegex(p.stderr, r"limits: memory \d+ MiB, cpus \d+\.\d{3}, pids \d+, "
                                   r"timeout \d+ s, tmpfs \d+ MiB, output \d+ KiB")
        self.assertRegex(p.stderr, r"sidecar: seccomp filter with (\d+) rules: \d+ dangerous")

    def test_grant_with_dotdot(self):
        # a pattern with ".." is refused outright: exit 125, the position, nothing ran
        self.write("pub/ok.txt", "yes")
        caps = self.caps(grants=[("FILE_READ", os.path.join(self.tmp, "pub", "..", "secret.txt"))])
        p = self.omnibase("sandbox", "run", self.lister, "--capabilities", caps)
        self.assert_bad_input(p, '".." segment')
        self.assertIn(caps + ":1:", p.stderr)

    def test_denial_inside_dir_grant(self):
        self.write("d/a.txt", "A")
        self.write("d/secret/b.txt", "B")
        caps = self.caps(grants=[("FILE_READ", os.path.join(self.tmp, "d", "*"))],
                         denials=[("FILE_READ", os.path.join(self.tmp, "d", "secret", "*"))])
        res = self.run_json(self.lister, os.path.join(self.tmp, "d", "a.txt"),
                            os.path.join(self.tmp, "d", "secret", "b.txt"), caps=caps)
        out = res["stdout"].splitlines()
        self.assertEqual(out[0], os.path.join(self.tmp, "d", "a.txt") + " OK A")
        # the denial inside the granted directory is the sidecar's, with its policy id
        self.assertEqual(out[1], os.path.join(self.tmp, "d", "secret", "b.txt") + " ERR 13")
        self.assertEqual(res["status"], "violation")
        self.assertEqual([v["target"] for v in res["violations"]],
                         [os.path.join(self.tmp, "d", "secret", "b.txt")])

    def test_write_grant_is_writable_read_grant_is_not(self):
        outdir = os.path.join(self.tmp, "out")
        os.makedirs(outdir)
        os.chmod(outdir, 0o777)
        ro = self.write("ro.txt", "r", mode=0o666)
        script = self.write("w.py", "import sys\nopen(sys.argv[1] + '/new.txt', 'w').write('made')\n"
                                    "try:\n    open(sys.argv[2], 'w').write('x')\n"
                                    "except OSError as e:\n    print('RO', e.errno)\n")
        caps = self.caps(grants=[("FILE_WRITE", outdir + "/*"), ("FILE_READ", ro)])
        res = self.run_json(script, outdir, ro, caps=caps)
        # writing a read-only grant: denied by the sidecar (the mount is read-only too)
        self.assertEqual(res["status"], "violation", res)
        self.assertEqual(res["stdout"].strip(), "RO 13")
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("FILE_WRITE", ro)])
        with open(os.path.join(outdir, "new.txt")) as f:
            self.assertEqual(f.read(), "made")
        with open(ro) as f:
            self.assertEqual(f.read(), "r")

    def test_missing_grant_path_is_skipped_and_said(self):
        caps = self.caps(grants=[("FILE_READ", os.path.join(self.tmp, "absent.txt"))])
        p = self.omnibase("sandbox", "run", self.lister, "--capabilities", caps, "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("absent.txt does not exist, not mounted", p.stderr)
        plan = json.loads(p.stdout)
        self.assertNotIn(os.path.join(self.tmp, "absent.txt"),
                         [m["destination"] for m in plan["mounts"]])
        self.assert_state_empty()

    def test_private_script_is_snapshotted(self):
        # a 0600 script is readable inside (a 0444 copy on the run's tmpfs)
        script = self.write("private.py", "print(open('/omnibase/script.py').read().count('x'))\n",
                            mode=0o600)
        res = self.run_json(script)
        self.assertEqual(res["status"], "ok", res)
        self.assertEqual(res["stdout"].strip(), "1")

    def test_shell_profile_command(self):
        p = self.omnibase("sandbox", "run", "--capabilities", self.caps(), "--json", "--",
                          "/bin/sh", "-c", "echo $((6*7)); id -u; cat /etc/shadow 2>&1; exit 4")
        res = json.loads(p.stdout)
        self.ids.append(res["sandbox_id"])
        # the cat was denied by the sidecar: a violation, whatever the shell returned
        self.assertEqual(res["exit_code"], 126, res)
        self.assertEqual(p.returncode, 126)
        lines = res["stdout"].splitlines()
        self.assertEqual(lines[0:2], ["42", "65534"])
        self.assertIn("Permission denied", res["stdout"] + res["stderr"])
        self.assertIn("SandboxViolationError:", p.stderr)


if __name__ == "__main__":
    main()
