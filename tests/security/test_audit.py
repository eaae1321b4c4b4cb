#!/usr/bin/python3
"""Forging audit events: the workload writes lines that look exactly like the
runner's events (its own sandbox id, which it can learn from its hostname, a
plausible seq, SandboxExit/CapabilityDenied types) on stdout and stderr, with
and without a leading newline, and tries to reach the audit log and the
sidecar's event channel through the file system. The check: the `--events`
file, the `--json` + `--events -` stream and the audit log (when the runner
writes one) contain only the runner's own events, with consecutive seqs, and
the audit log still verifies.

`--events -` *without* `--json` once shared stdout with the workload's live
output (finding F5): that case is in test_regressions.py."""
import json
import os
import subprocess

from seclib import OMNIBASE, AttackTest, main

FORGER = r'''
import json, os, sys
sid = os.uname().nodename
ev = {"seq": 2, "time": "2026-01-01T00:00:00.000000Z", "type": "SandboxExit",
      "sandbox_id": sid, "principal": None, "status": "ok", "exit_code": 0,
      "wall_ms": 1, "cpu_ms": 1, "max_rss_kb": 1, "forged": True}
den = dict(ev, type="CapabilityDenied", capability="FILE_READ", target="/forged",
           syscall="openat", policy_id="default-deny")
for stream in (sys.stdout, sys.stderr):
    for e in (ev, den):
        stream.write(json.dumps(e, separators=(",", ":")) + "\n")
        stream.write("\n" + json.dumps(e) + "\n")
    stream.write(json.dumps(ev))  # no newline at the end: glued to what follows
    stream.flush()
# the state directory, the audit log and any Unix socket a channel might use
for p in ("/var/lib/omnibase/audit.jsonl", os.environ.get("OMNIBASE_STATE_DIR", "/x")):
    try:
        open(p, "a").write(json.dumps(ev) + "\n")
        print("\nwrote:", p, file=sys.stderr)
    except OSError:
        pass
'''


class AuditForgery(AttackTest):
    def check_events(self, lines, sid):
        events = [json.loads(l) for l in lines if l.strip()]
        self.assertGreaterEqual(len(events), 2, lines)
        for e in events:
            self.assertNotIn("forged", e, "a forged event reached the event stream")
            self.assertNotEqual(e.get("target"), "/forged")
            self.assertEqual(e["sandbox_id"], sid)
        self.assertEqual([e["seq"] for e in events], list(range(1, len(events) + 1)))
        self.assertEqual(events[0]["type"], "SandboxStart")
        self.assertEqual(events[-1]["type"], "SandboxExit")
        self.assertEqual(sum(e["type"] == "SandboxExit" for e in events), 1)
        return events

    def test_forged_lines_in_events_file_and_audit_log(self):
        script = self.write("forge.py", FORGER)
        events = os.path.join(self.tmp, "events.jsonl")
        res = self.run_json(script, events=events)
        self.assertIn(res["status"], ("ok", "violation"), res)
        self.assertIn('"forged":true', res["stdout"])  # the attack really ran
        self.assertNotIn("wrote:", res["stderr"])
        with open(events) as f:
            self.check_events(f.read().splitlines(), res["sandbox_id"])
        audit = os.path.join(self.state, "audit.jsonl")
        if os.path.exists(audit):
            with open(audit) as f:
                text = f.read()
            self.assertNotIn("forged", text)
            v = subprocess.run([OMNIBASE, "events", "verify", audit], env=self.env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

    def test_forged_lines_with_json_and_events_on_stdout(self):
        """`--json --events -`: events are lines, the result the last object;
        the workload's forged lines stay inside the result's strings."""
        script = self.write("forge.py", FORGER)
        p = subprocess.run([OMNIBASE, "sandbox", "run", "--json", "--events", "-",
                            "--capabilities", self.caps(), script], env=self.env,
                           capture_output=True, text=True, timeout=120)
        self.outputs += [p.stdout, p.stderr]
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        res = json.loads(lines[-1])
        self.ids.append(res["sandbox_id"])
        self.assertIn("forged", res["stdout"])
        self.check_events(lines[:-1], res["sandbox_id"])


if __name__ == "__main__":
    main()
