"""`falaj experiments` and `falaj runs` against a real server: experiments are created, listed
and read; runs (logged through the MLflow-compatible API, as clients do) are listed with a filter
and an order across several pages, read, and compared as a table with the differing params
marked; JSON and YAML output and bad usage are checked too."""

from __future__ import annotations

import json

import yaml

from conftest import cli, unique_name


def run(server, home, *args):
    return cli(args, home, {"FALAJ_URL": server.url, "FALAJ_KEY": server.key})


def run_json(server, home, *args):
    result = run(server, home, *args, "-o", "json")
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout)


def log_run(server, project, experiment_id, name, depth, auc, start):
    base = f"/mlflow/projects/{project}/api/2.0/mlflow"
    created = server.post(f"{base}/runs/create", json={"experiment_id": experiment_id,
                                                       "run_name": name, "start_time": start})
    assert created.status_code == 200, created.text
    run_id = created.json()["run"]["info"]["run_id"]
    logged = server.post(f"{base}/runs/log-batch", json={
        "run_id": run_id, "params": [{"key": "depth", "value": depth}],
        "metrics": [{"key": "auc", "value": auc, "timestamp": start, "step": 0}]})
    assert logged.status_code == 200, logged.text
    return run_id


def test_experiments_and_runs_through_the_cli(server, home):
    project = unique_name("clt")
    assert server.post("/api/v1/projects", json={"name": project, "region": "uae-north"}).status_code == 201

    created = run_json(server, home, "experiments", "create", project, "churn", "--tag", "team=risk")
    assert created["name"] == "churn" and created["tags"] == {"team": "risk"}
    assert run_json(server, home, "experiments", "get", project, created["id"])["name"] == "churn"
    listed = run(server, home, "experiments", "list", project)
    assert listed.returncode == 0 and "churn" in listed.stdout and "NAME" in listed.stdout
    as_yaml = yaml.safe_load(run(server, home, "experiments", "list", project, "-o", "yaml").stdout)
    assert [e["name"] for e in as_yaml] == ["churn"]

    ids = {}
    # 1005 runs: `runs list` must follow the server's pages (1000 a page) to the end.
    for i in range(1005):
        depth = "6" if i % 2 == 0 else "4"
        ids[i] = log_run(server, project, created["id"], f"r{i}", depth, i / 1000,
                         1_700_000_000_000 + i)
    every = run_json(server, home, "runs", "list", project, "--experiment", "churn")
    assert len(every) == 1005
    # Default order: start time, newest first.
    assert [r["id"] for r in every[:2]] == [ids[1004], ids[1003]]

    best = run_json(server, home, "runs", "list", project, "--experiment", created["id"],
                    "--filter", "metrics.auc > 0.99 and params.depth = '6'",
                    "--order-by", "metrics.auc DESC")
    expected = [ids[i] for i in sorted((i for i in ids if i / 1000 > 0.99 and i % 2 == 0),
                                       reverse=True)]
    assert [r["id"] for r in best] == expected
    limited = run_json(server, home, "runs", "list", project, "--experiment", "churn",
                       "--order-by", "metrics.auc", "--limit", "3")
    assert [r["id"] for r in limited] == [ids[0], ids[1], ids[2]]
    table = run(server, home, "runs", "list", project, "--experiment", "churn", "--filter",
                "metrics.auc >= 1.004")
    assert table.returncode == 0 and "r1004" in table.stdout and "auc=1.004" in table.stdout

    got = run_json(server, home, "runs", "get", project, ids[4])
    assert got["params"] == {"depth": "6"} and got["metrics"]["auc"]["value"] == 0.004
    shown = run(server, home, "runs", "get", project, ids[4])
    assert shown.returncode == 0 and "depth=6" in shown.stdout and "auc=0.004" in shown.stdout

    compared = run(server, home, "runs", "compare", project, ids[4], ids[5])
    assert compared.returncode == 0, compared.stderr
    depth_line = next(line for line in compared.stdout.splitlines() if "params.depth" in line)
    assert depth_line.startswith("*") and "6" in depth_line and "4" in depth_line
    auc_line = next(line for line in compared.stdout.splitlines() if "metrics.auc" in line)
    assert auc_line.startswith("*") and "0.004" in auc_line and "0.005" in auc_line
    as_json = run_json(server, home, "runs", "compare", project, ids[4], ids[6])
    assert as_json["params"] == [{"key": "depth", "values": ["6", "6"], "differs": False}]
    same = run(server, home, "runs", "compare", project, ids[4], ids[6])
    same_depth = next(line for line in same.stdout.splitlines() if "params.depth" in line)
    assert not same_depth.startswith("*")


def test_bad_usage_and_refusals(server, home):
    project = unique_name("clt")
    assert server.post("/api/v1/projects", json={"name": project, "region": "uae-north"}).status_code == 201
    experiment = run_json(server, home, "experiments", "create", project, "e")["id"]
    # Refused by the server: exit code 1 with its message.
    bad_filter = run(server, home, "runs", "list", project, "--experiment", experiment,
                     "--filter", "metrics.auc > 'x'")
    assert bad_filter.returncode == 1 and "expected a number" in bad_filter.stderr
    missing = run(server, home, "runs", "list", project, "--experiment", "no-such-experiment")
    assert missing.returncode == 1 and "no-such-experiment" in missing.stderr
    assert run(server, home, "runs", "get", project, "f" * 32).returncode == 1
    assert run(server, home, "experiments", "get", project, "99").returncode == 1
    assert run(server, home, "runs", "compare", project, "f" * 32, "e" * 32).returncode == 1
    duplicate = run(server, home, "experiments", "create", project, "e")
    assert duplicate.returncode == 1
    # Bad usage: exit code 2 before anything is sent.
    assert run(server, home, "runs", "list", project).returncode == 2  # --experiment missing
    assert run(server, home, "runs", "compare", project, "f" * 32).returncode == 2  # one run
    assert run(server, home, "experiments", "create", project, "x", "--tag", "novalue").returncode == 2
    assert run(server, home, "runs", "list", project, "--experiment", experiment,
               "--view", "bogus").returncode == 2
