"""Retention per project and data class against a real server: a policy naming days per class,
a manual run (the same code as the background schedule) that purges expired dataset versions and
their encrypted files, keeps versions a registered model's lineage pins and says so, audits each
decision, and reports its last run; malformed policies are refused with a reason."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import assert_error_shape, unique_name
from serving_helpers import linear_artifact

CONTACTS = [{"name": "id", "type": "int64", "nullable": False},
            {"name": "email", "type": "string", "tags": ["pii"]}]
METRICS = [{"name": "id", "type": "int64", "nullable": False},
           {"name": "value", "type": "float64"}]


def push(server, project, source, rows):
    response = server.post(f"/api/v1/projects/{project}/sources/{source}/push", json={"rows": rows})
    assert response.status_code == 201, response.text


def versions(server, project, dataset) -> dict:
    listed = server.get(f"/api/v1/projects/{project}/datasets/{dataset}").json()["versions"]
    return {v["version"]: v for v in listed}


def blob_exists(server, project, digest) -> bool:
    with sqlite3.connect(f"file:{server.data_dir / 'falaj.db'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT COUNT(*) FROM encrypted_blobs WHERE project = ? AND "
                         "plaintext_digest = ?", (project, digest)).fetchone()
    return row[0] == 1


@pytest.fixture
def project(server):
    name = unique_name("ret")
    assert server.create_project(name, region="uae-north").status_code == 201
    for source, schema in (("contacts", CONTACTS), ("metrics", METRICS)):
        created = server.post(f"/api/v1/projects/{name}/sources",
                              json={"name": source, "kind": "file", "schema": schema})
        assert created.status_code == 201, created.text
    push(server, name, "contacts", [{"id": 1, "email": "a@bank.ae"}])
    push(server, name, "contacts", [{"id": 2, "email": "b@bank.ae"}])
    push(server, name, "metrics", [{"id": 1, "value": 0.5}])
    return name


def register_model_pinning(server, project, lineage):
    upload = server.post(f"/api/v1/projects/{project}/artifacts", data=linear_artifact([1.0], 0.0))
    assert server.post(f"/api/v1/projects/{project}/models", json={"name": "churn"}).status_code \
        == 201
    version = server.post(f"/api/v1/projects/{project}/models/churn/versions", json={
        "format": "linear", "lineage": lineage,
        "files": [{"path": "model.json", "sha256": upload.json()["sha256"]}]})
    assert version.status_code == 201, version.text


def test_expired_versions_are_purged_pinned_ones_kept_and_everything_audited(server, project):
    base = f"/api/v1/projects/{project}/retention"
    assert server.get(base).json() == {"policy": None, "last_run": None}
    before = versions(server, project, "contacts")
    # The model was trained on "contacts as of version 1": that version must stay reproducible.
    register_model_pinning(server, project, {"training": {"dataset": "contacts", "version": 1}})

    policy = server.request("PUT", base, json={"classes": {"pii": 0}})
    assert policy.status_code == 200, policy.text
    assert policy.json()["policy"]["classes"] == {"pii": 0}
    assert policy.json()["policy"]["default_days"] is None

    run = server.post(f"{base}/run")
    assert run.status_code == 200, run.text
    report = run.json()
    assert report["trigger"] == "manual" and report["errors"] == []
    assert [(r["dataset"], r["version"], r["rows"]) for r in report["removed"]] == \
        [("contacts", 2, 1)]
    assert [(k["dataset"], k["version"], k["pinned_by"]) for k in report["kept_pinned"]] == \
        [("contacts", 1, "model churn version 1")]

    after = versions(server, project, "contacts")
    assert after[2]["rows"] == 0 and after[2]["lineage"]["retention"][0]["rows"] == 1
    assert after[1]["rows"] == 1 and after[1]["sha256"] == before[1]["sha256"]
    assert not blob_exists(server, project, before[2]["sha256"])
    assert blob_exists(server, project, before[1]["sha256"])
    # Unclassified data has no limit without a default: untouched.
    assert versions(server, project, "metrics")[1]["rows"] == 1
    # The purged version reads as empty; the numbering goes on.
    data = server.get(f"/api/v1/projects/{project}/datasets/contacts/versions/2/data?format=csv")
    assert data.status_code == 200 and data.text.strip().splitlines() == ['"id","email"']
    push(server, project, "contacts", [{"id": 3, "email": "c@bank.ae"}])
    assert max(versions(server, project, "contacts")) == 3

    records = server.get(f"/api/v1/projects/{project}/audit?resource_prefix=/api/v1/projects/"
                         f"{project}/datasets/contacts/versions&limit=50").json()["records"]
    decisions = {(r["action"], r["resource"].rsplit("/", 1)[1], r["outcome"]) for r in records}
    assert ("retention.purge", "2", "allowed") in decisions
    assert ("retention.kept_pinned", "1", "denied") in decisions

    described = server.get(base).json()
    assert described["last_run"] == report
    # A second run leaves purged versions alone; the new version 3 has expired too (0 days).
    again = server.post(f"{base}/run").json()
    assert [(r["dataset"], r["version"]) for r in again["removed"]] == [("contacts", 3)]
    assert len(again["kept_pinned"]) == 1


def test_a_default_covers_unclassified_data_and_deleting_the_policy_stops_purges(server, project):
    base = f"/api/v1/projects/{project}/retention"
    assert server.request("PUT", base, json={"default_days": 0, "classes": {"pii": 3650}}) \
        .status_code == 200
    report = server.post(f"{base}/run").json()
    # A version's limit is that of its most restrictive column: the unclassified metrics expire
    # at once, and so do contacts, whose unclassified "id" column falls under the default.
    removed = {(r["dataset"], r["version"]) for r in report["removed"]}
    assert removed == {("metrics", 1), ("contacts", 1), ("contacts", 2)}
    refused = server.delete(f"/api/v1/projects/{project}")
    assert "retention policies" in assert_error_shape(refused, 409, "FAILED_PRECONDITION")[
        "message"]
    assert server.delete(base).status_code == 204
    assert server.delete(base).status_code == 404
    assert_error_shape(server.post(f"{base}/run"), 409, "FAILED_PRECONDITION")
    assert server.get(base).json() == {"policy": None, "last_run": None}


def test_malformed_policies_are_refused_with_a_reason(server, project):
    base = f"/api/v1/projects/{project}/retention"
    for body, needle in (
            ({}, "must be a JSON object setting"),
            ({"classes": {"secret": 3}}, "unknown data class 'secret'"),
            ({"classes": {"pii": -1}}, "classes.pii"),
            ({"classes": ["pii"]}, "'classes' must be an object"),
            ({"default_days": "30"}, "'default_days' must be a whole number"),
            ({"default_days": 1.5}, "'default_days' must be a whole number"),
            ({"default_days": 36501}, "0 to 36500"),
            ({"default_days": 1, "keep": True}, "unknown field 'keep'")):
        response = server.request("PUT", base, json=body)
        assert needle in assert_error_shape(response, 400, "INVALID_ARGUMENT")["message"], body
    garbage = server.request("PUT", base, data=b"{not json",
                             headers={"Content-Type": "application/json"})
    assert_error_shape(garbage, 400, "INVALID_ARGUMENT")
    assert server.get(base).json()["policy"] is None
