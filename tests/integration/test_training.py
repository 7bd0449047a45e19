"""Built-in training as a "train" job against a real server (docs/training.md): scikit-learn's
breast-cancer and diabetes data ingested as datasets, models trained, registered and served, and
every figure checked against an independent reference — Python xgboost loading the registered
model file, scikit-learn recomputing the test metrics on the time split's test rows and fitting
the same regression."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score

from conftest import assert_error_shape, unique_name, wait_until
from training_helpers import (ingest_table, mlflow_run, run_job, submit, time_split,
                              training_server, wait_finished)


@pytest.fixture(scope="module")
def server(falaj_binary, tmp_path_factory):
    yield from training_server(tmp_path_factory.mktemp("training"))


@pytest.fixture(scope="module")
def world(server):
    project = unique_name("train")
    assert server.create_project(project).status_code == 201
    cancer = load_breast_cancer()
    ingest_table(server, project, "cancer", cancer.data, cancer.target)
    diabetes = load_diabetes()
    ingest_table(server, project, "diabetes", diabetes.data, diabetes.target, label_type="float64")
    return {"project": project, "cancer": cancer, "diabetes": diabetes}


def cancer_spec(**overrides):
    spec = {"data": {"dataset": "cancer"}, "label": "label",
            "split": {"method": "time", "time_column": "event_time"},
            "trainer": "xgboost", "objective": "binary:logistic",
            "params": {"max_depth": 3, "eta": 0.1, "seed": 1}, "num_boost_round": 60,
            "metrics": ["auc", "logloss"], "register": {"model": "cancer", "alias": "champion"}}
    spec.update(overrides)
    return spec


def test_xgboost_model_is_served_as_python_xgboost_predicts_and_metrics_match_sklearn(server,
                                                                                    world):
    project = world["project"]
    job = run_job(server, project, "train", cancer_spec())
    result = job["result"]
    assert result["model"] == "cancer" and result["alias"] == "champion"
    version = result["version"]
    api = f"/api/v1/projects/{project}"
    registered = server.get(f"{api}/models/cancer/versions/{version}").json()
    assert registered["lineage"]["dataset"] == "cancer" and registered["lineage"]["version"] == 1
    assert registered["lineage"]["run_id"] == result["run_id"]
    model_file = server.get(f"{api}/models/cancer/versions/{version}/files/model.json")
    assert model_file.status_code == 200, model_file.text
    booster = xgboost.Booster()
    booster.load_model(bytearray(model_file.content))

    features = world["cancer"].data.astype(np.float32)
    labels = world["cancer"].target
    _, _, test = time_split(len(labels))
    test_rows = features[list(test)]
    expected = booster.predict(xgboost.DMatrix(test_rows)).astype(np.float64)

    endpoint = server.post(f"{api}/endpoints", json={
        "name": "cancer", "targets": [{"model": "cancer", "version": version}]})
    assert endpoint.status_code == 201, endpoint.text
    body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": list(test_rows.shape),
                        "data": test_rows.ravel().tolist()}]}
    inferred = server.post(f"/v2/models/{project}.cancer/infer", json=body)
    assert inferred.status_code == 200, inferred.text
    served = np.asarray(inferred.json()["outputs"][0]["data"], dtype=np.float64)
    np.testing.assert_allclose(served, expected, atol=1e-6, rtol=0)

    # The reported test metrics are sklearn's on the time split's latest rows.
    y_test = labels[list(test)]
    metrics = result["metrics"]
    assert metrics["auc"] == pytest.approx(roc_auc_score(y_test, expected), abs=1e-9)
    assert metrics["logloss"] == pytest.approx(log_loss(y_test, expected), abs=1e-9)
    assert 0.9 < metrics["auc"] <= 1.0  # a real model, not a constant
    run = mlflow_run(server, project, result["run_id"])
    assert run["info"]["status"] == "FINISHED"
    assert run["tags"]["falaj.registered_model"] == f"cancer/{version}"
    logged = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert logged["test_auc"] == pytest.approx(metrics["auc"], abs=1e-12)


def test_distributed_training_runs_workers_on_xgboosts_collective(server, world):
    project = world["project"]
    spec = cancer_spec(distributed={"workers": 2},
                       register={"model": "cancer-distributed", "alias": "champion"})
    result = run_job(server, project, "train", spec)["result"]
    api = f"/api/v1/projects/{project}"
    version = server.get(f"{api}/models/cancer-distributed/versions/{result['version']}").json()
    assert version["lineage"]["distributed"]["workers"] == 2
    assert version["lineage"]["distributed"]["engine"].startswith("xgboost ")
    model_file = server.get(f"{api}/models/cancer-distributed/versions/{result['version']}"
                            "/files/model.json")
    assert model_file.status_code == 200, model_file.text
    booster = xgboost.Booster()
    booster.load_model(bytearray(model_file.content))
    labels = world["cancer"].target
    _, _, test = time_split(len(labels))
    predicted = booster.predict(
        xgboost.DMatrix(world["cancer"].data.astype(np.float32)[list(test)])).astype(np.float64)
    # The reported test AUC is sklearn's on Python xgboost's predictions of the registered model.
    assert result["metrics"]["auc"] == pytest.approx(roc_auc_score(labels[list(test)], predicted),
                                                     abs=1e-9)
    assert result["metrics"]["auc"] > 0.9


def test_linear_regression_equals_sklearns(server, world):
    project = world["project"]
    spec = {"data": {"dataset": "diabetes"}, "label": "label",
            "split": {"method": "time", "time_column": "event_time"},
            "trainer": "linear", "params": {"l2": 0}, "metrics": ["rmse", "r2"],
            "register": {"model": "diabetes"}}
    result = run_job(server, project, "train", spec)["result"]
    api = f"/api/v1/projects/{project}"
    stored = server.get(f"{api}/models/diabetes/versions/{result['version']}/files/linear.json")
    assert stored.status_code == 200, stored.text
    model = stored.json()

    features = world["diabetes"].data.astype(np.float32).astype(np.float64)
    labels = world["diabetes"].target
    train, _, test = time_split(len(labels))
    reference = LinearRegression().fit(features[list(train)], labels[list(train)])
    np.testing.assert_allclose(model["coefficients"], reference.coef_, rtol=1e-6, atol=1e-6)
    assert model["intercept"] == pytest.approx(reference.intercept_, rel=1e-8)
    predicted = reference.predict(features[list(test)])
    rmse = float(np.sqrt(mean_squared_error(labels[list(test)], predicted)))
    assert result["metrics"]["rmse"] == pytest.approx(rmse, rel=1e-6)


@pytest.mark.parametrize("change,field", [
    ({"params": {"max_depth": -2}}, "params.max_depth"),
    ({"split": {"method": "time", "test_fraction": 1.5}}, "split.test_fraction"),
    ({"objective": "binary:nonsense"}, "objective"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_specs_are_refused_at_submission_naming_the_field(server, world, change, field):
    refused = submit(server, world["project"], "train", cancer_spec(**change))
    message = assert_error_shape(refused, 400, "INVALID_ARGUMENT")["message"]
    assert field in message, message


def test_a_missing_dataset_fails_the_job_with_a_clear_error(server, world):
    response = submit(server, world["project"], "train",
                      cancer_spec(data={"dataset": "nowhere"}))
    assert response.status_code == 201, response.text
    job = wait_finished(server, world["project"], response.json()["id"])
    assert job["status"] == "failed" and "nowhere" in job["error"], job


def test_cancelling_a_long_training_job_cancels_it(server, world):
    project = world["project"]
    spec = cancer_spec(num_boost_round=100000, params={"max_depth": 8, "eta": 0.001},
                       register={"model": "never"})
    response = submit(server, project, "train", spec)
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]

    def iterating():
        job = server.get(f"/api/v1/projects/{project}/jobs/{job_id}").json()
        return job if "iteration" in (job.get("progress_message") or job.get("message") or "") \
            or job.get("progress", 0) > 0.05 else None
    wait_until(iterating, 60, interval=0.05, message="training to iterate")
    cancelled = server.post(f"/api/v1/projects/{project}/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    job = wait_finished(server, project, job_id)
    assert job["status"] == "cancelled", job
    assert server.get(f"/api/v1/projects/{project}/models/never").status_code == 404
