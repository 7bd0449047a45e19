"""Monitors against a real server: a model trained by the built-in trainer has a training
reference profile; a monitor compares a shifted dataset (batch report) with it, and every score
is recomputed with scipy on the same bins (docs/monitoring.md)."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

from monitor_helpers import (FEATURES, binned, expected_scores, ingest_current, monitor_server,
                             setup_project)

PROJECT = "mon"
API = f"/api/v1/projects/{PROJECT}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from monitor_server(tmp_path_factory.mktemp("monitors"))


@pytest.fixture(scope="module")
def world(server):
    reference = setup_project(server, PROJECT)
    shifted = ingest_current(server, PROJECT, "shifted", {0: 1.0, 2: 1.0, 4: 1.5})
    same = ingest_current(server, PROJECT, "same", {}, seed=9)
    return {"reference": reference, "shifted": shifted, "same": same}


# JS on 22 bins between 1000 and 800 rows of one distribution is ~0.1 from sampling alone, so
# f4's threshold is 0.2 (a 1.5 sigma shift scores ~0.5).
def create_monitor(server, **body):
    spec = {"name": "credit", "model": "credit", "window": "1h",
            "statistics": {"f2": "psi", "f3": "wasserstein", "f4": {"statistic": "jensenshannon",
                                                                   "threshold": 0.2}}}
    spec.update(body)
    return server.post(f"{API}/monitors", json=spec)


def test_batch_report_flags_the_shifted_features_with_scipys_scores(server, world):
    created = create_monitor(server)
    assert created.status_code == 201, created.text
    monitor = created.json()
    assert monitor["reference_source"]["kind"] == "model_version"
    assert monitor["reference_source"]["version"] == 1
    assert monitor["window"] == "1h" and monitor["revision"] == 1

    answer = server.post(f"{API}/monitors/credit/reports", json={"dataset": "shifted"})
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["kind"] == "batch" and report["rows"] == 800
    assert report["dataset"] == {"dataset": "shifted", "version": 1}
    assert sorted(report["drifted_features"]) == ["f0", "f2", "f4"]
    assert report["drift_share"] == pytest.approx(3 / 5)
    assert report["dataset_drift"] is True
    # 1000 reference rows (the test split of 5000): Evidently's default for a numeric column
    # with more than 5 values at n_ref <= 1000 is KS.
    statistics = {name: report["features"][name]["statistic"] for name in FEATURES}
    assert statistics == {"f0": "ks", "f1": "ks", "f2": "psi", "f3": "wasserstein",
                          "f4": "jensenshannon"}
    for index, name in enumerate(FEATURES):
        feature = report["features"][name]
        ref, cur, mids = binned(world["reference"][:, index], world["shifted"][:, index])
        assert feature["reference"]["bin_counts"] == ref.tolist(), name
        assert feature["current"]["bin_counts"] == cur.tolist(), name
        assert feature["reference"]["stddev"] == pytest.approx(
            np.std(world["reference"][:, index]), rel=1e-9)
        expected = expected_scores(ref, cur, mids, feature["reference"]["stddev"])
        if feature["statistic"] == "ks":
            statistic, p_value = expected["ks"]
            assert feature["score"] == pytest.approx(statistic, rel=1e-9), name
            assert feature["p_value"] == pytest.approx(p_value, rel=1e-6, abs=1e-300), name
        else:
            assert feature["score"] == pytest.approx(expected[feature["statistic"]], rel=1e-9), name
        assert feature["current"]["missing_rate"] == 0
        assert set(feature["current"]["quantiles"]) == {"p1", "p5", "p25", "p50", "p75", "p95",
                                                        "p99"}


def test_same_distribution_is_not_drifted_and_reports_are_listed(server, world):
    answer = server.post(f"{API}/monitors/credit/reports", json={"dataset": "same"})
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["drifted_features"] == [] and report["dataset_drift"] is False
    listed = server.get(f"{API}/monitors/credit/reports").json()["reports"]
    assert [r["dataset"]["dataset"] for r in listed[:2]] == ["same", "shifted"]
    one = server.get(f"{API}/monitors/credit/reports/{listed[1]['id']}")
    assert one.status_code == 200 and one.json()["drift_share"] == pytest.approx(0.6)


def test_reports_are_published_as_prometheus_gauges(server, world):
    server.post(f"{API}/monitors/credit/reports", json={"dataset": "shifted"})
    text = server.metrics_text()
    assert f'falaj_monitor_drift_share{{project="{PROJECT}",monitor="credit"}} 0.6' in text
    assert f'falaj_monitor_drift_score{{project="{PROJECT}",monitor="credit",feature="f0"}}' in text
    assert f'falaj_monitor_missing_rate{{project="{PROJECT}",monitor="credit",feature="f1"}} 0' in text


def test_a_dataset_reference_and_closing_an_empty_window(server, world):
    created = server.post(f"{API}/monitors", json={"name": "by-dataset", "model": "credit",
                                                   "reference": {"dataset": "same"},
                                                   "features": ["f0", "f1"], "window": 30})
    assert created.status_code == 201, created.text
    assert created.json()["reference_source"] == {"kind": "dataset", "dataset": "same",
                                                  "version": 1}
    report = server.post(f"{API}/monitors/by-dataset/reports", json={"dataset": "shifted"}).json()
    assert sorted(report["features"]) == ["f0", "f1"]
    # 800 reference rows: Sturges' bins, ceil(log2 800) + 1 = 11.
    assert report["features"]["f0"]["bin_edges"]["bins"] == 11
    assert "f0" in report["drifted_features"] and "f1" not in report["drifted_features"]
    opened = server.get(f"{API}/monitors/by-dataset").json()["open_window"]
    assert opened["rows"] == 0 and opened["labels"] == 0 and opened["start"]
    closed = server.post(f"{API}/monitors/by-dataset/windows/close")
    assert closed.status_code == 201, closed.text
    assert closed.json()["kind"] == "window" and closed.json()["rows"] == 0
    assert "no observed value" in closed.json()["features"]["f0"]["error"]


def test_update_with_a_stale_revision_conflicts(server, world):
    created = create_monitor(server, name="editable")
    assert created.status_code == 201, created.text

    def update(share):
        return server.request("PATCH", f"{API}/monitors/editable",
                              json={"drift_share": share, "revision": 1})
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = sorted(r.status_code for r in pool.map(update, [0.2, 0.3, 0.4, 0.5]))
    assert codes == [200, 409, 409, 409], codes
    current = server.get(f"{API}/monitors/editable").json()
    assert current["revision"] == 2
    stale = server.request("PATCH", f"{API}/monitors/editable", json={"window": "5m",
                                                                      "revision": 1})
    assert stale.status_code == 409 and "revision" in stale.json()["error"]["message"]
    fresh = server.request("PATCH", f"{API}/monitors/editable", json={"window": "5m"})
    assert fresh.status_code == 200 and fresh.json()["window"] == "5m"
    assert server.request("DELETE", f"{API}/monitors/editable").status_code == 204
    assert server.get(f"{API}/monitors/editable").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "model": "credit", "colour": 1}, "colour"),
    ({"name": "x"}, "endpoint"),
    ({"name": "../etc", "model": "credit"}, "name"),
    ({"name": "x", "model": "credit", "window": "5x"}, "window"),
    ({"name": "x", "model": "credit", "window": 0}, "window"),
    ({"name": "x", "model": "credit", "features": ["nope"]}, "nope"),
    ({"name": "x", "model": "credit", "statistics": {"f0": "t-test"}}, "t-test"),
    ({"name": "x", "model": "credit", "drift_share": 2}, "drift_share"),
    ({"name": "x", "model": "credit", "reference": "base"}, "reference"),
])
def test_malformed_monitors_are_refused_naming_the_problem(server, world, body, field):
    answer = server.post(f"{API}/monitors", json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"]


def test_unknown_things_are_404_and_oversized_bodies_413(server, world):
    assert server.get(f"{API}/monitors/nope").status_code == 404
    assert server.post(f"{API}/monitors/nope/reports", json={"dataset": "same"}).status_code == 404
    assert server.post(f"{API}/monitors/nope/windows/close").status_code == 404
    missing_model = server.post(f"{API}/monitors", json={"name": "x", "model": "ghost"})
    assert missing_model.status_code == 404, missing_model.text
    missing_data = server.post(f"{API}/monitors/credit/reports", json={"dataset": "ghost"})
    assert missing_data.status_code == 404, missing_data.text
    huge = server.request("POST", f"{API}/monitors", data=b"{" + b" " * (3 << 20) + b"}",
                          headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    duplicate = create_monitor(server)
    assert duplicate.status_code == 409 and "already exists" in duplicate.text
