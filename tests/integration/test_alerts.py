"""Alerts against a real server: a rule on a monitor's drift share goes pending, fires after its
`for` duration, notifies a local webhook receiver and an Alertmanager-format receiver, submits
one retraining job that completes, and resolves when the share drops (docs/alerts.md)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading

import pytest

from conftest import cli, wait_until
from monitor_helpers import ingest_current, monitor_server, setup_project, train_spec
from training_helpers import wait_finished

PROJECT = "alerting"
API = f"/api/v1/projects/{PROJECT}"


class Receiver:
    """A local HTTP server recording every POST (path, JSON body)."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from monitor_server(tmp_path_factory.mktemp("alerts"))


@pytest.fixture(scope="module")
def world(server):
    setup_project(server, PROJECT)
    ingest_current(server, PROJECT, "shifted", {0: 1.0, 2: 1.0, 4: 1.5})
    ingest_current(server, PROJECT, "same", {}, seed=9)
    created = server.post(f"{API}/monitors", json={"name": "credit", "model": "credit"})
    assert created.status_code == 201, created.text
    webhook, alertmanager = Receiver(), Receiver()
    yield {"webhook": webhook, "alertmanager": alertmanager}
    webhook.close()
    alertmanager.close()


def parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def alerts(server, rule):
    return [a for a in server.get(f"{API}/alerts").json()["alerts"] if a["rule"] == rule]


def test_drift_share_rule_fires_after_for_notifies_triggers_and_resolves(server, world):
    rule = {"name": "credit-drift", "value": "monitor.credit.drift_share", "op": ">=",
            "threshold": 0.5, "for": "2s", "severity": "critical", "labels": {"team": "risk"},
            "annotations": {"summary": "credit inputs drifted"},
            "webhook_url": world["webhook"].url + "/hook",
            "alertmanager_url": world["alertmanager"].url,
            "trigger": {"kind": "train", "spec": train_spec()}}
    created = server.post(f"{API}/alerts/rules", json=rule)
    assert created.status_code == 201, created.text
    assert created.json()["for"] == "2s" and created.json()["revision"] == 1

    report = server.post(f"{API}/monitors/credit/reports", json={"dataset": "shifted"}).json()
    assert report["drift_share"] == pytest.approx(0.6)
    pending = wait_until(lambda: alerts(server, "credit-drift") or None, 5, interval=0.1,
                         message="the alert to become pending")
    assert pending[0]["state"] == "pending" and pending[0]["value"] == pytest.approx(0.6)
    firing = wait_until(lambda: [a for a in alerts(server, "credit-drift")
                                 if a["state"] == "firing" and a["trigger_job"]] or None,
                        10, interval=0.1, message="the alert to fire")[0]
    held = parse_time(firing["fired_at"]) - parse_time(firing["active_since"])
    assert held >= dt.timedelta(seconds=2), held
    assert firing["series"] == "monitor.credit.drift_share"

    # The trigger's job: one per firing, and it trains a new version.
    job = wait_finished(server, PROJECT, firing["trigger_job"])
    assert job["status"] == "succeeded", job
    assert job["kind"] == "train" and job["created_by"] == "alert:credit-drift"
    assert job["result"]["model"] == "credit" and job["result"]["version"] == 2
    trains = server.get(f"{API}/jobs?kind=train").json()["jobs"]
    assert len(trains) == 2, trains  # the setup's training and this trigger's

    hooks = wait_until(lambda: world["webhook"].received or None, 10, message="the webhook")
    path, payload = hooks[0]
    assert path == "/hook"
    assert payload["state"] == "firing" and payload["rule"] == "credit-drift"
    assert payload["value"] == pytest.approx(0.6) and payload["threshold"] == 0.5
    assert payload["trigger_job"] == firing["trigger_job"]
    managed = wait_until(lambda: world["alertmanager"].received or None, 10,
                         message="the Alertmanager receiver")
    path, body = managed[0]
    assert path == "/api/v2/alerts"
    assert isinstance(body, list) and len(body) == 1
    alert = body[0]
    assert alert["labels"] == {"alertname": "credit-drift", "project": PROJECT, "team": "risk",
                               "series": "monitor.credit.drift_share", "severity": "critical"}
    assert alert["annotations"]["summary"] == "credit inputs drifted"
    assert float(alert["annotations"]["value"]) == pytest.approx(0.6)
    assert parse_time(alert["startsAt"]) == parse_time(firing["fired_at"])
    assert "endsAt" not in alert
    assert alert["generatorURL"].endswith(f"/api/v1/projects/{PROJECT}/alerts")

    # The share drops: the alert resolves and both receivers hear it.
    server.post(f"{API}/monitors/credit/reports", json={"dataset": "same"})
    resolved = wait_until(lambda: [a for a in alerts(server, "credit-drift")
                                   if a["state"] == "resolved"] or None, 5, interval=0.1,
                          message="the alert to resolve")[0]
    assert resolved["value"] == 0 and resolved["trigger_job"] == firing["trigger_job"]
    wait_until(lambda: len(world["alertmanager"].received) >= 2, 10, message="resolution")
    ended = world["alertmanager"].received[1][1][0]
    assert parse_time(ended["endsAt"]) == parse_time(resolved["resolved_at"])
    wait_until(lambda: len(world["webhook"].received) >= 2, 10, message="webhook resolution")
    assert world["webhook"].received[1][1]["state"] == "resolved"
    assert len(server.get(f"{API}/jobs?kind=train").json()["jobs"]) == 2


def test_a_prefix_rule_makes_one_alert_per_value(server, world):
    created = server.post(f"{API}/alerts/rules", json={
        "name": "complete", "value": "monitor.credit.missing_rate.*", "op": "<",
        "threshold": 1})
    assert created.status_code == 201, created.text
    firing = wait_until(lambda: [a for a in alerts(server, "complete")
                                 if a["state"] == "firing"] if len(alerts(server, "complete")) == 5
                        else None, 5, interval=0.1, message="five alerts")
    assert sorted(a["series"] for a in firing) == [
        f"monitor.credit.missing_rate.f{i}" for i in range(5)]
    only_firing = server.get(f"{API}/alerts?state=firing").json()["alerts"]
    assert {a["rule"] for a in only_firing} == {"complete"}
    assert server.request("DELETE", f"{API}/alerts/rules/complete").status_code == 204
    assert alerts(server, "complete") == []


def test_rule_replacement_checks_revision_and_name(server, world):
    body = {"name": "editable", "value": "monitor.credit.rows", "op": ">", "threshold": 10 ** 9}
    assert server.post(f"{API}/alerts/rules", json=body).status_code == 201
    replaced = server.request("PUT", f"{API}/alerts/rules/editable",
                              json={**body, "threshold": 5, "revision": 1})
    assert replaced.status_code == 200 and replaced.json()["revision"] == 2
    stale = server.request("PUT", f"{API}/alerts/rules/editable",
                           json={**body, "threshold": 6, "revision": 1})
    assert stale.status_code == 409 and "revision" in stale.text
    renamed = server.request("PUT", f"{API}/alerts/rules/editable", json={**body, "name": "other"})
    assert renamed.status_code == 400 and "differs" in renamed.text
    assert server.get(f"{API}/alerts/rules/editable").json()["threshold"] == 5
    listed = server.get(f"{API}/alerts/rules").json()["rules"]
    assert "editable" in [r["name"] for r in listed]


@pytest.mark.parametrize("change, field", [
    ({"op": "=>"}, "op"),
    ({"threshold": "high"}, "threshold"),
    ({"value": "monitor.*.x"}, "value"),
    ({"name": "../../etc"}, "name"),
    ({"for": "soon"}, "for"),
    ({"webhook_url": "http://169.254.169.254/latest"}, "loopback"),
    ({"alertmanager_url": "ftp://127.0.0.1/"}, "alertmanager_url"),
    ({"trigger": {"kind": "command", "spec": {}}}, "trigger.kind"),
    ({"labels": {"bad key": "x"}}, "labels"),
    ({"extra": 1}, "extra"),
])
def test_malformed_rules_are_refused_naming_the_problem(server, world, change, field):
    body = {"name": "bad", "value": "monitor.credit.drift_share", "op": ">", "threshold": 0.5}
    body.update(change)
    answer = server.post(f"{API}/alerts/rules", json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"]


def test_unknown_rules_and_bad_queries(server, world):
    assert server.get(f"{API}/alerts/rules/nope").status_code == 404
    assert server.request("DELETE", f"{API}/alerts/rules/nope").status_code == 404
    assert server.get(f"{API}/alerts?state=exploded").status_code == 400
    huge = server.request("POST", f"{API}/alerts/rules", data=b"[" + b" " * (3 << 20) + b"]",
                          headers={"Content-Type": "application/json"})
    assert huge.status_code == 413


def test_monitors_and_alerts_through_the_cli(server, world, home):
    env = {"FALAJ_URL": server.url, "FALAJ_KEY": server.key}
    spec = home / "monitor.yaml"
    spec.write_text("name: cli-monitor\nmodel: credit\nwindow: 10m\nfeatures: [f0, f1]\n")
    created = cli(["monitors", "create", PROJECT, "-f", spec], home, env)
    assert created.returncode == 0, created.stderr
    assert "cli-monitor" in created.stdout and "10m" in created.stdout
    listed = cli(["monitors", "list", PROJECT], home, env)
    assert listed.returncode == 0 and "cli-monitor" in listed.stdout
    report = cli(["monitors", "report", PROJECT, "cli-monitor", "--dataset", "shifted"], home, env)
    assert report.returncode == 0, report.stderr
    lines = {line.split()[0]: line for line in report.stdout.splitlines() if line.strip()}
    assert "ks" in lines["f0"] and "true" in lines["f0"]
    assert "false" in lines["f1"]
    latest = cli(["monitors", "report", PROJECT, "cli-monitor", "-o", "json"], home, env)
    assert json.loads(latest.stdout)["drifted_features"] == ["f0"]
    rule = home / "rule.yaml"
    rule.write_text("name: cli-rule\nvalue: monitor.cli-monitor.drift_share\nop: '>'\n"
                    "threshold: 0.9\nfor: 1m\n")
    made = cli(["alerts", "create-rule", PROJECT, "-f", rule], home, env)
    assert made.returncode == 0, made.stderr
    rules = cli(["alerts", "rules", PROJECT], home, env)
    assert "cli-rule" in rules.stdout and "1m" in rules.stdout
    current = cli(["alerts", "list", PROJECT, "--state", "firing", "-o", "json"], home, env)
    assert current.returncode == 0 and isinstance(json.loads(current.stdout), list)
    assert cli(["alerts", "delete-rule", PROJECT, "cli-rule"], home, env).returncode == 0
    missing = cli(["monitors", "get", PROJECT, "nope"], home, env)
    assert missing.returncode != 0 and "not found" in missing.stderr
    assert cli(["monitors", "delete", PROJECT, "cli-monitor"], home, env).returncode == 0
