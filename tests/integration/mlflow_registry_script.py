"""Runs under .venv-mlflow with the real, unmodified mlflow client: trains a small XGBoost booster,
logs params, metrics and the model (mlflow.xgboost.log_model, which in MLflow 3 creates a logged
model), registers it, sets an alias, and loads it back through models:/name@alias, runs:/… and
models:/m-…; prints one JSON object on stdout with every way's predictions next to the original
booster's, so the test compares them."""

import json
import sys

import mlflow
import mlflow.xgboost
import numpy as np
import xgboost as xgb
from mlflow import MlflowClient

NAME = sys.argv[1] if len(sys.argv) > 1 else "churn-model"


def main() -> None:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(200, 4))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    train = xgb.DMatrix(features, label=labels)
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3}
    booster = xgb.train(params, train, num_boost_round=8)
    probe = xgb.DMatrix(features[:20])
    expected = booster.predict(probe).tolist()

    mlflow.set_experiment("churn-registry")
    with mlflow.start_run() as run:
        mlflow.log_params({"max_depth": 3, "eta": 0.3})
        mlflow.log_metric("train_auc", 0.97)
        info = mlflow.xgboost.log_model(booster, name="model", registered_model_name=NAME)
    client = MlflowClient()
    client.set_registered_model_alias(NAME, "champion", info.registered_model_version)

    by_alias = mlflow.xgboost.load_model(f"models:/{NAME}@champion")
    by_run = mlflow.xgboost.load_model(f"runs:/{run.info.run_id}/model")
    by_model_id = mlflow.xgboost.load_model(info.model_uri)
    # A second registration through mlflow.register_model, from the run's URI.
    second = mlflow.register_model(f"runs:/{run.info.run_id}/model", NAME)
    by_version = mlflow.xgboost.load_model(f"models:/{NAME}/{second.version}")
    latest = client.get_latest_versions(NAME)
    print(json.dumps({
        "run_id": run.info.run_id,
        "model_uri": info.model_uri,
        "model_id": info.model_id,
        "version": int(info.registered_model_version),
        "second_version": int(second.version),
        "alias_version": int(client.get_model_version_by_alias(NAME, "champion").version),
        "latest": [int(v.version) for v in latest],
        "expected": expected,
        "by_alias": by_alias.predict(probe).tolist(),
        "by_run": by_run.predict(probe).tolist(),
        "by_model_id": by_model_id.predict(probe).tolist(),
        "by_version": by_version.predict(probe).tolist(),
        "probe": features[:20].tolist(),
    }))


if __name__ == "__main__":
    main()
