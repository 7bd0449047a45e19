"""The native tracking routes a user needs to compare runs, against a real server: one experiment,
a metric's history (ordered, paged, NaN kept, keys with '/'), runs compared side by side with the
differing params marked, and runs/search filtered, ordered and paged in SQL checked against an
order computed here. Runs are written through the MLflow-compatible API, as clients do; every
route is also given bad input."""

from __future__ import annotations

import random

import pytest

from conftest import assert_error_shape, unique_name


@pytest.fixture()
def project(server):
    name = unique_name("trk")
    assert server.post("/api/v1/projects", json={"name": name, "region": "uae-north"}).status_code == 201
    return name


def mlflow(server, project, path, body):
    answer = server.post(f"/mlflow/projects/{project}/api/2.0/mlflow/{path}", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def new_run(server, project, experiment_id, name, start=1_700_000_000_000, params=(), metrics=()):
    run_id = mlflow(server, project, "runs/create",
                    {"experiment_id": experiment_id, "run_name": name,
                     "start_time": start})["run"]["info"]["run_id"]
    mlflow(server, project, "runs/log-batch", {
        "run_id": run_id,
        "params": [{"key": k, "value": v} for k, v in params],
        "metrics": [{"key": k, "value": v, "timestamp": t, "step": s} for k, v, t, s in metrics]})
    return run_id


def native(project: str) -> str:
    return f"/api/v1/projects/{project}"


def test_get_experiment(server, project):
    created = server.post(f"{native(project)}/experiments", json={"name": "churn", "tags": {"t": "1"}})
    assert created.status_code == 201, created.text
    got = server.get(f"{native(project)}/experiments/{created.json()['id']}")
    assert got.status_code == 200 and got.json() == created.json()
    # Like MLflow, an id that is not a number names no experiment.
    assert_error_shape(server.get(f"{native(project)}/experiments/abc"), 404)
    assert_error_shape(server.get(f"{native(project)}/experiments/999"), 404)


def test_metric_history_is_ordered_paged_and_keeps_nan(server, project):
    experiment = server.post(f"{native(project)}/experiments", json={"name": "h"}).json()["id"]
    run = new_run(server, project, experiment, "r", metrics=[
        ("train/loss", 3.0, 10, 2), ("train/loss", 1.0, 11, 0), ("train/loss", "NaN", 12, 1),
        ("train/loss", 0.5, 9, 1), ("other", 7.0, 1, 0)])
    path = f"{native(project)}/runs/{run}/metrics/train%2Floss"
    whole = server.get(path)
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["key"] == "train/loss" and body["run_id"] == run
    # By step, then timestamp.
    assert [(p["step"], p["timestamp_ms"], p["value"]) for p in body["points"]] == [
        (0, 11, 1.0), (1, 9, 0.5), (1, 12, "NaN"), (2, 10, 3.0)]
    assert body["next_page_token"] is None

    seen, token = [], None
    while True:
        params = {"max_results": 3} | ({"page_token": token} if token else {})
        page = server.get(path, params=params).json()
        seen += page["points"]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == body["points"]
    assert server.get(f"{native(project)}/runs/{run}/metrics/none").json()["points"] == []

    for bad in ({"max_results": 0}, {"max_results": "x"}, {"max_results": 25001},
                {"page_token": "not-a-token"}):
        assert_error_shape(server.get(path, params=bad), 400)
    assert_error_shape(server.get(f"{native(project)}/runs/{'f' * 32}/metrics/x"), 404)
    assert_error_shape(server.get(f"{native(project)}/runs/nothex/metrics/x"), 404)


def test_compare_marks_differing_params(server, project):
    experiment = server.post(f"{native(project)}/experiments", json={"name": "c"}).json()["id"]
    a = new_run(server, project, experiment, "a", params=[("depth", "4"), ("eta", "0.1")],
                metrics=[("auc", 0.8, 1, 0), ("loss", 0.3, 1, 0)])
    b = new_run(server, project, experiment, "b", params=[("depth", "6"), ("eta", "0.1")],
                metrics=[("auc", 0.8, 1, 0)])
    c = new_run(server, project, experiment, "c", params=[("eta", "0.1"), ("seed", "1")])
    answer = server.post(f"{native(project)}/runs/compare", json={"run_ids": [b, a, c]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["id"] for r in body["runs"]] == [b, a, c]
    assert [r["name"] for r in body["runs"]] == ["b", "a", "c"]
    assert body["params"] == [
        {"key": "depth", "values": ["6", "4", None], "differs": True},
        {"key": "eta", "values": ["0.1", "0.1", "0.1"], "differs": False},
        {"key": "seed", "values": [None, None, "1"], "differs": True}]
    assert body["metrics"] == [
        {"key": "auc", "values": [0.8, 0.8, None], "differs": True},
        {"key": "loss", "values": [None, 0.3, None], "differs": True}]
    same = server.post(f"{native(project)}/runs/compare", json={"run_ids": [a]}).json()
    assert all(not row["differs"] for row in same["params"] + same["metrics"])

    compare = f"{native(project)}/runs/compare"
    for bad in ({}, {"run_ids": []}, {"run_ids": [a, a]}, {"run_ids": "x"},
                {"run_ids": [a], "extra": 1}, {"run_ids": ["0" * 32] * 101}):
        assert_error_shape(server.post(compare, json=bad), 400)
    assert_error_shape(server.post(compare, data="not json"), 400)
    # As in MLflow, a malformed run id names no run.
    for missing in ("f" * 32, "nothex"):
        assert_error_shape(server.post(compare, json={"run_ids": [a, missing]}), 404)
    # A run of another project is not found either.
    other = unique_name("trk")
    assert server.post("/api/v1/projects", json={"name": other, "region": "uae-north"}).status_code == 201
    assert_error_shape(server.post(f"{native(other)}/runs/compare", json={"run_ids": [a]}), 404)


def test_search_filters_orders_and_pages_like_a_reference(server, project):
    experiment = server.post(f"{native(project)}/experiments", json={"name": "s"}).json()["id"]
    rng = random.Random(6)
    runs = []
    for i in range(40):
        depth = rng.choice(["4", "6"])
        auc = rng.choice([0.5, 0.7, 0.9, 0.95, "NaN", None])
        metrics = [] if auc is None else [("auc", auc, 1, 0)]
        start = 1_700_000_000_000 + rng.randrange(3)
        runs.append({"id": new_run(server, project, experiment, f"r{i}", start, [("depth", depth)],
                                   metrics), "depth": depth, "auc": auc, "start": start})

    def expected(keep):
        chosen = [r for r in runs if keep(r)]
        # metrics.auc DESC with missing and NaN last; ties: start time DESC, then run id.
        chosen.sort(key=lambda r: r["id"])
        chosen.sort(key=lambda r: r["start"], reverse=True)
        chosen.sort(key=lambda r: -r["auc"] if isinstance(r["auc"], float) else float("inf"))
        return [r["id"] for r in chosen]

    def search(filter_text, page_size):
        ids, token = [], None
        while True:
            body = {"experiment_ids": [experiment], "filter": filter_text,
                    "order_by": ["metrics.auc DESC"], "max_results": page_size}
            if token:
                body["page_token"] = token
            answer = server.post(f"{native(project)}/runs/search", json=body)
            assert answer.status_code == 200, answer.text
            ids += [r["id"] for r in answer.json()["runs"]]
            token = answer.json()["next_page_token"]
            if token is None:
                return ids

    assert search("", 7) == expected(lambda r: True)
    assert search("metrics.auc > 0.6 and params.depth = '6'", 3) == expected(
        lambda r: isinstance(r["auc"], float) and r["auc"] > 0.6 and r["depth"] == "6")
    # NaN differs from every number; a run without the metric never matches.
    assert search("metrics.auc != 0.9", 5) == expected(
        lambda r: r["auc"] is not None and r["auc"] != 0.9)
    for bad in ("metrics.auc > 'x'", "params.depth > '6'", "nonsense"):
        answer = server.post(f"{native(project)}/runs/search",
                             json={"experiment_ids": [experiment], "filter": bad})
        assert_error_shape(answer, 400)
