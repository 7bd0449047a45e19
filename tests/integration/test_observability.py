"""Metrics, logs and the served API contract."""

import json
import shutil
import subprocess

import pytest
import yaml

from conftest import OPENAPI_PATH, metric_value, parse_metrics, unique_name, wait_until

PROMTOOL = "/usr/bin/promtool"
REQUESTS_TOTAL = "falaj_http_requests_total"
DURATION = "falaj_http_request_duration_seconds"


def promtool_path():
    path = PROMTOOL if shutil.which(PROMTOOL) else shutil.which("promtool")
    # Missing tooling is a broken test environment, not a reason to skip.
    assert path, "promtool is required (expected at /usr/bin/promtool)"
    return path


def test_metrics_pass_promtool(server):
    # Make sure labelled series exist, including odd ones, before checking the exposition.
    server.get("/healthz", auth=False)
    server.get("/nope", auth=False)
    server.request("BREW", "/healthz", auth=False)
    server.get("/api/v1/projects", auth=False)
    text = server.metrics_text()
    result = subprocess.run([promtool_path(), "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=60)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    # promtool prints lint problems even when it exits 0 for some versions; there must be none.
    assert result.stdout.decode().strip() == "", result.stdout.decode()


def test_metrics_content_type(server):
    response = server.get("/metrics", auth=False)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "version=0.0.4" in response.headers["Content-Type"]


@pytest.mark.parametrize("method, path, route, code, auth", [
    ("GET", "/healthz", "/healthz", "200", False),
    ("GET", "/api/v1/projects", "/api/v1/projects", "200", True),
    ("GET", "/api/v1/projects", "/api/v1/projects", "401", False),
    ("GET", "/api/v1/projects/{name}", "/api/v1/projects/{project}", "404", True),
    ("DELETE", "/healthz", "unmatched", "405", False),
    ("GET", "/no/such/route", "unmatched", "404", False),
])
def test_requests_total_counts_a_request(server, method, path, route, code, auth):
    labels = {"route": route, "method": method, "code": code}
    before = metric_value(parse_metrics(server.metrics_text()), REQUESTS_TOTAL, **labels)
    response = server.request(method, path.replace("{name}", unique_name("m")), auth=auth)
    assert str(response.status_code) == code
    after = metric_value(parse_metrics(server.metrics_text()), REQUESTS_TOTAL, **labels)
    assert after == before + 1, (labels, before, after)


def test_create_is_counted_with_201(server):
    labels = {"route": "/api/v1/projects", "method": "POST", "code": "201"}
    before = metric_value(parse_metrics(server.metrics_text()), REQUESTS_TOTAL, **labels)
    for _ in range(3):
        assert server.create_project(unique_name("cnt")).status_code == 201
    after = metric_value(parse_metrics(server.metrics_text()), REQUESTS_TOTAL, **labels)
    assert after == before + 3


def test_hostile_methods_do_not_grow_label_cardinality(server):
    for verb in ("BREW", "XYZZY", "PROPFIND", "MKCOL"):
        server.request(verb, "/healthz", auth=False)
    samples = parse_metrics(server.metrics_text())
    methods = {dict(labels)["method"] for (name, labels) in samples if name == REQUESTS_TOTAL}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def test_request_duration_histogram(server):
    server.get("/healthz", auth=False)
    text = server.metrics_text()
    assert f"# TYPE {DURATION} histogram" in text
    samples = parse_metrics(text)
    buckets = sorted(
        ((float(dict(labels)["le"]), value) for (name, labels), value in samples.items()
         if name == f"{DURATION}_bucket" and dict(labels).get("route") == "/healthz"
         and dict(labels).get("method") == "GET"),
        key=lambda item: item[0])
    assert buckets, "no buckets for /healthz"
    assert buckets[-1][0] == float("inf")
    counts = [value for _, value in buckets]
    assert counts == sorted(counts), "buckets must be cumulative"
    count = metric_value(samples, f"{DURATION}_count", route="/healthz", method="GET")
    total = metric_value(samples, f"{DURATION}_sum", route="/healthz", method="GET")
    assert count >= 1 and counts[-1] == count
    assert total >= 0


def test_histogram_count_matches_counter(server):
    """Every answered request is both counted and timed."""
    for _ in range(3):
        server.get("/readyz", auth=False)
    samples = parse_metrics(server.metrics_text())
    counted = sum(value for (name, labels), value in samples.items()
                  if name == REQUESTS_TOTAL and dict(labels)["route"] == "/readyz")
    timed = metric_value(samples, f"{DURATION}_count", route="/readyz", method="GET")
    assert counted == timed >= 3


def test_process_metrics(server):
    samples = parse_metrics(server.metrics_text())
    rss = metric_value(samples, "process_resident_memory_bytes")
    assert rss > 1024 * 1024
    assert metric_value(samples, "process_open_fds") > 0
    start = metric_value(samples, "process_start_time_seconds")
    assert start > 1_500_000_000
    assert ("process_cpu_seconds_total", frozenset()) in samples


def test_log_lines_are_json_with_request_ids(server):
    sent = []
    for i in range(5):
        response = server.get("/healthz", auth=False)
        sent.append(response.headers["X-Request-Id"])
    response = server.get("/api/v1/projects", headers={"X-Request-Id": "obs-client-id-1"})
    assert response.headers["X-Request-Id"] == "obs-client-id-1"
    sent.append("obs-client-id-1")
    response = server.get(f"/api/v1/projects/{unique_name('missing')}")
    assert response.status_code == 404
    sent.append(response.headers["X-Request-Id"])
    assert response.json()["error"]["request_id"] == sent[-1]
    response = server.get("/api/v1/projects", auth=False)
    sent.append(response.headers["X-Request-Id"])

    def logged_ids():
        return {line["request_id"] for line in server.log_lines() if line.get("msg") == "request"}
    wait_until(lambda: set(sent) <= logged_ids(), 10, message="request log lines")

    raw = server.stderr()
    complete = raw[: raw.rfind("\n") + 1]
    for line in complete.splitlines():
        parsed = json.loads(line)  # every log line is JSON
        assert isinstance(parsed, dict)
        assert {"ts", "level", "msg"} <= set(parsed), parsed
        assert parsed["level"] in ("debug", "info", "warn", "error")
        if parsed["msg"] == "request":
            assert isinstance(parsed.get("request_id"), str) and parsed["request_id"], parsed
            assert {"method", "path", "status", "route"} <= set(parsed), parsed

    by_id = {line["request_id"]: line for line in server.log_lines() if line.get("msg") == "request"}
    assert by_id["obs-client-id-1"]["path"] == "/api/v1/projects"
    assert by_id["obs-client-id-1"]["status"] == 200
    assert by_id[sent[-1]]["status"] == 401
    assert by_id[sent[-2]]["status"] == 404


def test_log_never_contains_the_api_key(server):
    server.get("/api/v1/projects")
    server.get("/api/v1/projects", auth="Bearer leaked-secret-candidate-123456")
    wait_until(lambda: any(l.get("status") == 401 for l in server.log_lines()), 10,
               message="the 401 request line")
    text = server.stderr()
    assert server.key not in text
    assert "leaked-secret-candidate-123456" not in text


def test_openapi_is_served_byte_for_byte(server):
    response = server.get("/api/v1/openapi.yaml", auth=False)
    assert response.status_code == 200
    assert "yaml" in response.headers["Content-Type"]
    assert response.content == OPENAPI_PATH.read_bytes()
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/projects" in document["paths"]
    assert "/api/v1/projects/{project}" in document["paths"]


def test_openapi_lists_the_served_routes(server):
    """Every path in the contract is routed (not 404) by the server."""
    document = yaml.safe_load(OPENAPI_PATH.read_bytes())
    for path, operations in document["paths"].items():
        concrete = path.replace("{project}", unique_name("contract"))
        for method in operations:
            if method not in ("get", "post", "patch", "delete", "put"):
                continue
            response = server.request(method.upper(), concrete, auth=True,
                                      json={} if method in ("post", "patch", "put") else None)
            # The router answers 405 for a known path with another method, and 404 with
            # "no route" for an unknown path; a handler's own 404 (missing project) is fine.
            assert response.status_code != 405, (method, path, response.text)
            if response.status_code == 404:
                # KServe v2 routes answer in the protocol's shape, {"error": "<message>"}, and
                # MLflow routes in MLflow's, {"error_code": …, "message": "<message>"}.
                body = response.json()
                error = body["error"] if "error" in body else body
                message = error if isinstance(error, str) else error["message"]
                assert "no route" not in message, (method, path)
