#!/usr/bin/python3
"""Prints the points observe_sink saved (RAW_DIR/conn-N.bin), one line each,
decoded with gVisor's own .proto files: compiled at run time by Debian's
protoc from a gVisor git directory (`fetch` of google/gvisor) at the commit
that matches runsc 0.0~20221219, and read with Debian's python3-protobuf.

    decode.py GVISOR_GIT_DIR COMMIT RAW_FILE...

Each line: the message type, then the message in protobuf text format; a
connect/bind address is also shown as ip:port (a sockaddr, not protobuf).
"""
import ipaddress
import os
import struct
import subprocess
import sys
import tempfile

PROTOS = ("common", "container", "sentry", "syscall")
POINTS = "pkg/sentry/seccheck/points"
# pb.MessageType (common.proto) -> (module, message)
TYPES = {1: ("container", "Start"), 2: ("sentry", "CloneInfo"), 3: ("sentry", "ExecveInfo"),
         4: ("sentry", "ExitNotifyParentInfo"), 5: ("sentry", "TaskExit"),
         6: ("syscall", "Syscall"), 7: ("syscall", "Open"), 8: ("syscall", "Close"),
         9: ("syscall", "Read"), 10: ("syscall", "Connect"), 11: ("syscall", "Execve"),
         12: ("syscall", "Socket"), 13: ("syscall", "Chdir"), 24: ("syscall", "Bind"),
         25: ("syscall", "Accept"), 34: ("syscall", "Write")}


def compile_protos(git_dir, commit, out):
    os.makedirs(os.path.join(out, POINTS))
    for name in PROTOS:
        path = f"{POINTS}/{name}.proto"
        text = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"],
                              check=True, capture_output=True).stdout
        with open(os.path.join(out, path), "wb") as f:
            f.write(text)
    subprocess.run(["protoc", "-I", out, "--python_out", out] +
                   [f"{POINTS}/{n}.proto" for n in PROTOS], check=True)
    sys.path.insert(0, out)
    import importlib
    return {n: importlib.import_module(f"{POINTS.replace('/', '.')}.{n}_pb2") for n in PROTOS}


def sockaddr(raw):
    if len(raw) >= 8 and struct.unpack_from("<H", raw)[0] == 2:
        return f"{ipaddress.IPv4Address(raw[4:8])}:{struct.unpack_from('>H', raw, 2)[0]}"
    if len(raw) >= 24 and struct.unpack_from("<H", raw)[0] == 10:
        return f"[{ipaddress.IPv6Address(raw[8:24])}]:{struct.unpack_from('>H', raw, 2)[0]}"
    if len(raw) >= 2 and struct.unpack_from("<H", raw)[0] == 1:
        return "unix:" + raw[2:].split(b"\0")[0].decode(errors="replace")
    return None


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, off)
        yield data[off + 4:off + 4 + n]
        off += 4 + n


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    from google.protobuf import text_format
    with tempfile.TemporaryDirectory() as tmp:
        mods = compile_protos(argv[0], argv[1], tmp)
        for path in argv[2:]:
            for rec in records(path):
                hsize, mtype, dropped = struct.unpack_from("<HHI", rec)
                mod, name = TYPES.get(mtype, (None, None))
                if not mod:
                    print(f"type={mtype} dropped={dropped} ({len(rec)} bytes, not decoded)")
                    continue
                msg = getattr(mods[mod], name)()
                msg.ParseFromString(rec[hsize:])
                extra = ""
                if hasattr(msg, "address") and msg.address:
                    extra = f"  [address {sockaddr(msg.address)}]"
                print(f"{name} dropped={dropped} " +
                      text_format.MessageToString(msg, as_one_line=True) + extra)


main(sys.argv[1:])
