#!/usr/bin/python3
"""Ordinary programs run clean (issue 15): what is the sandbox's own is never
a capability question. Each test runs a workload with no grants under the
default profile (python-minimal) through the CLI, under real runsc, and
wants status ok, exit 0, no violations and the program's own output."""
from runnerlib import RunnerTest, main


class Compat(RunnerTest):
    def run_clean(self, code, *args):
        res = self.run_json(self.write("w.py", code), *args)
        self.assertEqual(res["violations"], [], res)
        self.assertEqual((res["status"], res["exit_code"]), ("ok", 0), res)
        return res["stdout"].splitlines()

    def test_item1_private_temp_tree(self):
        """A 0700 tree of the workload's own: made, written, renamed, removed."""
        out = self.run_clean(
            "import os, tempfile\n"
            "d = tempfile.mkdtemp()\n"
            "print(oct(os.stat(d).st_mode & 0o777))\n"
            "open(d + '/a.txt', 'w').write('x')\n"
            "os.makedirs(d + '/s/t')\n"
            "os.chdir(d)\n"
            "open('b.txt', 'w').write('y')\n"
            "os.rename('b.txt', 'c.txt')\n"
            "os.rename('s', 'u')\n"
            "print(sorted(os.listdir('.')))\n"
            "os.unlink('c.txt'); os.unlink(d + '/a.txt')\n"
            "os.rmdir('u/t'); os.rmdir('u')\n"
            "os.chdir('/')\n"
            "os.rmdir(d)\n"
            "print(os.path.exists(d))\n")
        self.assertEqual(out, ["0o700", "['a.txt', 'c.txt', 'u']", "False"])

    def test_item2_missing_paths_are_enoent(self):
        """Missing targets answer as the kernel would, with no event."""
        out = self.run_clean(
            "import errno, os, subprocess, tempfile\n"
            "def t(name, f):\n"
            "    try:\n        f(); print(name, 'ok')\n"
            "    except OSError as e:\n        print(name, errno.errorcode[e.errno])\n"
            "d = tempfile.mkdtemp()\n"
            "t('unlink', lambda: os.unlink('/tmp/nope'))\n"
            "t('unlink_own', lambda: os.unlink(d + '/nope'))\n"
            "t('rmdir', lambda: os.rmdir('/tmp/nope'))\n"
            "t('open', lambda: open('/tmp/nope'))\n"
            "t('open_deep', lambda: open('/tmp/no/pe'))\n"
            "t('rename', lambda: os.rename('/tmp/nope', '/tmp/nope2'))\n"
            "t('exec', lambda: subprocess.run(['/usr/bin/nope']))\n"
            "t('exec_deep', lambda: subprocess.run(['/usr/local/bin/nope']))\n"
            "t('exec_tmp', lambda: subprocess.run(['/tmp/nope']))\n"
            "t('mkdir_usr', lambda: os.mkdir('/usr'))\n"
            "t('mkdir_own', lambda: (os.mkdir(d + '/x'), os.mkdir(d + '/x')))\n"
            "t('cwd', lambda: subprocess.run(['/usr/bin/python3', '-c', '1'], cwd='/tmp/nope'))\n"
            "open(d + '/file', 'w').close()\n"
            "t('mkdir_no_parent', lambda: os.mkdir(d + '/gone/x'))\n"
            "t('mkdir_under_file', lambda: os.mkdir(d + '/file/x'))\n"
            "t('creat_under_file', lambda: open(d + '/file/x', 'w'))\n"
            "t('mkstemp_no_dir', lambda: tempfile.mkstemp(dir=d + '/gone'))\n")
        self.assertEqual(out, ["unlink ENOENT", "unlink_own ENOENT", "rmdir ENOENT",
                               "open ENOENT", "open_deep ENOENT", "rename ENOENT",
                               "exec ENOENT", "exec_deep ENOENT", "exec_tmp ENOENT",
                               "mkdir_usr EEXIST", "mkdir_own EEXIST", "cwd ENOENT",
                               "mkdir_no_parent ENOENT", "mkdir_under_file ENOTDIR",
                               "creat_under_file ENOTDIR", "mkstemp_no_dir ENOENT"])

    def test_item2_missing_host_path_is_still_a_denial(self):
        """Outside the sandbox's own, a read of a path the mount mask hides
        is still reported (tests/security relies on it)."""
        res = self.run_json(self.write("w.py", "try:\n    open('/root/.ssh/id_rsa')\n"
                                       "except OSError as e:\n    print(e.errno)\n"))
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126), res)
        self.assertEqual(res["stdout"].strip(), "13")
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("FILE_READ", "/root/.ssh/id_rsa")])

    def test_item3_path_lookup(self):
        """platform's `uname -p` and a PATH lookup of a missing command."""
        out = self.run_clean(
            "import os, platform, shutil, subprocess\n"
            "print(os.environ['PATH'])\n"
            "print(platform.uname().system, platform.processor() is not None)\n"
            "try:\n    subprocess.run(['no-such-command'])\n"
            "except FileNotFoundError:\n    print('FileNotFoundError')\n"
            "print(subprocess.run(['python3', '-c', 'print(42)'], capture_output=True,"
            " text=True).stdout.strip())\n")
        self.assertEqual(out, ["/usr/bin:/bin", "Linux True", "FileNotFoundError", "42"])

    def test_coreutils_stat_works(self):
        """ls -l and stat (coreutils' statx with AT_NO_AUTOMOUNT, which gVisor
        20221219 refuses with EINVAL) work: the sidecar mends the flag."""
        res = self.run_json(self.write("w.sh", "printf 12345 > /tmp/f\n"
                                                "ls -ln /tmp/f\n"
                                                "stat -c '%s %u %a' /tmp/f /tmp\n"),
                            "--profile", "workstation")
        self.assertEqual(res["violations"], [], res)
        self.assertEqual((res["status"], res["exit_code"], res["stderr"]), ("ok", 0, ""), res)
        out = res["stdout"].splitlines()
        self.assertEqual(out[0].split()[2:5], ["65534", "65534", "5"])
        self.assertEqual(out[1:], ["5 65534 644", "%s 0 1777" % out[2].split()[0]])

    def test_item4_cpu_topology(self):
        out = self.run_clean(
            "import os\n"
            "print(os.cpu_count() >= 1, os.sysconf('SC_NPROCESSORS_ONLN') >= 1)\n"
            "print(open('/sys/devices/system/cpu/online').read().strip()[:1])\n"
            "print('processor' in open('/proc/cpuinfo').read())\n"
            "print('MemTotal' in open('/proc/meminfo').read())\n")
        self.assertEqual(out, ["True True", "0", "True", "True"])

    def test_item8_sandbox_etc(self):
        """The sandbox user's group, localhost, nsswitch, no nscd: the
        sandbox's own (its /etc/passwd: test_compat_etc.py)."""
        out = self.run_clean(
            "import grp, os, socket\n"
            "print(grp.getgrgid(os.getgid()).gr_name, grp.getgrnam('root').gr_gid)\n"
            "print(os.path.expanduser('~'))\n"
            "print(socket.gethostbyname('localhost'))\n"
            "print(open('/etc/nsswitch.conf').read().split())\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n    s.connect('/var/run/nscd/socket')\n"
            "except FileNotFoundError:\n    print('no nscd')\n")
        self.assertEqual(out, ["sandbox 0", "/tmp", "127.0.0.1",
                               "['passwd:', 'files', 'group:', 'files', 'hosts:', 'files']",
                               "no nscd"])

if __name__ == "__main__":
    main()
