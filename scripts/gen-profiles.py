#!/usr/bin/python3
"""Generates profiles/NAME.json from profiles/gen/specs.json, never by hand
(issue 15): each spec names the interpreter, the paths mounted whole, the
ELF files and directories whose shared libraries are added (`ldd`, the
closure as the loader resolves it, at the soname path it opens), and for a
Python profile with site packages a corpus run on the host whose imports
decide which entries of the site directory are mounted.

    scripts/gen-profiles.py            rewrite profiles/*.json
    scripts/gen-profiles.py --check    exit 1 and say which profile differs
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "profiles", "gen")
LOADER = "/usr/lib64/ld-linux-x86-64.so.2"


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_files(path):
    if os.path.isfile(path):
        return [path] if is_elf(path) else []
    out = []
    for d, _, files in os.walk(path):
        out += [os.path.join(d, f) for f in files
                if (f.endswith(".so") or ".so." in f) and is_elf(os.path.join(d, f))]
    return sorted(out)


def usr_path(p):
    """/lib/x86_64-linux-gnu/x (merged /usr) -> /usr/lib/x86_64-linux-gnu/x"""
    for short in ("/lib/", "/lib64/", "/bin/", "/sbin/"):
        if p.startswith(short):
            return "/usr" + p
    return p


def libraries(files):
    libs = set()
    for f in files:
        r = subprocess.run(["ldd", f], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"gen-profiles: ldd {f}: {r.stderr.strip() or r.stdout.strip()}")
        for line in r.stdout.splitlines():
            parts = line.split()
            if "=>" in parts and parts[parts.index("=>") + 1].startswith("/"):
                libs.add(usr_path(parts[parts.index("=>") + 1]))
            elif "not found" in line:
                sys.exit(f"gen-profiles: {f}: {line.strip()}")
    libs.discard(LOADER)
    libs.discard(usr_path("/lib64/ld-linux-x86-64.so.2"))
    return libs


# Run by the host's interpreter in isolated mode: the corpus, then the files
# of the modules it loaded below the site directory (not those site.py
# itself imported before the corpus ran: .pth hooks are not mounted).
PROBE = r"""
import runpy, sys
before = set(sys.modules)
runpy.run_path(sys.argv[1], run_name="__main__")
for name, m in list(sys.modules.items()):
    f = getattr(m, "__file__", None)
    if name not in before and f:
        print(f)
"""


# What the sandbox has without the profile (runner/rootfs.c: zoneinfo in every
# run, docs/compatibility.md) or must never get from the host's /etc: not
# mounted by a profile. /usr/local is this host's own, never part of a profile.
OWN = ("/proc/", "/sys/", "/dev/", "/tmp/", "/etc/", "/usr/local/", "/usr/share/zoneinfo/")


def data_root(path):
    """/usr/share/zoneinfo/Europe/Paris -> /usr/share/zoneinfo: a package's
    data directory is mounted whole; any other file by itself."""
    parts = path.split("/")
    if path.startswith("/usr/share/") and len(parts) > 4:
        return "/".join(parts[:4])
    return path


def traced(spec, corpus):
    """The files the interpreter opened (strace, successful calls) running
    the corpus, and the module files the corpus imported."""
    trace = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"gen-profiles-{os.getpid()}.strace")
    try:
        r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=%file", "-e", "status=successful",
                            "-o", trace, spec["interpreter"][0], "-I", "-B", "-c", PROBE, corpus],
                           capture_output=True, text=True, cwd="/")
        if r.returncode != 0:
            sys.exit(f"gen-profiles: {corpus} failed on the host:\n{r.stderr}")
        return set(re.findall(r'"(/[^"]*)"', open(trace).read())), r.stdout.split()
    finally:
        if os.path.exists(trace):
            os.unlink(trace)


def corpus_paths(spec):
    """The entries of the site directory whose modules the corpus imported,
    and the data files it opened that neither the spec's paths nor the bare
    interpreter's start (an empty corpus, traced the same way) account for."""
    site = spec["site"]
    corpus = os.path.join(GEN, spec["corpus"])
    opened, modules = traced(spec, corpus)
    baseline, _ = traced(spec, "/dev/null")
    entries = set()
    for f in modules:
        if f.startswith(site + "/"):
            entries.add(os.path.join(site, f[len(site) + 1:].split("/")[0]))
    if not entries:
        sys.exit(f"gen-profiles: {corpus} imported nothing from {site}")
    held = spec["paths"] + sorted(entries) + [site, spec["interpreter"][0], corpus]
    data = set()
    for p in opened - baseline:
        if (p.startswith(OWN) or os.path.realpath(p).startswith(OWN) or not os.path.isfile(p) or
                any(p == q or p.startswith(q.rstrip("/") + "/") for q in held) or
                usr_path(p).startswith("/usr/lib/x86_64-linux-gnu/")):
            continue
        data.add(data_root(p))
    return sorted(entries) + sorted(data), sorted(entries)


def generate(name, spec):
    paths = list(spec["paths"])
    link = list(spec.get("link", []))
    if "corpus" in spec:
        extra, modules = corpus_paths(spec)
        paths += extra
        link += modules
    elf = [f for p in link for f in elf_files(p)]
    # libraries the C library opens at run time (dlopen), not in any ldd
    # closure: libgcc_s for a thread's exit and cancellation unwinding
    dl = set(spec.get("dlopen", []))
    for f in sorted(dl):
        if not is_elf(f):
            sys.exit(f"gen-profiles: {name}: dlopen {f} is not an ELF file on this host")
    paths += sorted((libraries(elf + sorted(dl)) | dl) - set(paths))
    # a library below a mounted directory is mounted with it
    paths = [p for p in paths
             if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths)]
    out = {"version": 1, "description": spec["description"],
           "interpreter": spec["interpreter"],
           "paths": [p for p in spec["paths"] if p in paths] +
                    sorted(p for p in paths if p not in spec["paths"]),
           "symlinks": spec["symlinks"]}
    return json.dumps(out, indent=2) + "\n"


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        sys.exit(__doc__)
    specs = json.load(open(os.path.join(GEN, "specs.json")))
    bad = 0
    for name, spec in specs.items():
        text = generate(name, spec)
        path = os.path.join(ROOT, "profiles", name + ".json")
        old = open(path).read() if os.path.exists(path) else None
        if check:
            if old != text:
                print(f"gen-profiles: profiles/{name}.json differs from what "
                      f"scripts/gen-profiles.py generates on this host", file=sys.stderr)
                bad = 1
        elif old != text:
            with open(path, "w") as f:
                f.write(text)
            print(f"profiles/{name}.json written")
    return bad


sys.exit(main())
