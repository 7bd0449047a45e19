"""Writes what bench/serving_peers sends and serves, from make_models.py's benchmark model.

Usage: prepare.py WORK MODELS_DIR FALAJ_FORMAT(xgboost|linear) MLFLOW_FLAVOR(booster|classifier)

WORK/req/<server>_<rows>.json  request bodies, the same rows for every server: benchmark.rows.npy
                               from the top, FP32 values written as their shortest float32 text.
    falaj_N     KServe v2 {"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [N, 30], ...}]}
    mlserver_N  the same body plus "outputs": [{"name": "predict_proba"}]: MLServer's xgboost
                runtime answers `predict` (class labels) unless the request asks for probabilities
    mlflow_N    {"inputs": [[30 floats], ...]} for /invocations
WORK/expected/<server>.npy     what an 8-row infer must answer on each server (see check.py)
WORK/falaj/model.json          the artifact Falaj registers: benchmark.json, or in linear mode a
                               30-feature logistic regression (serving_ceiling's)
WORK/mlserver/                 settings.json and benchmark/model-settings.json (`mlserver start`)
"""

import json
import pathlib
import shutil
import sys

import numpy as np

SIZES = (1, 8, 256)


def floats(values):
    return [float(np.format_float_positional(v, unique=True, trim="-")) for v in values]


def main():
    work, models, falaj_format, flavor = sys.argv[1:5]
    work, models = pathlib.Path(work), pathlib.Path(models)
    rows = np.load(models / "benchmark.rows.npy").astype(np.float32)
    expected = np.load(models / "benchmark.expected.npy").astype(np.float32)
    width = rows.shape[1]

    (work / "req").mkdir(parents=True, exist_ok=True)
    for n in SIZES:
        block = rows[:n]
        data = floats(block.ravel())
        v2 = {"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [n, width], "data": data}]}
        (work / "req" / f"falaj_{n}.json").write_text(json.dumps(v2, separators=(",", ":")))
        v2["outputs"] = [{"name": "predict_proba"}]
        (work / "req" / f"mlserver_{n}.json").write_text(json.dumps(v2, separators=(",", ":")))
        table = [data[i * width:(i + 1) * width] for i in range(n)]
        (work / "req" / f"mlflow_{n}.json").write_text(
            json.dumps({"inputs": table}, separators=(",", ":")))

    (work / "expected").mkdir(exist_ok=True)
    (work / "falaj").mkdir(exist_ok=True)
    eight = expected[:8]
    if falaj_format == "linear":
        coefficients = [round(0.01 * (i - 15), 3) for i in range(width)]
        intercept = 0.1
        (work / "falaj" / "model.json").write_text(
            json.dumps({"kind": "logistic", "coefficients": coefficients, "intercept": intercept}))
        z = rows[:8].astype(np.float64) @ np.array(coefficients) + intercept
        np.save(work / "expected" / "falaj.npy", (1 / (1 + np.exp(-z))).astype(np.float32))
    else:
        shutil.copyfile(models / "benchmark.json", work / "falaj" / "model.json")
        np.save(work / "expected" / "falaj.npy", eight)
    np.save(work / "expected" / "mlserver.npy", eight)
    # The pyfunc of an XGBClassifier predicts class labels; that of its Booster, probabilities.
    np.save(work / "expected" / "mlflow.npy",
            eight if flavor == "booster" else (eight > 0.5).astype(np.float32))


if __name__ == "__main__":
    main()
