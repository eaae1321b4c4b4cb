"""Helpers shared by every Python test driver (runner, network, security).

Drivers put tests/lib on sys.path and import from here; skips follow
tests/lib/test_util.h: exit 77, or a failure when OMNIBASE_MUST_WORK is set."""
import glob
import os
import shutil
import sys
import time

OMNIBASE = os.environ.get("OMNIBASE_BIN", "omnibase")
OMNIBASED = os.environ.get("OMNIBASED_BIN", "omnibased")
PRINCIPAL = "3f2a9c1e-0000-4000-8000-000000000001"


def skip_or_fail(reason):
    """Exit 77 (skip) with a reason, or 1 under OMNIBASE_MUST_WORK (CI)."""
    if os.environ.get("OMNIBASE_MUST_WORK", "0") not in ("", "0"):
        print("FAIL (skip not allowed, OMNIBASE_MUST_WORK): " + reason, file=sys.stderr)
        sys.exit(1)
    print("SKIP: " + reason, file=sys.stderr)
    sys.exit(77)


def require_runsc(why):
    """Root, runsc, the v1 memory controller and the omnibase binary, or skip;
    why says what needs root."""
    if os.geteuid() != 0:
        skip_or_fail(why + ": run as root")
    if not shutil.which("runsc"):
        skip_or_fail("runsc is not installed (apt-get install runsc)")
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        skip_or_fail("no cgroup v1 memory controller at /sys/fs/cgroup/memory")
    if not os.access(OMNIBASE, os.X_OK):
        skip_or_fail("OMNIBASE_BIN is not set to the omnibase binary")


def pids_mentioning(text):
    """Pids of processes whose command line contains text (runsc, sandbox, gofer)."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmd and int(d[6:]) != os.getpid():
            pids.append(int(d[6:]))
    return pids


def netns_names():
    """The named network namespaces (/run/netns)."""
    try:
        return set(os.listdir("/run/netns"))
    except OSError:
        return set()


def wait_for(what, cond, deadline_s=60):
    """Polls cond until it gives something true, which it returns; fails
    naming what after deadline_s."""
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)  # polling a condition, with a deadline
    raise AssertionError("timed out waiting for " + what)
