#!/usr/bin/python3
"""Attacks that plant set-user-ID, set-group-ID or sticky bits on host files
(issue 9 mechanism 4, threat model F10). `nosuid` holds only inside gVisor:
a mode set through a FILE_WRITE grant is written by runsc's gofer onto the
real host file, where any local user could then run it as its owner.

Every syscall that sets a mode is tried with 04755/02755/06755/01777 on a
FILE_WRITE grant: chmod, fchmod, fchmodat, fchmodat2, open/openat/creat with
O_CREAT (the create mode), openat2 (its mode is in memory), mkdir/mkdirat,
mknod/mknodat. The mode is a register, read by the sidecar at the seccomp
stop (no other thread can change it); each is refused with EPERM and a
CapabilityDenied (SYSCALL, "<syscall> mode 0NNNN"), and the host files are
checked afterwards: no such bit landed. A plain mode (0755) still works.

Before the fix, chmod 04755, fchmod 02755, fchmodat 06755, chmod 01777 of a
directory and mkdir/mkdirat with S_ISVTX landed on the host; open/openat/
creat/mknod with set-id bits succeeded but gVisor's gofer created the files
without them (now refused all the same: nothing depends on that). openat2
and fchmodat2 are ENOSYS (gVisor 20221219 has neither; the filter makes
openat2 ENOSYS anyway). security.capability xattrs: the gofer serves no
xattrs (EOPNOTSUPP), checked here too."""
import os
import stat

from seclib import PROBE, AttackTest, main

PROBE = PROBE + r'''
os.umask(0)
W = WDIR.encode()
fd = os.open(WDIR + "/f_fchmod", os.O_RDWR)
AT_FDCWD, O_CREAT_W = -100, os.O_CREAT | os.O_WRONLY
attempt("chmod", lambda: sc(90, W + b"/f_chmod", 0o4755))
attempt("fchmod", lambda: sc(91, fd, 0o2755))
attempt("fchmodat", lambda: sc(268, AT_FDCWD, W + b"/f_fchmodat", 0o6755))
attempt("fchmodat2", lambda: sc(452, AT_FDCWD, W + b"/f_fchmodat2", 0o4755, 0))
attempt("chmod_sticky", lambda: sc(90, W + b"/d_sticky", 0o1777))
attempt("open", lambda: sc(2, W + b"/n_open", O_CREAT_W, 0o4755))
attempt("openat", lambda: sc(257, AT_FDCWD, W + b"/n_openat", O_CREAT_W, 0o6755))
attempt("creat", lambda: sc(85, W + b"/n_creat", 0o2755))
how = ctypes.create_string_buffer(struct.pack("QQQ", O_CREAT_W, 0o4755, 0))
attempt("openat2", lambda: sc(437, AT_FDCWD, W + b"/n_openat2", how, 24))
attempt("mkdir", lambda: sc(83, W + b"/n_mkdir", 0o3777))
attempt("mkdirat", lambda: sc(258, AT_FDCWD, W + b"/n_mkdirat", 0o1777))
attempt("mknod", lambda: sc(133, W + b"/n_mknod", stat.S_IFREG | 0o4755, 0))
attempt("mknodat", lambda: sc(259, AT_FDCWD, W + b"/n_mknodat", stat.S_IFIFO | 0o1666, 0))
# file capabilities are the other way to privilege on the host: the gofer
# serves no xattrs at all (EOPNOTSUPP); fsetxattr is not trapped
CAPV = bytes.fromhex("0100000200200000000000000000000000000000")
attempt("setxattr_cap", lambda: os.setxattr(WDIR + "/f_plain", "security.capability", CAPV))
attempt("fsetxattr_cap", lambda: os.setxattr(fd, "security.capability", CAPV))
attempt("plain_chmod", lambda: sc(90, W + b"/f_plain", 0o755))
attempt("plain_mkdir", lambda: sc(83, W + b"/n_plain", 0o755))
'''

REFUSED = {"chmod": 0o4755, "fchmod": 0o2755, "fchmodat": 0o6755, "fchmodat2": 0o4755,
           "chmod_sticky": 0o1777, "open": 0o4755, "openat": 0o6755, "creat": 0o2755,
           "mkdir": 0o3777, "mkdirat": 0o1777, "mknod": 0o4755, "mknodat": 0o1666}
SYSCALL = {"chmod_sticky": "chmod"}


class SetIdBits(AttackTest):
    def test_setid_modes_do_not_reach_the_host(self):
        w = os.path.join(self.tmp, "w")
        os.makedirs(w)
        os.makedirs(os.path.join(w, "d_sticky"))
        for name in ("f_chmod", "f_fchmod", "f_fchmodat", "f_fchmodat2", "f_plain"):
            self.write("w/" + name, "#!/bin/sh\nid\n", mode=0o644)
        for root, dirs, files in os.walk(w):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.chown(n, 65534, 65534)  # the workload's own files, as a FILE_WRITE grant is
        caps = self.caps(grants=[("FILE_READ", w), ("FILE_READ", w + "/*"),
                                 ("FILE_WRITE", w), ("FILE_WRITE", w + "/*")])
        denied = [("SYSCALL", "%s mode 0%o" % (SYSCALL.get(k, k), m), SYSCALL.get(k, k))
                  for k, m in REFUSED.items()
                  if k != "fchmodat2"]  # gVisor 20221219 has no fchmodat2 (ENOSYS)
        res = self.run_json(self.write("attack.py", "WDIR = %r\n" % w + PROBE), caps=caps)
        # on the host: no set-id or sticky bit anywhere in the grant
        landed = []
        for root, dirs, files in os.walk(w):
            for n in [os.path.join(root, x) for x in dirs + files]:
                mode = os.lstat(n).st_mode
                if mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
                    landed.append("%s %o" % (os.path.relpath(n, w), mode))
        self.assertEqual(landed, [], "set-id/sticky bits reached the host: %s" % res["stdout"])
        got = self.verdicts(res)
        for name in REFUSED:
            self.assertIn(name, got, res["stdout"] + res["stderr"])
            self.assertTrue(got[name].startswith("blocked"), "%s: %s" % (name, got[name]))
        self.assertIn(got["fchmodat2"], ("blocked EPERM", "blocked ENOSYS"))
        self.assertIn(got["openat2"], ("blocked ENOSYS",))
        self.assertTrue(got["setxattr_cap"].startswith("blocked"), got["setxattr_cap"])
        self.assertTrue(got["fsetxattr_cap"].startswith("blocked"), got["fsetxattr_cap"])
        self.assertEqual(got["plain_chmod"], "SUCCEEDED 0")
        self.assertEqual(got["plain_mkdir"], "SUCCEEDED 0")
        self.assert_denied(res, denied)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(w, "f_plain")).st_mode), 0o755)


if __name__ == "__main__":
    main()
