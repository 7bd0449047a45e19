"""Helpers for the monitor and alert integration tests: a server that trains, a trained model
whose version carries a training reference profile, current datasets with chosen shifts, and the
reference statistics recomputed with numpy/scipy on the report's bins."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from training_helpers import ingest_table, run_job, time_split, training_server

FEATURES = ["f0", "f1", "f2", "f3", "f4"]
ROWS = 5000


def monitor_server(workdir):
    """training_server with a 2 MiB body limit, so oversized bodies are cheap to send."""
    yield from training_server(workdir, {"server": {"body_limit_bytes": 2 << 20}})


def training_data(seed=1):
    random = np.random.default_rng(seed)
    features = random.normal(size=(ROWS, len(FEATURES)))
    labels = (features[:, 0] + features[:, 1] + 0.5 * random.normal(size=ROWS) > 0).astype(int)
    return features, labels


def train_spec(dataset="base", model="credit"):
    return {"data": {"dataset": dataset}, "label": "label",
            "split": {"method": "time", "time_column": "event_time"},
            "trainer": "xgboost", "objective": "binary:logistic",
            "params": {"max_depth": 2, "eta": 0.3, "seed": 1}, "num_boost_round": 10,
            "metrics": ["auc"], "register": {"model": model}}


def setup_project(server, project):
    """A project with dataset `base` and model `credit` v1 trained on it; returns the reference
    rows (the test split's features, as the training reference profile saw them: float32)."""
    created = server.post("/api/v1/projects", json={"name": project, "region": "uae-north"})
    assert created.status_code == 201, created.text
    features, labels = training_data()
    ingest_table(server, project, "base", features, labels)
    run_job(server, project, "train", train_spec())
    _, _, test = time_split(ROWS)
    return features[list(test)].astype(np.float32).astype(np.float64)


def ingest_current(server, project, name, shifts: dict, rows=800, seed=5):
    """A current dataset: the training distribution with `shifts` {column index: added mean}."""
    random = np.random.default_rng(seed)
    features = random.normal(size=(rows, len(FEATURES)))
    for column, shift in shifts.items():
        features[:, column] += shift
    labels = (features[:, 0] > 0).astype(int)
    ingest_table(server, project, name, features, labels)
    return features


def binned(reference: np.ndarray, current: np.ndarray, bins=20):
    """Reference bin counts (numpy.histogram, as the profile), current counts on those bins with
    an underflow and an overflow bin, and the bin midpoints (open bins at lo - w/2, hi + w/2)."""
    ref_counts, edges = np.histogram(reference, bins=bins)
    lo, hi = edges[0], edges[-1]
    inside = current[(current >= lo) & (current <= hi)]
    cur_inside, _ = np.histogram(inside, bins=edges)
    ref = np.concatenate([[0], ref_counts, [0]])
    cur = np.concatenate([[np.sum(current < lo)], cur_inside, [np.sum(current > hi)]])
    width = (hi - lo) / bins
    mids = lo + (np.arange(bins + 2) - 0.5) * width
    return ref, cur, mids


def psi(ref, cur):
    def shares(counts):
        p = counts / counts.sum()
        smallest = p[p > 0].min()
        eps = smallest / 1e6 if smallest <= 1e-4 else 1e-4
        return np.where(p == 0, eps, p)
    r, c = shares(ref), shares(cur)
    return float(np.sum((r - c) * np.log(r / c)))


def expected_scores(ref, cur, mids, stddev):
    """The four statistics on the binned samples, with scipy."""
    ks = ks_2samp(np.repeat(mids, ref), np.repeat(mids, cur))
    return {"ks": (ks.statistic, ks.pvalue), "psi": psi(ref, cur),
            "jensenshannon": float(jensenshannon(ref, cur)),
            "wasserstein": wasserstein_distance(mids, mids, ref, cur) / max(stddev, 0.001)}
