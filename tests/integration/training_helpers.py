"""Helpers for the training and tuning integration tests: scikit-learn's bundled datasets
ingested as Falaj datasets with one distinct timestamp per row (so the time split's test rows are
computable: the latest round(test_fraction * n) rows), and job submission and polling."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np

from conftest import FalajServer, wait_until

JOB_TIMEOUT = 180.0
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def ingest_table(server, project, name, features: np.ndarray, labels: np.ndarray,
                 label_type="int64"):
    """Ingests rows in time order: row i has event_time START + i minutes."""
    columns = [f"f{i}" for i in range(features.shape[1])]
    schema = ([{"name": c, "type": "float64"} for c in columns]
              + [{"name": "label", "type": label_type},
                 {"name": "event_time", "type": "timestamp"}])
    created = server.post(f"/api/v1/projects/{project}/sources",
                          json={"name": name, "kind": "file", "schema": schema})
    assert created.status_code == 201, created.text
    out = io.StringIO()
    out.write(",".join(columns + ["label", "event_time"]) + "\n")
    for i, (row, label) in enumerate(zip(features, labels)):
        moment = (START + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        value = int(label) if label_type == "int64" else repr(float(label))
        out.write(",".join(repr(float(v)) for v in row) + f",{value},{moment}\n")
    ingested = server.request("POST", f"/api/v1/projects/{project}/sources/{name}/ingest?format=csv",
                              data=out.getvalue().encode(),
                              headers={"Content-Type": "application/octet-stream"})
    assert ingested.status_code == 201, ingested.text
    return columns


def time_split(n: int, validation_fraction=0.2, test_fraction=0.2):
    """Row index ranges (train, validation, test) of the time split of n rows in time order, as
    data_prep.cc computes them (llround of fraction × n, distinct times)."""
    n_test = int(np.floor(test_fraction * n + 0.5))
    n_valid = int(np.floor(validation_fraction * n + 0.5))
    return (range(0, n - n_test - n_valid), range(n - n_test - n_valid, n - n_test),
            range(n - n_test, n))


def submit(server, project, kind, spec):
    return server.post(f"/api/v1/projects/{project}/jobs", json={"kind": kind, "spec": spec})


def wait_finished(server, project, job_id, timeout=JOB_TIMEOUT) -> dict:
    def finished():
        job = server.get(f"/api/v1/projects/{project}/jobs/{job_id}").json()
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None
    return wait_until(finished, timeout, interval=0.1, message=f"job {job_id} to finish")


def run_job(server, project, kind, spec) -> dict:
    response = submit(server, project, kind, spec)
    assert response.status_code == 201, response.text
    job = wait_finished(server, project, response.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def mlflow_run(server, project, run_id) -> dict:
    answer = server.get(f"/mlflow/projects/{project}/api/2.0/mlflow/runs/get?run_id={run_id}")
    assert answer.status_code == 200, answer.text
    run = answer.json()["run"]
    run["tags"] = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    return run


def training_server(workdir, extra_config=None):
    """A module's server for training and tuning jobs, stopped (and checked) when the generator
    ends. Distributed training runs XGBoost's collective under the interpreter running the tests
    (the repo's .venv, which has xgboost)."""
    import sys
    instance = FalajServer(workdir, config={"jobs": {"workers": 2},
                                            "training": {"python": sys.executable},
                                            **(extra_config or {})})
    instance.start()
    yield instance
    try:
        instance.stop_and_check()
    finally:
        if instance.running():
            instance.kill()
