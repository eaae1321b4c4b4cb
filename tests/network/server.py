#!/usr/bin/python3
"""A test server: `server.py LOG tcp:PORT udp:PORT ...`. TCP: sends
"hello PORT" and closes; UDP: logs and echoes each datagram. Every receipt
is appended to LOG as "proto port payload". Prints "ready" once bound.

Each round logs everything that is ready before it replies to any of it, so
a reply (or a line in LOG) means that everything that reached the server
before that packet is in LOG too: a test sends a packet that must be dropped,
then one that must arrive, and once the second is answered, the absence of
the first means something."""
import selectors
import socket
import sys

log = sys.argv[1]
sel = selectors.DefaultSelector()
for spec in sys.argv[2:]:
    proto, port = spec.split(":")
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, int(port)))
        if proto == "tcp":
            s.listen(64)
        sel.register(s, selectors.EVENT_READ, (proto, int(port)))
print("ready", flush=True)
while True:
    lines, replies = [], []
    for key, _ in sel.select():
        proto, port = key.data
        if proto == "tcp":
            c, _ = key.fileobj.accept()
            replies.append((c, None))
            data = b"connect"
        else:
            data, peer = key.fileobj.recvfrom(65536)
            replies.append((key.fileobj, (data, peer)))
        lines.append("%s %d %s\n" % (proto, port, data.decode("utf-8", "replace")))
    with open(log, "a") as f:
        f.write("".join(lines))
    for sock, dgram in replies:
        if dgram is None:
            sock.sendall(b"hello %d\n" % sock.getsockname()[1])
            sock.close()
        else:
            sock.sendto(*dgram)
