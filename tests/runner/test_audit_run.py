#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Every event of every `omnibase sandbox run` goes to the hash-chained audit
log (issue 4): a denial reaches --events, the audit log and a D-Bus listener
(a private dbus-daemon standing in for the system bus); after 200 runs, two
at a time, `omnibase events verify` passes and the log holds each run's
start and exit; an edited line breaks the chain at its seq."""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from unittest import main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runnerlib import OMNIBASE, PRINCIPAL, RunnerTest, require_runsc  # noqa: E402

RUNS = 200

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow receive_type="signal"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


class AuditRun(RunnerTest):
    def start_bus(self):
        """A private system bus and a dbus-monitor on our interface: (address, output path)."""
        if not shutil.which("dbus-daemon") or not shutil.which("dbus-monitor"):
            self.skipTest("dbus-daemon/dbus-monitor not installed")
        with open(os.path.join(self.tmp, "bus.conf"), "w") as f:
            f.write(BUS_CONF % self.tmp)
        out = subprocess.run(["dbus-daemon", "--config-file=" + self.tmp + "/bus.conf", "--fork",
                              "--print-address=1", "--print-pid=1"], capture_output=True,
                             text=True, check=True).stdout.split("\n")
        addr, daemon = out[0], int(out[1])
        self.addCleanup(os.kill, daemon, 15)
        mon_out = os.path.join(self.tmp, "monitor.out")
        mon = subprocess.Popen(["dbus-monitor", "--address", addr,
                                "type='signal',interface='org.omnibase.Sandbox1'"],
                               stdout=open(mon_out, "w"), stderr=subprocess.STDOUT)
        self.addCleanup(mon.wait)
        self.addCleanup(mon.kill)
        for _ in range(200):
            if "NameAcquired" in open(mon_out).read():
                break
            time.sleep(0.05)
        return addr, mon_out

    def test_denial_reaches_events_audit_log_and_dbus(self):
        addr, mon_out = self.start_bus()
        self.env["DBUS_SYSTEM_BUS_ADDRESS"] = addr
        script = self.write("p.py", "try:\n    open('/etc/shadow')\nexcept PermissionError:\n"
                                    "    print('PermissionError')\n")
        events = os.path.join(self.tmp, "events.jsonl")
        res = self.run_json(script, "--events", events)
        self.assertEqual((res["status"], res["exit_code"]), ("violation", 126), res)
        self.assertEqual(res["stdout"], "PermissionError\n")
        want = ("CapabilityDenied", res["sandbox_id"], PRINCIPAL, "FILE_READ", "/etc/shadow",
                "openat", "default-deny")

        def denials(evs):
            return [(e["type"], e["sandbox_id"], e["principal"], e["capability"], e["target"],
                     e["syscall"], e["policy_id"]) for e in evs if e["type"] == "CapabilityDenied"]
        evs = read_jsonl(events)
        self.assertEqual(denials(evs), [want])
        log = os.path.join(self.state, "audit.jsonl")
        audit = read_jsonl(log)
        self.assertEqual(denials(audit), [want])
        # the same events in the same order; the log has its own seq and the chain
        self.assertEqual([e["type"] for e in audit], [e["type"] for e in evs])
        self.assertEqual([e["type"] for e in evs], ["SandboxStart", "CapabilityDenied",
                                                    "SandboxExit"])
        for a, e in zip(audit, evs):
            strip = {k: v for k, v in a.items() if k not in ("seq", "prev_hash", "hash")}
            self.assertEqual(strip, {k: v for k, v in e.items() if k != "seq"})
        p = self.omnibase("events", "verify", log)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # the D-Bus listener saw the denial's line
        denied_line = open(log).read().splitlines()[1]
        for _ in range(100):
            if denied_line in open(mon_out).read():
                break
            time.sleep(0.05)
        mon = open(mon_out).read()
        self.assertEqual(mon.count('string "CapabilityDenied"'), 1, mon)
        self.assertIn('   string "%s"' % denied_line, mon)

    def test_many_runs_verify(self):
        log = os.path.join(self.tmp, "custom-audit.jsonl")
        caps = self.caps()
        results, lock = [], threading.Lock()

        def worker(n):
            for _ in range(n):
                p = subprocess.run([OMNIBASE, "sandbox", "run", "--capabilities", caps,
                                    "--audit-log", log, "--json", "--", "/bin/true"],
                                   env=self.env, capture_output=True, text=True, timeout=120)
                with lock:
                    results.append((p.returncode, p.stdout, p.stderr))
        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(RUNS // 2,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("%d runs in %.1f s" % (RUNS, time.monotonic() - t0), file=sys.stderr)
        self.assertEqual([r for r in results if r[0] != 0], [])
        ids = [json.loads(r[1])["sandbox_id"] for r in results]
        self.ids += ids
        self.assertFalse(os.path.exists(os.path.join(self.state, "audit.jsonl")),
                         "--audit-log must replace the default log")
        p = self.omnibase("events", "verify", log)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        audit = read_jsonl(log)
        self.assertEqual([e["seq"] for e in audit], list(range(1, 2 * RUNS + 1)))
        for kind in ("SandboxStart", "SandboxExit"):
            self.assertEqual(sorted(e["sandbox_id"] for e in audit if e["type"] == kind),
                             sorted(ids), kind)
        # an edited line breaks the chain at its seq
        lines = open(log).read().splitlines(True)
        i = next(i for i in range(150, len(lines)) if '"exit_code":0' in lines[i])
        lines[i] = lines[i].replace('"exit_code":0', '"exit_code":1')
        with open(log, "w") as f:
            f.writelines(lines)
        p = self.omnibase("events", "verify", log)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("seq %d:" % (i + 1), p.stdout + p.stderr)


if __name__ == "__main__":
    require_runsc()
    main(verbosity=2)
