"""MLflow artifacts, logged models and the model registry against a real server.

The acceptance: the real, unmodified mlflow 3 client (in .venv-mlflow) logs an XGBoost model,
registers it, sets an alias and loads it back through models:/name@alias, runs:/ and models:/m-…
with predictions equal to the original booster's. Then the wire API directly: artifacts
(traversal, size limit, isolation between projects, roles, concurrent writes), registry errors
(unknown versions and aliases, malformed JSON, pickles and unservable flavours refused), and
errors answered before a handler in MLflow's shape."""

from __future__ import annotations

import concurrent.futures
import json

import pytest

from conftest import REPO_ROOT, read_http_response, unique_name
from mlflow_helpers import run_mlflow_script

SCRIPT = REPO_ROOT / "tests" / "integration" / "mlflow_registry_script.py"
MLMODEL_XGB = b"""artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.xgboost
  xgboost:
    code: null
    data: model.ubj
    model_format: ubj
mlflow_version: 3.17.2
"""
MLMODEL_SKLEARN = b"""flavors:
  python_function:
    loader_module: mlflow.sklearn
  sklearn:
    pickled_model: model.pkl
"""


def make_project(server) -> str:
    name = unique_name("mlr")
    created = server.post("/api/v1/projects", json={"name": name, "region": "uae-north"})
    assert created.status_code == 201, created.text
    return name


@pytest.fixture()
def project(server):
    return make_project(server)


def api(project: str) -> str:
    return f"/mlflow/projects/{project}/api/2.0/mlflow"


def artifacts(project: str) -> str:
    return f"/mlflow/projects/{project}/api/2.0/mlflow-artifacts/artifacts"


def mlflow_error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    return body["message"]


def role_key(server, project: str, role: str) -> str:
    created = server.post(f"/api/v1/projects/{project}/api-keys",
                          json={"name": f"{role}-{unique_name('k')}", "role": role})
    assert created.status_code == 201, created.text
    return f"Bearer {created.json()['key']}"


def test_the_real_client_logs_registers_aliases_and_loads_an_xgboost_model(server, project):
    seen = run_mlflow_script(server, project, SCRIPT, "churn")
    # Every way of loading it predicts exactly what the original booster predicts.
    assert len(seen["expected"]) == 20 and len(set(seen["expected"])) > 1
    for way in ("by_alias", "by_run", "by_model_id", "by_version"):
        assert seen[way] == seen["expected"], way
    assert seen["model_uri"] == f"models:/{seen['model_id']}"
    assert seen["version"] == 1 and seen["second_version"] == 2
    assert seen["alias_version"] == 1 and seen["latest"] == [2]

    # The MLflow versions are Falaj versions: signed, xgboost, the MLflow files, the alias.
    native = server.get(f"/api/v1/projects/{project}/models/churn/versions/1")
    assert native.status_code == 200, native.text
    version = native.json()
    assert version["format"] == "xgboost"
    paths = {f["path"] for f in version["files"]}
    assert "MLmodel" in paths and any(p.startswith("model.") for p in paths), paths
    assert "champion" in version["aliases"]
    verified = server.get(f"/api/v1/projects/{project}/models/churn/versions/1/verify")
    assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text
    # An alias moved through Falaj is what MLflow resolves next, and the other way round.
    moved = server.request("PUT", f"/api/v1/projects/{project}/models/churn/aliases/champion",
                           json={"version": 2})
    assert moved.status_code in (200, 204), moved.text
    by_alias = server.get(f"{api(project)}/registered-models/alias",
                          params={"name": "churn", "alias": "champion"})
    assert by_alias.status_code == 200, by_alias.text
    assert by_alias.json()["model_version"]["version"] == "2"
    assert by_alias.json()["model_version"]["run_id"] == seen["run_id"]

    # A Falaj endpoint serves the version the alias names, with the `trees` runtime reading the
    # booster file the MLmodel names, and answers what the booster predicts.
    assert version["lineage"]["mlflow"]["model_file"] in paths
    endpoint = server.post(f"/api/v1/projects/{project}/endpoints", json={
        "name": "churn-live", "runtime": "trees",
        "targets": [{"model": "churn", "alias": "champion"}]})
    assert endpoint.status_code == 201, endpoint.text
    rows = seen["probe"]
    answer = server.post(f"/v2/models/{project}.churn-live/infer", json={"inputs": [
        {"name": "x", "datatype": "FP32", "shape": [len(rows), len(rows[0])],
         "data": [v for row in rows for v in row]}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == "2"
    assert answer.json()["outputs"][0]["data"] == pytest.approx(seen["expected"], abs=1e-6)

    # The logged model is READY and linked to its run.
    logged = server.get(f"{api(project)}/logged-models/{seen['model_id']}")
    assert logged.status_code == 200, logged.text
    info = logged.json()["model"]["info"]
    assert info["status"] == "LOGGED_MODEL_READY" and info["source_run_id"] == seen["run_id"]
    assert info["artifact_uri"].startswith("mlflow-artifacts:/")


def test_artifacts_upload_download_list_and_delete(server, project):
    base = artifacts(project)
    assert server.request("PUT", f"{base}/1/run/artifacts/a.txt", data=b"alpha").status_code == 200
    assert server.request("PUT", f"{base}/1/run/artifacts/dir/b.bin",
                          data=bytes(range(256))).status_code == 200
    got = server.get(f"{base}/1/run/artifacts/dir/b.bin")
    assert got.status_code == 200 and got.content == bytes(range(256))
    listed = server.get(base, params={"path": "1/run/artifacts"})
    assert listed.status_code == 200, listed.text
    assert listed.json()["files"] == [{"path": "a.txt", "is_dir": False, "file_size": 5},
                                      {"path": "dir", "is_dir": True}]
    # A file cannot become a directory's name, and a directory cannot be overwritten by a file.
    mlflow_error(server.request("PUT", f"{base}/1/run/artifacts/dir", data=b"x"), 400,
                 "INVALID_PARAMETER_VALUE")
    assert server.delete(f"{base}/1/run/artifacts/dir").status_code == 200
    mlflow_error(server.get(f"{base}/1/run/artifacts/dir/b.bin"), 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(server.delete(f"{base}/1/run/artifacts/dir"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert server.get(base, params={"path": "1/run/artifacts"}).json()["files"] == [
        {"path": "a.txt", "is_dir": False, "file_size": 5}]


def raw_put(server, path: str, body: bytes) -> dict:
    """A PUT sent byte for byte: HTTP libraries remove dot segments from URLs before sending."""
    head = (f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with server.connect(10) as sock:
        sock.sendall(head.encode() + body)
        return read_http_response(sock)


@pytest.mark.parametrize("path", ["a/../b.txt", "a/./b.txt", "../../etc/passwd", "a/%2e%2e/b.txt",
                                  "a/%2E%2E/%2e%2e/etc/passwd", "%2Fetc/passwd", "a//b.txt",
                                  "a%5Cb.txt", "a/%00b.txt", "a/%zz.txt"])
def test_hostile_artifact_paths_are_refused(server, project, path):
    answer = raw_put(server, f"{artifacts(project)}/{path}", b"x")
    assert answer["status"] == 400, answer
    body = json.loads(answer["body"])
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert "path" in body["message"] or "escape" in body["message"], body
    assert server.get(artifacts(project), params={"path": ""}).json()["files"] == []


def test_registered_version_files_are_read_only_through_the_artifact_api(server, project):
    mlflow_error(server.request("PUT", f"{artifacts(project)}/_registry/m/1/MLmodel", data=b"x"),
                 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(server.delete(f"{artifacts(project)}/_registry/m"), 400,
                 "INVALID_PARAMETER_VALUE")


def test_oversized_artifacts_get_a_clear_413_in_mlflow_shape(make_server):
    small = make_server("small", config={"server": {"body_limit_bytes": 4096}})
    small.start()
    project = make_project(small)
    response = small.request("PUT", f"{artifacts(project)}/1/r/artifacts/big.bin",
                             data=b"\0" * 10000)
    message = mlflow_error(response, 413, "RESOURCE_LIMIT_EXCEEDED")
    assert "4096" in message
    ok = small.request("PUT", f"{artifacts(project)}/1/r/artifacts/fits.bin", data=b"\0" * 4000)
    assert ok.status_code == 200, ok.text


def test_projects_roles_and_pipeline_errors_use_mlflow_errors(server, project):
    other = make_project(server)
    assert server.request("PUT", f"{artifacts(project)}/1/r/artifacts/secret.txt",
                          data=b"mine").status_code == 200
    # Another project's artifacts are invisible, even to its admin.
    mlflow_error(server.get(f"{artifacts(other)}/1/r/artifacts/secret.txt"), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    other_admin = role_key(server, other, "admin")
    mlflow_error(server.get(f"{artifacts(project)}/1/r/artifacts/secret.txt", auth=other_admin),
                 403, "PERMISSION_DENIED")
    viewer = role_key(server, project, "viewer")
    assert server.get(f"{artifacts(project)}/1/r/artifacts/secret.txt",
                      auth=viewer).content == b"mine"
    mlflow_error(server.request("PUT", f"{artifacts(project)}/1/r/artifacts/x.txt", data=b"x",
                                auth=viewer), 403, "PERMISSION_DENIED")
    mlflow_error(server.post(f"{api(project)}/registered-models/create", json={"name": "m"},
                             auth=viewer), 403, "PERMISSION_DENIED")
    mlflow_error(server.get(f"{artifacts(project)}/1/r/artifacts/secret.txt", auth=False), 401,
                 "UNAUTHENTICATED")
    mlflow_error(server.get(f"{api(project)}/no-such-endpoint"), 404, "ENDPOINT_NOT_FOUND")
    mlflow_error(server.get(f"{api('no-such-project')}/registered-models/get",
                            params={"name": "m"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_concurrent_uploads_of_one_path_are_last_writer_wins_without_corruption(server, project):
    path = f"{artifacts(project)}/1/r/artifacts/race.bin"
    bodies = [bytes([i]) * (50000 + i) for i in range(16)]

    def upload(body):
        return server.request("PUT", path, data=body).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(upload, bodies)) == {200}
    final = server.get(path).content
    assert final in bodies
    listed = server.get(artifacts(project), params={"path": "1/r/artifacts"}).json()["files"]
    assert listed == [{"path": "race.bin", "is_dir": False, "file_size": len(final)}]


def upload_model(server, project: str, directory: str, files: dict) -> None:
    for name, content in files.items():
        put = server.request("PUT", f"{artifacts(project)}/{directory}/{name}", data=content)
        assert put.status_code == 200, put.text


def test_registry_bad_input(server, project):
    base = api(project)
    assert server.post(f"{base}/registered-models/create",
                       json={"name": "m"}).status_code == 200
    mlflow_error(server.post(f"{base}/registered-models/create", json={"name": "m"}), 400,
                 "RESOURCE_ALREADY_EXISTS")
    mlflow_error(server.post(f"{base}/registered-models/create", data=b"{not json",
                             headers={"Content-Type": "application/json"}), 400,
                 "INVALID_PARAMETER_VALUE")
    mlflow_error(server.get(f"{base}/model-versions/get", params={"name": "m", "version": "7"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(server.get(f"{base}/model-versions/get", params={"name": "m", "version": "x"}),
                 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(server.get(f"{base}/registered-models/alias",
                            params={"name": "m", "alias": "nope"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(server.get(f"{base}/registered-models/get", params={"name": "nope"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(server.post(f"{base}/model-versions/create",
                             json={"name": "m", "source": "s3://bucket/model"}), 400,
                 "INVALID_PARAMETER_VALUE")
    mlflow_error(server.post(f"{base}/model-versions/create",
                             json={"name": "m", "source": "mlflow-artifacts:/9/nothing"}), 400,
                 "INVALID_PARAMETER_VALUE")
    mlflow_error(server.post(f"{base}/model-versions/transition-stage",
                             json={"name": "m", "version": "1", "stage": "Production"}), 501,
                 "NOT_IMPLEMENTED")
    # A pickle is refused even under an xgboost MLmodel and a harmless name.
    upload_model(server, project, "1/r/artifacts/pickled",
                 {"MLmodel": MLMODEL_XGB, "model.ubj": b"\x80\x04\x95\x10\x00cos\nsystem\n"})
    message = mlflow_error(server.post(f"{base}/model-versions/create", json={
        "name": "m", "source": "mlflow-artifacts:/1/r/artifacts/pickled"}), 400,
        "INVALID_PARAMETER_VALUE")
    assert "pickle" in message
    # A flavour Falaj cannot serve is named in the refusal.
    upload_model(server, project, "1/r/artifacts/sk",
                 {"MLmodel": MLMODEL_SKLEARN, "model.pkl": b"\x80\x04K\x01."})
    message = mlflow_error(server.post(f"{base}/model-versions/create", json={
        "name": "m", "source": "mlflow-artifacts:/1/r/artifacts/sk"}), 400,
        "INVALID_PARAMETER_VALUE")
    assert "sklearn" in message
    # Another project's files cannot be registered here.
    other = make_project(server)
    upload_model(server, other, "1/r/artifacts/theirs", {"MLmodel": MLMODEL_XGB,
                                                         "model.ubj": b"{}"})
    mlflow_error(server.post(f"{base}/model-versions/create", json={
        "name": "m", "source": "mlflow-artifacts:/1/r/artifacts/theirs"}), 400,
        "INVALID_PARAMETER_VALUE")
    assert server.get(f"{base}/model-versions/search",
                      params={"filter": "name = 'm'"}).json()["model_versions"] == []
    mlflow_error(server.get(f"{base}/model-versions/search",
                            params={"filter": "tags.x LIKE '%'"}), 400, "INVALID_PARAMETER_VALUE")


def test_logged_models_bad_input(server, project):
    base = api(project)
    mlflow_error(server.post(f"{base}/logged-models", json={"experiment_id": "424242"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    created = server.post(f"{base}/logged-models", json={"experiment_id": "0", "name": "lm"})
    assert created.status_code == 200, created.text
    model_id = created.json()["model"]["info"]["model_id"]
    assert created.json()["model"]["info"]["status"] == "LOGGED_MODEL_PENDING"
    mlflow_error(server.request("PATCH", f"{base}/logged-models/{model_id}",
                                json={"status": "BOGUS"}), 400, "INVALID_PARAMETER_VALUE")
    mlflow_error(server.get(f"{base}/logged-models/m-{'0' * 32}"), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(server.post(f"{base}/logged-models/search",
                             json={"filter": "metrics.x > 1"}), 400, "INVALID_PARAMETER_VALUE")
    found = server.post(f"{base}/logged-models/search",
                        json={"experiment_ids": ["0"], "filter": "name = 'lm'"})
    assert [m["info"]["model_id"] for m in found.json()["models"]] == [model_id]
    assert server.request("PATCH", f"{base}/logged-models/{model_id}/tags",
                          json={"tags": [{"key": "k", "value": "v"}]}).status_code == 200
    assert server.delete(f"{base}/logged-models/{model_id}/tags/k").status_code == 200
    mlflow_error(server.delete(f"{base}/logged-models/{model_id}/tags/k"), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert server.delete(f"{base}/logged-models/{model_id}").status_code == 200
    mlflow_error(server.get(f"{base}/logged-models/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")


def test_versions_freeze_their_files_and_deletes_cascade(server, project):
    base = api(project)
    source = "1/r/artifacts/model"
    upload_model(server, project, source, {"MLmodel": MLMODEL_XGB, "model.ubj": b"{\"v\": 1}",
                                           "requirements.txt": b"xgboost\n"})
    assert server.post(f"{base}/registered-models/create", json={"name": "m2"}).status_code == 200

    def create():
        return server.post(f"{base}/model-versions/create", json={
            "name": "m2", "source": f"mlflow-artifacts:/{source}", "run_id": "r"})

    # Concurrent registrations get distinct, consecutive numbers.
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        created = list(pool.map(lambda _: create(), range(6)))
    assert all(c.status_code == 200 for c in created), [c.text for c in created]
    assert sorted(int(c.json()["model_version"]["version"]) for c in created) == list(range(1, 7))
    uri = server.get(f"{base}/model-versions/get-download-uri",
                     params={"name": "m2", "version": "1"}).json()["artifact_uri"]
    assert uri == "mlflow-artifacts:/_registry/m2/1"
    # Rewriting the source does not change what the version downloads.
    upload_model(server, project, source, {"model.ubj": b"{\"v\": 2}"})
    frozen = server.get(f"{artifacts(project)}/_registry/m2/1/model.ubj")
    assert frozen.status_code == 200 and frozen.content == b"{\"v\": 1}"
    listed = server.get(artifacts(project), params={"path": "_registry/m2/1"}).json()["files"]
    assert [f["path"] for f in listed] == ["MLmodel", "model.ubj", "requirements.txt"]
    found = server.get(f"{base}/model-versions/search", params={"filter": "run_id = 'r'"})
    assert len(found.json()["model_versions"]) == 6
    assert server.post(f"{base}/registered-models/alias",
                       json={"name": "m2", "alias": "a", "version": "3"}).status_code == 200
    # Deleting a version drops its alias and its frozen files.
    assert server.delete(f"{base}/model-versions/delete",
                         json={"name": "m2", "version": "3"}).status_code == 200
    mlflow_error(server.get(f"{base}/registered-models/alias", params={"name": "m2", "alias": "a"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    mlflow_error(server.get(f"{artifacts(project)}/_registry/m2/3/MLmodel"), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    # Deleting the model deletes the rest; the name then starts again from version 1.
    assert server.delete(f"{base}/registered-models/delete", json={"name": "m2"}).status_code == 200
    mlflow_error(server.get(f"{base}/registered-models/get", params={"name": "m2"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert server.get(artifacts(project), params={"path": "_registry"}).json()["files"] == []
    assert server.post(f"{base}/registered-models/create", json={"name": "m2"}).status_code == 200
    assert create().json()["model_version"]["version"] == "1"
