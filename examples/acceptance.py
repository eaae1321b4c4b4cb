# The seed's acceptance demo (002 §6), run by scripts/demo.sh inside a sandbox
# whose only file grant is FILE_READ on <demo>/data/allowed.txt.
import os
import socket
import sys

data = sys.argv[1] if len(sys.argv) > 1 else "/tmp/omnibase-demo/data"


def attempt(what, fn):
    try:
        result = fn()
        print(f"{what}: allowed ({result})")
    except OSError as e:
        print(f"{what}: refused ({e.__class__.__name__}: {e.strerror})")


attempt("read allowed.txt", lambda: open(os.path.join(data, "allowed.txt")).read().strip())
attempt("read other.txt", lambda: open(os.path.join(data, "other.txt")).read().strip())
attempt("read /etc/shadow", lambda: open("/etc/shadow").readline().strip())
# outbound: 203.0.113.10 is a documentation address (TEST-NET-3); the
# sandbox's own loopback (127.0.0.1) is its own and not a capability question
attempt("connect 203.0.113.10:443",
        lambda: socket.create_connection(("203.0.113.10", 443), timeout=2).close())
