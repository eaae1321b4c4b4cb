"""Runs one module of CPython's regression suite (Debian's
libpython3.11-testsuite) with unittest and prints one JSON line of counts as
the last line of stdout. The same file runs on the host, under a bare
`runsc run` and under `omnibase sandbox run` (benchmarks/bench_compat.sh).

    python3 run_module.py test.test_os
"""
import json
import os
import sys
import time
import unittest

# test.support asks regrtest which resources are enabled; without regrtest
# every resource is on, and "network" would reach for the internet.
from test import support

support.use_resources = ["cpu", "decimal", "subprocess", "urlfetch-off"]


class Counting(unittest.TextTestResult):
    pass


def main():
    name = sys.argv[1]
    os.environ.setdefault("TMPDIR", "/tmp")
    t0 = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromName(name)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=1, resultclass=Counting)
    result = runner.run(suite)
    run = result.testsRun
    failed = len(result.failures) + len(result.unexpectedSuccesses)
    errors = len(result.errors)
    skipped = len(result.skipped)
    passed = run - failed - errors - skipped
    print(json.dumps({"module": name, "run": run, "passed": passed, "failed": failed,
                      "errors": errors, "skipped": skipped,
                      "seconds": round(time.monotonic() - t0, 2),
                      "failed_ids": sorted(t.id() for t, _ in result.failures + result.errors)}),
          flush=True)


# multiprocessing's spawn and forkserver children import the main module
# again (as __mp_main__): only the real main runs the tests
if __name__ == "__main__":
    main()
