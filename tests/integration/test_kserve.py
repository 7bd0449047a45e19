"""KServe v2 inference over HTTP against a real server: a registered logistic model answers
exactly what an independent computation in Python gives, versions and the champion alias are
honoured, bad tensors get protocol errors that name the problem, and a model whose signed
artifact was tampered with is never served."""

from __future__ import annotations

import math

import pytest

import serving_helpers
from conftest import wait_until
from serving_helpers import linear_artifact, register_version, tensor

COEFFICIENTS = [0.8, -1.25, 0.05, 2.0]
INTERCEPT = -0.3


def logistic(row):
    return serving_helpers.logistic(COEFFICIENTS, INTERCEPT, row)


def register_linear(server, project, model, coefficients=COEFFICIENTS, fmt="linear"):
    return register_version(server, project, model, linear_artifact(coefficients, INTERCEPT), fmt)


@pytest.fixture(scope="module")
def served(server):
    assert server.post("/api/v1/projects", json={"name": "scoring",
                                                 "region": "uae-north"}).status_code == 201
    register_linear(server, "scoring", "churn")
    return server


def infer(server, target, body):
    return server.post(f"/v2/models/{target}/infer", json=body)


def test_predictions_match_an_independent_computation(served):
    rows = [[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [-3.5, 0.25, 100.0, -1.0]]
    response = infer(served, "scoring.churn", {**tensor(rows), "id": "req-7"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "scoring.churn" and body["model_version"] == "1"
    assert body["id"] == "req-7"
    output = body["outputs"][0]
    assert output["name"] == "predict" and output["shape"] == [3]
    assert output["datatype"] == "FP32"
    assert body["parameters"] == {"served_model": "churn"}
    for got, row in zip(output["data"], rows):
        assert got == pytest.approx(logistic(row), rel=1e-6)
    # Nested row-major data is accepted as well.
    nested = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [2, 4], "data": rows[:2]}]}
    assert infer(served, "scoring.churn", nested).json()["outputs"][0]["data"] == output["data"][:2]


def test_versions_and_the_champion_alias(served):
    second = register_linear(served, "scoring", "churn", coefficients=[0, 0, 0, 0])
    row = [[1.0, 1.0, 1.0, 1.0]]
    # Version 1 keeps answering while version 2 loads in the background (hot swap); no request
    # fails, and traffic moves once version 2 is ready.
    def on_second():
        answer = infer(served, "scoring.churn", tensor(row))
        assert answer.status_code == 200, answer.text
        return answer.json()["model_version"] == str(second) and answer.json()
    latest = wait_until(on_second, 30, message="version 2 to take over")
    assert latest["outputs"][0]["data"][0] == pytest.approx(1 / (1 + math.exp(-INTERCEPT)))
    pinned = served.post("/v2/models/scoring.churn/versions/1/infer", json=tensor(row)).json()
    assert pinned["model_version"] == "1"
    assert served.request("PUT", "/api/v1/projects/scoring/models/churn/aliases/champion",
                          json={"version": 1}).status_code == 200
    wait_until(lambda: infer(served, "scoring.churn", tensor(row)).json()["model_version"] == "1",
               30, message="the champion alias to take over")
    meta = served.get("/v2/models/scoring.churn").json()
    assert meta["name"] == "scoring.churn" and meta["versions"] == ["1"]
    assert served.get("/v2/models/scoring.churn/ready").json()["ready"] is True
    assert served.get("/v2", auth=False).json()["name"] == "falaj"


@pytest.mark.parametrize("body, needle", [
    (tensor([[1.0, 2.0]]), "has shape [1, 2]; the model takes [rows, 4]"),
    (tensor([[1.0, 2.0, 3.0, 4.0]], shape=[2, 4]), "has 4 values; its shape needs 8"),
    (tensor([[1.0, 2.0, 3.0, 4.0]], datatype="BYTES"), "datatype BYTES"),
    (tensor([[1.0, 2.0, 3.0, 4.0]], datatype="FP17"), "unknown datatype 'FP17'"),
    (tensor([[1.0, 2.0, 3.0, 4.0]], datatype="FP16"), "binary tensor data extension"),
    (tensor([[1.5, 2.0, 3.0, 4.0]], datatype="INT32"), "fractional"),
    (tensor([[1.0, 2.0, 3.0, 4.0]], datatype="BOOL"), "BOOL"),
    ({"inputs": []}, "'inputs' must be a list"),
    ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": ["a", 1, 2, 3]}]},
     "found a string"),
    ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [0, 4], "data": []}]}, "no rows"),
    ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4], "data": []}]}, "negative"),
    ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1 << 40, 1 << 40], "data": []}]},
     "more than"),
    ({**tensor([[1.0, 2.0, 3.0, 4.0]]), "outputs": [{"name": "proba"}]}, "predict"),
    ({**tensor([[1.0, 2.0, 3.0, 4.0]]), "surprise": 1}, "unknown field"),
])
def test_bad_tensors_get_protocol_errors(served, body, needle):
    response = infer(served, "scoring.churn", body)
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]


def test_unknown_models_and_unservable_formats(served):
    assert infer(served, "scoring.nope", tensor([[1.0]])).status_code == 404
    assert "error" in infer(served, "scoring.nope", tensor([[1.0]])).json()
    assert served.post("/v2/models/scoring.churn/versions/99/infer",
                       json=tensor([[1.0] * 4])).status_code == 404
    register_linear(served, "scoring", "graph", fmt="onnx")
    unservable = infer(served, "scoring.graph", tensor([[1.0] * 4]))
    assert unservable.status_code == 501 and "cannot be served" in unservable.json()["error"]
    # A linear artifact registered as xgboost fails to load, says why, and serves nothing.
    register_linear(served, "scoring", "mislabelled", fmt="xgboost")
    corrupt = infer(served, "scoring.mislabelled", tensor([[1.0] * 4]))
    assert corrupt.status_code == 503 and "failed to load" in corrupt.json()["error"]
    # Other models keep serving.
    assert infer(served, "scoring.churn", tensor([[1.0] * 4])).status_code == 200


def test_a_tampered_model_is_never_served(make_server):
    server = make_server("tampered-serving").start()
    assert server.post("/api/v1/projects", json={"name": "p", "region": "uae-north"}).status_code == 201
    register_linear(server, "p", "m")
    for path in (server.data_dir / "blobs" / "sha256").rglob("*"):
        if path.is_file():
            data = bytearray(path.read_bytes())
            data[-1] ^= 0x01
            path.write_bytes(bytes(data))
    refused = infer(server, "p.m", tensor([[1.0] * 4]))
    assert refused.status_code == 503, refused.text
    assert "failed verification" in refused.json()["error"]


def test_inference_is_counted_per_model_and_version(served):
    from conftest import metric_value, parse_metrics
    before = parse_metrics(served.metrics_text())
    labels = {"endpoint": "", "model": "scoring.churn", "version": "1", "outcome": "ok"}
    start = metric_value(before, "falaj_inference_requests_total", **labels)
    rows = [[1.0, 2.0, 3.0, 4.0]] * 3
    assert served.post("/v2/models/scoring.churn/versions/1/infer", json=tensor(rows)).status_code == 200
    after = parse_metrics(served.metrics_text())
    assert metric_value(after, "falaj_inference_requests_total", **labels) == start + 1
    assert metric_value(after, "falaj_models_loaded") >= 1


def test_request_ids_are_echoed_as_valid_json_even_when_hostile(served):
    row = [[1.0, 2.0, 3.0, 4.0]]
    for request_id in ('quote " backslash \\ newline \n tab \t', "ü" * 200, "x" * 1000):
        response = infer(served, "scoring.churn", {**tensor(row), "id": request_id})
        assert response.status_code == 200, response.text
        echoed = response.json()["id"]  # parses: the answer is valid JSON and UTF-8
        assert request_id.startswith(echoed) and len(echoed.encode()) <= 256
