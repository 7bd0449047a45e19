"""Serving endpoints against a real server: traffic weights, version pinning, hot swaps under
load that fail no request, scale to zero and back, dynamic batching across connections, the
status API, and every kind of bad endpoint definition."""

from __future__ import annotations

import concurrent.futures
import math
import threading

import pytest

from conftest import metric_value, parse_metrics, wait_until
from serving_helpers import linear_artifact, logistic, register_version, tensor

PROJECT = "routing"
ROW = [1.0, 2.0]
# Version 1 and 2 of model "m" give visibly different answers for ROW.
V1 = ([0.5, -0.25], 0.1)
V2 = ([-1.0, 0.75], -0.2)


@pytest.fixture(scope="module")
def served(server):
    assert server.post("/api/v1/projects",
                       json={"name": PROJECT, "region": "uae-north"}).status_code == 201
    assert register_version(server, PROJECT, "m", linear_artifact(*V1), "linear") == 1
    assert register_version(server, PROJECT, "m", linear_artifact(*V2), "linear") == 2
    return server


def create_endpoint(server, body):
    return server.post(f"/api/v1/projects/{PROJECT}/endpoints", json=body)


def infer(server, name, body=None, version=None):
    path = f"/v2/models/{PROJECT}.{name}" + (f"/versions/{version}" if version else "") + "/infer"
    return server.post(path, json=body or tensor([ROW]))


def test_traffic_splits_by_weight_and_the_answer_names_its_version(served):
    created = create_endpoint(served, {"name": "split", "targets": [
        {"model": "m", "version": 1, "weight": 3}, {"model": "m", "version": 2, "weight": 1}]})
    assert created.status_code == 201, created.text
    counts = {"1": 0, "2": 0}
    requests = 400
    for _ in range(requests):
        response = infer(served, "split")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_name"] == f"{PROJECT}.split"
        assert body["parameters"] == {"served_model": "m", "endpoint": "split",
                                      "arm": f"m:v{body['model_version']}"}
        expected = V1 if body["model_version"] == "1" else V2
        assert body["outputs"][0]["data"][0] == pytest.approx(logistic(*expected, ROW), rel=1e-6)
        counts[body["model_version"]] += 1
    # 3:1 → p = 0.75; five standard deviations either side fail by chance about once in 3.5M.
    sigma = math.sqrt(requests * 0.75 * 0.25)
    assert abs(counts["1"] - requests * 0.75) < 5 * sigma, counts


def test_a_version_path_pins_the_version_and_bypasses_routing(served):
    create_endpoint(served, {"name": "pinned", "targets": [
        {"model": "m", "version": 1, "weight": 1}, {"model": "m", "version": 2, "weight": 0}]})
    for _ in range(20):
        assert infer(served, "pinned").json()["model_version"] == "1"  # weight 0: never routed
    assert infer(served, "pinned", version=2).json()["model_version"] == "2"
    missing = infer(served, "pinned", version=7)
    assert missing.status_code == 404 and "serves no version 7" in missing.json()["error"]


def test_alias_moves_hot_swap_under_load_without_failing_a_request(served):
    assert served.request("PUT", f"/api/v1/projects/{PROJECT}/models/m/aliases/live",
                          json={"version": 1}).status_code == 200
    assert create_endpoint(served, {"name": "swap", "targets": [
        {"model": "m", "alias": "live"}]}).status_code == 201
    assert infer(served, "swap").json()["model_version"] == "1"
    stop = threading.Event()
    seen_versions, failures = set(), []

    def client():
        for _ in range(2000):
            if stop.is_set():
                return
            response = infer(served, "swap")
            if response.status_code != 200:
                failures.append(response.text)
            else:
                seen_versions.add(response.json()["model_version"])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client) for _ in range(4)]
        assert served.request("PUT", f"/api/v1/projects/{PROJECT}/models/m/aliases/live",
                              json={"version": 2}).status_code == 200
        wait_until(lambda: "2" in seen_versions, 60, message="traffic on version 2")
        stop.set()
        for future in futures:
            future.result()
    assert not failures, failures[:3]
    assert seen_versions == {"1", "2"}
    assert infer(served, "swap").json()["model_version"] == "2"


def test_idle_targets_unload_and_reload_on_the_next_request(served):
    assert create_endpoint(served, {"name": "sleepy", "idle_unload_seconds": 1, "targets": [
        {"model": "m", "version": 1}]}).status_code == 201
    assert infer(served, "sleepy").status_code == 200
    status_path = f"/api/v1/projects/{PROJECT}/endpoints/sleepy/status"
    loads_before = metric_value(parse_metrics(served.metrics_text()), "falaj_model_loads_total")

    def unloaded():
        status = served.get(status_path).json()
        return status["targets"][0]["state"] == "unloaded" and status

    status = wait_until(unloaded, 30, message="the idle target to unload")
    assert status["ready"] is False and "idle" in status["targets"][0]["reason"]
    again = infer(served, "sleepy")
    assert again.status_code == 200
    assert again.json()["outputs"][0]["data"][0] == pytest.approx(logistic(*V1, ROW), rel=1e-6)
    ready = served.get(status_path).json()
    assert ready["ready"] is True and ready["targets"][0]["runtime"] == "linear"
    loads_after = metric_value(parse_metrics(served.metrics_text()), "falaj_model_loads_total")
    assert loads_after == loads_before + 1


def test_dynamic_batching_coalesces_requests_from_many_connections(served):
    assert create_endpoint(served, {"name": "batched", "batching": {
        "max_batch_size": 64, "max_queue_delay_us": 20000}, "targets": [
        {"model": "m", "version": 2}]}).status_code == 201
    rows = [[float(i), float(-i) / 3] for i in range(160)]

    def one(row):
        response = infer(served, "batched", tensor([row]))
        assert response.status_code == 200, response.text
        return response.json()["outputs"][0]["data"][0]

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(one, rows))
    for row, answer in zip(rows, answers):
        assert answer == pytest.approx(logistic(*V2, row), rel=1e-6)
    samples = parse_metrics(served.metrics_text())
    labels = {"endpoint": "batched", "model": f"{PROJECT}.m", "version": "2"}
    batches = metric_value(samples, "falaj_inference_batch_rows_count", **labels)
    batched_rows = metric_value(samples, "falaj_inference_batch_rows_sum", **labels)
    # The warm-up row is not counted; every request's row is, in fewer runtime calls.
    assert batched_rows == len(rows)
    assert 0 < batches < len(rows)
    assert metric_value(samples, "falaj_inference_queue_seconds_count", **labels) == len(rows)


def test_endpoints_are_listed_read_updated_and_deleted(served):
    listed = served.get(f"/api/v1/projects/{PROJECT}/endpoints").json()["endpoints"]
    assert {"split", "pinned"} <= {endpoint["name"] for endpoint in listed}
    path = f"/api/v1/projects/{PROJECT}/endpoints/pinned"
    updated = served.request("PUT", path, json={"targets": [{"model": "m", "version": 2}],
                                                "runtime": "linear"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["targets"] == [{"name": "m:v2", "model": "m", "version": 2,
                                          "weight": 1}]
    assert "feature_service" not in updated.json()  # only endpoints that name one carry it
    wait_until(lambda: infer(served, "pinned").json()["model_version"] == "2", 30,
               message="the update to take effect")
    assert served.get(path).json()["runtime"] == "linear"
    assert served.delete(path).status_code == 204
    assert served.get(path).status_code == 404
    # Without the endpoint, the name is looked up as a model of the project, and there is none.
    assert infer(served, "pinned").status_code == 404


@pytest.mark.parametrize("body, status, needle", [
    ({"name": "e1"}, 400, "'targets' must be a list"),
    ({"name": "e1", "targets": []}, 400, "1 to 16 targets"),
    ({"name": "e1", "targets": [{"model": "m"}]}, 400, "exactly one of 'version' and 'alias'"),
    ({"name": "e1", "targets": [{"model": "m", "version": 1, "alias": "live"}]}, 400,
     "exactly one of"),
    ({"name": "e1", "targets": [{"model": "ghost", "version": 1}]}, 404,
     "model 'ghost' has no version 1"),
    ({"name": "e1", "targets": [{"model": "m", "version": 99}]}, 404, "has no version 99"),
    ({"name": "e1", "targets": [{"model": "m", "alias": "nobody"}]}, 404, "no alias 'nobody'"),
    ({"name": "e1", "targets": [{"model": "m", "version": 1, "weight": 0}]}, 400, "not all be 0"),
    ({"name": "e1", "targets": [{"model": "m", "version": 1, "weight": -1}]}, 400, "weight"),
    ({"name": "e1", "runtime": "onnx", "targets": [{"model": "m", "version": 1}]}, 400,
     "'runtime' must be"),
    ({"name": "e1", "batching": {"max_batch_size": -4}, "targets": [{"model": "m", "version": 1}]},
     400, "max_batch_size"),
    ({"name": "e1", "batching": {"surprise": 1}, "targets": [{"model": "m", "version": 1}]}, 400,
     "surprise"),
    ({"name": "e1", "idle_unload_seconds": "soon", "targets": [{"model": "m", "version": 1}]}, 400,
     "idle_unload_seconds"),
    ({"name": "../e1", "targets": [{"model": "m", "version": 1}]}, 400, "endpoint name"),
    ({"name": "e1", "description": "x" * 5000, "targets": [{"model": "m", "version": 1}]}, 400,
     "description"),
    ({"name": "e1", "targets": [{"model": "m", "version": 1}] * 17}, 400, "1 to 16 targets"),
    ({"name": "e1", "targets": [{"model": "m", "version": 1}], "extra": True}, 400, "extra"),
    ({"name": "e1", "targets": [{"model": "m", "version": 1}], "feature_service": "ghost"}, 400,
     "feature_service 'ghost'"),
    ({"name": "e1", "targets": [{"model": "m", "version": 1}], "feature_service": 7}, 400,
     "feature_service"),
    ({"name": "e1", "targets": [{"model": "m", "version": 1}], "feature_service": "../x"}, 400,
     "feature_service"),
])
def test_bad_endpoint_definitions_are_refused_with_the_reason(served, body, status, needle):
    response = create_endpoint(served, body)
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]["message"]
    assert served.get(f"/api/v1/projects/{PROJECT}/endpoints/e1").status_code == 404


def test_duplicates_renames_and_malformed_bodies(served):
    body = {"name": "dup", "targets": [{"model": "m", "version": 1}]}
    assert create_endpoint(served, body).status_code == 201
    assert create_endpoint(served, body).status_code == 409
    renamed = served.request("PUT", f"/api/v1/projects/{PROJECT}/endpoints/dup",
                             json={**body, "name": "other"})
    assert renamed.status_code == 400 and "renamed" in renamed.json()["error"]["message"]
    garbage = served.post(f"/api/v1/projects/{PROJECT}/endpoints", data=b"{not json",
                          headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400
    assert served.request("PUT", f"/api/v1/projects/{PROJECT}/endpoints/absent",
                          json=body | {"name": "absent"}).status_code == 404


def test_concurrent_creates_of_one_name_make_exactly_one_endpoint(served):
    body = {"name": "race", "targets": [{"model": "m", "version": 1}]}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: create_endpoint(served, body).status_code, range(8)))
    assert sorted(codes) == [201] + [409] * 7


def test_versions_and_projects_an_endpoint_serves_cannot_be_deleted(served):
    project = "owner"
    assert served.post("/api/v1/projects",
                       json={"name": project, "region": "uae-north"}).status_code == 201
    register_version(served, project, "m", linear_artifact(*V1), "linear")
    assert served.post(f"/api/v1/projects/{project}/endpoints", json={
        "name": "e", "targets": [{"model": "m", "version": 1}]}).status_code == 201
    # A version an endpoint serves cannot be deleted out from under it.
    in_use = served.delete(f"/api/v1/projects/{project}/models/m/versions/1")
    assert in_use.status_code == 409, in_use.text
    assert "still served by endpoint 'e'" in in_use.json()["error"]["message"]
    refused = served.delete(f"/api/v1/projects/{project}")
    assert refused.status_code == 409, refused.text
    assert "still owns" in refused.json()["error"]["message"]
    assert served.delete(f"/api/v1/projects/{project}/endpoints/e").status_code == 204
    assert served.delete(f"/api/v1/projects/{project}/models/m/versions/1").status_code == 204
    assert served.delete(f"/api/v1/projects/{project}/models/m").status_code == 204
    assert served.delete(f"/api/v1/projects/{project}").status_code == 204
