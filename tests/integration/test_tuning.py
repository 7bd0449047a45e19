"""The tuning acceptance (issue 6) against a real server: "a tuning job on a real dataset finds a
model at least as good as the default parameters and registers it with lineage back to the
dataset and feature versions". A "tune" job (ASHA, small budget) on scikit-learn's breast-cancer
data is compared with a "train" job using XGBoost's default parameters on the same data and time
split; the registered version's lineage, the study and trial runs in tracking, and the CLI are
checked too. See docs/tuning.md."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import log_loss

from conftest import assert_error_shape, cli, unique_name
from training_helpers import (ingest_table, mlflow_run, run_job, submit, time_split,
                              training_server)

ROUNDS = 100
TRAIN = {"data": {"dataset": "cancer"}, "label": "label",
         "split": {"method": "time", "time_column": "event_time"},
         "trainer": "xgboost", "objective": "binary:logistic", "num_boost_round": ROUNDS,
         "metrics": ["auc", "logloss"]}


def tune_spec(**overrides):
    spec = {"space": {"eta": {"type": "loguniform", "low": 0.01, "high": 0.3},
                      "max_depth": {"type": "int", "low": 2, "high": 6},
                      "min_child_weight": {"type": "loguniform", "low": 0.5, "high": 8},
                      "subsample": {"type": "uniform", "low": 0.6, "high": 1.0}},
            "algorithm": "asha", "max_trials": 16, "parallelism": 2, "seed": 3,
            "asha": {"min_resource": 5, "reduction_factor": 3, "max_resource": ROUNDS},
            "experiment": "cancer-tuning",
            "train": {**TRAIN, "register": {"model": "cancer-tuned", "alias": "best"}}}
    spec.update(overrides)
    return spec


@pytest.fixture(scope="module")
def server(falaj_binary, tmp_path_factory):
    yield from training_server(tmp_path_factory.mktemp("tuning"))


@pytest.fixture(scope="module")
def world(server):
    project = unique_name("tune")
    assert server.create_project(project).status_code == 201
    cancer = load_breast_cancer()
    ingest_table(server, project, "cancer", cancer.data, cancer.target)
    return {"project": project, "cancer": cancer}


def test_tuning_finds_a_model_at_least_as_good_as_the_defaults_with_lineage(server, world):
    project = world["project"]
    api = f"/api/v1/projects/{project}"
    tuned = run_job(server, project, "tune", tune_spec())["result"]
    default = run_job(server, project, "train",
                      {**TRAIN, "register": {"model": "cancer-default"}})["result"]

    # The tuned model, as registered, against the defaults on the same test rows (logloss:
    # lower is better). Both are recomputed from the registered files with Python xgboost.
    cancer = world["cancer"]
    _, _, test = time_split(len(cancer.target))
    rows = xgboost.DMatrix(cancer.data.astype(np.float32)[list(test)])
    y_test = cancer.target[list(test)]

    def test_logloss(model, version):
        content = server.get(f"{api}/models/{model}/versions/{version}/files/model.json").content
        booster = xgboost.Booster()
        booster.load_model(bytearray(content))
        return log_loss(y_test, booster.predict(rows).astype(np.float64))

    tuned_loss = test_logloss("cancer-tuned", tuned["version"])
    default_loss = test_logloss("cancer-default", default["version"])
    assert tuned_loss == pytest.approx(tuned["retrained"]["metrics"]["logloss"], abs=1e-9)
    assert default_loss == pytest.approx(default["metrics"]["logloss"], abs=1e-9)
    print(f"test logloss tuned {tuned_loss:.6f} default {default_loss:.6f}; best {tuned['best']}")
    assert tuned_loss <= default_loss, (tuned_loss, default_loss, tuned["best"])

    # The study's result: the best trial, its configuration, and the retrained run.
    assert tuned["algorithm"] == "asha" and tuned["metric"] == "logloss"
    assert tuned["direction"] == "minimize"
    best = tuned["best"]
    assert best["outcome"] == "completed" and best["resource"] == ROUNDS
    completed = [t for t in tuned["trials"] if t["outcome"] == "completed"]
    assert best["value"] == min(t["value"] for t in completed)
    assert tuned["outcomes"]["stopped_early"] > 0  # ASHA did stop some
    assert tuned["trials_started"] == 16

    # Lineage: the dataset version, the study and its best trial.
    version = server.get(f"{api}/models/cancer-tuned/versions/{tuned['version']}").json()
    lineage = version["lineage"]
    assert lineage["dataset"] == "cancer" and lineage["version"] == 1
    assert lineage["tuning"]["study_run_id"] == tuned["study_run_id"]
    assert lineage["tuning"]["best_trial_run_id"] == best["run_id"]
    assert lineage["run_id"] == tuned["retrained"]["run_id"]
    assert server.get(f"{api}/models/cancer-tuned/aliases/best").json()["version"] \
        == tuned["version"]

    # Tracking: the study run, every trial a child of it, the best trial's parameters.
    study = mlflow_run(server, project, tuned["study_run_id"])
    assert study["info"]["status"] == "FINISHED"
    assert study["tags"]["falaj.tuning.best_run_id"] == best["run_id"]
    for trial in tuned["trials"]:
        run = mlflow_run(server, project, trial["run_id"])
        assert run["tags"]["mlflow.parentRunId"] == tuned["study_run_id"]
        assert run["tags"]["falaj.tuning.outcome"] == trial["outcome"]
    best_run = mlflow_run(server, project, best["run_id"])
    params = {p["key"]: p["value"] for p in best_run["data"]["params"]}
    assert float(params["eta"]) == pytest.approx(best["params"]["eta"])
    retrained = mlflow_run(server, project, tuned["retrained"]["run_id"])
    assert retrained["tags"]["falaj.tuning.study_run_id"] == tuned["study_run_id"]
    retrained_params = {p["key"]: p["value"] for p in retrained["data"]["params"]}
    assert float(retrained_params["eta"]) == pytest.approx(best["params"]["eta"])


def test_bad_tuning_specs_are_refused_naming_the_field(server, world):
    for spec, field in [
        (tune_spec(train={**TRAIN, "params": {"max_depth": 0.5}}), "params.max_depth"),
        (tune_spec(train={**TRAIN, "trainer": "linear", "objective": None}), "train"),
        (tune_spec(asha={"min_resource": 5}), "asha.max_resource"),
        (tune_spec(space={}), "space"),
    ]:
        spec = {k: v for k, v in spec.items()}
        spec["train"] = {k: v for k, v in spec["train"].items() if v is not None}
        refused = submit(server, world["project"], "tune", spec)
        message = assert_error_shape(refused, 400, "INVALID_ARGUMENT")["message"]
        assert field in message, message


def test_the_cli_tunes_and_prints_the_best(server, world, home, tmp_path):
    spec = tune_spec(max_trials=4, asha={"min_resource": 5, "reduction_factor": 3,
                                         "max_resource": 20})
    spec["train"] = {**TRAIN, "register": {"model": "cancer-cli"}}
    path = tmp_path / "tune.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    env = {"FALAJ_URL": server.url, "FALAJ_KEY": server.key}
    ran = cli(["tune", world["project"], "-f", path, "--wait", "-o", "json"], home, env)
    assert ran.returncode == 0, ran.stderr
    job = json.loads(ran.stdout)
    assert job["status"] == "succeeded"
    assert job["result"]["best"]["run_id"] and job["result"]["model"] == "cancer-cli"
    plain = cli(["tune", world["project"], "-f", path, "--wait"], home, env)
    assert plain.returncode == 0, plain.stderr
    assert "best" in plain.stdout and "succeeded" in plain.stdout, plain.stdout
