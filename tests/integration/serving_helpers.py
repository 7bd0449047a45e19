"""Helpers the serving tests share: registering model versions through the REST API, building
KServe v2 request bodies, XGBoost reference models trained on the spot, and the KServe v2 gRPC
messages and stub compiled from proto/."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def compile_grpc_stubs(out: Path):
    """(messages, services) of proto/grpc_predict_v2.proto, generated into `out`."""
    from grpc_tools import protoc

    proto_dir = REPO / "proto"
    code = protoc.main(["grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out}",
                        f"--grpc_python_out={out}", str(proto_dir / "grpc_predict_v2.proto")])
    assert code == 0, "protoc failed on proto/grpc_predict_v2.proto"
    sys.path.insert(0, str(out))
    try:
        return (importlib.import_module("grpc_predict_v2_pb2"),
                importlib.import_module("grpc_predict_v2_pb2_grpc"))
    finally:
        sys.path.remove(str(out))


def register_version(server, project: str, model: str, artifact: bytes, fmt: str,
                     path: str = "model.json", signature: dict | None = None) -> int:
    """Uploads an artifact and registers it as the next version of `model` (created if new)."""
    upload = server.post(f"/api/v1/projects/{project}/artifacts", data=artifact)
    assert upload.status_code == 201, upload.text
    created = server.post(f"/api/v1/projects/{project}/models", json={"name": model})
    assert created.status_code in (201, 409), created.text
    body = {"format": fmt, "files": [{"path": path, "sha256": upload.json()["sha256"]}]}
    if signature is not None:
        body["signature"] = signature
    version = server.post(f"/api/v1/projects/{project}/models/{model}/versions", json=body)
    assert version.status_code == 201, version.text
    return version.json()["version"]


def linear_artifact(coefficients, intercept: float) -> bytes:
    return json.dumps({"kind": "logistic", "coefficients": list(coefficients),
                       "intercept": intercept}).encode()


def logistic(coefficients, intercept: float, row) -> float:
    return 1.0 / (1.0 + math.exp(-(sum(w * x for w, x in zip(coefficients, row)) + intercept)))


def tensor(rows, shape=None, datatype="FP32", name="x") -> dict:
    flat = [value for row in rows for value in row]
    return {"inputs": [{"name": name, "datatype": datatype,
                        "shape": shape or [len(rows), len(rows[0])], "data": flat}]}


def make_xgboost_models(out_dir: Path) -> Path:
    """Runs bench/models/make_models.py (XGBoost from PyPI) into out_dir once."""
    if not (out_dir / "cancer.json").exists():
        subprocess.run([sys.executable, str(REPO / "bench/models/make_models.py"), str(out_dir)],
                       check=True)
    return out_dir


def binary_request(arrays: list[tuple[str, str, np.ndarray]], outputs_binary: bool = True
                   ) -> tuple[bytes, dict]:
    """A body in the binary tensor data extension: (name, datatype, array) per input."""
    inputs, blobs = [], []
    for name, datatype, array in arrays:
        raw = array.tobytes(order="C")
        inputs.append({"name": name, "datatype": datatype, "shape": list(array.shape),
                       "parameters": {"binary_data_size": len(raw)}})
        blobs.append(raw)
    header = json.dumps({"inputs": inputs,
                         "parameters": {"binary_data_output": outputs_binary}}).encode()
    return header + b"".join(blobs), {"Inference-Header-Content-Length": str(len(header)),
                                      "Content-Type": "application/octet-stream"}


def split_binary_response(response) -> tuple[dict, bytes]:
    length = int(response.headers["Inference-Header-Content-Length"])
    return json.loads(response.content[:length]), response.content[length:]
