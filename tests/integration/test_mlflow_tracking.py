"""The MLflow-compatible tracking API against a real server and the real mlflow client.

The client lives in its own venv (.venv-mlflow, made by scripts/install-deps) because mlflow pins
packages that would break the repo's .venv; the client script runs there as a subprocess with
MLFLOW_TRACKING_URI naming the project and MLFLOW_TRACKING_TOKEN carrying a Falaj API key."""

from __future__ import annotations

import time

import pytest

from conftest import REPO_ROOT, unique_name
from mlflow_helpers import run_mlflow_script

SCRIPT = REPO_ROOT / "tests" / "integration" / "mlflow_client_script.py"


@pytest.fixture()
def project(server):
    name = unique_name("mlf")
    assert server.post("/api/v1/projects", json={"name": name, "region": "uae-north"}).status_code == 201
    return name


def api(project: str) -> str:
    return f"/mlflow/projects/{project}/api/2.0/mlflow"


def run_client(server, project: str) -> dict:
    return run_mlflow_script(server, project, SCRIPT)


def test_the_real_mlflow_client_logs_and_reads_back(server, project):
    seen = run_client(server, project)
    assert seen["parent_status"] == "FINISHED"
    assert seen["parent_params"] == {"model": "xgboost"}
    assert seen["parent_metrics"] == {"best_auc": 0.83}
    # Only the nested runs have an auc; the best comes first.
    assert [r["name"] for r in seen["search"]] == ["depth-6", "depth-4"]
    best = seen["search"][0]
    assert best["params"] == {"depth": "6", "eta": "0.1"}
    assert best["metrics"]["auc"] == 0.83 and best["metrics"]["nan_metric"] is None
    assert best["metrics"]["loss"] == pytest.approx(1 / 3 + 0.06)
    assert best["tags"] == {"team": "risk", "trial": "6"}
    assert best["parent"] == seen["parent_run_id"]
    assert [m["step"] for m in seen["history"]] == [0, 1, 2]
    assert [m["value"] for m in seen["history"]] == pytest.approx([1.06, 0.56, 1 / 3 + 0.06])
    # Experiment search with MLflow's filter and order_by, through the client.
    assert seen["experiments_like_churn"] == ["churn-v2", "churn"]
    assert seen["experiments_of_risk"] == ["fraud"]

    # The same runs through the wire API directly: NaN travels as a string, int64 as numbers.
    run = server.get(f"{api(project)}/runs/get", params={"run_id": best["run_id"]})
    assert run.status_code == 200, run.text
    info = run.json()["run"]["info"]
    assert info["status"] == "FINISHED" and isinstance(info["end_time"], int)
    assert info["user_id"].startswith("key:")
    metrics = {m["key"]: m["value"] for m in run.json()["run"]["data"]["metrics"]}
    assert metrics["nan_metric"] == "NaN"
    by_name = server.get(f"{api(project)}/experiments/get-by-name",
                         params={"experiment_name": "churn"})
    assert by_name.json()["experiment"]["experiment_id"] == seen["experiment_id"]
    # The native API sees the same runs.
    native = server.post(f"/api/v1/projects/{project}/runs/search",
                         json={"experiment_ids": [seen["experiment_id"]],
                               "filter": "params.depth = '6'"})
    assert native.status_code == 200, native.text
    assert [r["id"] for r in native.json()["runs"]] == [best["run_id"]]
    native_run = server.get(f"/api/v1/projects/{project}/runs/{best['run_id']}").json()
    assert native_run["params"] == best["params"]
    assert native_run["metrics"]["nan_metric"]["value"] == "NaN"
    assert native_run["parent_run_id"] == seen["parent_run_id"]
    experiments = server.get(f"/api/v1/projects/{project}/experiments").json()["experiments"]
    assert "churn" in [e["name"] for e in experiments]
    # Experiment 0, where clients log when no experiment is set, exists as on any MLflow server.
    default = server.get(f"{api(project)}/experiments/get", params={"experiment_id": "0"})
    assert default.status_code == 200, default.text
    assert default.json()["experiment"]["name"] == "Default"


def mlflow_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return body["message"]


def test_bad_input_gets_mlflow_error_codes(server, project):
    base = api(project)
    created = server.post(f"{base}/experiments/create", json={"name": "e"})
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    mlflow_error(server.post(f"{base}/experiments/create", json={"name": "e"}), 400,
                 "RESOURCE_ALREADY_EXISTS")
    mlflow_error(server.get(f"{base}/experiments/get-by-name", params={"experiment_name": "nope"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(server.get(f"{base}/runs/get", params={"run_id": "0" * 32}), 404,
                 "RESOURCE_DOES_NOT_EXIST")

    run = server.post(f"{base}/runs/create",
                      json={"experiment_id": experiment_id, "start_time": int(time.time() * 1000)})
    run_id = run.json()["run"]["info"]["run_id"]
    assert server.post(f"{base}/runs/log-parameter",
                       json={"run_id": run_id, "key": "depth", "value": "6"}).status_code == 200
    message = mlflow_error(server.post(f"{base}/runs/log-parameter",
                                       json={"run_id": run_id, "key": "depth", "value": "7"}),
                           400, "INVALID_PARAMETER_VALUE")
    assert "'depth'" in message and "'6'" in message and "'7'" in message

    too_many = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(1001)]
    mlflow_error(server.post(f"{base}/runs/log-batch", json={"run_id": run_id, "metrics": too_many}),
                 400, "INVALID_PARAMETER_VALUE")
    message = mlflow_error(server.post(f"{base}/runs/search",
                                       json={"experiment_ids": [experiment_id],
                                             "filter": "metrics.auc >> 1"}),
                           400, "INVALID_PARAMETER_VALUE")
    assert "position" in message
    mlflow_error(server.post(f"{base}/runs/log-metric",
                             json={"run_id": run_id, "key": "m", "value": "x", "timestamp": 1}),
                 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(server.post(f"{base}/runs/create", data="[1]"), 400, "INVALID_PARAMETER_VALUE")


def test_experiment_search_filters_orders_and_pages(server, project):
    base = api(project)
    for name, team in (("a-one", "risk"), ("a-two", "growth"), ("b-three", "risk")):
        created = server.post(f"{base}/experiments/create",
                              json={"name": name, "tags": [{"key": "team", "value": team}]})
        assert created.status_code == 200, created.text

    def names(**body):
        response = server.post(f"{base}/experiments/search", json=body)
        assert response.status_code == 200, response.text
        return [e["name"] for e in response.json().get("experiments", [])], response.json()

    # Newest first by default (creation_time DESC, then id as a number), as MLflow orders them;
    # creations can share a millisecond, so the expected order comes from the stored times.
    listed, answer = names(max_results=10)
    expected = sorted(answer["experiments"],
                      key=lambda e: (-int(e["creation_time"]), int(e["experiment_id"])))
    assert listed == [e["name"] for e in expected] and len(listed) == 3
    assert names(filter="name LIKE 'a-%'", order_by=["name ASC"])[0] == ["a-one", "a-two"]
    assert names(filter="attributes.name ILIKE 'A-%' and tags.team = 'risk'")[0] == ["a-one"]
    assert names(filter="tags.team != 'risk'")[0] == ["a-two"]
    first, page = names(order_by=["name ASC"], max_results=2)
    assert first == ["a-one", "a-two"]
    rest, _ = names(order_by=["name ASC"], max_results=2, page_token=page["next_page_token"])
    assert rest == ["b-three"]
    for bad in ("metrics.auc > 1", "status = 'FINISHED'", "name >> 'a'", "name = 'unterminated"):
        mlflow_error(server.post(f"{base}/experiments/search", json={"filter": bad}), 400,
                     "INVALID_PARAMETER_VALUE")
    mlflow_error(server.post(f"{base}/experiments/search", json={"order_by": ["params.x"]}), 400,
                 "INVALID_PARAMETER_VALUE")


def test_mutations_are_audited_and_searches_are_not(server, project):
    base = api(project)
    server.post(f"{base}/experiments/create", json={"name": "audited"})
    server.post(f"{base}/runs/search", json={"experiment_ids": ["1"]})
    # The project's own audit view covers its MLflow routes, and not another project's.
    other = unique_name("mlf")
    assert server.post("/api/v1/projects", json={"name": other, "region": "uae-north"}).status_code == 201
    server.post(f"{api(other)}/experiments/create", json={"name": "elsewhere"})
    records = server.get(f"/api/v1/projects/{project}/audit").json()
    resources = [(r["resource"], r["action"]) for r in records["records"]]
    assert (f"{base}/experiments/create", "runs.write") in resources
    assert all(f"/projects/{project}" in resource for resource, _ in resources)
    assert not any(resource.endswith("/runs/search") for resource, _ in resources)
