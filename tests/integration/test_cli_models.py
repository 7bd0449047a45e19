"""The `falaj models` client commands against a real server: a folder or a file is uploaded and
registered as a signed version, downloaded byte for byte, verified, given a status and aliases;
tampering, code-executing formats and a read-only key are refused. A small fake server stands in
only where the real one cannot misbehave: to check that the CLI itself refuses a wrong digest or
an unsafe file path."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import cli, unique_name

VERSION_FIELDS = {"model", "version", "format", "status", "files", "signature", "metrics", "tags",
                  "lineage", "aliases", "manifest_signature", "signing_key_id", "created_by",
                  "created_at"}
SIGNATURE = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 30]}],
             "outputs": [{"name": "score", "datatype": "FP32", "shape": [-1, 1]}]}


def run(server, home, *args, key=None):
    """Runs a client command against `server`, reached through FALAJ_URL and FALAJ_KEY (the
    bootstrap admin unless `key` is given)."""
    return cli(args, home, {"FALAJ_URL": server.url, "FALAJ_KEY": key or server.key})


def run_json(server, home, *args, key=None):
    result = run(server, home, *args, "-o", "json", key=key)
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout)


def new_project(server):
    name = unique_name("mdl")
    assert server.create_project(name, region="uae-north").status_code == 201
    return name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def binary(size: int) -> bytes:
    """Bytes of every value, starting with 0x00 (never a pickle's 0x80 header), then random."""
    return (bytes(range(256)) + os.urandom(size))[:size]


def make_model_folder(root: Path) -> dict:
    """A model folder with nested files and binary content; returns {artifact path: bytes}."""
    files = {
        "model.ubj": binary(3 << 20),
        "meta/features.csv": b"f1,f2,f3\n",
        "meta/deep/er/weights-1.bin": binary(70_000),
        "README.md": b"# fraud model\n\xc3\xa9\n",
        "zero-first.bin": b"\x00\xff\x00\r\n\x1a",
    }
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return files


def files_below(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def table_rows(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].split(), [line.split() for line in lines[1:]]


def register_file(server, home, project, model, tmp_path, content=b"\x00linear-model", *extra):
    path = tmp_path / f"{unique_name('m')}.json"
    path.write_bytes(content)
    return run_json(server, home, "models", "register", project, model, path,
                    "--format", "linear", *extra)


# ----- register and download -----------------------------------------------------------------

def test_register_folder_and_download_it_byte_for_byte(server, home, tmp_path):
    project = new_project(server)
    folder = tmp_path / "model"
    files = make_model_folder(folder)
    (tmp_path / "outside.txt").write_bytes(b"not part of the model")
    (folder / "leak.txt").symlink_to(tmp_path / "outside.txt")
    (folder / "loop").symlink_to(tmp_path, target_is_directory=True)
    signature = tmp_path / "signature.json"
    signature.write_text(json.dumps(SIGNATURE))

    result = run(server, home, "models", "register", project, "fraud", folder,
                 "--format", "xgboost", "--metric", "auc=0.93", "--metric", "loss=1e-3",
                 "--tag", "team=risk", "--tag", "note=a=b", "--run-id", "run-7",
                 "--signature", signature, "-o", "json")
    assert result.returncode == 0, result.stderr
    assert "skipped symbolic link" in result.stderr and "leak.txt" in result.stderr
    version = json.loads(result.stdout)
    assert set(version) == VERSION_FIELDS
    assert version["model"] == "fraud" and version["version"] == 1
    assert version["format"] == "xgboost" and version["status"] == "registered"
    assert {f["path"]: (f["sha256"], f["size"]) for f in version["files"]} == {
        path: (sha256(content), len(content)) for path, content in files.items()}
    assert version["metrics"] == {"auc": 0.93, "loss": 0.001}
    assert version["tags"] == {"team": "risk", "note": "a=b"}
    assert version["lineage"] == {"run_id": "run-7"}
    assert version["signature"] == SIGNATURE
    assert re.fullmatch(r"[0-9a-f]{128}", version["manifest_signature"])
    # The model was created on the way; what the CLI printed is what the server stored.
    assert server.get(f"/api/v1/projects/{project}/models/fraud").status_code == 200
    stored = server.get(f"/api/v1/projects/{project}/models/fraud/versions/1").json()
    assert stored == version

    out = tmp_path / "download" / "new"
    result = run(server, home, "models", "download", project, "fraud", "1", "--output", out)
    assert result.returncode == 0, result.stderr
    assert files_below(out) == files
    header, rows = table_rows(result.stdout)
    assert header == ["PATH", "SIZE", "SHA256"]
    assert {row[0]: row[2] for row in rows} == {p: sha256(c) for p, c in files.items()}

    # Again into the same folder, by alias: files are replaced, nothing else changes.
    (out / "model.ubj").write_bytes(b"stale")
    assert run(server, home, "models", "alias", "set", project, "fraud", "champion",
               "1").returncode == 0
    again = run(server, home, "models", "download", project, "fraud", "champion",
                "--output", out)
    assert again.returncode == 0, again.stderr
    assert files_below(out) == files


def test_register_a_single_file_twice(server, home, tmp_path):
    project = new_project(server)
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(binary(10_000))
    result = run(server, home, "models", "register", project, "scorer", model_file,
                 "--format", "onnx")
    assert result.returncode == 0, result.stderr
    header, rows = table_rows(result.stdout)
    assert header == ["VERSION", "FORMAT", "STATUS", "FILES", "ALIASES", "SIGNING_KEY_ID",
                      "CREATED_AT"]
    assert rows[0][:4] == ["1", "onnx", "registered", "1"]
    second = run_json(server, home, "models", "register", project, "scorer", model_file,
                      "--format", "onnx")
    assert second["version"] == 2
    assert [f["path"] for f in second["files"]] == ["model.onnx"]
    assert second["files"][0]["sha256"] == sha256(model_file.read_bytes())
    assert second["lineage"] == {} and second["metrics"] == {} and second["tags"] == {}

    out = tmp_path / "out"
    assert run(server, home, "models", "download", project, "scorer", "2",
               "--output", out).returncode == 0
    assert files_below(out) == {"model.onnx": model_file.read_bytes()}


# ----- models, versions, verify, status, aliases -----------------------------------------------

def test_model_create_list_get_delete(server, home, tmp_path):
    project = new_project(server)
    created = run_json(server, home, "models", "create", project, "churn",
                       "--description", "who leaves", "--tag", "team=growth")
    assert created["name"] == "churn" and created["description"] == "who leaves"
    assert created["tags"] == {"team": "growth"}
    assert server.get(f"/api/v1/projects/{project}/models/churn").json() == created
    assert run_json(server, home, "models", "get", project, "churn") == created
    listed = run_json(server, home, "models", "list", project)
    assert [m["name"] for m in listed] == ["churn"]
    header, _ = table_rows(run(server, home, "models", "list", project).stdout)
    assert header == ["NAME", "DESCRIPTION", "TAGS", "CREATED_BY", "CREATED_AT"]
    duplicate = run(server, home, "models", "create", project, "churn")
    assert duplicate.returncode == 1 and "409" in duplicate.stderr

    register_file(server, home, project, "churn", tmp_path)
    busy = run(server, home, "models", "delete", project, "churn")
    assert busy.returncode == 1 and "409" in busy.stderr
    run_json(server, home, "models", "create", project, "empty")
    deleted = run(server, home, "models", "delete", project, "empty")
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted model empty" in deleted.stdout
    assert server.get(f"/api/v1/projects/{project}/models/empty").status_code == 404


def test_versions_verify_status_and_aliases(server, home, tmp_path):
    project = new_project(server)
    for content in (b"\x00one", b"\x00two", b"\x00three"):
        register_file(server, home, project, "fraud", tmp_path, content)
    versions = run_json(server, home, "models", "versions", project, "fraud")
    assert [v["version"] for v in versions] == [1, 2, 3]
    table = run(server, home, "models", "versions", project, "fraud")
    header, rows = table_rows(table.stdout)
    assert header[:4] == ["VERSION", "FORMAT", "STATUS", "FILES"]
    assert [row[:4] for row in rows] == [[str(n), "linear", "registered", "1"] for n in (1, 2, 3)]

    assert run_json(server, home, "models", "version", project, "fraud", "2") == versions[1]
    verified = run(server, home, "models", "verify", project, "fraud", "2", "-o", "json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout) == {"ok": True, "version": 2, "reason": ""}

    status = run_json(server, home, "models", "status", project, "fraud", "1", "deprecated")
    assert status["status"] == "deprecated" and status["version"] == 1
    bad_status = run(server, home, "models", "status", project, "fraud", "1", "retired")
    assert bad_status.returncode == 1 and "400" in bad_status.stderr

    alias = run_json(server, home, "models", "alias", "set", project, "fraud", "champion", "2")
    assert alias == {"alias": "champion", "version": 2}
    assert run_json(server, home, "models", "alias", "get", project, "fraud",
                    "champion") == alias
    by_alias = run_json(server, home, "models", "version", project, "fraud", "champion")
    assert by_alias["version"] == 2 and by_alias["aliases"] == ["champion"]
    run_json(server, home, "models", "alias", "set", project, "fraud", "shadow", "2")
    _, rows = table_rows(run(server, home, "models", "version", project, "fraud", "2").stdout)
    assert rows[0][4] == "champion,shadow"
    assert run(server, home, "models", "verify", project, "fraud", "champion").returncode == 0
    # Moving the alias is atomic and visible at once.
    run_json(server, home, "models", "alias", "set", project, "fraud", "champion", "3")
    assert run_json(server, home, "models", "version", project, "fraud",
                    "champion")["version"] == 3
    deleted = run(server, home, "models", "alias", "delete", project, "fraud", "champion")
    assert deleted.returncode == 0 and "champion" in deleted.stdout
    gone = run(server, home, "models", "alias", "get", project, "fraud", "champion")
    assert gone.returncode == 1 and "404" in gone.stderr
    missing = run(server, home, "models", "alias", "set", project, "fraud", "champion", "9")
    assert missing.returncode == 1 and "404" in missing.stderr


def test_verify_and_download_fail_on_tampered_storage(make_server, home, tmp_path):
    # A server of its own: this test corrupts every blob on its disk.
    server = make_server("tamper").start()
    project = new_project(server)
    register_file(server, home, project, "fraud", tmp_path, b"\x00" + b"A" * 200_000)
    assert run(server, home, "models", "verify", project, "fraud", "1").returncode == 0
    for path in (server.data_dir / "blobs" / "sha256").rglob("*"):
        if path.is_file():
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))

    result = run(server, home, "models", "verify", project, "fraud", "1")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "does not verify" in result.stderr
    header, rows = table_rows(result.stdout)
    assert header == ["VERSION", "OK", "REASON"] and rows[0][:2] == ["1", "false"]
    as_json = run(server, home, "models", "verify", project, "fraud", "1", "-o", "json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["ok"] is False
    out = tmp_path / "tampered"
    download = run(server, home, "models", "download", project, "fraud", "1", "--output", out)
    assert download.returncode == 1 and "DATA_LOSS" in download.stderr
    assert files_below(out) == {}


# ----- refusals --------------------------------------------------------------------------------

def test_code_executing_formats_are_refused(server, home, tmp_path):
    project = new_project(server)
    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(b"\x00not really a pickle")
    result = run(server, home, "models", "register", project, "fraud", model_file,
                 "--format", "pickle")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "executes code" in result.stderr and result.stdout == ""
    # A pickle under an innocent format is caught by its content.
    model_file.write_bytes(b"\x80\x04\x95\x12\x00\x00\x00\x00\x00\x00\x00}\x94.")
    sniffed = run(server, home, "models", "register", project, "fraud", model_file,
                  "--format", "xgboost")
    assert sniffed.returncode == 1 and "pickle" in sniffed.stderr
    assert run_json(server, home, "models", "versions", project, "fraud") == []


def test_a_viewer_key_reads_but_cannot_register(server, home, tmp_path):
    project = new_project(server)
    register_file(server, home, project, "fraud", tmp_path)
    created = server.post(f"/api/v1/projects/{project}/api-keys",
                          json={"name": "reader", "role": "viewer"})
    assert created.status_code == 201, created.text
    viewer = created.json()["key"]
    model_file = tmp_path / "model.json"
    model_file.write_bytes(b"\x00weights")
    for model in ("fraud", "new-model"):  # an existing model, and one it would have to create
        result = run(server, home, "models", "register", project, model, model_file,
                     "--format", "linear", key=viewer)
        assert result.returncode == 1, (model, result.stdout, result.stderr)
        assert "403" in result.stderr and result.stdout == ""
    assert [v["version"] for v in run_json(server, home, "models", "versions", project,
                                           "fraud", key=viewer)] == [1]
    assert server.get(f"/api/v1/projects/{project}/models/new-model").status_code == 404
    denied = run(server, home, "models", "alias", "set", project, "fraud", "champion", "1",
                 key=viewer)
    assert denied.returncode == 1 and "403" in denied.stderr


def test_server_refusals_exit_1(server, home, tmp_path):
    project = new_project(server)
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"\x00m")
    cases = [
        (["models", "register", "no-such-project-xyz", "m", model_file, "--format", "linear"],
         "404"),
        (["models", "register", project, "m", model_file, "--format", "caffe"], "400"),
        (["models", "register", project, "bad name", model_file, "--format", "linear"], "400"),
        (["models", "get", project, "absent"], "404"),
        (["models", "version", project, "absent", "1"], "404"),
        (["models", "download", project, "absent", "1", "--output", tmp_path / "o"], "404"),
    ]
    for args, status in cases:
        result = run(server, home, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("falaj: ") and status in result.stderr, result.stderr
        assert result.stdout == ""


# ----- usage errors --------------------------------------------------------------------------

@pytest.mark.parametrize("args, hint", [
    (["models"], "subcommand"),
    (["models", "create", "p"], "name"),
    (["models", "create", "p", "m", "--tag", "novalue"], "key=value"),
    (["models", "register", "p", "m", "{file}"], "--format"),
    (["models", "register", "p", "m", "--format", "onnx"], "path"),
    (["models", "register", "p", "m", "{absent}", "--format", "onnx"], "neither"),
    (["models", "register", "p", "m", "{empty_dir}", "--format", "onnx"], "no file"),
    (["models", "register", "p", "m", "{empty_file}", "--format", "onnx"], "empty"),
    (["models", "register", "p", "m", "{spaced}", "--format", "onnx"], "artifact path"),
    (["models", "register", "p", "m", "{file}", "--format", "onnx", "--metric", "auc=high"],
     "number"),
    (["models", "register", "p", "m", "{file}", "--format", "onnx", "--metric", "auc"],
     "key=value"),
    (["models", "register", "p", "m", "{file}", "--format", "onnx", "--tag", "x"], "key=value"),
    (["models", "register", "p", "m", "{file}", "--format", "onnx", "--signature", "{file}"],
     "JSON object"),
    (["models", "versions", "p"], "name"),
    (["models", "version", "p", "m"], "version"),
    (["models", "verify", "p", "m"], "version"),
    (["models", "status", "p", "m", "1"], "status"),
    (["models", "download", "p", "m", "1"], "--output"),
    (["models", "download", "p", "m", "1", "--output", "d", "-o", "json"], "-o"),
    (["models", "alias"], "subcommand"),
    (["models", "alias", "set", "p", "m", "champion"], "version"),
    (["models", "alias", "set", "p", "m", "champion", "two"], "version"),
    (["models", "alias", "set", "p", "m", "champion", "0"], "version"),
    (["models", "alias", "get", "p", "m"], "alias"),
    (["models", "list", "p", "-o", "xml"], "output"),
    (["models", "frobnicate"], "subcommand"),
])
def test_usage_errors_exit_2(home, tmp_path, args, hint):
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "empty-file").write_bytes(b"")
    (tmp_path / "spaced").mkdir()
    (tmp_path / "spaced" / "my model.bin").write_bytes(b"x")
    (tmp_path / "file.bin").write_bytes(b"\x00model")
    places = {"{file}": tmp_path / "file.bin", "{absent}": tmp_path / "absent",
              "{empty_dir}": tmp_path / "empty-dir", "{empty_file}": tmp_path / "empty-file",
              "{spaced}": tmp_path / "spaced"}
    # Nothing listens here: every one of these must be refused before anything is sent.
    result = cli([places.get(a, a) for a in args], home, {"FALAJ_URL": "http://127.0.0.1:1"})
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert hint in result.stderr, result.stderr
    assert result.stdout == ""


def test_too_many_files_are_refused_before_any_upload(home, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1001):
        (folder / f"f{i}").write_bytes(b"x")
    result = cli(["models", "register", "p", "m", folder, "--format", "linear"], home,
                 {"FALAJ_URL": "http://127.0.0.1:1"})
    assert result.returncode == 2 and "more than 1000 files" in result.stderr


@pytest.mark.parametrize("command", [
    ["models"], ["models", "create"], ["models", "list"], ["models", "get"], ["models", "delete"],
    ["models", "register"], ["models", "versions"], ["models", "version"], ["models", "verify"],
    ["models", "status"], ["models", "download"], ["models", "alias"],
    ["models", "alias", "set"], ["models", "alias", "get"], ["models", "alias", "delete"],
])
def test_every_command_has_help(home, command):
    result = cli([*command, "--help"], home)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_help_documents_the_memory_limit(home):
    for command in ("register", "download"):
        result = cli(["models", command, "--help"], home)
        assert "body_limit_bytes" in result.stdout, result.stdout


def test_unreachable_server_exits_2(home, tmp_path):
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"\x00m")
    for args in (["models", "list", "p"],
                 ["models", "register", "p", "m", model_file, "--format", "linear"]):
        result = cli([*args, "--url", "http://127.0.0.1:1", "--key", "k"], home)
        assert result.returncode == 2 and result.stderr.startswith("falaj: "), result.stderr


# ----- the CLI's own checks, against a server that lies ------------------------------------------

class LyingServer:
    """Answers a fixed set of routes; records every request. Stands in for a compromised or
    broken server, which the real one cannot be made into."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.requests: list = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests.append((self.command, self.path,
                                       self.headers.get("Content-Type"), body))
                status, content = owner.routes.get((self.command, self.path),
                                                   (404, {"error": {"code": "NOT_FOUND",
                                                                    "message": "no route"}}))
                data = content if isinstance(content, bytes) else json.dumps(content).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


BASE = "/api/v1/projects/p/models/m"


def version_answer(number, files):
    return (200, {"model": "m", "version": number, "format": "linear", "files": [
        {"path": path, "sha256": digest, "size": 4} for path, digest in files]})


def test_download_refuses_a_file_whose_digest_differs(home, tmp_path):
    routes = {
        ("GET", f"{BASE}/versions/champion"): version_answer(
            1, [("a/good.bin", sha256(b"good")), ("bad.bin", sha256(b"good"))]),
        ("GET", f"{BASE}/versions/1/files/a%2Fgood.bin"): (200, b"good"),
        ("GET", f"{BASE}/versions/1/files/bad.bin"): (200, b"evil"),
    }
    out = tmp_path / "out"
    with LyingServer(routes) as fake:
        result = cli(["models", "download", "p", "m", "champion", "--output", out, "--url",
                      fake.url, "--key", "k"], home)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "bad.bin" in result.stderr and "SHA-256" in result.stderr
    assert files_below(out) == {"a/good.bin": b"good"}, "the bad file is not written"
    # The alias was resolved once: files were fetched from version 1 by number.
    assert all("/versions/1/" in path for _, path, _, _ in fake.requests[1:])


@pytest.mark.parametrize("path", ["../escape.bin", "/tmp/abs.bin", "a/../../escape.bin", ".."])
def test_download_refuses_unsafe_paths_before_writing_anything(home, tmp_path, path):
    routes = {("GET", f"{BASE}/versions/1"): version_answer(
        1, [("fine.bin", sha256(b"fine")), (path, sha256(b"evil"))])}
    out = tmp_path / "nested" / "out"
    with LyingServer(routes) as fake:
        result = cli(["models", "download", "p", "m", "1", "--output", out, "--url", fake.url,
                      "--key", "k"], home)
        assert len(fake.requests) == 1, "no file was fetched"
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "not a safe relative path" in result.stderr
    assert not out.exists()
    assert not (tmp_path / "nested" / "escape.bin").exists()


def test_register_stops_when_the_stored_digest_differs(home, tmp_path):
    routes = {
        ("GET", BASE): (200, {"name": "m"}),
        ("POST", "/api/v1/projects/p/artifacts"): (201, {"sha256": "0" * 64, "size": 6}),
    }
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"\x00model")
    with LyingServer(routes) as fake:
        result = cli(["models", "register", "p", "m", model_file, "--format", "linear", "--url",
                      fake.url, "--key", "k"], home)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "no version was registered" in result.stderr
    assert [(method, path) for method, path, _, _ in fake.requests] == [
        ("GET", BASE), ("POST", "/api/v1/projects/p/artifacts")]
    upload = fake.requests[1]
    assert upload[2] == "application/octet-stream" and upload[3] == b"\x00model"
