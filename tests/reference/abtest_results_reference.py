"""Reference values for an A/B test's results (src/abtest/ab_test_results_test.cc), with scipy.

Usage: abtest_results_reference.py CONTROL_VALUES TREATMENT_VALUES UNITS_A CONV_A UNITS_B CONV_B
       WEIGHT_A WEIGHT_B ALPHA POWER MDE TUNING

The value files hold one numeric outcome per line (the raw data the C++ side summed). Prints
"name value" lines: the numeric metric from scipy.stats.ttest_ind on the raw values (Welch), the
conversion metric's pooled z-test with unpooled Wald intervals, relative lifts by the delta
method, the sample-ratio chi-square (scipy.stats.chisquare), the confidence-sequence bounds
(GrowthBook's normal-mixture formula) and the minimum sample size for the conversion metric.
"""

import math
import sys

import numpy as np
from scipy import stats

a_values = np.loadtxt(sys.argv[1])
b_values = np.loadtxt(sys.argv[2])
units_a, conv_a, units_b, conv_b = (int(x) for x in sys.argv[3:7])
weight_a, weight_b, alpha, power, mde, tuning = (float(x) for x in sys.argv[7:13])

out = {}


def relative(prefix, m_a, v_a, m_b, v_b, q):
    lift = (m_b - m_a) / abs(m_a)
    se = math.sqrt(v_b / m_a**2 + m_b**2 * v_a / m_a**4)
    out[prefix + "relative"] = lift
    out[prefix + "relative_lower"] = lift - q * se
    out[prefix + "relative_upper"] = lift + q * se


def sequence(prefix, diff, se, n):
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    s = se * math.sqrt(n)
    half = s * math.sqrt(2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha))
    out[prefix + "cs_lower"] = diff - half
    out[prefix + "cs_upper"] = diff + half


# Numeric metric: Welch's t-test on the raw outcomes.
res = stats.ttest_ind(b_values, a_values, equal_var=False)
m_a, m_b = a_values.mean(), b_values.mean()
v_a, v_b = a_values.var(ddof=1) / len(a_values), b_values.var(ddof=1) / len(b_values)
df = (v_a + v_b) ** 2 / (v_a**2 / (len(a_values) - 1) + v_b**2 / (len(b_values) - 1))
q = stats.t.isf(alpha / 2, df)
se = math.sqrt(v_a + v_b)
out.update({"welch_mean_a": m_a, "welch_mean_b": m_b, "welch_t": res.statistic, "welch_df": df,
            "welch_p": res.pvalue, "welch_lower": m_b - m_a - q * se,
            "welch_upper": m_b - m_a + q * se})
relative("welch_", m_a, v_a, m_b, v_b, q)
sequence("welch_", m_b - m_a, se, len(a_values) + len(b_values))

# Conversion metric: pooled z for the p-value, unpooled intervals.
p_a, p_b = conv_a / units_a, conv_b / units_b
pooled = (conv_a + conv_b) / (units_a + units_b)
z = (p_b - p_a) / math.sqrt(pooled * (1 - pooled) * (1 / units_a + 1 / units_b))
q = stats.norm.isf(alpha / 2)
v_a, v_b = p_a * (1 - p_a) / units_a, p_b * (1 - p_b) / units_b
se = math.sqrt(v_a + v_b)
out.update({"z": z, "z_p": 2 * stats.norm.sf(abs(z)), "z_lower": p_b - p_a - q * se,
            "z_upper": p_b - p_a + q * se})
relative("z_", p_a, v_a, p_b, v_b, q)
sequence("z_", p_b - p_a, se, units_a + units_b)

# Sample-ratio mismatch against the configured weights.
total = units_a + units_b
expected = [total * weight_a / (weight_a + weight_b), total * weight_b / (weight_a + weight_b)]
srm = stats.chisquare([units_a, units_b], expected)
out["srm_chi2"], out["srm_p"] = srm.statistic, srm.pvalue

# Minimum sample per arm for the conversion metric: baseline = control rate, delta = mde * it.
p1 = p_a
p2 = p1 + mde * p1
pbar = (p1 + p2) / 2
za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
out["min_sample_exact"] = n / (mde * p1) ** 2

for key, value in out.items():
    print(key, repr(float(value)))
