"""Evidently's DataDriftPreset on the data bench/drift_bench.cc's BM_DriftReport times.

Same shape and recipe as the C++ bench (50 numeric features, ROWS reference and ROWS current rows;
features alternate normal, lognormal(0, 0.8) and uniform(0, 10), every fifth shifted by 0.5 in
current), drawn with numpy, so the values are not bit-identical but the work is the same: at this
size Evidently picks normed Wasserstein for every column, as Falaj does.

Run with the bench-only venv (scripts/install-bench-deps creates it):
  .venv-evidently/bin/python bench/drift_vs_evidently.py [--rows 1000000] [--falaj-seconds S]
Prints the time of Report.run and, with --falaj-seconds (BM_DriftReport's real time), the ratio.
"""
import argparse
import time

import numpy as np
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def make(rows, features=50, seed=42):
    rng = np.random.default_rng(seed)
    ref, cur = {}, {}
    for f in range(features):
        shift = 0.5 if f % 5 == 0 else 0.0
        for side, offset in ((ref, 0.0), (cur, shift)):
            if f % 3 == 0:
                values = rng.normal(0.0, 1.0, rows)
            elif f % 3 == 1:
                values = rng.lognormal(0.0, 0.8, rows)
            else:
                values = rng.uniform(0.0, 10.0, rows)
            side[f"f{f}"] = values + offset
    return pd.DataFrame(ref), pd.DataFrame(cur)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--falaj-seconds", type=float)
    args = parser.parse_args()
    reference, current = make(args.rows, args.features)
    report = Report([DataDriftPreset()])
    start = time.perf_counter()
    snapshot = report.run(current_data=current, reference_data=reference)
    seconds = time.perf_counter() - start
    drifted = snapshot.dict()["metrics"][0]["value"]
    print(f"evidently DataDriftPreset: {args.features} features x {args.rows} x {args.rows} rows: "
          f"{seconds:.1f} s; drifted columns: {drifted}")
    if args.falaj_seconds:
        print(f"ratio evidently / falaj: {seconds / args.falaj_seconds:.1f}x")


if __name__ == "__main__":
    main()
