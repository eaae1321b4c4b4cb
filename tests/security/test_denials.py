#!/usr/bin/python3
"""A denial whatever kind of grant mounts its directory (issue 9, findings F7
and F9 of docs/security/threat_model.md). Each failure message starts with
`REGRESSION` and names the finding.

- F7 a FILE_READ denial inside a FILE_READ+FILE_WRITE workspace: the
  workspace was mounted read-write whole (the FILE_WRITE grant looked only at
  FILE_WRITE denials), so rename, link, a rename of the parent directory, a
  RENAME_EXCHANGE or a linkat of an O_PATH descriptor gave the denied file a
  readable name. Now a denied file is in no mount that would give it what is
  denied (runner/mounts.c), and the sidecar refuses a rename or link whose
  new name would give more than the old (sidecar/check.c). A thread racing
  the sidecar's check of link shows that the mount layer holds alone.
- F7 sibling: a FILE_EXEC denial inside a read-write workspace, renamed to a
  name a FILE_EXEC grant covers, then run through the loader.
- F9 a FILE_WRITE-only grant is a read-write bind: FILE_WRITE implies
  FILE_READ of the same path (documented, and the sidecar no longer reports
  such reads); a file denied FILE_READ under it is not in the mount, so a
  thread racing the sidecar's check reads nothing."""
import json
import os

import seclib
from seclib import AttackTest, main

FILE_SECRET = "ob-file-secret-5d81e0c7"

PROBE = seclib.PROBE + r'''
import threading
def read(p):
    with open(p) as f:
        return f.read()
'''


# A thread flips a path buffer between a decoy the sidecar allows and the
# target while the main thread makes CALL with it, at most TRIES times; the
# race is won when READ (of the call's result r) gives other bytes than the
# decoy's. Prints `race: SUCCEEDED/blocked after N tries`.
RACE = r'''
DECOY, TARGET, DECOY_DATA = %r, %r, %r
buf = ctypes.create_string_buffer(4096)
stop = False
def flip():
    while not stop:
        ctypes.memmove(buf, TARGET, len(TARGET))
        ctypes.memmove(buf, DECOY, len(DECOY))
ctypes.memmove(buf, DECOY, len(DECOY))
t = threading.Thread(target=flip)
t.start()
won = tries = 0
for tries in range(1, %d):
    r = %s
    if r >= 0:
        data = %s
        if data != DECOY_DATA:
            won = tries
            break
stop = True
t.join()
print('race: %%s after %%d tries' %% ('SUCCEEDED' if won else 'blocked', tries), flush=True)
if won:
    print('read: %%r' %% data, flush=True)
'''
TRIES = 3000


def race_code(setup, decoy, decoy_data, target, call, read):
    return PROBE + setup + RACE % (decoy + b"\0", target + b"\0", decoy_data, TRIES + 1,
                                   call, read)


class Denials(AttackTest):
    def assert_no_secret(self, res, owner):
        events = json.dumps(res["events"]) + json.dumps(self.audit_events())
        for where, text in (("stdout", res["stdout"]), ("stderr", res["stderr"]),
                            ("events", events)):
            self.assertNotIn(FILE_SECRET, text,
                             "REGRESSION (%s): the denied file's content reached %s"
                             % (owner, where))

    def workspace(self):
        ws = os.path.join(self.tmp, "ws")
        for name in ("r.env", "l.env", "x.env", "e.env", "o.env", "cfg/.env",
                     "private/key"):
            self.write("ws/" + name, FILE_SECRET + "\n")
        self.write("ws/notes.txt", "public notes\n")
        self.write("ws/cfg/settings.txt", "public settings\n")
        self.own(ws)
        return ws

    def own(self, top):
        """The workload's uid owns the tree (gVisor refuses a hard link to a
        file of another owner): as in a workspace the workload made."""
        for d, _, files in os.walk(top):
            for p in [d] + [os.path.join(d, f) for f in files]:
                os.chown(p, 65534, 65534)

    def test_rename_and_link_of_a_denied_file(self):
        ws = self.workspace()
        denied = ["r.env", "l.env", "x.env", "e.env", "o.env", "cfg/.env", "private/*"]
        caps = self.caps(grants=[("FILE_READ", ws + "/*"), ("FILE_WRITE", ws + "/*")],
                         denials=[("FILE_READ", ws + "/" + d) for d in denied])
        w = ws + "/"
        code = PROBE + "".join("attempt(%r, lambda: %s)\n" % kv for kv in {
            "read_direct": "read(%r)" % (w + "r.env"),
            "rename_file": "(os.rename(%r, %r), read(%r))" % (w + "r.env", w + "r.txt",
                                                            w + "r.txt"),
            "link_file": "(os.link(%r, %r), read(%r))" % (w + "l.env", w + "l.txt", w + "l.txt"),
            "rename_parent": "(os.rename(%r, %r), read(%r))" % (w + "cfg", w + "cfg2",
                                                              w + "cfg2/.env"),
            "rename_denied_dir": "(os.rename(%r, %r), read(%r))" % (w + "private", w + "pub",
                                                                  w + "pub/key"),
            "rename_exchange": "(sc(316, -100, %r, -100, %r, 2), read(%r))"
                               % (w.encode() + b"notes.txt", w.encode() + b"e.env",
                                  w + "notes.txt"),
            "symlink_tmp": "(os.symlink(%r, '/tmp/l'), read('/tmp/l'))" % (w + "x.env"),
            "symlink_ws": "(os.symlink('x.env', %r), read(%r))" % (w + "x.lnk", w + "x.lnk"),
            "linkat_o_path": "(sc(265, os.open(%r, os.O_PATH), b'', -100, %r, 0x1000), read(%r))"
                             % (w + "o.env", w.encode() + b"o.txt", w + "o.txt"),
            "proc_fd_link": "(os.link('/proc/self/fd/%%d' %% os.open(%r, os.O_PATH), %r), "
                            "read(%r))" % (w + "o.env", w + "o2.txt", w + "o2.txt"),
        }.items())
        res = self.run_py(code, caps=caps)
        self.assert_no_secret(res, "F7, runner/mounts.c: a FILE_READ denial in a rw mount")
        self.assert_blocked(res, ["read_direct", "rename_file", "link_file", "rename_parent",
                                  "rename_denied_dir", "rename_exchange", "symlink_tmp",
                                  "symlink_ws", "linkat_o_path", "proc_fd_link"],
                            "F7, runner/mounts.c + sidecar/check.c")
        self.assert_denied(res, [
            ("FILE_READ", w + "r.env", "openat"),
            ("FILE_READ", w + "r.env", "rename"),
            ("FILE_READ", w + "l.env", "link"),
            ("FILE_READ", w + "cfg", "rename"),
            ("FILE_READ", w + "private", "rename"),
            ("FILE_READ", w + "e.env", "renameat2")])
        # the public files of the workspace are still there and writable
        # the same by racing the sidecar's check of link (the mount layer alone)
        race = race_code("", w.encode() + b"notes.txt", b"public notes\n", w.encode() + b"l.env",
                         "libc.syscall(86, buf, %r)" % (w.encode() + b"raced"),
                         "(read(%r).encode(), os.unlink(%r))[0]" % (w + "raced", w + "raced"))
        res = self.run_py(race, caps=caps)
        self.assert_no_secret(res, "F7, runner/mounts.c: a FILE_READ denial in a rw mount")
        self.assert_blocked(res, ["race"], "F7, the denied file is in no mount")
        res = self.run_py(PROBE + "attempt('public', lambda: (open(%r, 'a').write('x'), "
                          "read(%r)))\n" % (w + "notes.txt", w + "cfg/settings.txt"), caps=caps)
        self.assertTrue(self.verdicts(res)["public"].startswith("SUCCEEDED"), res)

    def test_denied_file_the_workload_made(self):
        # a name the workload made itself: only the sidecar can refuse this one
        caps = self.caps(denials=[("FILE_READ", "/tmp/*.key")])
        code = PROBE + "open('/tmp/a.key', 'w').write('own key')\n" + "".join(
            "attempt(%r, lambda: %s)\n" % kv for kv in {
                "read_direct": "read('/tmp/a.key')",
                "rename_file": "(os.rename('/tmp/a.key', '/tmp/a.txt'), read('/tmp/a.txt'))",
                "link_file": "(os.link('/tmp/a.key', '/tmp/b.txt'), read('/tmp/b.txt'))",
                "rename_dir": "(os.makedirs('/tmp/d/e'), open('/tmp/d/e/c.key', 'w'), "
                              "os.rename('/tmp/d', '/tmp/f'))",
            }.items())
        res = self.run_py(code, caps=caps)
        self.assert_blocked(res, ["read_direct", "rename_file", "link_file"],
                            "F7, sidecar/check.c: a new name that grants more than the old")
        # what gives nothing new is not refused: a directory whose contents a
        # position-free pattern (*.key) denies wherever they are
        self.assertTrue(self.verdicts(res)["rename_dir"].startswith("SUCCEEDED"), res)
        self.assert_denied(res, [("FILE_READ", "/tmp/a.key", "rename"),
                                 ("FILE_READ", "/tmp/a.key", "link")])

    def test_exec_denied_file_renamed_to_an_exec_name(self):
        ws = os.path.join(self.tmp, "ws")
        os.makedirs(ws + "/bin")
        tool = ws + "/bin/tool"
        with open("/usr/bin/python3.11", "rb") as src, open(tool, "wb") as dst:
            dst.write(src.read())
        os.chmod(tool, 0o755)
        self.write("ws/bin/ok.sh", "#!/bin/sh\n", 0o755)
        self.own(ws)
        caps = self.caps(grants=[("FILE_READ", ws + "/*"), ("FILE_WRITE", ws + "/*"),
                                 ("FILE_EXEC", ws + "/bin/*")],
                         denials=[("FILE_EXEC", tool)])
        run = "subprocess.run([%s%r, '-c', 'print(\"TOOL\" + \"-RAN\")'], check=True)"
        loader = "'/usr/lib64/ld-linux-x86-64.so.2', "
        code = PROBE + "".join("attempt(%r, lambda: %s)\n" % kv for kv in {
            "link_then_loader": "(os.link(%r, %r), %s)" % (tool, tool + "3",
                                                        run % (loader, tool + "3")),
            "rename_then_exec": "(os.rename(%r, %r), %s)" % (tool, tool + "2",
                                                          run % ("", tool + "2")),
            "rename_then_loader": run % (loader, tool + "2"),
        }.items())
        res = self.run_py(code, caps=caps)
        self.assertNotIn("TOOL-RAN", res["stdout"] + res["stderr"],
                         "REGRESSION (F7, FILE_EXEC denial in a rw mount): the tool ran")
        self.assert_blocked(res, ["link_then_loader", "rename_then_exec", "rename_then_loader"],
                            "F7, runner/mounts.c + sidecar/check.c: FILE_EXEC denial")
        self.assert_denied(res, [("FILE_EXEC", tool, "link"), ("FILE_EXEC", tool, "rename")])
        # racing the sidecar's check of link (the mount layer alone): a link
        # of ok.sh is 10 bytes; one of the tool is the tool
        raced = ws + "/bin/raced"
        race = race_code("", (ws + "/bin/ok.sh").encode(), 10, tool.encode(),
                         "libc.syscall(86, buf, %r)" % raced.encode(),
                         "(lambda n: n if n > 10 else os.unlink(%r) or 10)(os.stat(%r).st_size)"
                         % (raced, raced))
        race += "if won:\n    %s\n" % (run % (loader, raced))
        res = self.run_py(race, caps=caps)
        self.assertNotIn("TOOL-RAN", res["stdout"] + res["stderr"],
                         "REGRESSION (F7, FILE_EXEC denial in a rw mount): the raced tool ran")
        self.assert_blocked(res, ["race"], "F7, a FILE_EXEC-denied file is in no rw mount")

    def test_write_grant_implies_read_and_race_reads_nothing(self):
        ws = os.path.join(self.tmp, "out")
        self.write("out/result.txt", "written before\n")
        self.write("out/.env", FILE_SECRET + "\n")
        self.own(ws)
        caps = self.caps(grants=[("FILE_WRITE", ws + "/*")],
                         denials=[("FILE_READ", ws + "/.env")])
        # a thread flips the path between a readable decoy and the denied file
        race = race_code("open('/tmp/decoy', 'w').write('decoy')\n", b"/tmp/decoy", b"decoy",
                         ws.encode() + b"/.env", "libc.syscall(257, -100, buf, 0, 0)",
                         "(os.read(r, 100), os.close(r))[0]")
        res = self.run_py(race, caps=caps)
        self.assert_no_secret(res, "F9, runner/mounts.c: a FILE_READ denial under a write grant")
        self.assert_blocked(res, ["race"], "F9, the denied file is in no mount")
        # documented: FILE_WRITE implies FILE_READ of the same path
        res = self.run_py(PROBE + "attempt('read_write_grant', lambda: read(%r))\n"
                          % (ws + "/result.txt"), caps=caps)
        self.assertEqual(self.verdicts(res).get("read_write_grant"),
                         "SUCCEEDED 'written before\\n'", res)


if __name__ == "__main__":
    main()
