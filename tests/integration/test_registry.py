"""The model registry against a real server: artifacts are uploaded, stored encrypted under the
project's key (no plaintext on disk), registered as signed versions, downloaded byte for byte,
verified, and aliased; code-executing formats are refused; tampering is detected."""

from __future__ import annotations

import hashlib
import os
import urllib.parse

import pytest

from conftest import assert_error_shape, unique_name

MARKER = b"FALAJ-PLAINTEXT-MARKER-" * 4096  # ~94 KiB that must never appear on disk


@pytest.fixture()
def project(server):
    name = unique_name("reg")
    assert server.post("/api/v1/projects", json={"name": name, "region": "uae-north"}).status_code == 201
    return name


def upload(server, project, content: bytes) -> str:
    response = server.post(f"/api/v1/projects/{project}/artifacts", data=content,
                           headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["size"] == len(content)
    return body["sha256"]


def register(server, project, files, fmt="xgboost", model="fraud"):
    server.post(f"/api/v1/projects/{project}/models", json={"name": model})
    return server.post(f"/api/v1/projects/{project}/models/{model}/versions",
                       json={"format": fmt, "files": files, "metrics": {"auc": 0.93},
                             "signature": {"inputs": [{"name": "x", "datatype": "FP32",
                                                       "shape": [-1, 30]}]},
                             "lineage": {"run_id": "run-1"}})


def test_register_download_verify_and_alias(server, project):
    model_bytes = os.urandom(1 << 16) + MARKER
    digest = upload(server, project, model_bytes)
    features = upload(server, project, b"f1,f2,f3")
    created = register(server, project, [{"path": "model.ubj", "sha256": digest},
                                         {"path": "meta/features.csv", "sha256": features}])
    assert created.status_code == 201, created.text
    version = created.json()
    assert version["version"] == 1 and version["status"] == "registered"
    assert len(version["manifest_signature"]) == 128
    assert {f["path"]: f["size"] for f in version["files"]} == {
        "model.ubj": len(model_bytes), "meta/features.csv": 8}

    base = f"/api/v1/projects/{project}/models/fraud/versions/1"
    downloaded = server.get(f"{base}/files/model.ubj")
    assert downloaded.status_code == 200
    assert downloaded.content == model_bytes
    nested = server.get(f"{base}/files/" + urllib.parse.quote("meta/features.csv", safe=""))
    assert nested.content == b"f1,f2,f3"
    assert server.get(f"{base}/verify").json() == {"ok": True, "version": 1, "reason": ""}

    assert register(server, project, [{"path": "model.ubj", "sha256": digest}]).json()["version"] == 2
    alias = f"/api/v1/projects/{project}/models/fraud/aliases/champion"
    assert server.request("PUT", alias, json={"version": 2}).status_code == 200
    assert server.get(alias).json()["version"] == 2
    by_alias = server.get(f"/api/v1/projects/{project}/models/fraud/versions/champion")
    assert by_alias.json()["version"] == 2 and by_alias.json()["aliases"] == ["champion"]
    refused = server.delete(f"/api/v1/projects/{project}/models/fraud/versions/2")
    assert "aliased" in assert_error_shape(refused, 409, "FAILED_PRECONDITION")["message"]
    assert server.delete(f"/api/v1/projects/{project}").status_code == 409  # owns models


def test_artifacts_are_encrypted_at_rest(server, project):
    upload(server, project, MARKER)
    found = []
    for root, _, files in os.walk(server.data_dir):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                if MARKER[:64] in handle.read():
                    found.append(path)
    assert not found, f"plaintext found in {found}"


def test_code_executing_formats_and_pickles_are_refused(server, project):
    pickle_bytes = b"\x80\x04\x95\x12\x00\x00\x00\x00\x00\x00\x00}\x94."
    digest = upload(server, project, pickle_bytes)
    by_format = register(server, project, [{"path": "m.pkl", "sha256": digest}], fmt="pickle")
    assert "executes code" in assert_error_shape(by_format, 400, "INVALID_ARGUMENT")["message"]
    by_content = register(server, project, [{"path": "m.json", "sha256": digest}])
    assert "pickle" in assert_error_shape(by_content, 400, "INVALID_ARGUMENT")["message"]


def test_bad_versions_are_refused_with_a_reason(server, project):
    digest = upload(server, project, b"model")
    cases = [
        ({"format": "xgboost", "files": [{"path": "../x", "sha256": digest}]}, 400, "artifact path"),
        ({"format": "xgboost", "files": [{"path": "m", "sha256": "0" * 64}]}, 409, "no artifact"),
        ({"format": "xgboost", "files": []}, 400, "1 to"),
        ({"format": "xgboost", "files": "m"}, 400, "files"),
        ({"format": "caffe", "files": [{"path": "m", "sha256": digest}]}, 400, "format"),
        ({"format": "xgboost", "files": [{"path": "m", "sha256": digest}], "metrics": {"a": "x"}},
         400, "metric"),
        ({"format": "xgboost", "files": [{"path": "m", "sha256": digest}], "extra": 1}, 400,
         "unknown field"),
    ]
    server.post(f"/api/v1/projects/{project}/models", json={"name": "fraud"})
    for body, status, needle in cases:
        response = server.post(f"/api/v1/projects/{project}/models/fraud/versions", json=body)
        assert response.status_code == status, (body, response.text)
        assert needle in response.json()["error"]["message"], (body, response.text)
    assert server.post(f"/api/v1/projects/{project}/artifacts", data=b"").status_code == 400
    missing = server.get(f"/api/v1/projects/{project}/models/fraud/versions/7")
    assert_error_shape(missing, 404, "NOT_FOUND")


def test_tampered_ciphertext_is_detected(make_server):
    # A server of its own: this test corrupts every blob on its disk.
    server = make_server("tamper").start()
    project = "tamper"
    assert server.post("/api/v1/projects", json={"name": project,
                                                 "region": "uae-north"}).status_code == 201
    digest = upload(server, project, b"A" * 200_000)
    assert register(server, project, [{"path": "m.bin", "sha256": digest}],
                    model="tamper").status_code == 201
    blobs = server.data_dir / "blobs" / "sha256"
    before = {p: p.stat().st_mtime_ns for p in blobs.rglob("*") if p.is_file()}
    # Flip one byte in the middle of every stored object: whichever holds our artifact breaks.
    for path in before:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    report = server.get(f"/api/v1/projects/{project}/models/tamper/versions/1/verify").json()
    assert report["ok"] is False and "m.bin" in report["reason"]
    download = server.get(f"/api/v1/projects/{project}/models/tamper/versions/1/files/m.bin")
    assert download.status_code == 500
    assert download.json()["error"]["code"] == "DATA_LOSS"
