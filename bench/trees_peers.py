"""Measures in-process peers of the `trees` runtime on the benchmark model, one thread each.

Peers: XGBoost's own in-place predict (the PyPI wheel), and Treelite + TL2cgen, which compile the
model into C and load it as a shared library. Each is timed at batch 1 (one row per call, cycling
through the rows) and batch 1000 (two calls cover the 2000 rows), after checking that its outputs
equal XGBoost's recorded predictions to 1e-6. Figures are rows per CPU second, to set beside
`trees_bench` run in the same session (its ratios, not absolute numbers, are what we report).

Run with the benchmark venv (see bench/CMakeLists.txt): XGBoost, treelite and tl2cgen live there,
apart from the project's .venv:
  .venv-bench/bin/python bench/trees_peers.py MODEL_DIR [--seconds S]
MODEL_DIR is what bench/models/make_models.py wrote (benchmark.json, benchmark.rows.npy, ...).
"""

import argparse
import pathlib
import tempfile
import time

import numpy as np
import tl2cgen
import treelite
import xgboost

TOLERANCE = 1e-6


def rate(predict, rows, batch, seconds):
    """Rows per CPU second of `predict` over `batch`-row slices of `rows`, best of three runs.

    CPU time of the whole process (every thread), as Google Benchmark's rate counters in
    trees_bench use CPU time: on a shared machine, wall time would charge peers for others' load.
    """
    slices = [rows[i : i + batch] for i in range(0, len(rows) - batch + 1, batch)]
    best = 0.0
    for _ in range(3):
        done = 0
        start = time.process_time()
        while True:
            for part in slices:
                predict(part)
            done += len(slices) * batch
            elapsed = time.process_time() - start
            if elapsed >= seconds / 3:
                break
        best = max(best, done / elapsed)
    return best


def check(name, predicted, expected):
    diff = float(np.max(np.abs(np.asarray(predicted, dtype=np.float32).ravel() - expected)))
    if diff > TOLERANCE:
        raise SystemExit(f"{name}: outputs differ from XGBoost's by {diff:.3g} (> {TOLERANCE})")
    print(f"{name}: outputs equal to {diff:.3g}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", type=pathlib.Path)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per figure")
    args = parser.parse_args()
    rows = np.load(args.model_dir / "benchmark.rows.npy").astype(np.float32)
    expected = np.load(args.model_dir / "benchmark.expected.npy").astype(np.float32)
    model_path = args.model_dir / "benchmark.json"

    booster = xgboost.Booster(model_file=str(model_path))
    booster.set_param({"nthread": 1})

    def xgb_predict(part):
        return booster.inplace_predict(part)

    check("xgboost inplace_predict", xgb_predict(rows), expected)

    model = treelite.frontend.load_xgboost_model(model_path)
    with tempfile.TemporaryDirectory() as scratch:
        library = pathlib.Path(scratch) / "benchmark.so"
        tl2cgen.export_lib(model, toolchain="gcc", libpath=library, params={}, nthread=1)
        predictor = tl2cgen.Predictor(library, nthread=1)

        def tl2cgen_predict(part):
            return predictor.predict(tl2cgen.DMatrix(part, dtype="float32"))

        check("tl2cgen", tl2cgen_predict(rows), expected)

        peers = [("xgboost inplace_predict", xgb_predict), ("tl2cgen", tl2cgen_predict)]
        print(f"xgboost {xgboost.__version__}, treelite {treelite.__version__}, "
              f"tl2cgen {tl2cgen.__version__}; {len(rows)} rows x {rows.shape[1]} features")
        for name, predict in peers:
            for batch in (1, 1000):
                figure = rate(predict, rows, batch, args.seconds)
                print(f"{name:<24} batch {batch:>4}: {figure:>12,.0f} rows/s")


if __name__ == "__main__":
    main()
