"""The `falaj endpoints` client commands against a real server: an endpoint is created with a
traffic split given as MODEL:VERSION=WEIGHT and MODEL@ALIAS, read, listed, updated, its status
shows each target ready after a request, bad targets are refused before anything is sent, and
traffic, promote and rollback show and move an endpoint's traffic."""

from __future__ import annotations

import json

from conftest import cli
from serving_helpers import linear_artifact, register_version, tensor


def run(server, home, *args):
    return cli(args, home, {"FALAJ_URL": server.url, "FALAJ_KEY": server.key})


def run_json(server, home, *args):
    result = run(server, home, *args, "-o", "json")
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout)


def test_endpoint_lifecycle_through_the_cli(server, home):
    assert server.post("/api/v1/projects",
                       json={"name": "clip", "region": "uae-north"}).status_code == 201
    register_version(server, "clip", "m", linear_artifact([1.0, -1.0], 0.0), "linear")
    register_version(server, "clip", "m", linear_artifact([0.5, 0.5], 0.0), "linear")
    assert server.request("PUT", "/api/v1/projects/clip/models/m/aliases/champion",
                          json={"version": 2}).status_code == 200

    created = run_json(server, home, "endpoints", "create", "clip", "web", "--target", "m:1=90",
                       "--target", "m@champion=10", "--max-batch-size", "8",
                       "--idle-unload-seconds", "600")
    assert created["targets"] == [{"name": "m:v1", "model": "m", "version": 1, "weight": 90},
                                  {"name": "m@champion", "model": "m", "alias": "champion",
                                   "weight": 10}]
    assert created["batching"]["max_batch_size"] == 8 and created["idle_unload_seconds"] == 600
    assert run_json(server, home, "endpoints", "get", "clip", "web")["name"] == "web"
    assert [e["name"] for e in run_json(server, home, "endpoints", "list", "clip")] == ["web"]

    assert server.post("/v2/models/clip.web/versions/2/infer",
                       json=tensor([[1.0, 2.0]])).status_code == 200
    status = run_json(server, home, "endpoints", "status", "clip", "web")
    # Creating the endpoint started loading both targets; the pinned request made sure of 2.
    assert [row["version"] for row in status] == [1, 2]
    assert status[0]["state"] in ("loading", "ready") and status[1]["state"] == "ready"
    assert status[1]["runtime"] == "linear"

    updated = run_json(server, home, "endpoints", "update", "clip", "web", "--target", "m:2",
                       "--runtime", "linear")
    assert updated["targets"] == [{"name": "m:v2", "model": "m", "version": 2, "weight": 1}]
    assert updated["runtime"] == "linear"
    deleted = run(server, home, "endpoints", "delete", "clip", "web")
    assert deleted.returncode == 0 and "deleted endpoint web" in deleted.stdout
    assert run(server, home, "endpoints", "get", "clip", "web").returncode == 1


def test_bad_targets_and_options_are_refused_before_sending(server, home):
    for target in ("m", "m:one", "m:1=heavy", ":1", "@live", "=m:1", "arm=m"):
        result = run(server, home, "endpoints", "create", "clip", "x", "--target", target)
        assert result.returncode == 2, (target, result.stdout, result.stderr)
        assert "MODEL:VERSION or [ARM=]MODEL@ALIAS" in result.stderr
    result = run(server, home, "endpoints", "create", "clip", "x", "--target", "m:1",
                 "--runtime", "onnx")
    assert result.returncode == 2


def test_traffic_promote_and_rollback_through_the_cli(server, home):
    assert server.post("/api/v1/projects",
                       json={"name": "clit", "region": "uae-north"}).status_code == 201
    register_version(server, "clit", "m", linear_artifact([1.0, -1.0], 0.0), "linear")
    register_version(server, "clit", "m", linear_artifact([0.5, 0.5], 0.0), "linear")
    policy = {"assignment": {"unit_key": "user_id"},
              "canary": {"arm": "new", "baseline": "old", "steps": [10, 100],
                         "step_seconds": 3600}}
    created = run_json(server, home, "endpoints", "create", "clit", "ab", "--target", "old=m:1",
                       "--target", "new=m:2=0", "--traffic", json.dumps(policy))
    assert [t["name"] for t in created["targets"]] == ["old", "new"]
    assert created["traffic"]["assignment"] == {"unit_key": "user_id", "required": False}
    view = run_json(server, home, "endpoints", "traffic", "clit", "ab")
    assert {a["arm"]: a["weight"] for a in view["arms"]} == {"old": 9000, "new": 1000}
    assert view["policy"]["canary_state"]["status"] == "ramping"
    table = run(server, home, "endpoints", "traffic", "clit", "ab")
    assert table.returncode == 0 and "SHADOW_REQUESTS" in table.stdout
    rolled = run_json(server, home, "endpoints", "rollback", "clit", "ab")
    assert rolled["policy"]["canary_state"]["status"] == "rolled_back"
    promoted = run_json(server, home, "endpoints", "promote", "clit", "ab", "new")
    assert {a["arm"]: a["weight"] for a in promoted["arms"]} == {"old": 0, "new": 1}
    unknown = run(server, home, "endpoints", "promote", "clit", "ab", "ghost")
    assert unknown.returncode != 0 and "no arm 'ghost'" in unknown.stderr
    bad = run(server, home, "endpoints", "update", "clit", "ab", "--target", "m:1",
              "--traffic", "{not json")
    assert bad.returncode == 2 and "--traffic" in bad.stderr
