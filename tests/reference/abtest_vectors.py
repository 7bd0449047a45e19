"""Reference vectors for src/abtest, computed independently with scipy at test time.

Usage: abtest_vectors.py OUTPUT. Writes one case per line: a kind, then its inputs, then the
expected outputs, floats in repr (round-trip) form; strings are hex-encoded UTF-8. The C++ test
src/abtest/reference_vectors_test.cc runs this with the .venv interpreter and compares to 1e-9.
"""

import math
import sys

import numpy as np
from scipy import stats

lines = []


def emit(kind, *values):
    lines.append(" ".join([kind] + [v if isinstance(v, str) else repr(float(v)) for v in values]))


for x in [-37, -20, -8.5, -3, -1, -1e-8, 0, 0.5, 2, 7, 9]:
    emit("norm_cdf", x, stats.norm.cdf(x))
for p in [1e-300, 1e-100, 1e-20, 1e-8, 0.001, 0.025, 0.1, 0.3, 0.5, 0.7, 0.975, 0.999, 1 - 1e-12]:
    emit("norm_ppf", p, stats.norm.ppf(p))
for t, df in [(0, 5), (1.5, 1), (2, 2), (-2, 3), (10, 3), (50, 2.5), (3, 10), (0.3, 100),
              (5, 1000.7), (8, 1e6), (40, 30), (1e3, 5), (-1, 1e7), (2.2, 7.3), (0.01, 2e5),
              (30, 1e5), (1e-5, 3), (-7, 0.5), (4, 1.7e3)]:
    emit("t_sf", t, df, stats.t.sf(t, df))
for p, df in [(0.975, 1), (0.975, 2), (0.975, 3.5), (0.975, 10), (0.975, 1e4), (0.995, 5),
              (1 - 1e-10, 4), (1e-12, 20), (0.6, 2), (0.975, 1e7), (0.9999999, 1.2), (0.3, 17),
              (1e-200, 50), (0.5000001, 3), (0.995, 2e5)]:
    emit("t_ppf", p, df, stats.t.ppf(p, df))
for x, df in [(0.5, 1), (3.84, 1), (30, 1), (200, 1), (1500, 1), (10, 2), (0.01, 3), (50, 5),
              (5, 9), (1e-6, 1), (20.5, 4), (0, 2), (300, 100),
              (80, 100), (1e-3, 0.5), (1000, 7)]:
    emit("chi2_sf", x, df, stats.chi2.sf(x, df))


def relative(m_a, v_a, m_b, v_b, q):
    if m_a == 0:
        return [math.nan] * 3
    lift = (m_b - m_a) / abs(m_a)
    se = math.sqrt(v_b / m_a**2 + m_b**2 * v_a / m_a**4)
    return [lift, lift - q * se, lift + q * se]


# Two-proportion z-test: pooled z for the p-value, unpooled Wald intervals.
for x_a, n_a, x_b, n_b, alpha in [(100, 1000, 120, 1000, 0.05), (0, 50, 3, 50, 0.05),
                                  (50, 50, 45, 50, 0.05), (1, 3, 2, 4, 0.1),
                                  (5000, 100000, 5600, 100000, 0.01),
                                  (100000, 1000000, 103000, 1000000, 0.05),
                                  (10, 10, 0, 10, 0.05), (7, 13, 7, 13, 0.2)]:
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    z = (p_b - p_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p = 2 * stats.norm.sf(abs(z))
    q = stats.norm.isf(alpha / 2)
    v_a, v_b = p_a * (1 - p_a) / n_a, p_b * (1 - p_b) / n_b
    se = math.sqrt(v_a + v_b)
    emit("ztest", x_a, n_a, x_b, n_b, alpha, z, p, p_b - p_a - q * se, p_b - p_a + q * se,
         *relative(p_a, v_a, p_b, v_b, q))

# Welch: scipy's own t-test for t and p; Welch-Satterthwaite df and t quantile for intervals.
for m_a, var_a, n_a, m_b, var_b, n_b, alpha in [
        (10, 4, 100, 10.5, 5, 120, 0.05), (5, 0, 10, 6, 2, 12, 0.05), (1, 1, 2, 2, 3, 2, 0.05),
        (0, 1, 5000, 0.6, 1, 5000, 0.05), (100, 400, 50000, 101, 420, 60000, 0.01),
        (0, 1, 30, 0.2, 1.5, 40, 0.05), (-2, 1, 20, -1.5, 1, 25, 0.1), (3, 2, 3, 3, 2, 3, 0.05)]:
    res = stats.ttest_ind_from_stats(m_b, math.sqrt(var_b), n_b, m_a, math.sqrt(var_a), n_a,
                                     equal_var=False)
    v_a, v_b = var_a / n_a, var_b / n_b
    df = (v_a + v_b) ** 2 / (v_a**2 / (n_a - 1) + v_b**2 / (n_b - 1))
    q = stats.t.isf(alpha / 2, df)
    se = math.sqrt(v_a + v_b)
    d = m_b - m_a
    emit("welch", m_a, var_a, n_a, m_b, var_b, n_b, alpha, res.statistic, df, res.pvalue,
         d - q * se, d + q * se, *relative(m_a, v_a, m_b, v_b, q))

for counts, weights in [([5000, 5000], [1, 1]), ([5100, 4900], [0.5, 0.5]),
                        ([1000, 9000], [10, 90]), ([1200, 8800], [10, 90]),
                        ([30, 40, 50], [1, 1, 1]), ([3, 10], [1, 1]),
                        ([2000, 3100, 4900], [0.2, 0.3, 0.5])]:
    obs = np.array(counts, dtype=float)
    w = np.array(weights, dtype=float)
    res = stats.chisquare(obs, obs.sum() * w / w.sum())
    emit("srm", len(counts), *counts, *weights, res.statistic, res.pvalue)

for baseline, mde, alpha, power in [(0.1, 0.02, 0.05, 0.8), (0.5, -0.05, 0.01, 0.9),
                                    (0.02, 0.002, 0.05, 0.8), (0.9, 0.05, 0.1, 0.95)]:
    p1, p2 = baseline, baseline + mde
    root = (stats.norm.isf(alpha / 2) * math.sqrt(2 * (p1 + p2) / 2 * (1 - (p1 + p2) / 2)) +
            stats.norm.ppf(power) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
    emit("size_prop", baseline, mde, alpha, power, root**2 / mde**2)
for sd, mde, alpha, power in [(1, 0.1, 0.05, 0.8), (3, 0.5, 0.01, 0.9), (0.2, -0.01, 0.1, 0.5)]:
    z = stats.norm.isf(alpha / 2) + stats.norm.ppf(power)
    emit("size_mean", sd, mde, alpha, power, 2 * sd**2 * z**2 / mde**2)

# Confidence-sequence half-width (GrowthBook's asymptotic normal-mixture boundary).
for se, n, alpha, n_star in [(0.01, 2000, 0.05, 5000), (0.5, 10, 0.05, 5000),
                             (0.001, 1e6, 0.01, 1e4), (0.2, 5000, 0.1, 5000)]:
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / n_star
    s = se * math.sqrt(n)
    half = s * math.sqrt(2 * (n * rho2 + 1) / (n**2 * rho2) *
                         math.log(math.sqrt(n * rho2 + 1) / alpha))
    emit("cs_half", se, n, alpha, n_star, half)


def fnv1a32(text):
    h = 0x811C9DC5
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def hash_v2(seed, value):
    return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000


for seed, value in [("", "a"), ("exp-1", "user-42"), ("checkout", "123456789"),
                    ("salt", "Zoë"), ("s", "مستخدم"), ("emoji", "u-😀-1"), ("x", "")]:
    emit("hash", seed.encode().hex() or "-", value.encode().hex() or "-",
         float(fnv1a32(value)), hash_v2(seed, value))

with open(sys.argv[1], "w") as out:
    out.write("\n".join(lines) + "\n")
