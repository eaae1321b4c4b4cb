#!/usr/bin/python3
"""Issue 15 items 5-7: the sandbox's own loopback, /dev/shm and ptys are
never a capability question. Each compatibility case runs with no grants
under the default profile (python-minimal) and wants status ok, exit 0 and
no violations; the attack cases want their attempt to fail and be reported:
loopback with a NETWORK_CONNECT grant (a network run: the grants decide, as
the BPF layer does), exec from /dev/shm, a rename out of /dev/shm into a
read-only grant."""
import os

from runnerlib import RunnerTest, fill_script, main

POOLS = r'''
import concurrent.futures, multiprocessing

def square(x):
    return x * x

if __name__ == "__main__":
    for method in ("fork", "spawn", "forkserver"):
        # close() + join(): the workers end by themselves. `with Pool()`
        # ends them with terminate() (SIGTERM), which can be lost under
        # ptrace in gVisor (issue 15 item 11, not this test's subject)
        pool = multiprocessing.get_context(method).Pool(2)
        print(method, pool.map(square, range(5)))
        pool.close()
        pool.join()
    with concurrent.futures.ProcessPoolExecutor(2) as ex:
        print("executor", list(ex.map(square, range(5))))
    lock = multiprocessing.Lock()  # a POSIX semaphore: sem_open on /dev/shm
    with lock:
        print("lock", multiprocessing.Value("i", 7).value)
'''

LOOPBACK = r'''
import socket, threading

def tcp(family, host):
    srv = socket.socket(family)
    srv.bind((host, 0))
    srv.listen(1)
    def serve():
        c, _ = srv.accept()
        with c:
            c.sendall(c.recv(64).upper())
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with socket.create_connection(srv.getsockname()[:2]) as c:
        c.sendall(b"ping " + host.encode())
        got = c.recv(64)
    t.join()
    srv.close()
    return got.decode()

def udp(host):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((host, 0))
    def serve():
        data, peer = srv.recvfrom(64)
        srv.sendto(data.upper(), peer)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.sendto(b"udp ping", srv.getsockname())
        got = c.recvfrom(64)[0]
    t.join()
    srv.close()
    return got.decode()

print(tcp(socket.AF_INET, "127.0.0.1"))
print(tcp(socket.AF_INET6, "::1"))
print(tcp(socket.AF_INET, "localhost"))
print(udp("127.0.0.1"))
'''

PTY = r'''
import errno, os, pty, termios, tty
master, slave = os.openpty()
# no echo, no line discipline: the bytes as written; tty.setraw's default
# TCSAFLUSH is TCSETSF, which gVisor 20221219 lacks (the sidecar makes it
# TCSETSW)
tty.setraw(slave)
a = termios.tcgetattr(slave)
print("raw", not a[3] & termios.ICANON, not a[3] & termios.ECHO)
print(os.ttyname(slave).rstrip("0123456789"), os.isatty(slave))
os.write(master, b"through the pty\n")
print(os.read(slave, 64).decode().strip())
os.write(slave, b"and back\n")
print(os.read(master, 64).decode().strip())
m2, s2 = pty.openpty()
print("pty.openpty", os.isatty(s2))
try:
    os.open("/dev/ptyp0", os.O_RDWR)  # a BSD pty master: not there
except OSError as e:
    print("bsd", errno.errorcode[e.errno])
'''

SHM = r'''
import mmap, os, stat
st = os.stat("/dev/shm")
print(oct(stat.S_IMODE(st.st_mode)), st.st_uid)
print([l.split()[3] for l in open("/proc/self/mounts") if l.split()[1] == "/dev/shm"])
os.chdir("/dev/shm")
os.mkdir("own", 0o700)
with open("own/a", "w") as f:  # relative, in a 0700 directory of its own
    f.write("x" * 4096)
os.rename("own/a", "own/b")
os.link("own/b", "/dev/shm/c")
os.chmod("c", 0o600)
fd = os.open("/dev/shm/c", os.O_RDWR)
m = mmap.mmap(fd, 4096)  # shared memory, as shm_open users map it
m[:5] = b"hello"
print(open("own/b").read(5))
for p in ("c", "own/b"):
    os.unlink(p)
os.rmdir("own")
print(os.listdir("/dev/shm"))
'''


class CompatOwn(RunnerTest):
    def run_clean(self, code, *args, caps=None):
        res = self.run_json(self.write("w.py", code), *args, caps=caps)
        self.assertEqual(res["violations"], [], res)
        self.assertEqual((res["status"], res["exit_code"]), ("ok", 0), res)
        return res["stdout"].splitlines()

    # -- item 6: /dev/shm --------------------------------------------------
    def test_multiprocessing_pools_of_every_start_method(self):
        out = self.run_clean(POOLS)
        squares = "[0, 1, 4, 9, 16]"
        self.assertEqual(out, ["fork " + squares, "spawn " + squares, "forkserver " + squares,
                               "executor " + squares, "lock 7"])

    def test_dev_shm_is_its_own_tmpfs(self):
        out = self.run_clean(SHM)
        self.assertEqual(out[0], "0o1777 0")
        opts = out[1].strip("[]'").split(",")
        self.assertIn("noexec", opts)
        self.assertIn("mode=1777", opts)
        self.assertIn("size=65536k", opts)  # the default tmpfs_mb, as /tmp's
        self.assertEqual(out[2:], ["hello", "[]"])

    def test_dev_shm_size_is_bounded(self):
        """Writing past tmpfs_mb fails with ENOSPC; the run goes on."""
        caps = self.caps(limits={"tmpfs_mb": 8, "memory_mb": 512})
        out = self.run_clean(fill_script("/dev/shm/fill", 200), caps=caps)
        words = out[0].split()
        self.assertEqual(words[0], "stopped", out)
        self.assertLessEqual(int(words[2]), 8)
        self.assertEqual(words[-1], "28")  # ENOSPC

    def test_dev_shm_is_counted_in_the_memory_limit(self):
        """With a tmpfs bound above the memory limit, filling /dev/shm is
        killed by the memory limit: its pages are the sandbox's memory."""
        mb = self.limit_above_baseline(64)
        caps = self.caps(limits={"tmpfs_mb": 1024, "memory_mb": mb})
        res = self.run_json(self.write("fill.py", fill_script("/dev/shm/fill", mb + 200)), caps=caps)
        self.assertEqual((res["status"], res.get("limit"), res["exit_code"]),
                         ("limit_exceeded", "memory", 137), res)
        self.assertNotIn("wrote", res["stdout"])

    def test_exec_from_dev_shm_is_denied(self):
        """Attack: run a binary written to /dev/shm (noexec, as /tmp)."""
        code = ("import os, subprocess\n"
                "open('/dev/shm/t', 'wb').write(open('/usr/bin/python3.11', 'rb').read())\n"
                "os.chmod('/dev/shm/t', 0o755)\n"
                "try:\n    subprocess.run(['/dev/shm/t', '-c', 'print(1)'])\n"
                "    print('SUCCEEDED')\n"
                "except OSError as e:\n    print('blocked', e.errno)\n")
        res = self.run_json(self.write("x.py", code))
        self.assertEqual(res["stdout"].strip(), "blocked 13", res)
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126), res)
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("FILE_EXEC", "/dev/shm/t")])

    def test_rename_out_of_dev_shm_into_a_read_only_grant(self):
        """Attack: move a file of /dev/shm into a FILE_READ grant (a rename,
        then a link): still a FILE_WRITE question, denied and reported."""
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        self.write("data/ok.txt", "public\n")
        caps = self.caps(grants=[("FILE_READ", data), ("FILE_READ", data + "/*")])
        code = ("import os\n"
                "open('/dev/shm/x', 'w').write('planted')\n"
                "for name, f in (('rename', os.rename), ('link', os.link)):\n"
                "    try:\n        f('/dev/shm/x', %r)\n        print(name, 'SUCCEEDED')\n"
                "    except OSError as e:\n        print(name, 'blocked', e.errno)\n"
                % (data + "/planted.txt"))
        res = self.run_json(self.write("mv.py", code), caps=caps)
        self.assertEqual(res["stdout"].splitlines(), ["rename blocked 13", "link blocked 13"],
                         res)
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126), res)
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("FILE_WRITE", data + "/planted.txt")] * 2)
        self.assertFalse(os.path.exists(os.path.join(data, "planted.txt")))

    # -- item 5: loopback --------------------------------------------------
    def test_loopback_without_network_is_its_own(self):
        out = self.run_clean(LOOPBACK)
        self.assertEqual(out, ["PING 127.0.0.1", "PING ::1", "PING LOCALHOST", "UDP PING"])

    def test_loopback_with_a_network_grant_needs_a_grant(self):
        """Attack: with a NETWORK_CONNECT grant the run has a network
        namespace of the runner's, whose loopback sockets are host sockets:
        a connect to 127.0.0.1 without a grant for it stays denied."""
        code = ("import socket\n"
                "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)\n"
                "port = srv.getsockname()[1]\n"
                "try:\n    socket.create_connection(('127.0.0.1', port))\n"
                "    print('SUCCEEDED', port)\n"
                "except OSError as e:\n    print('blocked', e.errno, port)\n")
        caps = self.caps(grants=[("NETWORK_CONNECT", "10.0.0.5:443")])
        res = self.run_json(self.write("lo.py", code), caps=caps)
        words = res["stdout"].split()
        self.assertEqual(words[:2], ["blocked", "1"], res)  # EPERM
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126), res)
        self.assertEqual([(v["capability"], v["target"]) for v in res["violations"]],
                         [("NETWORK_CONNECT", "127.0.0.1:" + words[2])])

    # -- item 7: ptys ------------------------------------------------------
    def test_openpty(self):
        out = self.run_clean(PTY)
        self.assertEqual(out, ["raw True True", "/dev/pts/ True", "through the pty", "and back",
                               "pty.openpty True", "bsd ENOENT"])


if __name__ == "__main__":
    main()
