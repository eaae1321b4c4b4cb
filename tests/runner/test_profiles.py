#!/usr/bin/python3
"""Profiles (issue 15): they are generated, never edited by hand, and the
python-data profile runs agent-written numpy/pandas code with no grants
beyond its inputs, read-only, and nothing of dist-packages it did not ask for."""
import os
import subprocess

from runnerlib import RunnerTest, main, skip_or_fail

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Profiles(RunnerTest):
    def setUp(self):
        super().setUp()
        if not (os.path.isdir("/usr/lib/python3/dist-packages/numpy") and
                os.path.isdir("/usr/lib/python3/dist-packages/pandas")):
            skip_or_fail("python3-numpy and python3-pandas are not installed "
                         "(scripts/install-deps.sh)")

    def test_profiles_are_what_the_generator_makes(self):
        """profiles/*.json equal scripts/gen-profiles.py's output on this host."""
        p = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "scripts", "gen-profiles.py"),
                            "--check"], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_thread_exit_under_python_minimal(self):
        """glibc dlopens libgcc_s.so.1 to unwind a thread that exits (pthread_exit,
        a daemon thread at shutdown): the profile has it, so no abort (134)."""
        # the main thread's pthread_exit: the process ends 0 once it has
        # unwound (on the host too), or aborts (134) when libgcc_s is missing
        res = self.run_json(self.write("texit.py", (
            "import ctypes\n"
            "print('before', flush=True)\n"
            "ctypes.CDLL(None).pthread_exit(None)\n")))
        self.assertEqual(res["violations"], [], res)
        self.assertEqual((res["status"], res["exit_code"], res["stdout"]), ("ok", 0, "before\n"),
                         res)

    def test_python_data_runs_clean(self):
        """numpy and pandas with no grants: status ok, no violations."""
        res = self.run_json(self.write("data.py", (
            "import io\n"
            "import numpy as np, pandas as pd\n"
            "df = pd.read_csv(io.StringIO('city,v\\na,1.5\\nb,2.5\\na,3.5\\n'))\n"
            "print(df.groupby('city')['v'].sum().to_dict())\n"
            "print(round(float(np.linalg.det(np.eye(3) * 2)), 6))\n"
            "print(pd.Timestamp('2026-01-01', tz='UTC').tz_convert('Europe/Paris'))\n")),
            "--profile", "python-data")
        self.assertEqual(res["violations"], [], res)
        self.assertEqual((res["status"], res["exit_code"]), ("ok", 0), res)
        self.assertEqual(res["stdout"].splitlines(),
                         ["{'a': 5.0, 'b': 2.5}", "8.0", "2026-01-01 01:00:00+01:00"])

    def test_python_data_is_read_only_and_nothing_more(self):
        """The packages cannot be changed, and dist-packages the corpus did
        not import (python3-yaml, installed on this host) are not there."""
        self.assertTrue(os.path.isdir("/usr/lib/python3/dist-packages/yaml"))
        res = self.run_json(self.write("attack.py", (
            "import errno, os\n"
            "import numpy\n"
            "for p in (numpy.__file__, os.path.dirname(numpy.__file__) + '/planted.py'):\n"
            "    try:\n"
            "        open(p, 'a').write('x')\n"
            "        print('wrote', p)\n"
            "    except OSError as e:\n"
            "        print('refused', errno.errorcode[e.errno])\n"
            "try:\n"
            "    import yaml\n"
            "    print('yaml', yaml.__file__)\n"
            "except ImportError:\n"
            "    print('no yaml')\n")), "--profile", "python-data")
        out = res["stdout"].splitlines()
        self.assertNotIn("wrote", res["stdout"], res)
        self.assertEqual(len([line for line in out if line.startswith("refused")]), 2, res)
        self.assertEqual(out[-1], "no yaml", res)
        self.assertEqual(res["status"], "violation", res)
        self.assertTrue(all(v["capability"] == "FILE_WRITE" for v in res["violations"]), res)


if __name__ == "__main__":
    main()
