"""The prediction log against a real server: predictions made through KServe v2 are read back
with their inputs, outputs and version; sampling 0 logs nothing and 1 everything; a full queue
drops and counts instead of slowing serving; a SIGKILL loses at most the unsynced tail and never
corrupts what was logged before; bad queries get clear errors; a project's logged predictions and
outcomes block its deletion until purged, and a project re-created under the name sees none."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time

import pytest

from conftest import assert_error_shape, metric_value, parse_metrics, unique_name, wait_until
from prediction_log_helpers import (COEFFICIENTS, infer, predictions, serve_endpoint,
                                    serve_logged, wait_logged)
from serving_helpers import logistic, tensor


def test_kserve_predictions_are_logged_with_equal_inputs_outputs_and_version(server):
    project = unique_name("plog")
    serve_endpoint(server, project)
    sent = {}
    for i in range(20):
        rows = [[float(i), 0.5 * i, -1.0], [1.0, 2.0, float(i)]]
        answer = infer(server, project, rows, f"req-{i}")
        sent[f"req-{i}"] = (rows, answer["outputs"][0]["data"])
    logged = wait_logged(server, project, 20)
    assert len(logged) == 20
    for item in logged:
        rows, outputs = sent[item["request_id"]]
        assert item["inputs"] == rows
        assert [value for row in item["outputs"] for value in row] == pytest.approx(outputs)
        assert item["outputs"][0][0] == pytest.approx(logistic(*COEFFICIENTS, rows[0]), rel=1e-6)
        assert item["version"] == 1 and item["model"] == "m"
        assert item["rows"] == 2 and item["latency_us"] > 0
    one = predictions(server, project, request_id="req-7")
    assert [item["request_id"] for item in one] == ["req-7"]
    # Paging returns each prediction exactly once, oldest first.
    path = f"/api/v1/projects/{project}/endpoints/e/predictions"
    first = server.get(path, params={"limit": 7}).json()
    second = server.get(path, params={"limit": 7, "page_token": first["next_page_token"]}).json()
    ids = [item["request_id"] for item in first["predictions"] + second["predictions"]]
    assert len(set(ids)) == 14
    stats = server.get(f"/api/v1/projects/{project}/endpoints/e/prediction-log").json()
    assert stats["indexed_records"] == 20 and stats["segments"] >= 1
    assert stats["written"] >= 20 and stats["segment_bytes"] > 0
    samples = parse_metrics(server.metrics_text())
    assert metric_value(samples, "falaj_prediction_log_written_total") >= 20


def test_segments_on_disk_are_encrypted(server):
    project = unique_name("plog")
    serve_endpoint(server, project)
    infer(server, project, [[123.5, 0.0, 0.0]], "secret-request-id")
    wait_logged(server, project, 1)
    directory = server.data_dir / "prediction_logs" / project / "e"
    content = b"".join(path.read_bytes() for path in directory.iterdir())
    assert content.startswith(b"FALAJPL1")
    assert b"secret-request-id" not in content


def test_sampling_zero_logs_nothing_and_one_logs_everything(make_server):
    server = make_server(env={"FALAJ_PREDICTION_LOG_SAMPLE_RATE": "1",
                              "FALAJ_PREDICTION_LOG_ENDPOINT_RATES": "sampled/quiet=0"}).start()
    serve_endpoint(server, "sampled", "loud")
    assert server.post("/api/v1/projects/sampled/endpoints",
                       json={"name": "quiet", "targets": [{"model": "m", "version": 1}]}
                       ).status_code == 201
    for i in range(30):
        infer(server, "sampled", [[1.0, 2.0, 3.0]], f"l-{i}", endpoint="loud")
        infer(server, "sampled", [[1.0, 2.0, 3.0]], f"q-{i}", endpoint="quiet")
    assert len(wait_logged(server, "sampled", 30, endpoint="loud")) == 30
    time.sleep(0.3)
    assert predictions(server, "sampled", "quiet") == []
    server.stop_and_check()

    off = make_server(env={"FALAJ_PREDICTION_LOG_SAMPLE_RATE": "0"}).start()
    serve_endpoint(off, "off")
    for i in range(30):
        infer(off, "off", [[1.0, 2.0, 3.0]], f"o-{i}")
    time.sleep(0.3)
    assert predictions(off, "off") == []
    assert off.get("/api/v1/projects/off/endpoints/e/prediction-log").json()["written"] == 0


def test_a_bad_sampling_rate_stops_the_server_with_the_key_named(make_server):
    server = make_server(env={"FALAJ_PREDICTION_LOG_SAMPLE_RATE": "1.5"})
    server.spawn()
    assert server.wait_exit() != 0
    assert "monitoring.prediction_log.sample_rate" in server.all_stderr()


def test_a_full_queue_drops_and_counts_without_failing_requests(make_server):
    # A queue of one that the writer looks at every 10 s: nearly everything is dropped.
    server = make_server(env={"FALAJ_PREDICTION_LOG_QUEUE_CAPACITY": "1",
                              "FALAJ_PREDICTION_LOG_FLUSH_INTERVAL_MS": "10000"}).start()
    serve_endpoint(server, "full")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: infer(server, "full", [[1.0, 1.0, 1.0]], f"f-{i}"), range(200)))
    stats = server.get("/api/v1/projects/full/endpoints/e/prediction-log").json()
    assert stats["dropped"] >= 190
    samples = parse_metrics(server.metrics_text())
    assert metric_value(samples, "falaj_prediction_log_dropped_total") == stats["dropped"]
    # Shutdown writes what was queued.
    server.stop_and_check()


def test_sigkill_loses_at_most_the_unsynced_tail_and_corrupts_nothing(make_server):
    server = make_server(env={"FALAJ_PREDICTION_LOG_FLUSH_INTERVAL_MS": "5"}).start()
    serve_endpoint(server, "crash")
    answered = {}
    stop = threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set():
            request_id = f"w{worker}-{i}"
            try:
                infer(server, "crash", [[float(i), 1.0, 2.0]], request_id)
            except Exception:  # the kill cuts requests in flight
                return
            answered[request_id] = time.monotonic()
            i += 1

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    os.kill(server.process.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    stop.set()
    for thread in threads:
        thread.join()
    server.process.wait()
    server.start()
    logged = predictions(server, "crash")
    ids = {item["request_id"] for item in logged}
    # Everything answered well before the kill (the writer syncs every few ms) is durable.
    settled = {request_id for request_id, at in answered.items() if at < killed_at - 0.5}
    assert settled and settled <= ids
    assert len(ids) == len(logged)  # no duplicates
    for item in logged:
        assert item["inputs"][0][1:] == [1.0, 2.0]
    # The log keeps working after the crash: new records go to a new segment.
    infer(server, "crash", [[9.0, 1.0, 2.0]], "after-restart")
    wait_until(lambda: predictions(server, "crash", request_id="after-restart"), 10)


def bad(response, needle):
    assert needle in assert_error_shape(response, 400, "INVALID_ARGUMENT")["message"]


def test_bad_queries_get_clear_errors(server):
    project = unique_name("plog")
    serve_endpoint(server, project)
    path = f"/api/v1/projects/{project}/endpoints/e/predictions"
    bad(server.get(path, params={"limit": 0}), "limit")
    bad(server.get(path, params={"limit": "x"}), "limit")
    bad(server.get(path, params={"since": "-1"}), "since")
    bad(server.get(path, params={"page_token": "garbage"}), "cursor")
    bad(server.get(path, params={"request_id": "a", "unit_key": "b"}), "not both")
    # Hostile filters are plain values.
    assert server.get(path, params={"request_id": "'; DROP TABLE x; --"}).json()[
        "predictions"] == []
    assert server.get(path, params={"since": str(2**62)}).json()["predictions"] == []


def purge_path(project: str, endpoint: str = "e") -> str:
    return f"/api/v1/projects/{project}/endpoints/{endpoint}/predictions"


def outcomes_of(server, project: str, endpoint: str = "e") -> list:
    response = server.get(f"/api/v1/projects/{project}/endpoints/{endpoint}/outcomes")
    assert response.status_code == 200, response.text
    return response.json()["outcomes"]


def test_a_project_is_deleted_only_after_its_log_is_purged_and_its_successor_sees_nothing(server):
    project = unique_name("purge")
    serve_logged(server, project, 3, "p")
    posted = server.post(f"/api/v1/projects/{project}/endpoints/e/outcomes", json={
        "outcomes": [{"request_id": "p-1", "metric": "conversion", "value": 1}]})
    assert posted.status_code == 200, posted.text
    # The normal order: the endpoint and model go first; the log outlives the endpoint.
    assert server.delete(f"/api/v1/projects/{project}/endpoints/e").status_code == 204
    assert server.delete(f"/api/v1/projects/{project}/models/m/versions/1").status_code == 204
    assert server.delete(f"/api/v1/projects/{project}/models/m").status_code == 204
    refused = assert_error_shape(server.delete(f"/api/v1/projects/{project}"), 409,
                                 "FAILED_PRECONDITION")
    assert "3 logged predictions" in refused["message"], refused
    assert "endpoints/{endpoint}/predictions" in refused["message"], refused

    purged = server.delete(purge_path(project))
    assert purged.status_code == 200, purged.text
    assert purged.json()["records"] == 3 and purged.json()["outcomes"] == 1
    assert purged.json()["segments"] >= 1
    records = server.get("/api/v1/audit", params={
        "resource_prefix": purge_path(project), "limit": 50}).json()["records"]
    assert any(r["request_id"] == purged.headers["X-Request-Id"] and r["outcome"] == "allowed"
               for r in records), records
    assert server.delete(f"/api/v1/projects/{project}").status_code == 204

    serve_endpoint(server, project)
    assert predictions(server, project) == []
    assert outcomes_of(server, project) == []
    stats = server.get(f"/api/v1/projects/{project}/endpoints/e/prediction-log").json()
    assert (stats["segments"], stats["indexed_records"]) == (0, 0), stats


def test_purge_answers_zeros_when_nothing_is_logged_and_404_for_an_unknown_project(server):
    project = unique_name("purge")
    assert server.create_project(project).status_code == 201
    empty = server.delete(purge_path(project, "never-served"))
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"segments": 0, "records": 0, "outcomes": 0}
    assert_error_shape(server.delete(purge_path(unique_name("missing"))), 404, "NOT_FOUND")
    bad(server.delete(purge_path(project, ".hidden")), "endpoint name")


def test_purging_while_predictions_are_served_neither_crashes_nor_corrupts(server):
    project = unique_name("purge")
    serve_endpoint(server, project)
    stop = threading.Event()

    def load(worker):
        sent = 0
        while not stop.is_set():
            infer(server, project, [[float(sent), 0.5, 1.0]], f"c-{worker}-{sent}")
            sent += 1
        return sent

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        senders = [pool.submit(load, worker) for worker in range(3)]
        purges = []
        for _ in range(5):
            time.sleep(0.1)
            purges.append(server.delete(purge_path(project)))
        stop.set()
        sent = sum(future.result() for future in senders)
    assert all(purge.status_code == 200 for purge in purges), [p.text for p in purges]
    assert sent > 0
    # What was logged after the last purge reads back whole, and is what the index counts (once
    # the writer has drained the queue).
    found = {}

    def settled():
        found["logged"] = predictions(server, project)
        stats = server.get(f"/api/v1/projects/{project}/endpoints/e/prediction-log").json()
        return len(found["logged"]) == stats["indexed_records"] and stats["queued"] == 0

    wait_until(settled, 10)
    logged = found["logged"]
    assert len(logged) <= sent
    assert all(len(item["inputs"]) == 1 and len(item["inputs"][0]) == 3 for item in logged)
    assert server.delete(purge_path(project)).status_code == 200
    assert predictions(server, project) == []


def test_predictions_of_a_model_called_directly_are_purged_as_endpoint_at_models(server):
    project = unique_name("purge")
    serve_endpoint(server, project)
    direct = server.post(f"/v2/models/{project}.m/versions/1/infer", json=tensor([[1.0, 2.0, 3.0]]))
    assert direct.status_code == 200, direct.text
    assert server.delete(f"/api/v1/projects/{project}/endpoints/e").status_code == 204
    assert server.delete(f"/api/v1/projects/{project}/models/m/versions/1").status_code == 204
    assert server.delete(f"/api/v1/projects/{project}/models/m").status_code == 204

    def drained():  # no REST read shows "@models"; the log's queue does
        stats = server.get(f"/api/v1/projects/{project}/endpoints/e/prediction-log").json()
        return stats["queued"] == 0

    wait_until(drained, 10)
    refused = assert_error_shape(server.delete(f"/api/v1/projects/{project}"), 409,
                                 "FAILED_PRECONDITION")
    assert "1 logged predictions" in refused["message"], refused
    purged = server.delete(purge_path(project, "@models"))
    assert purged.status_code == 200, purged.text
    assert purged.json()["records"] == 1
    assert server.delete(f"/api/v1/projects/{project}").status_code == 204
