"""Reference drift statistics from numpy/scipy for src/monitoring/drift_statistics_test.cc.

Usage: drift_reference.py INPUT.json OUTPUT.json. INPUT holds {"cases": [...]}, each case either
{"kind": "numeric", "ref": [...], "cur": [...]} or {"kind": "categorical", "ref": {key: count},
"cur": {key: count}}. OUTPUT holds one object of statistics per case, computed here independently
of the C++ code (scipy for every test; numpy for binning). Non-finite numbers are written as
strings ("inf", "nan") because JSON has no literal for them.
"""
import json
import math
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance


def finite(x):
    x = float(x)
    return x if math.isfinite(x) else str(x)


def with_epsilon(counts):
    # Evidently's get_binned_data(feel_zeroes=True), per side, not renormalised.
    shares = counts / counts.sum()
    min_nonzero = shares[shares != 0].min()
    eps = min_nonzero / 1e6 if min_nonzero <= 1e-4 else 1e-4
    return np.where(shares == 0, eps, shares)


def reference_bins(ref, values):
    edges = np.histogram_bin_edges(ref, bins="sturges")
    inner = np.histogram(values, bins=edges)[0]
    below = np.sum(values < edges[0])
    above = np.sum(values > edges[-1])
    return np.concatenate([[below], inner, [above]]).astype(float), len(edges) - 1


def numeric(case):
    ref = np.asarray(case["ref"], dtype=float)
    cur = np.asarray(case["cur"], dtype=float)
    r, nbins = reference_bins(ref, ref)
    c, _ = reference_bins(ref, cur)
    rp, cp = with_epsilon(r), with_epsilon(c)
    psi = np.sum((rp - cp) * np.log(rp / cp))
    js = distance.jensenshannon(r, c)
    if max(len(ref), len(cur)) <= 10000:
        ks = stats.ks_2samp(ref, cur, method="exact")
        ks_stat, ks_p = ks.statistic, ks.pvalue
    else:
        ks_stat = stats.ks_2samp(ref, cur, method="asymp").statistic
        en = len(ref) * len(cur) / (len(ref) + len(cur))
        ks_p = stats.kstwobign.sf(math.sqrt(en) * ks_stat)
    w1 = stats.wasserstein_distance(ref, cur)
    normed = w1 / max(np.std(ref), 0.001)
    return {"bins": nbins, "psi": finite(psi), "js": finite(js), "ks_statistic": finite(ks_stat),
            "ks_pvalue": finite(ks_p), "wasserstein": finite(w1), "normed_wasserstein": finite(normed)}


def categorical(case):
    keys = sorted(set(case["ref"]) | set(case["cur"]))
    r = np.array([case["ref"].get(k, 0) for k in keys], dtype=float)
    c = np.array([case["cur"].get(k, 0) for k in keys], dtype=float)
    out = {"js": finite(distance.jensenshannon(r, c))}
    expected = r * c.sum() / r.sum()
    if np.any((expected == 0) & (c > 0)):
        out.update(chi_statistic="inf", chi_pvalue=0.0)
    else:
        keep = expected > 0
        chi = stats.chisquare(c[keep], expected[keep], ddof=len(keys) - keep.sum())
        out.update(chi_statistic=finite(chi.statistic), chi_pvalue=finite(chi.pvalue))
    # Evidently's z-test: the first key coded 0, the rest 1.
    n1, n2 = r.sum(), c.sum()
    p1, p2 = (n1 - r[0]) / n1, (n2 - c[0]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    z = 0.0 if var == 0 else (p1 - p2) / math.sqrt(var)
    out.update(z_statistic=z, z_pvalue=finite(2 * stats.norm.sf(abs(z)) if var else 1.0))
    return out


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)["cases"]
    results = [numeric(c) if c["kind"] == "numeric" else categorical(c) for c in cases]
    with open(sys.argv[2], "w") as f:
        json.dump({"results": results}, f)


if __name__ == "__main__":
    main()
