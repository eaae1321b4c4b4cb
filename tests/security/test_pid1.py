#!/usr/bin/python3
"""PID 1 (the sidecar) as seen by the workload inside gVisor (issue 9, "also
fix"). gVisor 20221219 lets another uid read /proc/1/environ, cmdline, maps,
auxv, status and list /proc/1/fd, so nothing secret may be in the sidecar's
environment or argv: the runner gives it a fixed environment (runner/spec.c)
and an event channel that is a socketpair on fd 0 (runner/sidecar.c), with no
path, token or key. The workload reads everything of PID 1 it can and the
test asserts that the runner's secrets (seclib.SECRET is in the runner's
environment as OB_SECRET_TOKEN and AWS_SECRET_ACCESS_KEY) are in none of it,
that no descriptor of PID 1 can be reopened (the channel above all), that
/proc/1/mem, /proc/1/root and the root-only capability directory stay shut,
and that the workload holds none of the sidecar's capabilities
(CAP_DAC_READ_SEARCH among them since F8)."""
import json

from seclib import SECRET, AttackTest, main

LOOK = r'''
import errno, json, os
secret = SECRET_REVERSED[::-1].encode()
out = {}
def get(name, fn):
    try:
        data = fn()
        out[name] = {"ok": True, "secret": secret in data, "len": len(data)}
        return data
    except OSError as e:
        out[name] = {"ok": False, "errno": errno.errorcode.get(e.errno, str(e.errno))}
        return None
def read(path, size=1 << 20):
    with open(path, "rb") as f:
        return f.read(size)
for f in ("environ", "cmdline", "maps", "smaps", "auxv", "status", "stat", "mountinfo",
          "task/1/environ", "task/1/cmdline"):
    get(f, lambda: read("/proc/1/" + f))
env = read("/proc/1/environ")
print("pid1_env_names:", json.dumps(sorted(e.split(b"=")[0].decode()
                                          for e in env.split(b"\0") if e)))
print("pid1_argv:", json.dumps([a.decode() for a in read("/proc/1/cmdline").split(b"\0") if a]))
fds = os.listdir("/proc/1/fd")
for fd in fds:
    link = get("readlink fd/" + fd, lambda: os.readlink("/proc/1/fd/" + fd).encode())
    out["readlink fd/" + fd]["target"] = link.decode() if link else None
    get("open fd/" + fd, lambda: read("/proc/1/fd/" + fd, 4096))
    get("fdinfo/" + fd, lambda: read("/proc/1/fdinfo/" + fd))
def mem():
    with open("/proc/1/maps") as m:
        start = int(m.readline().split("-")[0], 16)
    with open("/proc/1/mem", "rb") as f:
        f.seek(start)
        return f.read(64)
get("mem", mem)
get("mem_open_rw", lambda: os.close(os.open("/proc/1/mem", os.O_RDWR)) or b"")
get("root_caps", lambda: read("/proc/1/root/omnibase/run/caps.json"))
get("run_dir", lambda: "\n".join(os.listdir("/omnibase/run")).encode())
get("cwd", lambda: "\n".join(os.listdir("/proc/1/cwd")).encode())
get("exe", lambda: read("/proc/1/exe", 64))
caps = {l.split(":")[0]: l.split()[1] for l in open("/proc/self/status")
        if l.startswith(("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"))}
print("caps:", json.dumps(caps))
print("uid:", os.getuid(), os.geteuid())
print("found:", json.dumps(out))
'''


class Pid1Attacks(AttackTest):
    def test_pid1_holds_no_secret(self):
        script = self.write("look.py", "SECRET_REVERSED = %r\n" % SECRET[::-1] + LOOK)
        res = self.run_json(script, caps=self.caps())
        self.assertIn(res["status"], ("ok", "violation"), res)
        v = self.verdicts(res)
        self.assertIn("found", v, res["stdout"] + res["stderr"])
        found = json.loads(v["found"])
        # the environment and argv are readable here (gVisor), so they must be clean
        self.assertTrue(found["environ"]["ok"], found)
        self.assertEqual(json.loads(v["pid1_env_names"]), ["HOME", "LANG", "PATH"])
        argv = json.loads(v["pid1_argv"])
        self.assertEqual(argv[:2], ["/omnibase/sidecar/omnibase-sidecar", "--caps"], argv)
        sidecar_args = argv[:argv.index("--")]
        self.assertEqual(sidecar_args[sidecar_args.index("--channel-fd") + 1], "0", argv)
        self.assertNotIn("--channel", sidecar_args, "a channel path is reachable by name")
        for a in sidecar_args:
            for word in ("token", "key", "secret", "pass", "auth", "cookie"):
                self.assertNotIn(word, a.lower(), "secret-like sidecar argument %r" % a)
        for name, r in found.items():
            self.assertFalse(r.get("secret"), "the runner's secret is in /proc/1/" + name)
        # no descriptor of PID 1 can be opened, but /dev/null (fd 0 once the
        # channel moved off it); the channel socket above all
        fds = [k[len("open fd/"):] for k in found if k.startswith("open fd/")]
        self.assertTrue(fds, found)
        for fd in fds:
            target = found["readlink fd/" + fd].get("target")
            if target == "/dev/null":
                continue
            self.assertFalse(found["open fd/" + fd]["ok"],
                             "PID 1's fd %s (%s) was reopened" % (fd, target))
        # memory, root, cwd, exe, the capability files: refused
        for name in ("mem", "mem_open_rw", "root_caps", "run_dir", "cwd", "exe"):
            self.assertFalse(found[name]["ok"], "%s: %r" % (name, found[name]))
            self.assertEqual(found[name]["errno"], "EACCES", "%s: %r" % (name, found[name]))
        # none of the sidecar's capabilities reached the workload
        caps = json.loads(v["caps"])  # gVisor 20221219 shows no CapAmb
        self.assertTrue({"CapInh", "CapPrm", "CapEff", "CapBnd"} <= set(caps), caps)
        self.assertEqual(set(caps.values()), {"0000000000000000"}, caps)
        self.assertEqual(v["uid"], "65534 65534")


if __name__ == "__main__":
    main()
