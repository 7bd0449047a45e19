"""The feature store end to end against a real server: definitions applied and versioned,
point-in-time-correct training sets checked row by row against a brute-force reference,
materialisation into the online store, online reads with Feast's statuses and TTL, streaming
updates from pushed rows, and bad definitions refused with reasons."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import assert_error_shape, unique_name

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
TTL = dt.timedelta(days=2)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def csv(columns: list, rows: list) -> bytes:
    lines = [",".join(columns)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def source(server, project, name, schema):
    response = server.post(f"/api/v1/projects/{project}/sources",
                           json={"name": name, "kind": "file", "schema": schema})
    assert response.status_code == 201, response.text


def ingest(server, project, name, body):
    response = server.request("POST", f"/api/v1/projects/{project}/sources/{name}/ingest?format=csv",
                              data=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    assert response.json()["rows_quarantined"] == 0, response.text
    return response.json()


DEFINITIONS = [
    {"kind": "entity", "name": "customer", "join_keys": ["customer_id"]},
    {"kind": "feature_view", "name": "txn", "entities": ["customer"], "source": "transactions",
     "timestamp_field": "event_time", "created_timestamp_field": "created_time", "ttl": "2d",
     "features": [{"name": "amount", "type": "float64"}, {"name": "channel", "type": "string"}]},
    {"kind": "feature_view", "name": "profile", "entities": ["customer"], "source": "customers",
     "timestamp_field": "event_time", "features": [{"name": "age", "type": "int64"}]},
    {"kind": "feature_service", "name": "fraud", "features": ["txn:amount", "profile:*"]},
]


@pytest.fixture(scope="module")
def store(server):
    """A project with transactions (ties on event time, broken by created time), customer
    profiles, labelled entity rows, and the definitions above."""
    project = unique_name("fs")
    assert server.create_project(project).status_code == 201
    source(server, project, "transactions", [
        {"name": "customer_id", "type": "int64", "nullable": False},
        {"name": "amount", "type": "float64"}, {"name": "channel", "type": "string"},
        {"name": "event_time", "type": "timestamp"}, {"name": "created_time", "type": "timestamp"}])
    source(server, project, "customers", [
        {"name": "customer_id", "type": "int64", "nullable": False},
        {"name": "age", "type": "int64"}, {"name": "event_time", "type": "timestamp"}])
    source(server, project, "labels", [
        {"name": "customer_id", "type": "int64"}, {"name": "event_timestamp", "type": "timestamp"},
        {"name": "label", "type": "int64"}])

    rng = np.random.default_rng(2026)
    start = NOW - dt.timedelta(days=10)
    txns = []
    for _ in range(600):
        event = start + dt.timedelta(hours=int(rng.integers(0, 240)))  # many ties on the hour
        created = event + dt.timedelta(minutes=int(rng.integers(0, 5)))
        txns.append((int(rng.integers(1, 40)), round(float(rng.gamma(2, 50)), 2),
                     str(rng.choice(["web", "pos", "atm"])), event, created))
    # Two batches: the offline store is the union of a dataset's versions.
    cols = ["customer_id", "amount", "channel", "event_time", "created_time"]
    for part in (txns[:300], txns[300:]):
        ingest(server, project, "transactions",
               csv(cols, [(c, a, ch, iso(e), iso(cr)) for c, a, ch, e, cr in part]))
    profiles = [(c, int(rng.integers(18, 80)), start + dt.timedelta(days=int(rng.integers(0, 5))))
                for c in range(1, 40) for _ in range(2)]
    ingest(server, project, "customers",
           csv(["customer_id", "age", "event_time"], [(c, a, iso(e)) for c, a, e in profiles]))
    labels = [(int(rng.integers(1, 45)), start + dt.timedelta(hours=int(rng.integers(0, 260))),
               int(rng.integers(0, 2))) for _ in range(400)]
    ingest(server, project, "labels", csv(["customer_id", "event_timestamp", "label"],
                                          [(c, iso(t), y) for c, t, y in labels]))
    applied = server.post(f"/api/v1/projects/{project}/feature-definitions",
                          json={"objects": DEFINITIONS})
    assert applied.status_code == 200, applied.text
    assert [c["action"] for c in applied.json()["changes"]] == ["created"] * 4
    return {"project": project, "txns": txns, "profiles": profiles, "labels": labels}


def as_of(rows, key, at, ttl=None, created=None):
    """Brute force: the latest row of `key` with at - ttl <= time <= at; ties by created time,
    then by later position."""
    best = None
    for index, row in enumerate(rows):
        if row["key"] != key or row["time"] > at or (ttl and row["time"] < at - ttl):
            continue
        rank = (row["time"], row.get("created", dt.datetime.min.replace(tzinfo=dt.timezone.utc)),
                index)
        if best is None or rank >= best[0]:
            best = (rank, row)
    return None if best is None else best[1]


def test_training_set_matches_a_brute_force_point_in_time_join(server, store):
    project = store["project"]
    built = server.post(f"/api/v1/projects/{project}/training-sets", json={
        "name": "fraud_train", "feature_service": "fraud",
        "entities": {"dataset": "labels", "timestamp_column": "event_timestamp"}})
    assert built.status_code == 201, built.text
    lineage = built.json()["lineage"]
    assert lineage["entities"] == {"dataset": "labels", "version": 1}
    assert {v["name"]: v["dataset_version"] for v in lineage["feature_views"]} == \
        {"txn": 2, "profile": 1}
    data = server.get(f"/api/v1/projects/{project}/datasets/fraud_train/versions/1/data")
    table = pq.read_table(io.BytesIO(data.content)).to_pylist()
    assert len(table) == len(store["labels"])

    txns = [{"key": c, "time": e, "created": cr, "amount": a} for c, a, _, e, cr in store["txns"]]
    profiles = [{"key": c, "time": e, "age": a} for c, a, e in store["profiles"]]
    matched = 0
    for row, (customer, at, label) in zip(table, store["labels"]):
        assert (row["customer_id"], row["label"]) == (customer, label)
        txn = as_of(txns, customer, at, TTL)
        profile = as_of(profiles, customer, at)
        assert row["amount"] == (None if txn is None else txn["amount"]), (customer, at)
        assert row["age"] == (None if profile is None else profile["age"]), (customer, at)
        matched += txn is not None
    assert 0 < matched < len(table)  # both outcomes were exercised


def test_materialised_online_reads_follow_ttl_and_streaming_updates(server, store):
    project = store["project"]
    runs = server.post(f"/api/v1/projects/{project}/features/materialize", json={}).json()["runs"]
    assert {r["feature_view"]: r["mode"] for r in runs} == {"txn": "full", "profile": "full"}
    again = server.post(f"/api/v1/projects/{project}/features/materialize", json={}).json()["runs"]
    assert all(r["mode"] == "incremental" and r["rows_read"] == 0 for r in again)

    customers = list(range(1, 45))
    response = server.post(f"/api/v1/projects/{project}/features/online", json={
        "feature_service": "fraud", "entities": {"customer_id": customers}})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["metadata"]["feature_names"] == ["customer_id", "amount", "age"]
    amounts, ages = answer["results"][1], answer["results"][2]
    txns = [{"key": c, "time": e, "created": cr, "amount": a} for c, a, _, e, cr in store["txns"]]
    profiles = [{"key": c, "time": e, "age": a} for c, a, e in store["profiles"]]
    for i, customer in enumerate(customers):
        latest = as_of(txns, customer, NOW)
        if latest is None:
            assert amounts["statuses"][i] == "NOT_FOUND"
        elif latest["time"] < NOW - TTL:
            assert amounts["statuses"][i] == "OUTSIDE_MAX_AGE" and amounts["values"][i] is None
        else:
            assert amounts["statuses"][i] == "PRESENT"
            assert amounts["values"][i] == latest["amount"]
            assert amounts["event_timestamps"][i].startswith(iso(latest["time"])[:19])
        profile = as_of(profiles, customer, NOW)
        assert ages["values"][i] == (None if profile is None else profile["age"])
    assert "PRESENT" in amounts["statuses"] and "OUTSIDE_MAX_AGE" in amounts["statuses"]

    # A pushed row reaches the online store at once; an older one does not overwrite it.
    push = f"/api/v1/projects/{project}/sources/transactions/push"
    fresh = {"customer_id": 7, "amount": 4242.5, "channel": "web",
             "event_time": iso(NOW - dt.timedelta(minutes=1)), "created_time": iso(NOW)}
    stale = dict(fresh, amount=1.0, event_time=iso(NOW - dt.timedelta(hours=5)))
    for row in (fresh, stale):
        pushed = server.post(push, json={"rows": [row]})
        assert pushed.status_code == 201 and pushed.json()["online_error"] is None, pushed.text
    read = server.post(f"/api/v1/projects/{project}/features/online", json={
        "features": ["txn:amount", "txn:channel"], "entities": {"customer_id": [7, 999]},
        "full_feature_names": True}).json()
    assert read["metadata"]["feature_names"] == ["customer_id", "txn__amount", "txn__channel"]
    assert read["results"][1]["values"] == [4242.5, None]
    assert read["results"][1]["statuses"] == ["PRESENT", "NOT_FOUND"]


def test_definitions_are_versioned_and_apply_is_idempotent(server, store):
    project = store["project"]
    base = f"/api/v1/projects/{project}/feature-definitions"
    again = server.post(base, json={"objects": DEFINITIONS}).json()["changes"]
    assert [c["action"] for c in again] == ["unchanged"] * 4
    changed = [dict(DEFINITIONS[2], description="customer profile")]
    dry = server.post(base, json={"objects": changed, "dry_run": True}).json()
    assert dry["changes"][0]["action"] == "updated" and dry["dry_run"] is True
    assert server.get(f"{base}/feature_view/profile").json()["version"] == 1
    applied = server.post(base, json={"objects": changed}).json()["changes"][0]
    assert (applied["action"], applied["version"]) == ("updated", 2)
    assert server.get(f"{base}/feature_view/profile").json()["spec"]["description"] == \
        "customer profile"
    assert server.get(f"{base}/feature_view/profile?version=1").json()["spec"]["description"] == ""
    versions = server.get(f"{base}/feature_view/profile/versions").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]


def test_bad_definitions_and_requests_are_refused_with_reasons(server, store):
    project = store["project"]
    base = f"/api/v1/projects/{project}/feature-definitions"
    view = DEFINITIONS[1]
    cases = [
        (dict(view, entities=["merchant"]), "entity 'merchant'"),
        (dict(view, source="nowhere"), "nowhere"),
        (dict(view, features=[{"name": "amount", "type": "int64"}]), "float64"),
        (dict(view, features=[{"name": "tip", "type": "float64"}]), "'tip'"),
        (dict(view, timestamp_field="channel"), "timestamp_field"),
        (dict(view, ttl="forever"), "ttl"),
        (dict(view, surprise=True), "surprise"),
        ({"kind": "feature_service", "name": "s", "features": ["txn:nope"]}, "nope"),
        ({"kind": "feature_service", "name": "s", "features": ["no-colon"]}, "view:feature"),
        ({"kind": "dashboard", "name": "d"}, "dashboard"),
    ]
    for definition, mentioned in cases:
        error = assert_error_shape(server.post(base, json={"objects": [definition]}), 400,
                                   "INVALID_ARGUMENT")
        assert mentioned in error["message"], (definition, error)
    assert_error_shape(server.post(base, json={"objects": [DEFINITIONS[0], DEFINITIONS[0]]}), 400,
                       "INVALID_ARGUMENT")
    assert_error_shape(server.post(base, json={"objects": []}), 400, "INVALID_ARGUMENT")
    online = f"/api/v1/projects/{project}/features/online"
    assert_error_shape(server.post(online, json={"feature_service": "fraud"}), 400,
                       "INVALID_ARGUMENT")
    assert_error_shape(server.post(online, json={"feature_service": "fraud",
                                                 "entities": {"customer_id": [1.5]}}), 400,
                       "INVALID_ARGUMENT")
    assert_error_shape(server.post(online, json={"feature_service": "fraud",
                                                 "entities": {"merchant_id": [1]}}), 400,
                       "INVALID_ARGUMENT")
    assert_error_shape(server.post(online, json={"feature_service": "missing",
                                                 "entities": {"customer_id": [1]}}), 404,
                       "NOT_FOUND")
    training = f"/api/v1/projects/{project}/training-sets"
    assert_error_shape(server.post(training, json={"name": "t", "feature_service": "fraud",
                                                   "entities": {"dataset": "nope"}}), 404,
                       "NOT_FOUND")
    assert_error_shape(server.post(training, json={"name": "t", "feature_service": "fraud",
                                                   "entities": {"dataset": "labels",
                                                                "timestamp_column": "nope"}}),
                       400, "INVALID_ARGUMENT")


def test_erasure_removes_an_entity_everywhere_and_reports_it(server, store):
    """Runs last in this module: customer 7 (with offline rows, a training set and a streamed
    online row) is erased from every dataset version and the online store."""
    project = store["project"]

    def rows_of(dataset, customer):
        total = 0
        for version in server.get(f"/api/v1/projects/{project}/datasets/{dataset}").json()["versions"]:
            data = server.get(f"/api/v1/projects/{project}/datasets/{dataset}/versions/"
                              f"{version['version']}/data")
            table = pq.read_table(io.BytesIO(data.content))
            total += table["customer_id"].to_pylist().count(customer)
        return total

    def quarantined_lines():
        dataset = f"/api/v1/projects/{project}/datasets/customers.quarantine"
        lines = []
        for version in server.get(dataset).json()["versions"]:
            data = server.get(f"{dataset}/versions/{version['version']}/data")
            lines += pq.read_table(io.BytesIO(data.content))["_falaj_raw"].to_pylist()
        return lines

    # Lines that could not be split into columns keep the entity only in their raw text.
    bad = b"customer_id,age,event_time\n7,oops\n8,also-bad\nx7,30,2026-01-01T00:00:00Z\n"
    quarantined = server.request("POST", f"/api/v1/projects/{project}/sources/customers/ingest"
                                 "?format=csv", data=bad, headers={"Content-Type": "text/csv"})
    assert quarantined.status_code == 201 and quarantined.json()["rows_quarantined"] == 3, \
        quarantined.text
    assert {"7,oops", "8,also-bad"} <= set(quarantined_lines())

    before = {name: rows_of(name, 7)
              for name in ("transactions", "customers", "labels", "fraud_train")}
    assert all(count > 0 for count in before.values()), before
    other = rows_of("transactions", 8)
    erased = server.post(f"/api/v1/projects/{project}/erasures",
                         json={"entity": {"customer_id": 7}, "reason": "PDPL Art. 15 request"})
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert "7" not in json.dumps(report["key_columns"]) and len(report["entity_sha256"]) == 64
    removed = {}
    for item in report["datasets"]:
        removed[item["dataset"]] = removed.get(item["dataset"], 0) + item["rows_removed"]
    assert removed == {**before, "customers.quarantine": 1}
    # Only the line naming customer 7 as a whole value went; the row keyed "x7" (typed, so kept
    # without raw text) names another entity.
    left = quarantined_lines()
    assert len(left) == 2 and [line for line in left if line is not None] == ["8,also-bad"]
    assert {r["feature_view"] for r in report["online"]} == {"txn", "profile"}
    assert all(rows_of(name, 7) == 0 for name in before)
    assert rows_of("transactions", 8) == other  # neighbours untouched
    read = server.post(f"/api/v1/projects/{project}/features/online", json={
        "feature_service": "fraud", "entities": {"customer_id": [7]}}).json()
    assert read["results"][1]["statuses"] == ["NOT_FOUND"]
    listed = server.get(f"/api/v1/projects/{project}/erasures").json()["erasures"]
    assert [r["id"] for r in listed] == [report["id"]]
    assert_error_shape(server.post(f"/api/v1/projects/{project}/erasures",
                                   json={"entity": {}}), 400, "INVALID_ARGUMENT")
