"""A/B tests against a real server: create a test on an endpoint with two targets, read its
(empty) results, list and delete it, decide it (promote and rollback move traffic and the alias;
stop freezes the test), concurrent decisions (exactly one wins), the decision history, the audit trail, and every kind of bad input."""

from __future__ import annotations

import concurrent.futures
import json

import pytest

from conftest import cli
from serving_helpers import linear_artifact, register_version

PROJECT = "abtesting"
BASE = f"/api/v1/projects/{PROJECT}/abtests"


def error_of(response) -> str:
    return response.json()["error"]["message"]


def definition(name: str, **overrides) -> dict:
    body = {"name": name, "endpoint": "scoring", "control": "blue", "treatment": "green",
            "metrics": [{"name": "clicked", "kind": "conversion", "role": "primary"},
                        {"name": "revenue", "kind": "numeric"},
                        {"name": "latency_ok", "kind": "conversion", "role": "guardrail",
                         "harm_threshold": 0.01}],
            "minimum_detectable_effect": 0.1, "promote_alias": "champion"}
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def served(server):
    assert server.post("/api/v1/projects",
                       json={"name": PROJECT, "region": "uae-north"}).status_code == 201
    assert register_version(server, PROJECT, "m", linear_artifact([0.5, -0.25], 0.1),
                            "linear") == 1
    assert register_version(server, PROJECT, "m", linear_artifact([-1.0, 0.75], -0.2),
                            "linear") == 2
    targets = [{"name": "blue", "model": "m", "version": 1, "weight": 1},
               {"name": "green", "model": "m", "version": 2, "weight": 1}]
    created = server.post(f"/api/v1/projects/{PROJECT}/endpoints",
                          json={"name": "scoring", "targets": targets})
    if created.status_code == 400:  # a server whose targets have no names yet
        for target in targets:
            target.pop("name")
        created = server.post(f"/api/v1/projects/{PROJECT}/endpoints",
                              json={"name": "scoring", "targets": targets})
    assert created.status_code == 201, created.text
    return server


def test_create_get_list_and_empty_results(served):
    created = served.post(BASE, json=definition("colours"))
    assert created.status_code == 201, created.text
    test = created.json()
    assert test["status"] == "running" and test["policy"] == "manual"
    assert test["control"] == "blue" and test["treatment"] == "green"
    assert test["alpha"] == 0.05 and test["power"] == 0.8
    assert test["metrics"][0] == {"name": "clicked", "kind": "conversion", "role": "primary",
                                  "higher_is_better": True}
    assert test["created_by"] and test["created_at"]
    assert served.get(f"{BASE}/colours").json()["id"] == test["id"]
    assert "colours" in [t["name"] for t in served.get(BASE).json()["abtests"]]
    again = served.post(BASE, json=definition("colours"))
    assert again.status_code == 409 and "already has an A/B test" in error_of(again)

    results = served.get(f"{BASE}/colours/results")
    assert results.status_code == 200, results.text
    body = results.json()
    assert [(a["arm"], a["role"], a["units"], a["requests"]) for a in body["arms"]] == [
        ("blue", "control", 0, 0), ("green", "treatment", 0, 0)]
    assert body["srm"]["p_value"] is None and body["srm"]["alert"] is False
    assert body["minimum_sample"]["units_per_arm"] is None
    assert "baseline" in body["minimum_sample"]["unavailable"]
    assert [m["name"] for m in body["metrics"]] == ["clicked", "revenue", "latency_ok"]
    for metric in body["metrics"]:
        assert metric["fixed_horizon"] is None and metric["sequential"] is None
        assert metric["unavailable"]
    assert body["metrics"][2]["harmed"] is False
    assert body["recommendation"]["action"] == "continue"
    assert body["policy"] == {"mode": "manual", "automatic_decision": None}


def test_stop_freezes_the_test_and_unknown_actions_are_refused(served):
    assert served.post(BASE, json=definition("decide-me")).status_code == 201
    bad = served.post(f"{BASE}/decide-me/decision", json={"action": "launch"})
    assert bad.status_code == 400 and "promote, rollback, stop" in error_of(bad)
    stopped = served.post(f"{BASE}/decide-me/decision",
                          json={"action": "stop", "reason": "budget spent"})
    assert stopped.status_code == 200, stopped.text
    decision = stopped.json()
    assert decision["action"] == "stop" and decision["reason"] == "budget spent"
    assert decision["automatic"] is False and decision["outcome"] == "applied"
    assert decision["statistics"]["recommendation"]["action"] == "continue"
    assert served.get(f"{BASE}/decide-me").json()["status"] == "stopped"
    again = served.post(f"{BASE}/decide-me/decision", json={"action": "stop"})
    assert again.status_code == 409 and "not running" in error_of(again)
    history = served.get(f"{BASE}/decide-me/decisions").json()["decisions"]
    assert [(d["seq"], d["action"], d["principal"]) for d in history] == [
        (1, "stop", decision["principal"])]
    records = served.get(f"/api/v1/projects/{PROJECT}/audit",
                         params={"resource_prefix": f"{BASE}/decide-me/decision"}).json()["records"]
    assert any(r["action"] == "abtests.write" and r["status"] == 200 for r in records), records


def test_decisions_move_traffic_and_the_alias(served):
    assert served.request("PUT", f"/api/v1/projects/{PROJECT}/models/m/aliases/champion",
                          json={"version": 1}).status_code == 200
    for endpoint in ("named", "named-too"):
        created = served.post(f"/api/v1/projects/{PROJECT}/endpoints", json={
            "name": endpoint,
            "targets": [{"name": "blue", "model": "m", "version": 1, "weight": 1},
                        {"name": "green", "model": "m", "version": 2, "weight": 1}]})
        assert created.status_code == 201, created.text

    def weights(endpoint):
        targets = served.get(f"/api/v1/projects/{PROJECT}/endpoints/{endpoint}").json()["targets"]
        return {t["name"]: t["weight"] for t in targets}

    assert served.post(BASE, json=definition("ship-it", endpoint="named")).status_code == 201
    promoted = served.post(f"{BASE}/ship-it/decision", json={"action": "promote"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["outcome"] == (
        "applied; alias 'champion' of model 'm' now points to version 2")
    assert weights("named")["blue"] == 0 and weights("named")["green"] > 0
    assert served.get(f"/api/v1/projects/{PROJECT}/models/m/aliases/champion").json()[
        "version"] == 2
    assert served.get(f"{BASE}/ship-it").json()["status"] == "promoted"

    assert served.post(BASE, json=definition("undo-it", endpoint="named-too")).status_code == 201
    rolled = served.post(f"{BASE}/undo-it/decision", json={"action": "rollback"})
    assert rolled.status_code == 200, rolled.text
    assert weights("named-too")["green"] == 0 and weights("named-too")["blue"] > 0
    assert served.get(f"{BASE}/undo-it").json()["status"] == "rolled_back"


def test_concurrent_decisions_let_exactly_one_win(served):
    assert served.post(BASE, json=definition("race")).status_code == 201
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(
            lambda i: served.post(f"{BASE}/race/decision",
                                  json={"action": "stop", "reason": f"caller {i}"}).status_code,
            range(8)))
    assert sorted(statuses) == [200] + [409] * 7, statuses
    assert len(served.get(f"{BASE}/race/decisions").json()["decisions"]) == 1


def test_delete_removes_the_test_and_its_history(served):
    assert served.post(BASE, json=definition("short-lived")).status_code == 201
    assert served.post(f"{BASE}/short-lived/decision", json={"action": "stop"}).status_code == 200
    assert served.request("DELETE", f"{BASE}/short-lived").status_code == 204
    assert served.get(f"{BASE}/short-lived").status_code == 404
    assert served.get(f"{BASE}/short-lived/decisions").status_code == 404
    assert served.get(f"{BASE}/short-lived/results").status_code == 404
    assert served.request("DELETE", f"{BASE}/short-lived").status_code == 404
    recreated = served.post(BASE, json=definition("short-lived"))
    assert recreated.status_code == 201 and recreated.json()["status"] == "running"


@pytest.mark.parametrize("overrides, message", [
    ({"name": None}, "'name'"),
    ({"endpoint": "nowhere"}, "nowhere"),
    ({"treatment": "blue"}, "must be different arms"),
    ({"metrics": []}, "1 to 20 metrics"),
    ({"metrics": "clicked"}, "'metrics' must be an array"),
    ({"metrics": [{"name": "clicked"}]}, "exactly one metric must have role 'primary'"),
    ({"metrics": [{"name": "a", "role": "primary"}, {"name": "b", "role": "primary"}]},
     "exactly one metric"),
    ({"metrics": [{"name": "a", "role": "primary"}, {"name": "a"}]}, "listed twice"),
    ({"metrics": [{"name": "a", "role": "primary", "kind": "ratio"}]}, "conversion, numeric"),
    ({"metrics": [{"name": "a", "role": "primary", "harm_threshold": 1}]},
     "guardrail metrics only"),
    ({"metrics": [{"name": "a", "role": "guardrail", "harm_threshold": -1},
                  {"name": "b", "role": "primary"}]}, "harm_threshold"),
    ({"metrics": [{"name": "a", "role": "primary", "weight": 2}]}, "weight"),
    ({"metrics": [{"name": f"m{i}", "role": "primary" if i == 0 else "secondary"}
                  for i in range(500)]}, "1 to 20 metrics"),
    ({"alpha": 0}, "'alpha'"),
    ({"alpha": "0.05"}, "'alpha' must be a number"),
    ({"power": 1.5}, "'power'"),
    ({"minimum_detectable_effect": -0.1}, "minimum_detectable_effect"),
    ({"sequential_tuning_units": 1}, "sequential_tuning_units"),
    ({"policy": "yolo"}, "manual, auto"),
    ({"colour": "red"}, "colour"),
    ({"status": "promoted"}, "status"),
    ({"description": "x" * 1_000_000}, "description"),
    ({"name": "../../etc/passwd"}, "test name"),
    ({"name": "a b"}, "test name"),
    ({"name": "<script>alert(1)</script>"}, "test name"),
    ({"name": "n" * 129}, "test name"),
    ({"control": "blue'; DROP TABLE abtests; --"}, "control"),
    ({"promote_alias": "cham pion"}, "promote_alias"),
])
def test_bad_definitions_are_refused_with_a_clear_message(served, overrides, message):
    body = definition("bad")
    for key, value in overrides.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = served.post(BASE, json=body)
    assert response.status_code in (400, 404), response.text
    assert message in error_of(response), response.text
    assert served.get(f"{BASE}/bad").status_code == 404


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"action": 3}', "{}",
                                  '{"action": "stop", "extra": 1}',
                                  '{"action": "stop", "reason": "' + "r" * 5000 + '"}'])
def test_malformed_decisions_are_refused(served, body):
    served.post(BASE, json=definition("steady"))
    response = served.request("POST", f"{BASE}/steady/decision", data=body,
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert error_of(response)
    assert served.get(f"{BASE}/steady").json()["status"] == "running"


def test_malformed_create_bodies_and_unknown_tests(served):
    for raw in ["", "{", "null", "[]", '"text"']:
        response = served.request("POST", BASE, data=raw,
                                  headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (raw, response.text)
    for path in ("", "/results", "/decisions"):
        missing = served.get(f"{BASE}/no-such-test{path}")
        assert missing.status_code == 404 and "no A/B test 'no-such-test'" in error_of(missing)
    assert served.post(f"{BASE}/no-such-test/decision",
                       json={"action": "stop"}).status_code == 404


def run_cli(server, home, *args):
    return cli(args, home, {"FALAJ_URL": server.url, "FALAJ_KEY": server.key})


def test_the_cli_creates_reads_decides_and_deletes(served, home):
    created = run_cli(served, home, "abtests", "create", PROJECT, "cli-test", "--endpoint",
                      "scoring", "--control", "blue", "--treatment", "green", "--metric",
                      "clicked:conversion:primary", "--metric",
                      "latency_ok:conversion:guardrail:0.02", "--metric", "revenue:numeric",
                      "--mde", "0.1", "--policy", "auto", "-o", "json")
    assert created.returncode == 0, created.stderr
    test = json.loads(created.stdout)
    assert test["policy"] == "auto" and test["minimum_detectable_effect"] == 0.1
    assert test["metrics"][1] == {"name": "latency_ok", "kind": "conversion", "role": "guardrail",
                                  "higher_is_better": True, "harm_threshold": 0.02}
    listed = run_cli(served, home, "abtests", "list", PROJECT)
    assert listed.returncode == 0 and "cli-test" in listed.stdout and "STATUS" in listed.stdout
    results = run_cli(served, home, "abtests", "results", PROJECT, "cli-test")
    assert results.returncode == 0, results.stderr
    assert "control blue: 0 units" in results.stdout
    assert "clicked (primary)" in results.stdout and "recommendation: continue" in results.stdout
    as_json = run_cli(served, home, "abtests", "results", PROJECT, "cli-test", "-o", "json")
    assert json.loads(as_json.stdout)["recommendation"]["action"] == "continue"

    stopped = run_cli(served, home, "abtests", "decide", PROJECT, "cli-test", "stop", "--reason",
                      "done")
    assert stopped.returncode == 0, stopped.stderr
    history = run_cli(served, home, "abtests", "decisions", PROJECT, "cli-test", "-o", "json")
    assert [d["action"] for d in json.loads(history.stdout)] == ["stop"]
    deleted = run_cli(served, home, "abtests", "delete", PROJECT, "cli-test")
    assert deleted.returncode == 0 and "deleted A/B test cli-test" in deleted.stdout
    assert run_cli(served, home, "abtests", "get", PROJECT, "cli-test").returncode == 1


def test_the_cli_refuses_bad_metrics_and_actions_before_sending(served, home):
    bad_metric = run_cli(served, home, "abtests", "create", PROJECT, "x", "--endpoint", "scoring",
                         "--control", "blue", "--treatment", "green", "--metric", "clicked")
    assert bad_metric.returncode == 2 and "NAME:KIND" in bad_metric.stderr
    bad_harm = run_cli(served, home, "abtests", "create", PROJECT, "x", "--endpoint", "scoring",
                       "--control", "blue", "--treatment", "green", "--metric",
                       "a:conversion:guardrail:lots")
    assert bad_harm.returncode == 2 and "not a number" in bad_harm.stderr
    bad_action = run_cli(served, home, "abtests", "decide", PROJECT, "x", "launch")
    assert bad_action.returncode == 2
    assert served.get(f"{BASE}/x").status_code == 404
