"""The binary tensor data extension and every numeric datatype, against a real server: the same
rows sent as JSON or as raw little-endian bytes of any datatype give the same predictions, binary
outputs decode to the JSON ones, and malformed binary bodies are refused with the reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serving_helpers import (binary_request, linear_artifact, logistic, register_version,
                             split_binary_response, tensor)

PROJECT = "binary"
COEFFICIENTS = [0.5, -0.25, 0.125]
INTERCEPT = 0.05
ROWS = np.array([[1, 2, 3], [0, 1, 0], [4, 0, 2], [1, 1, 1]], dtype=np.float64)
INFER = f"/v2/models/{PROJECT}.lin/infer"

NUMPY_TYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
               "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
               "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}


@pytest.fixture(scope="module")
def served(server):
    assert server.post("/api/v1/projects",
                       json={"name": PROJECT, "region": "uae-north"}).status_code == 201
    register_version(server, PROJECT, "lin", linear_artifact(COEFFICIENTS, INTERCEPT), "linear")
    return server


def expected(rows):
    return [logistic(COEFFICIENTS, INTERCEPT, row) for row in rows]


@pytest.mark.parametrize("datatype", sorted(NUMPY_TYPES))
def test_every_datatype_in_binary_form_predicts_like_json(served, datatype):
    rows = (ROWS > 0) if datatype == "BOOL" else ROWS
    array = rows.astype(NUMPY_TYPES[datatype])
    body, headers = binary_request([("x", datatype, array)])
    response = served.post(INFER, data=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/octet-stream"
    header, raw = split_binary_response(response)
    output = header["outputs"][0]
    assert output["datatype"] == "FP32" and output["shape"] == [4] and "data" not in output
    assert output["parameters"]["binary_data_size"] == len(raw) == 16
    got = np.frombuffer(raw, dtype="<f4")
    np.testing.assert_allclose(got, expected(rows.astype(np.float64)), rtol=1e-6)


@pytest.mark.parametrize("datatype", [t for t in sorted(NUMPY_TYPES) if t != "FP16"])
def test_every_datatype_in_json_form(served, datatype):
    rows = (ROWS > 0) if datatype == "BOOL" else ROWS
    values = rows.tolist() if datatype in ("FP32", "FP64") else rows.astype(int).tolist()
    if datatype == "BOOL":
        values = rows.tolist()
    response = served.post(INFER, json=tensor(values, datatype=datatype))
    assert response.status_code == 200, response.text
    got = response.json()["outputs"][0]["data"]
    np.testing.assert_allclose(got, expected(rows.astype(np.float64)), rtol=1e-6)


def test_binary_inputs_with_json_outputs_and_per_output_choice(served):
    body, headers = binary_request([("x", "FP32", ROWS.astype(np.float32))], outputs_binary=False)
    response = served.post(INFER, data=body, headers=headers)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    np.testing.assert_allclose(response.json()["outputs"][0]["data"], expected(ROWS), rtol=1e-6)
    raw = ROWS.astype(np.float32).tobytes()
    header = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [4, 3],
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "outputs": [{"name": "predict", "parameters": {"binary_data": True}}]})
    response = served.post(INFER, data=header.encode() + raw,
                           headers={"Inference-Header-Content-Length": str(len(header))})
    decoded, out = split_binary_response(response)
    np.testing.assert_allclose(np.frombuffer(out, "<f4"), expected(ROWS), rtol=1e-6)


def test_json_requests_may_ask_for_binary_outputs(served):
    body = tensor(ROWS.tolist()) | {"parameters": {"binary_data_output": True}}
    response = served.post(INFER, json=body)
    header, raw = split_binary_response(response)
    np.testing.assert_allclose(np.frombuffer(raw, "<f4"), expected(ROWS), rtol=1e-6)


def raw_body(header: dict, raw: bytes, length: int | None = None):
    text = json.dumps(header).encode()
    return text + raw, {"Inference-Header-Content-Length": str(len(text) if length is None
                                                                else length)}


@pytest.mark.parametrize("case, needle", [
    ("short", "declares 48 binary bytes; only 47 follow"),
    ("long", "bytes follow the JSON header that no input"),
    ("wrong_size", "needs 48 bytes, got 24"),
    ("header_past_end", "Inference-Header-Content-Length is"),
    ("not_a_number", "must be a byte count"),
    ("data_and_binary", "both 'data' and 'binary_data_size'"),
    ("negative_size", "non-negative integer"),
    ("bytes_type", "datatype BYTES"),
])
def test_malformed_binary_bodies_are_refused(served, case, needle):
    raw = ROWS.astype(np.float32).tobytes()
    tensor_header = {"name": "x", "datatype": "FP32", "shape": [4, 3],
                     "parameters": {"binary_data_size": 48}}
    header = {"inputs": [tensor_header]}
    headers = None
    if case == "short":
        body, headers = raw_body(header, raw[:-1])
    elif case == "long":
        body, headers = raw_body(header, raw + b"\0")
    elif case == "wrong_size":
        tensor_header["parameters"]["binary_data_size"] = 24
        body, headers = raw_body(header, raw[:24])
    elif case == "header_past_end":
        body, headers = raw_body(header, raw, length=10 ** 6)
    elif case == "not_a_number":
        body, headers = raw_body(header, raw)
        headers["Inference-Header-Content-Length"] = "12abc"
    elif case == "data_and_binary":
        tensor_header["data"] = [0] * 12
        body, headers = raw_body(header, raw)
    elif case == "negative_size":
        tensor_header["parameters"]["binary_data_size"] = -1
        body, headers = raw_body(header, raw)
    else:
        tensor_header["datatype"] = "BYTES"
        body, headers = raw_body(header, raw)
    response = served.post(INFER, data=body, headers=headers)
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]
