#!/usr/bin/python3
"""Hiding violations and flooding the audit log (issue 9, "also fix").

A workload that was denied something must not be able to make its run look
clean by what ends it: sleeping to the deadline or exhausting a limit. The
run is still `violation`/126, with `ended_by` saying what ended it, and the
one stderr line says both (docs/runner.md, precedence).

A workload that makes thousands of denied calls with long targets must not
be able to write gigabytes into the audit log: past the byte budget the
denials are counted per capability and target prefix, and the counts are
CapabilityDeniedSummary events (docs/events.md)."""
import os

from seclib import AttackTest, main

DENY_THEN = "import os\ntry:\n    open('/root/.ssh/id_rsa')\nexcept OSError as e:\n    print('denied:', e.errno, flush=True)\n"
BUDGET = 1024 * 1024  # OB_DENIAL_BUDGET_BYTES


class Hiding(AttackTest):
    def exit_event(self, res):
        ends = [e for e in self.audit_events()
                if e["type"] == "SandboxExit" and e["sandbox_id"] == res["sandbox_id"]]
        self.assertEqual(len(ends), 1, ends)
        return ends[0]

    def test_sleep_past_timeout_after_a_denial(self):
        caps = self.caps(limits={"timeout_s": 2})
        res = self.run_json(self.write("a.py", DENY_THEN + "import time\ntime.sleep(3600)\n"),
                            caps=caps, timeout=90)
        self.assert_denied(res, [("FILE_READ", "/root/.ssh/id_rsa", "openat")])
        self.assertEqual(res["ended_by"], "timeout", res)
        line = [l for l in res["stderr"].splitlines() if "SandboxViolationError" in l]
        err = self.outputs[-1]
        self.assertEqual(len([l for l in err.splitlines() if "SandboxViolationError" in l]), 1,
                         err)
        self.assertIn("then killed: wall-clock timeout", err)
        self.assertEqual(line, [], "the runner's line is not the workload's stderr")
        end = self.exit_event(res)
        self.assertEqual((end["status"], end["ended_by"], end["exit_code"]),
                         ("violation", "timeout", 126), end)

    def test_memory_bomb_after_a_denial(self):
        caps = self.caps(limits={"memory_mb": 64, "timeout_s": 30})
        code = DENY_THEN + ("b = []\nwhile True:\n    b.append(bytearray(8 << 20))\n"
                            "    b[-1][::4096] = b'x' * (len(b[-1]) // 4096)\n")
        res = self.run_json(self.write("a.py", code), caps=caps, timeout=120)
        self.assert_denied(res, [("FILE_READ", "/root/.ssh/id_rsa", "openat")])
        self.assertEqual((res["ended_by"], res["limit"]), ("limit_exceeded", "memory"), res)
        self.assertIn("then killed: memory limit 64 MiB exceeded", self.outputs[-1])
        self.assertIn("ResourceLimitExceeded", [e["type"] for e in res["events"]])
        end = self.exit_event(res)
        self.assertEqual((end["status"], end["ended_by"]), ("violation", "limit_exceeded"), end)

    def test_long_denial_flood_is_bounded_in_bytes(self):
        n = 3000
        # ~3.8 KB targets: 3000 of them in full would be ~12 MB of audit log
        code = ("import os\nlong = '/'.join(['a' * 250] * 15)\nk = 0\n"
                "for i in range(%d):\n"
                "    try:\n        open('/root/%%s/%%d' %% (long, i))\n"
                "    except OSError:\n        k += 1\n"
                "print('refused:', k)\n" % n)
        res = self.run_json(self.write("flood.py", code), caps=self.caps(limits={"timeout_s": 120}),
                            timeout=300)
        self.assertEqual(self.verdicts(res)["refused"], str(n))
        self.assertEqual((res["status"], res["denials"]), ("violation", n), res["status"])
        audit = os.path.join(self.state, "audit.jsonl")
        size = os.path.getsize(audit)
        self.assertLess(size, BUDGET + 256 * 1024, "the audit log holds %d bytes" % size)
        for source, events in (("--events", res["events"]), ("audit log", self.audit_events())):
            full = [e for e in events if e["type"] == "CapabilityDenied"]
            summ = [e for e in events if e["type"] == "CapabilityDeniedSummary"]
            self.assertTrue(full, source)
            self.assertEqual(len(full) + sum(e["count"] for e in summ), n, source)
            self.assertEqual([(e["capability"], e["target_prefix"]) for e in summ],
                             [("FILE_READ", "/root/" + "a" * 65)], source)
            # the summary is before the end, so a reader of the stream has it
            types = [e["type"] for e in events]
            self.assertLess(types.index("CapabilityDeniedSummary"), types.index("SandboxExit"))
        self.exit_event(res)


if __name__ == "__main__":
    main()
