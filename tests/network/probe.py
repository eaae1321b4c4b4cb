"""Runs inside the sandbox: each argument is an action, one JSON line each.
  tcp:HOST:PORT   connect, read a line       udp:HOST:PORT  send, await echo
  ifaces          the interface names        sleep:S        sleep S seconds
  resolve:NAME    getaddrinfo                wait:HOST:PORT connect, read a line
                                                            (up to 20 s: a barrier)
HOST may be [v6]; udp:HOST:PORT=TEXT sends TEXT instead of "ping"."""
import json
import socket
import sys
import time


def split(hp):
    if hp.startswith("["):
        h, _, p = hp[1:].partition("]:")
    else:
        h, _, p = hp.rpartition(":")
    return h, int(p)


def act(a):
    kind, _, rest = a.partition(":")
    t0 = time.monotonic()
    out = {"action": a}
    try:
        if kind in ("tcp", "wait"):
            h, p = split(rest)
            with socket.create_connection((h, p), timeout=3 if kind == "tcp" else 20) as s:
                out["data"] = s.recv(100).decode().strip()
        elif kind == "udp":
            rest, _, payload = rest.partition("=")
            h, p = split(rest)
            fam = socket.AF_INET6 if ":" in h else socket.AF_INET
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.settimeout(1.5)
                s.sendto((payload or "ping").encode(), (h, p))
                out["data"] = s.recv(100).decode()
        elif kind == "ifaces":
            out["data"] = sorted(n for _, n in socket.if_nameindex())
        elif kind == "resolve":
            out["data"] = sorted({ai[4][0] for ai in socket.getaddrinfo(rest, 80)})
        elif kind == "sleep":
            time.sleep(float(rest))
        out["ok"] = True
    except OSError as e:
        out["ok"] = False
        out["errno"] = e.errno
        out["error"] = str(e)
    out["secs"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out), flush=True)


for a in sys.argv[1:]:
    act(a)
