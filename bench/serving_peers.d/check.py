"""Checks one server's answer to an 8-row request against the expected predictions.

Usage: check.py KIND URL BODY EXPECTED_NPY [AUTHORIZATION]
  KIND falaj     v2 answer, output 'predict', one value per row
  KIND mlserver  v2 answer, output 'predict_proba', [rows, 2]: column 1 is the positive class
  KIND mlflow    {"predictions": [...]}: one value per row
Prints the largest absolute difference; exits 1 (showing the answer) past 1e-5 or on any
non-2xx status.
"""

import json
import sys
import urllib.error
import urllib.request

import numpy as np

kind, url, body_path, expected_path = sys.argv[1:5]
headers = {"Content-Type": "application/json"}
if len(sys.argv) > 5 and sys.argv[5]:
    headers["Authorization"] = sys.argv[5]
body = open(body_path, "rb").read()
try:
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as answer:
        status, text = answer.status, answer.read().decode()
except urllib.error.HTTPError as error:
    status, text = error.code, error.read().decode(errors="replace")
if not 200 <= status < 300:
    print(f"{kind}: {url} answered {status}: {text[:2000]}")
    sys.exit(1)

reply = json.loads(text)
expected = np.load(expected_path).astype(np.float64)
if kind == "mlflow":
    got = np.asarray(reply["predictions"], dtype=np.float64).ravel()
else:
    output = reply["outputs"][0]
    got = np.asarray(output["data"], dtype=np.float64).reshape(output["shape"])
    if kind == "mlserver":
        got = got[:, 1]
    got = got.ravel()
if got.shape != expected.shape:
    print(f"{kind}: {got.size} predictions, expected {expected.size}: {text[:2000]}")
    sys.exit(1)
diff = float(np.max(np.abs(got - expected)))
if diff > 1e-5:
    print(f"{kind}: predictions differ by {diff:.3g} (> 1e-5)\n  got      {got}\n  expected {expected}")
    sys.exit(1)
print(f"{kind}: 8-row infer matches the expected predictions (max |diff| {diff:.2g})")
