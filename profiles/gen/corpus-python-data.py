"""What agent-written data code does with numpy and pandas: run on the host by
scripts/gen-profiles.py, which mounts the dist-packages entries it imports
(and the libraries their extension modules link) in the python-data profile."""
import io

import numpy as np
import pandas as pd

a = np.arange(12, dtype=np.float64).reshape(3, 4)
np.linalg.inv(np.eye(3) * 2)
np.fft.rfft(a[0])
np.random.default_rng(1).normal(size=8).mean()
df = pd.DataFrame({"city": ["a", "b", "a"], "t": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]),
                   "v": [1.5, 2.5, 3.5]})
df.groupby("city")["v"].agg(["mean", "sum"])
df.set_index("t").resample("D").sum(numeric_only=True)
df.pivot_table(index="city", values="v", aggfunc="max")
pd.read_csv(io.StringIO(df.to_csv(index=False)))
df.to_json()
pd.Timestamp("2026-01-01", tz="UTC").tz_convert("Europe/Paris")
