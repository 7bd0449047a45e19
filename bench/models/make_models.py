"""Trains the XGBoost models the serving benchmarks and tests use, with the XGBoost from PyPI.

  benchmark  binary:logistic, 100 trees, depth 6, 30 FP32 features, on a 50 000-row synthetic
             classification set (sklearn make_classification: 15 informative features), so every
             tree grows to full depth — the workload of the serving issue.
  cancer     binary:logistic, 100 trees, depth 6, on scikit-learn's breast-cancer data (30 real
             features, 569 rows), for the acceptance check against XGBoost's own predict.

Each model is written as <name>.json and <name>.ubj, with <name>.rows.npy (rows to predict, float32)
and <name>.expected.npy (XGBoost's predict on those rows). Usage: make_models.py OUT_DIR
"""

import pathlib
import sys

import numpy as np
import xgboost
from sklearn.datasets import load_breast_cancer, make_classification

SEED = 7


def train(features, labels, **params):
    model = xgboost.XGBClassifier(
        n_estimators=100, max_depth=6, tree_method="hist", random_state=SEED, **params
    )
    model.fit(features, labels)
    return model


def write(out_dir, name, model, rows):
    model.save_model(out_dir / f"{name}.json")
    model.save_model(out_dir / f"{name}.ubj")
    np.save(out_dir / f"{name}.rows.npy", rows)
    np.save(out_dir / f"{name}.expected.npy", model.predict_proba(rows)[:, 1].astype(np.float32))


def main():
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    features, labels = make_classification(
        n_samples=50_000, n_features=30, n_informative=15, random_state=SEED
    )
    features = features.astype(np.float32)
    write(out_dir, "benchmark", train(features, labels), features[:2000])
    cancer = load_breast_cancer()
    cancer_rows = cancer.data.astype(np.float32)
    write(out_dir, "cancer", train(cancer_rows, cancer.target), cancer_rows)


if __name__ == "__main__":
    main()
