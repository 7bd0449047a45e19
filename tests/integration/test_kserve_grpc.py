"""KServe v2 inference over gRPC against a real server: the client is generated from
proto/grpc_predict_v2.proto at test start (as any client would generate it), health and metadata
are public, a registered linear model answers exactly what the HTTP transport answers, raw
contents of several datatypes decode to the same predictions, malformed requests get the
protocol's status codes, and credentials and roles are checked (and refusals audited) as over
HTTP."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from conftest import metric_value, parse_metrics, unique_name
from serving_helpers import (compile_grpc_stubs, linear_artifact, logistic, make_xgboost_models,
                             register_version, tensor)

COEFFICIENTS = [0.8, -1.25, 0.05, 2.0]
INTERCEPT = -0.3
ROWS = [[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [-3.5, 0.25, 100.0, -1.0]]
TIMEOUT = 30.0


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """The generated messages and stub, compiled into a temporary directory."""
    return compile_grpc_stubs(tmp_path_factory.mktemp("grpc_gen"))


@pytest.fixture(scope="module")
def world(server):
    """A project with a linear model, and keys: a viewer of the project (may predict), an
    auditor of it (may read, not predict) and an admin of another project."""
    assert server.grpc_port, "the server's 'listening' log line has no grpc_port"
    project, other = unique_name("grpc"), unique_name("grpc-other")
    for name in (project, other):
        assert server.create_project(name, region="uae-north").status_code == 201
    register_version(server, project, "churn", linear_artifact(COEFFICIENTS, INTERCEPT),
                     "linear")
    keys = {"admin": server.key}
    for name, role, in_project in (("viewer", "viewer", project), ("auditor", "auditor", project),
                                   ("outsider", "admin", other)):
        created = server.post(f"/api/v1/projects/{in_project}/api-keys",
                              json={"name": f"grpc-{name}", "role": role})
        assert created.status_code == 201, created.text
        keys[name] = created.json()["key"]
    model = f"{project}.churn"
    # As any client: the input's name comes from the model's metadata.
    metadata = server.get(f"/v2/models/{model}")
    assert metadata.status_code == 200, metadata.text
    return {"project": project, "model": model, "keys": keys,
            "input": metadata.json()["inputs"][0]["name"]}


@pytest.fixture(scope="module")
def channel(server, world):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as opened:
        yield opened


@pytest.fixture
def stub(pb, channel):
    return pb[1].GRPCInferenceServiceStub(channel)


def auth(key):
    return [("authorization", f"Bearer {key}")] if key else []


def call(method, request, key=None):
    """Returns (response, status code); the response is None when the call failed."""
    try:
        return method(request, metadata=auth(key), timeout=TIMEOUT), grpc.StatusCode.OK
    except grpc.RpcError as error:
        return None, error.code()


def typed_request(pb, world, rows, datatype="FP32", field="fp32_contents", model=None,
                  **fields):
    messages = pb[0]
    tensor_ = messages.ModelInferRequest.InferInputTensor(
        name=world["input"], datatype=datatype, shape=[len(rows), len(rows[0])])
    getattr(tensor_.contents, field).extend(v for row in rows for v in row)
    return messages.ModelInferRequest(model_name=model or world["model"], inputs=[tensor_],
                                      **fields)


def raw_request(pb, world, array, datatype, raw=None):
    messages = pb[0]
    tensor_ = messages.ModelInferRequest.InferInputTensor(name=world["input"], datatype=datatype,
                                                          shape=list(array.shape))
    contents = [array.tobytes(order="C")] if raw is None else raw
    return messages.ModelInferRequest(model_name=world["model"], inputs=[tensor_],
                                      raw_input_contents=contents)


def http_predictions(server, world, rows):
    response = server.post(f"/v2/models/{world['model']}/infer",
                           json=tensor(rows, name=world["input"]))
    assert response.status_code == 200, response.text
    return response.json()["outputs"][0]


def test_health_and_server_metadata_need_no_credentials(server, pb, stub):
    messages = pb[0]
    live, code = call(stub.ServerLive, messages.ServerLiveRequest())
    assert code == grpc.StatusCode.OK and live.live
    ready, code = call(stub.ServerReady, messages.ServerReadyRequest())
    assert code == grpc.StatusCode.OK and ready.ready
    metadata, code = call(stub.ServerMetadata, messages.ServerMetadataRequest())
    assert code == grpc.StatusCode.OK
    http = server.get("/v2", auth=False).json()
    assert metadata.name == "falaj" == http["name"]
    assert metadata.version == http["version"]
    assert list(metadata.extensions) == []


def test_model_metadata_and_readiness(server, pb, stub, world):
    messages, key = pb[0], world["keys"]["viewer"]
    metadata, code = call(stub.ModelMetadata, messages.ModelMetadataRequest(name=world["model"]),
                          key)
    assert code == grpc.StatusCode.OK
    http = server.get(f"/v2/models/{world['model']}").json()
    assert metadata.name == http["name"] == world["model"]
    assert list(metadata.versions) == http["versions"]
    assert metadata.platform == http["platform"]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == \
        [(t["name"], t["datatype"], t["shape"]) for t in http["outputs"]]
    ready, code = call(stub.ModelReady, messages.ModelReadyRequest(name=world["model"]), key)
    assert code == grpc.StatusCode.OK and ready.ready
    pinned, code = call(stub.ModelReady,
                        messages.ModelReadyRequest(name=world["model"], version="1"), key)
    assert code == grpc.StatusCode.OK and pinned.ready
    _, code = call(stub.ModelReady, messages.ModelReadyRequest(name=f"{world['project']}.nope"),
                   key)
    assert code == grpc.StatusCode.NOT_FOUND


def test_infer_with_typed_contents_equals_http(server, pb, stub, world):
    request = typed_request(pb, world, ROWS, id="req-9")
    response, code = call(stub.ModelInfer, request, world["keys"]["viewer"])
    assert code == grpc.StatusCode.OK
    assert response.model_name == world["model"] and response.model_version == "1"
    assert response.id == "req-9"
    assert response.parameters["served_model"].string_param == "churn"
    assert "endpoint" not in response.parameters
    assert len(response.raw_output_contents) == 0
    [output] = response.outputs
    http = http_predictions(server, world, ROWS)
    assert output.name == http["name"] and output.datatype == "FP32" == http["datatype"]
    assert list(output.shape) == http["shape"] == [3]
    got = list(output.contents.fp32_contents)
    assert np.array_equal(np.float32(got), np.float32(http["data"]))
    for value, row in zip(got, ROWS):
        assert value == pytest.approx(logistic(COEFFICIENTS, INTERCEPT, row), rel=1e-6)
    # Typed contents of another numeric type decode to the same values.
    as_fp64 = typed_request(pb, world, ROWS, datatype="FP64", field="fp64_contents")
    response, code = call(stub.ModelInfer, as_fp64, world["keys"]["viewer"])
    assert code == grpc.StatusCode.OK
    assert list(response.outputs[0].contents.fp32_contents) == got


@pytest.mark.parametrize("datatype, dtype", [
    ("FP32", np.float32), ("FP64", np.float64), ("FP16", np.float16), ("INT64", np.int64),
    ("INT32", np.int32), ("UINT8", np.uint8), ("BOOL", np.bool_),
])
def test_infer_with_raw_contents_answers_raw(server, pb, stub, world, datatype, dtype):
    rows = [[1, 0, 3, 1], [0, 1, 1, 0]] if dtype == np.bool_ else [[1, 2, 3, 4], [0, 5, 1, 2]]
    array = np.array(rows, dtype=dtype)
    response, code = call(stub.ModelInfer, raw_request(pb, world, array, datatype),
                          world["keys"]["viewer"])
    assert code == grpc.StatusCode.OK
    [output] = response.outputs
    assert output.datatype == "FP32" and list(output.shape) == [2]
    assert len(output.contents.fp32_contents) == 0
    [raw] = response.raw_output_contents
    got = np.frombuffer(raw, dtype="<f4")
    expected = http_predictions(server, world, array.astype(np.float64).tolist())
    assert np.array_equal(got, np.float32(expected["data"]))


def test_pinned_versions_and_requested_outputs(pb, stub, world):
    messages, key = pb[0], world["keys"]["viewer"]
    request = typed_request(pb, world, ROWS[:1], model_version="1",
                            outputs=[messages.ModelInferRequest.InferRequestedOutputTensor(
                                name="predict")])
    response, code = call(stub.ModelInfer, request, key)
    assert code == grpc.StatusCode.OK and response.model_version == "1"
    assert [o.name for o in response.outputs] == ["predict"]
    assert call(stub.ModelInfer, typed_request(pb, world, ROWS, model_version="99"),
                key)[1] == grpc.StatusCode.NOT_FOUND


def test_malformed_requests_get_protocol_status_codes(pb, stub, world):
    messages, key = pb[0], world["keys"]["viewer"]
    four = np.array([ROWS[0]], dtype=np.float32)
    bad = {
        "wrong feature count": typed_request(pb, world, [[1.0, 2.0]]),
        "BYTES": raw_request(pb, world, four, "BYTES"),
        "unknown datatype": raw_request(pb, world, four, "FP17"),
        "raw count != inputs": raw_request(pb, world, four, "FP32",
                                           raw=[four.tobytes(), four.tobytes()]),
        "raw byte length": raw_request(pb, world, four, "FP32", raw=[four.tobytes()[:-1]]),
        "absurd shape": messages.ModelInferRequest(
            model_name=world["model"], inputs=[messages.ModelInferRequest.InferInputTensor(
                name=world["input"], datatype="FP32", shape=[1 << 40, 1 << 40])]),
        "version not a number": typed_request(pb, world, ROWS, model_version="latest"),
        "values in the wrong field": typed_request(pb, world, ROWS, field="fp64_contents"),
        "unknown output": typed_request(pb, world, ROWS, outputs=[
            messages.ModelInferRequest.InferRequestedOutputTensor(name="proba")]),
    }
    for reason, request in bad.items():
        assert call(stub.ModelInfer, request, key)[1] == grpc.StatusCode.INVALID_ARGUMENT, reason
    try:
        stub.ModelInfer(typed_request(pb, world, ROWS, model="churn"), metadata=auth(key),
                        timeout=TIMEOUT)
        pytest.fail("a name without a project was served")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "<project>.<name>" in error.details()
    unknown = typed_request(pb, world, ROWS, model=f"{world['project']}.nope")
    assert call(stub.ModelInfer, unknown, key)[1] == grpc.StatusCode.NOT_FOUND


def test_credentials_and_roles_are_checked_and_refusals_audited(server, pb, stub, world):
    messages, keys, model = pb[0], world["keys"], world["model"]
    request = typed_request(pb, world, ROWS)
    assert call(stub.ModelInfer, request)[1] == grpc.StatusCode.UNAUTHENTICATED
    forged = "flj_" + "A" * 49
    try:
        stub.ModelInfer(request, metadata=auth(forged), timeout=TIMEOUT)
        pytest.fail("a forged key was accepted")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert forged not in error.details()
    basic = [("authorization", f"Basic {keys['viewer']}")]
    with pytest.raises(grpc.RpcError) as refused:
        stub.ModelInfer(request, metadata=basic, timeout=TIMEOUT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # Another project's admin has no role here; the auditor may read but not predict.
    assert call(stub.ModelInfer, request, keys["outsider"])[1] == \
        grpc.StatusCode.PERMISSION_DENIED
    assert call(stub.ModelMetadata, messages.ModelMetadataRequest(name=model),
                keys["outsider"])[1] == grpc.StatusCode.PERMISSION_DENIED
    assert call(stub.ModelInfer, request, keys["auditor"])[1] == grpc.StatusCode.PERMISSION_DENIED
    assert call(stub.ModelMetadata, messages.ModelMetadataRequest(name=model),
                keys["auditor"])[1] == grpc.StatusCode.OK

    prefix = f"/inference.GRPCInferenceService/ModelInfer/{model}"
    records = server.get("/api/v1/audit", params={"resource_prefix": prefix}).json()["records"]
    assert {(r["principal"] == "anonymous", r["status"], r["outcome"], r["method"])
            for r in records} == {(True, 401, "denied", "GRPC"), (False, 403, "denied", "GRPC")}
    assert len(records) == 5
    for record in records:
        assert forged not in str(record) and keys["viewer"] not in str(record)


def test_calls_are_counted(server, pb, stub, world):
    before = parse_metrics(server.metrics_text())
    labels = {"method": "ModelInfer", "code": "OK"}
    for _ in range(3):
        assert call(stub.ModelInfer, typed_request(pb, world, ROWS),
                    world["keys"]["viewer"])[1] == grpc.StatusCode.OK
    after = parse_metrics(server.metrics_text())
    assert metric_value(after, "falaj_grpc_requests_total", **labels) == \
        metric_value(before, "falaj_grpc_requests_total", **labels) + 3
    assert metric_value(after, "falaj_grpc_request_seconds_count", method="ModelInfer") >= 3


def test_grpc_speaks_tls_when_the_server_does(make_server, tls_files, pb):
    cert, key = tls_files
    server = make_server("grpc-tls", env={"FALAJ_TLS_CERT_FILE": str(cert),
                                          "FALAJ_TLS_KEY_FILE": str(key)},
                         ca_file=cert).start()
    assert server.grpc_port
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(f"localhost:{server.grpc_port}", credentials) as secure:
        stub = pb[1].GRPCInferenceServiceStub(secure)
        metadata, code = call(stub.ServerMetadata, pb[0].ServerMetadataRequest())
        assert code == grpc.StatusCode.OK and metadata.name == "falaj"
        _, code = call(stub.ModelMetadata, pb[0].ModelMetadataRequest(name="p.m"), server.key)
        assert code == grpc.StatusCode.NOT_FOUND
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as plain:
        _, code = call(pb[1].GRPCInferenceServiceStub(plain).ServerLive,
                       pb[0].ServerLiveRequest())
        assert code == grpc.StatusCode.UNAVAILABLE
    server.stop_and_check()


def test_xgboost_predictions_over_grpc_equal_xgboost_predict(server, pb, stub, world,
                                                             tmp_path_factory):
    """The acceptance check over gRPC: breast-cancer rows, raw FP32 contents, both runtimes."""
    models = make_xgboost_models(tmp_path_factory.mktemp("grpc-xgboost"))
    rows = np.load(models / "cancer.rows.npy")
    expected = np.load(models / "cancer.expected.npy")
    project = world["project"]
    register_version(server, project, "cancer", (models / "cancer.ubj").read_bytes(), "xgboost",
                     path="model.ubj")
    for runtime in ("trees", "xgboost"):
        created = server.post(f"/api/v1/projects/{project}/endpoints", json={
            "name": f"cancer-{runtime}", "runtime": runtime,
            "targets": [{"model": "cancer", "version": 1}]})
        assert created.status_code == 201, created.text
        messages = pb[0]
        tensor_ = messages.ModelInferRequest.InferInputTensor(name="x", datatype="FP32",
                                                              shape=list(rows.shape))
        request = messages.ModelInferRequest(model_name=f"{project}.cancer-{runtime}",
                                             inputs=[tensor_],
                                             raw_input_contents=[rows.tobytes(order="C")])
        response, code = call(stub.ModelInfer, request, world["keys"]["viewer"])
        assert code == grpc.StatusCode.OK
        assert response.model_version == "1"
        got = np.frombuffer(response.raw_output_contents[0], dtype="<f4")
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
