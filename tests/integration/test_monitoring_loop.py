"""The whole loop on a real server: predictions through an endpoint with two sticky arms are
logged, a monitor's window profiles them against the training reference and flags the features
the traffic shifted, an A/B test counts each arm's units and conversions from the log and the
feedback API, and an alert rule fires on the window's drift share (docs/prediction-log.md,
docs/monitoring.md, docs/abtest.md, docs/alerts.md). Each count is checked against what the test
itself sent and the arm each answer named."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import wait_until
from monitor_helpers import FEATURES, monitor_server, setup_project, train_spec
from training_helpers import run_job

PROJECT = "loop"
API = f"/api/v1/projects/{PROJECT}"
UNITS = 240


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from monitor_server(tmp_path_factory.mktemp("loop"))


@pytest.fixture(scope="module")
def world(server):
    setup_project(server, PROJECT)
    assert run_job(server, PROJECT, "train", train_spec())["result"]["version"] == 2
    endpoint = {"name": "scoring",
                "targets": [{"name": "blue", "model": "credit", "version": 1, "weight": 1},
                            {"name": "green", "model": "credit", "version": 2, "weight": 1}],
                "traffic": {"assignment": {"unit_key": "user_id"}}}
    created = server.post(f"{API}/endpoints", json=endpoint)
    assert created.status_code == 201, created.text
    monitor = server.post(f"{API}/monitors", json={"name": "scoring", "endpoint": "scoring",
                                                   "window": "1h"})
    assert monitor.status_code == 201, monitor.text
    test = server.post(f"{API}/abtests", json={
        "name": "colour", "endpoint": "scoring", "control": "blue", "treatment": "green",
        "metrics": [{"name": "clicked", "kind": "conversion", "role": "primary"}],
        "minimum_detectable_effect": 0.1})
    assert test.status_code == 201, test.text
    rule = server.post(f"{API}/alerts/rules", json={
        "name": "scoring-drift", "value": "monitor.scoring.drift_share", "op": ">=",
        "threshold": 0.4, "for": "0s"})
    assert rule.status_code == 201, rule.text

    # Live traffic: f0 and f2 shifted by two standard deviations, the others as in training.
    random = np.random.default_rng(11)
    rows = random.normal(size=(UNITS, len(FEATURES))).astype(np.float32)
    rows[:, 0] += 2.0
    rows[:, 2] += 2.0
    served = []
    for i, row in enumerate(rows):
        body = {"id": f"req-{i}", "parameters": {"user_id": f"user-{i}"},
                "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, len(FEATURES)],
                            "data": row.tolist()}]}
        answer = server.post(f"/v2/models/{PROJECT}.scoring/infer", json=body)
        assert answer.status_code == 200, answer.text
        served.append((f"req-{i}", f"user-{i}", answer.headers["X-Falaj-Arm"]))
    return {"served": served}


def wait_logged(server) -> dict:
    """The log's stats once every prediction is durable (listeners have seen them then)."""
    def stats():
        body = server.get(f"{API}/endpoints/scoring/prediction-log").json()
        return body if body["written"] >= UNITS else None
    return wait_until(stats, 30, message="every prediction to be written")


def test_every_prediction_is_logged_with_its_arm_and_unit(server, world):
    stats = wait_logged(server)
    assert stats["written"] == UNITS and stats["dropped"] == 0
    request_id, unit, arm = world["served"][7]
    logged = server.get(f"{API}/endpoints/scoring/predictions",
                        params={"request_id": request_id}).json()["predictions"]
    assert len(logged) == 1
    assert logged[0]["arm"] == arm and logged[0]["unit_key"] == unit
    assert logged[0]["feature_names"] == FEATURES


def test_the_monitor_window_flags_the_features_the_traffic_shifted(server, world):
    wait_logged(server)
    closed = server.post(f"{API}/monitors/scoring/windows/close")
    assert closed.status_code in (200, 201), closed.text
    report = closed.json()
    assert report["kind"] == "window" and report["rows"] == UNITS
    assert sorted(report["drifted_features"]) == ["f0", "f2"]
    for feature in FEATURES:
        assert sum(report["features"][feature]["current"]["bin_counts"]) == UNITS
    assert report["prediction"] is not None

    fired = wait_until(lambda: [a for a in server.get(f"{API}/alerts").json()["alerts"]
                                if a["rule"] == "scoring-drift" and a["state"] == "firing"]
                       or None, 15, interval=0.1, message="the drift alert to fire")
    assert fired[0]["value"] == pytest.approx(report["drift_share"])
    gauges = server.get("/metrics").text
    assert f'falaj_monitor_drift_share{{project="{PROJECT}",monitor="scoring"}}' in gauges


def test_the_ab_test_counts_units_and_conversions_per_arm_from_the_log(server, world):
    wait_logged(server)
    served = world["served"]
    # Every third request converts; outcomes come by request id, a few twice (idempotent).
    outcomes = [{"request_id": request_id, "metric": "clicked", "value": 1 if i % 3 == 0 else 0}
                for i, (request_id, _, _) in enumerate(served)]
    for start in range(0, len(outcomes), 100):
        posted = server.post(f"{API}/endpoints/scoring/outcomes",
                             json={"outcomes": outcomes[start:start + 100]})
        assert posted.status_code == 200, posted.text
        assert posted.json()["joined"] == len(outcomes[start:start + 100])
    again = server.post(f"{API}/endpoints/scoring/outcomes", json={"outcomes": outcomes[:5]})
    assert again.status_code == 200 and again.json()["duplicates"] == 5

    expected_units = {"blue": 0, "green": 0}
    expected_conversions = {"blue": 0, "green": 0}
    for i, (_, _, arm) in enumerate(served):
        expected_units[arm] += 1
        expected_conversions[arm] += i % 3 == 0

    def counted():
        body = server.get(f"{API}/abtests/colour/results").json()
        arms = {a["arm"]: a for a in body["arms"]}
        metric = body["metrics"][0]
        if sum(a["units"] for a in arms.values()) < UNITS or metric["fixed_horizon"] is None:
            return None
        return body

    body = wait_until(counted, 30, interval=0.2, message="the A/B test to count every unit")
    assert {a["arm"]: a["units"] for a in body["arms"]} == expected_units
    assert {a["arm"]: a["requests"] for a in body["arms"]} == expected_units
    metric = body["metrics"][0]
    assert metric["control"]["conversions"] == expected_conversions["blue"]
    assert metric["treatment"]["conversions"] == expected_conversions["green"]
    assert metric["sequential"] is not None
    assert body["srm"]["p_value"] is not None
