"""Inference with features against a real server, on real data: scikit-learn's breast-cancer set
ingested as a source (each row an entity with an id above 2^24, where float32 can no longer tell
neighbours apart), a feature view over its 30 features and a feature service, materialised; an
XGBoost model trained here on the service's columns; an endpoint naming the service. Requests
carry entity ids only — over HTTP JSON, the binary extension and gRPC — and every prediction must
equal XGBoost's own predict on the same rows. An unknown entity has NaN features and gets what
XGBoost predicts for an all-missing row. Request-time features follow the fetched ones. Bad
endpoints and bad requests are refused with the reason."""

from __future__ import annotations

import datetime as dt
import json

import grpc
import numpy as np
import pytest
import xgboost
from sklearn.datasets import load_breast_cancer

from conftest import cli, unique_name
from serving_helpers import (binary_request, compile_grpc_stubs, register_version,
                             split_binary_response)

# 50 000 000 + i: above 2^24, so float32 would map four neighbouring ids to one.
FIRST_ID = 50_000_000
UNKNOWN_ID = FIRST_ID + 10_000_001
TOLERANCE = 1e-6
TIMEOUT = 30.0


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def cancer():
    data = load_breast_cancer()
    names = [name.replace(" ", "_") for name in data.feature_names]
    ids = np.arange(FIRST_ID, FIRST_ID + len(data.data), dtype=np.int64)
    return {"names": names, "features": data.data, "target": data.target, "ids": ids}


@pytest.fixture(scope="module")
def world(server, cancer, tmp_path_factory):
    """The project: source, definitions, online store, two models and their endpoints."""
    project = unique_name("ifeat")
    assert server.create_project(project).status_code == 201
    base = f"/api/v1/projects/{project}"
    names = cancer["names"]
    schema = ([{"name": "patient_id", "type": "int64", "nullable": False},
               {"name": "event_time", "type": "timestamp"}, {"name": "site", "type": "string"}]
              + [{"name": name, "type": "float64"} for name in names])
    created = server.post(f"{base}/sources", json={"name": "cancer", "kind": "file",
                                                   "schema": schema})
    assert created.status_code == 201, created.text
    when = iso(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    lines = [",".join(["patient_id", "event_time", "site"] + names)]
    for entity, row in zip(cancer["ids"], cancer["features"]):
        # repr() round-trips a float64 exactly.
        lines.append(",".join([str(entity), when, "clinic"] + [repr(float(v)) for v in row]))
    ingested = server.request("POST", f"{base}/sources/cancer/ingest?format=csv",
                              data=("\n".join(lines) + "\n").encode(),
                              headers={"Content-Type": "text/csv"})
    assert ingested.status_code == 201, ingested.text
    assert ingested.json()["rows_quarantined"] == 0, ingested.text
    definitions = [
        {"kind": "entity", "name": "patient", "join_keys": ["patient_id"]},
        {"kind": "feature_view", "name": "tumour", "entities": ["patient"], "source": "cancer",
         "timestamp_field": "event_time",
         "features": [{"name": name, "type": "float64"} for name in names]},
        {"kind": "feature_view", "name": "place", "entities": ["patient"], "source": "cancer",
         "timestamp_field": "event_time", "features": [{"name": "site", "type": "string"}]},
        {"kind": "feature_service", "name": "diagnosis", "features": ["tumour:*"]},
        {"kind": "feature_service", "name": "with_text", "features": ["tumour:*", "place:site"]},
    ]
    applied = server.post(f"{base}/feature-definitions", json={"objects": definitions})
    assert applied.status_code == 200, applied.text
    materialised = server.post(f"{base}/features/materialize", json={})
    assert materialised.status_code == 200, materialised.text

    # The model sees the service's features in the service's order: the view's, here.
    rows = cancer["features"].astype(np.float32)
    model = xgboost.XGBClassifier(n_estimators=60, max_depth=5, tree_method="hist",
                                  random_state=11)
    model.fit(rows, cancer["target"])
    path = tmp_path_factory.mktemp("ifeat") / "model.json"
    model.save_model(path)
    register_version(server, project, "diag", path.read_bytes(), "xgboost")
    # A second model takes one request-time feature after the 30 fetched ones.
    extra = np.random.default_rng(5).normal(size=(len(rows), 1)).astype(np.float32)
    wide_rows = np.hstack([rows, extra])
    wide = xgboost.XGBClassifier(n_estimators=40, max_depth=4, tree_method="hist",
                                 random_state=3)
    wide.fit(wide_rows, (cancer["target"] + (extra[:, 0] > 1.0)) % 2)
    wide_path = path.parent / "wide.json"
    wide.save_model(wide_path)
    register_version(server, project, "wide", wide_path.read_bytes(), "xgboost")

    endpoints = {
        "diagnose": {"targets": [{"model": "diag", "version": 1}]},
        "batched": {"targets": [{"model": "diag", "version": 1}],
                    "batching": {"max_batch_size": 64, "max_queue_delay_us": 200}},
        "with-extra": {"targets": [{"model": "wide", "version": 1}]},
    }
    for name, body in endpoints.items():
        response = server.post(f"{base}/endpoints",
                               json={"name": name, "feature_service": "diagnosis", **body})
        assert response.status_code == 201, response.text
        assert response.json()["feature_service"] == "diagnosis"
    return {"project": project, "model": model, "wide": wide, "rows": rows, "extra": extra}


def expected(model, rows):
    return model.predict_proba(rows)[:, 1]


def all_missing(model, width=30):
    return float(expected(model, np.full((1, width), np.nan, dtype=np.float32))[0])


def ids_with_unknown(cancer):
    return np.append(cancer["ids"], UNKNOWN_ID)


def check(predictions, world, cancer):
    predictions = np.asarray(predictions, dtype=np.float64)
    assert predictions.shape == (len(cancer["ids"]) + 1,)
    want = expected(world["model"], world["rows"])
    assert np.max(np.abs(predictions[:-1] - want)) < TOLERANCE
    assert abs(predictions[-1] - all_missing(world["model"])) < TOLERANCE


def infer_json(server, world, endpoint, inputs):
    return server.post(f"/v2/models/{world['project']}.{endpoint}/infer", json={"inputs": inputs})


def key_input(ids, shape=None):
    ids = [int(v) for v in ids]
    return {"name": "patient_id", "datatype": "INT64", "shape": shape or [len(ids)], "data": ids}


@pytest.mark.parametrize("endpoint", ["diagnose", "batched"])
def test_json_requests_with_entity_ids_only_match_xgboost(server, world, cancer, endpoint):
    response = infer_json(server, world, endpoint, [key_input(ids_with_unknown(cancer))])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["parameters"] == {"served_model": "diag", "endpoint": endpoint, "arm": "diag:v1"}
    output = body["outputs"][0]
    assert output["shape"] == [len(cancer["ids"]) + 1]
    check(output["data"], world, cancer)
    # One entity at a time, shaped [1, 1], as a client scoring a single event would send it.
    for i in (0, 1, 2, 3, 568):
        single = infer_json(server, world, endpoint, [key_input([cancer["ids"][i]], [1, 1])])
        assert single.status_code == 200, single.text
        assert abs(single.json()["outputs"][0]["data"][0]
                   - expected(world["model"], world["rows"][i:i + 1])[0]) < TOLERANCE


def test_binary_requests_match_xgboost(server, world, cancer):
    ids = ids_with_unknown(cancer)
    body, headers = binary_request([("patient_id", "INT64", ids)])
    response = server.post(f"/v2/models/{world['project']}.diagnose/infer", data=body,
                           headers=headers)
    assert response.status_code == 200, response.text
    header, raw = split_binary_response(response)
    assert header["outputs"][0]["shape"] == [len(ids)]
    check(np.frombuffer(raw, dtype=np.float32), world, cancer)
    # Narrower unsigned ids are exact too.
    as_uint32 = ids.astype(np.uint32).reshape(-1, 1)
    body, headers = binary_request([("patient_id", "UINT32", as_uint32)])
    response = server.post(f"/v2/models/{world['project']}.diagnose/infer", data=body,
                           headers=headers)
    assert response.status_code == 200, response.text
    check(np.frombuffer(split_binary_response(response)[1], dtype=np.float32), world, cancer)


def test_request_time_features_follow_the_fetched_ones(server, world, cancer):
    ids = cancer["ids"][:200]
    extra = world["extra"][:200]
    response = infer_json(server, world, "with-extra", [
        {"name": "hour", "datatype": "FP32", "shape": [len(ids), 1],
         "data": [float(v) for v in extra[:, 0]]},
        key_input(ids)])
    assert response.status_code == 200, response.text
    want = expected(world["wide"], np.hstack([world["rows"][:200], extra]))
    got = np.asarray(response.json()["outputs"][0]["data"])
    assert np.max(np.abs(got - want)) < TOLERANCE
    # Without the request-time feature the model's width is not met.
    short = infer_json(server, world, "with-extra", [key_input(ids)])
    assert short.status_code == 400
    assert "30 features from feature service 'diagnosis' and 0 request-time" in \
        short.json()["error"]


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    return compile_grpc_stubs(tmp_path_factory.mktemp("grpc_gen_ifeat"))


def test_grpc_typed_and_raw_requests_match_xgboost(server, world, cancer, pb):
    messages, services = pb
    ids = ids_with_unknown(cancer)
    metadata = [("authorization", f"Bearer {server.key}")]
    model_name = f"{world['project']}.diagnose"
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = services.GRPCInferenceServiceStub(channel)
        typed = messages.ModelInferRequest.InferInputTensor(name="patient_id", datatype="INT64",
                                                            shape=[len(ids)])
        typed.contents.int64_contents.extend(int(v) for v in ids)
        answer = stub.ModelInfer(messages.ModelInferRequest(model_name=model_name, inputs=[typed]),
                                 metadata=metadata, timeout=TIMEOUT)
        check(list(answer.outputs[0].contents.fp32_contents), world, cancer)

        raw = messages.ModelInferRequest.InferInputTensor(name="patient_id", datatype="INT64",
                                                          shape=[len(ids), 1])
        answer = stub.ModelInfer(
            messages.ModelInferRequest(model_name=model_name, inputs=[raw],
                                       raw_input_contents=[ids.tobytes()]),
            metadata=metadata, timeout=TIMEOUT)
        check(np.frombuffer(answer.raw_output_contents[0], dtype=np.float32), world, cancer)

        wrong = messages.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, 30])
        wrong.contents.fp32_contents.extend([0.0] * 30)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(messages.ModelInferRequest(model_name=model_name, inputs=[wrong]),
                            metadata=metadata, timeout=TIMEOUT)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "missing input 'patient_id'" in refused.value.details()


def test_metadata_names_the_entity_key_input(server, world):
    metadata = server.get(f"/v2/models/{world['project']}.diagnose")
    assert metadata.status_code == 200, metadata.text
    assert metadata.json()["inputs"] == [{"name": "patient_id", "datatype": "INT64",
                                          "shape": [-1]}]


def test_bad_requests_are_refused_naming_the_problem(server, world, cancer):
    rows = [[0.0] * 30]
    missing = infer_json(server, world, "diagnose",
                         [{"name": "x", "datatype": "FP32", "shape": [1, 30],
                           "data": rows[0]}])
    assert missing.status_code == 400
    assert "missing input 'patient_id'" in missing.json()["error"]
    as_float = infer_json(server, world, "diagnose",
                          [{"name": "patient_id", "datatype": "FP32", "shape": [1],
                            "data": [float(cancer["ids"][0])]}])
    assert as_float.status_code == 400
    assert "must be an integer tensor (INT64), not FP32" in as_float.json()["error"]
    as_bytes = infer_json(server, world, "diagnose",
                          [{"name": "patient_id", "datatype": "BYTES", "shape": [1],
                            "data": ["50000000"]}])
    assert as_bytes.status_code == 400
    wide = infer_json(server, world, "diagnose", [key_input([1, 2], [1, 2])])
    assert wide.status_code == 400 and "[rows] or [rows, 1]" in wide.json()["error"]


def test_endpoints_naming_unusable_services_are_refused(server, world):
    base = f"/api/v1/projects/{world['project']}/endpoints"
    target = [{"model": "diag", "version": 1}]
    missing = server.post(base, json={"name": "e1", "targets": target,
                                      "feature_service": "no-such-service"})
    assert missing.status_code == 400
    assert "no-such-service" in missing.json()["error"]["message"]
    strings = server.post(base, json={"name": "e2", "targets": target,
                                      "feature_service": "with_text"})
    assert strings.status_code == 400
    assert "string feature 'place:site'" in strings.json()["error"]["message"]
    # Update is checked the same way, and can drop the service again.
    update = server.request("PUT", f"{base}/diagnose",
                            json={"targets": target, "feature_service": "with_text"})
    assert update.status_code == 400
    assert server.get(f"{base}/diagnose").json()["feature_service"] == "diagnosis"


def test_the_cli_sets_the_feature_service(server, world, cancer, home):
    env = {"FALAJ_URL": server.url, "FALAJ_KEY": server.key}
    created = cli(["endpoints", "create", world["project"], "from-cli", "--target", "diag:1",
                   "--feature-service", "diagnosis", "-o", "json"], home, env)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["feature_service"] == "diagnosis"
    answer = infer_json(server, world, "from-cli", [key_input(cancer["ids"][:3])])
    assert answer.status_code == 200, answer.text
    refused = cli(["endpoints", "update", world["project"], "from-cli", "--target", "diag:1",
                   "--feature-service", "with_text"], home, env)
    assert refused.returncode != 0
    assert "string feature 'place:site'" in refused.stderr
