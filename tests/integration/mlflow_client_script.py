"""Runs under .venv-mlflow with the real mlflow client (not the repo's .venv): logs an experiment
with a parent and two nested runs through MLFLOW_TRACKING_URI / MLFLOW_TRACKING_TOKEN, reads it
back through the client, and prints what it saw as one JSON object on stdout."""

import json
import math

import mlflow
from mlflow import MlflowClient


def main() -> None:
    experiment = mlflow.set_experiment("churn")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("model", "xgboost")
        mlflow.set_tag("team", "risk")
        for depth, auc in ((4, 0.71), (6, 0.83)):
            with mlflow.start_run(run_name=f"depth-{depth}", nested=True) as child:
                mlflow.log_params({"depth": str(depth), "eta": "0.1"})
                mlflow.set_tags({"team": "risk", "trial": str(depth)})
                for step in range(3):
                    mlflow.log_metric("loss", 1.0 / (step + 1) + depth / 100, step=step)
                mlflow.log_metrics({"auc": auc, "nan_metric": math.nan})
        mlflow.log_metric("best_auc", 0.83)

    client = MlflowClient()
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string="metrics.auc > 0.5 and tags.team = 'risk' and attributes.status = 'FINISHED'",
        order_by=["metrics.auc DESC"],
    )
    best = found[0]
    history = client.get_metric_history(best.info.run_id, "loss")
    fetched_parent = client.get_run(parent.info.run_id)
    mlflow.create_experiment("churn-v2", tags={"team": "growth"})
    mlflow.create_experiment("fraud", tags={"team": "risk"})
    churns = mlflow.search_experiments(filter_string="name LIKE 'churn%'", order_by=["name DESC"])
    risky = mlflow.search_experiments(filter_string="tags.team = 'risk'")
    print(json.dumps({
        "experiment_id": experiment.experiment_id,
        "parent_run_id": parent.info.run_id,
        "parent_status": fetched_parent.info.status,
        "parent_params": fetched_parent.data.params,
        "parent_metrics": fetched_parent.data.metrics,
        "search": [{"run_id": r.info.run_id, "name": r.info.run_name, "params": r.data.params,
                    "metrics": {k: (None if math.isnan(v) else v) for k, v in r.data.metrics.items()},
                    "tags": {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")},
                    "parent": r.data.tags.get("mlflow.parentRunId")} for r in found],
        "experiments_like_churn": [e.name for e in churns],
        "experiments_of_risk": [e.name for e in risky],
        "history": [{"step": m.step, "value": m.value, "timestamp": m.timestamp} for m in history],
    }))


if __name__ == "__main__":
    main()
