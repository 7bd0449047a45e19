"""The feedback (outcomes) API against a real server: outcomes join to logged predictions by
request id (and stay unjoined, but kept, when none is logged), a unit-key outcome is kept and
joined to the unit's latest prediction, bad batches are refused with the item and field named and
store nothing, duplicates and concurrent posts are never double counted, posts are audited, an
application's viewer key may post, and erasure removes an entity's outcomes."""

from __future__ import annotations

import concurrent.futures

import pytest

from conftest import assert_error_shape, unique_name
from prediction_log_helpers import infer, predictions, serve_endpoint, serve_logged, wait_logged


def outcomes_path(project: str, endpoint: str = "e") -> str:
    return f"/api/v1/projects/{project}/endpoints/{endpoint}/outcomes"


def post(server, project, items, **kwargs):
    return server.post(outcomes_path(project), json={"outcomes": items}, **kwargs)


def listed(server, project, **params) -> list:
    response = server.get(outcomes_path(project), params=dict(params, limit=1000))
    assert response.status_code == 200, response.text
    return response.json()["outcomes"]


@pytest.fixture(scope="module")
def project(server):
    name = unique_name("outcomes")
    serve_logged(server, name, 5)
    return name


def test_outcomes_join_by_request_id_and_unknown_ones_are_kept_unjoined(server, project):
    response = post(server, project, [
        {"request_id": "r-1", "metric": "conversion", "value": 1},
        {"request_id": "r-2", "metric": "revenue", "value": 12.5, "timestamp_ms": 1_700_000_000_000},
        {"request_id": "never-seen", "metric": "conversion", "value": 0},
    ])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["joined"]) == (3, 0, 2)
    assert [result["joined"] for result in body["results"]] == [True, True, False]
    logged = predictions(server, project, request_id="r-1")[0]
    stored = listed(server, project, request_id="r-1")
    assert len(stored) == 1 and stored[0]["joined"] and stored[0]["type"] == "conversion"
    assert stored[0]["model"] == "m" and stored[0]["version"] == 1
    assert stored[0]["prediction"] == pytest.approx(logged["outputs"][0])
    assert stored[0]["prediction_timestamp_ms"] == logged["timestamp_ms"]
    revenue = listed(server, project, metric="revenue")
    assert revenue[0]["value"] == 12.5 and revenue[0]["timestamp_ms"] == 1_700_000_000_000
    unjoined = listed(server, project, request_id="never-seen")[0]
    assert not unjoined["joined"] and unjoined["prediction"] == []


def test_unit_key_outcomes_are_kept_and_join_the_units_latest_prediction(server, project):
    response = post(server, project, [{"unit_key": "user-77", "metric": "label", "value": 1}])
    assert response.status_code == 200, response.text
    stored = listed(server, project, unit_key="user-77")
    assert len(stored) == 1 and stored[0]["type"] == "label"
    # The predictor records a unit key once A/B assignment passes it one; until then the unit
    # has no logged prediction and the outcome stays unjoined (the join itself is unit-tested).
    logged = predictions(server, project, unit_key="user-77")
    assert stored[0]["joined"] == bool(logged)


def test_duplicates_are_reported_not_counted_even_under_concurrent_posts(server, project):
    batch = [{"id": f"click-{i}", "request_id": "r-3", "metric": "clicks", "value": 1}
             for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(server, project, batch), range(8)))
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    assert sum(answer.json()["accepted"] for answer in answers) == 20
    assert sum(answer.json()["duplicates"] for answer in answers) == 7 * 20
    assert len(listed(server, project, metric="clicks")) == 20
    # Without a client id, the (request, metric) pair is the identity.
    first = post(server, project, [{"request_id": "r-4", "metric": "conversion", "value": 1}])
    again = post(server, project, [{"request_id": "r-4", "metric": "conversion", "value": 1}])
    assert first.json()["accepted"] == 1 and again.json()["duplicates"] == 1


@pytest.mark.parametrize("body, needle", [
    ({"outcomes": [{"request_id": "r-1", "metric": "m", "value": "1"}]}, "outcomes[0].value"),
    ({"outcomes": [{"request_id": "r-1", "value": 1}]}, "metric"),
    ({"outcomes": [{"request_id": "r-1", "unit_key": "u", "metric": "m", "value": 1}]},
     "outcomes[0].request_id"),
    ({"outcomes": [{"metric": "m", "value": 1}]}, "outcomes[0].request_id"),
    ({"outcomes": [{"request_id": "ok", "metric": "m", "value": 1},
                   {"request_id": "r-1", "metric": "conversion", "value": 3}]},
     "outcomes[1].value"),
    ({"outcomes": [{"request_id": "r-1", "metric": "m", "value": 1, "extra": True}]}, "extra"),
    ({"outcomes": [{"request_id": "r-1", "metric": "bad metric", "value": 1}]},
     "outcomes[0].metric"),
    ({"outcomes": [{"request_id": "r-1", "metric": "m" * 200, "value": 1}]}, "outcomes[0].metric"),
    ({"outcomes": [{"request_id": "x" * 300, "metric": "m", "value": 1}]},
     "outcomes[0].request_id"),
    ({"outcomes": [{"request_id": "a\u0000b", "metric": "m", "value": 1}]},
     "outcomes[0].request_id"),
    ({"outcomes": [{"unit_key": "line\nbreak", "metric": "m", "value": 1}]},
     "outcomes[0].unit_key"),
    ({"outcomes": [{"request_id": "r-1", "metric": "m", "value": 1, "type": "vibes"}]},
     "outcomes[0].type"),
    ({"outcomes": [{"request_id": "r-1", "metric": "m", "value": 1, "timestamp_ms": "now"}]},
     "timestamp_ms"),
    ({"outcomes": [{"request_id": "r-1", "metric": "m", "value": 1, "timestamp_ms": -5}]},
     "outcomes[0].timestamp"),
    ({"outcomes": ["r-1"]}, "outcomes[0]"),
    ({"outcomes": []}, "at least one"),
    ({"outcomes": {"request_id": "r-1"}}, "array"),
    ({"outcome": []}, "outcome"),
    ({"outcomes": [{"request_id": "r-1", "metric": "m", "value": 1}] * 1001}, "at most 1000"),
])
def test_bad_batches_name_the_item_and_field_and_store_nothing(server, project, body, needle):
    before = len(listed(server, project))
    error = assert_error_shape(server.post(outcomes_path(project), json=body), 400,
                               "INVALID_ARGUMENT")
    assert needle in error["message"], error
    assert len(listed(server, project)) == before


def test_an_unknown_endpoint_is_not_found_and_stores_nothing(server, project):
    response = server.post(outcomes_path(project, "no-such-endpoint"),
                           json={"outcomes": [{"request_id": "r-1", "metric": "m", "value": 1}]})
    assert_error_shape(response, 404, "NOT_FOUND")
    assert server.get(outcomes_path(project, "no-such-endpoint")).json()["outcomes"] == []


def test_malformed_json_and_hostile_but_valid_strings(server, project):
    garbage = server.post(outcomes_path(project), data=b'{"outcomes": [', 
                          headers={"Content-Type": "application/json"})
    assert_error_shape(garbage, 400, "INVALID_ARGUMENT")
    hostile = "'; DROP TABLE prediction_outcomes; -- <script>\u202e"
    response = post(server, project, [{"request_id": hostile, "metric": "m", "value": 1}])
    assert response.status_code == 200, response.text
    assert listed(server, project, request_id=hostile)[0]["request_id"] == hostile
    assert len(listed(server, project)) > 0  # the table is still there


def test_posting_is_audited_and_a_viewer_key_may_post_but_not_an_auditor(server, project):
    keys = {}
    for role in ("viewer", "auditor"):
        created = server.post(f"/api/v1/projects/{project}/api-keys",
                              json={"name": f"app-{role}", "role": role})
        assert created.status_code == 201, created.text
        keys[role] = created.json()["key"]
    allowed = post(server, project, [{"request_id": "r-0", "metric": "viewer_conv", "value": 1}],
                   auth=f"Bearer {keys['viewer']}")
    assert allowed.status_code == 200, allowed.text
    denied = post(server, project, [{"request_id": "r-0", "metric": "auditor_conv", "value": 1}],
                  auth=f"Bearer {keys['auditor']}")
    assert_error_shape(denied, 403, "PERMISSION_DENIED")
    records = server.get("/api/v1/audit", params={
        "resource_prefix": outcomes_path(project), "limit": 200}).json()["records"]
    outcomes = {r["request_id"]: r["outcome"] for r in records}
    assert outcomes.get(allowed.headers["X-Request-Id"]) == "allowed", records[:3]
    assert outcomes.get(denied.headers["X-Request-Id"]) == "denied"


def test_erasure_removes_the_entitys_outcomes_and_reports_the_prediction_log(server):
    project = unique_name("erase")
    serve_endpoint(server, project)
    infer(server, project, [[1.0, 1.0, 1.0]], "keep-me")
    wait_logged(server, project, 1)
    assert post(server, project, [
        {"unit_key": "cust-42", "metric": "conversion", "value": 1},
        {"unit_key": "cust-43", "metric": "conversion", "value": 0},
        {"request_id": "keep-me", "metric": "conversion", "value": 1},
    ]).status_code == 200
    erased = server.post(f"/api/v1/projects/{project}/erasures",
                         json={"entity": {"customer_id": "cust-42"}, "reason": "test"})
    assert erased.status_code == 200, erased.text
    report = erased.json()["prediction_logs"]
    assert report["outcomes_removed"] == 1
    assert report["records_removed"] == 0  # the logged prediction names no customer
    assert listed(server, project, unit_key="cust-42") == []
    assert len(listed(server, project, unit_key="cust-43")) == 1
    assert len(predictions(server, project, request_id="keep-me")) == 1
    stored = server.get(f"/api/v1/projects/{project}/erasures").json()["erasures"][-1]
    assert stored["prediction_logs"] == report
    assert "cust-42" not in erased.text
