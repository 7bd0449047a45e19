"""Data ingestion against a real server: sources with schemas and validation rules, CSV, Parquet
and pushed JSON batches, quarantine that loses nothing, statistics profiles checked against
numpy, downloads checked against pyarrow, strict rejection, residency on downloads, and bad
input of every kind."""

from __future__ import annotations

import io
import threading

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import assert_error_shape, unique_name

SCHEMA = [
    {"name": "customer_id", "type": "int64", "nullable": False},
    {"name": "amount", "type": "float64"},
    {"name": "currency", "type": "string"},
    {"name": "email", "type": "string", "tags": ["pii"]},
    {"name": "event_time", "type": "timestamp"},
]
STDDEV_DDOF = 0  # the profile reports the population standard deviation, as numpy

RULES = {
    "policy": "quarantine",
    "rules": [
        {"column": "amount", "range": {"min": 0, "max": 10000}},
        {"column": "currency", "allowed_values": ["AED", "USD", "EUR"]},
    ],
}


@pytest.fixture
def project(server):
    name = unique_name("data")
    assert server.create_project(name).status_code == 201
    return name


def make_source(server, project, name="payments", **overrides):
    body = {"name": name, "kind": "file", "schema": SCHEMA, "validation": RULES, **overrides}
    response = server.post(f"/api/v1/projects/{project}/sources", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def ingest(server, project, body, fmt="csv", source="payments"):
    return server.request("POST", f"/api/v1/projects/{project}/sources/{source}/ingest?format={fmt}",
                          data=body, headers={"Content-Type": "application/octet-stream"})


def download(server, project, dataset, version="latest", **params):
    query = "&".join(f"{k}={v}" for k, v in {"format": "parquet", **params}.items())
    return server.get(f"/api/v1/projects/{project}/datasets/{dataset}/versions/{version}/data?{query}")


def random_rows(rng, n):
    return {
        "customer_id": rng.integers(1, 1000, n),
        "amount": np.round(rng.gamma(2.0, 150.0, n), 2),
        "currency": rng.choice(["AED", "USD", "EUR"], n),
        "email": [f"user{i}@example.ae" for i in range(n)],
        "event_time": [f"2026-11-{1 + i % 20:02d}T10:{i % 60:02d}:00Z" for i in range(n)],
    }


def to_csv(columns) -> bytes:
    names = [c["name"] for c in SCHEMA]
    lines = [",".join(names)]
    for i in range(len(columns["customer_id"])):
        lines.append(",".join(str(columns[n][i]) for n in names))
    return ("\n".join(lines) + "\n").encode()


def test_csv_ingest_types_validates_quarantines_and_profiles(server, project):
    make_source(server, project)
    rng = np.random.default_rng(7)
    good = random_rows(rng, 500)
    body = to_csv(good) + (b"12,-5,AED,a@x.ae,2026-11-02T00:00:00Z\n"      # range
                           b"13,20,GBP,b@x.ae,2026-11-02T00:00:00Z\n"      # allowed values
                           b"x14,20,AED,c@x.ae,2026-11-02T00:00:00Z\n"     # not an int64
                           b",20,AED,d@x.ae,2026-11-02T00:00:00Z\n"        # non-nullable
                           b"15,20,AED\n")                                 # malformed line
    response = ingest(server, project, body)
    assert response.status_code == 201, response.text
    outcome = response.json()
    assert outcome["verdict"] == "accepted_with_quarantine"
    assert (outcome["rows_delivered"], outcome["rows_accepted"], outcome["rows_quarantined"]) == \
        (505, 500, 5)
    assert outcome["dataset"] == {"name": "payments", "version": 1, "rows": 500}

    # Nothing lost: every bad row is in quarantine with the rule it broke and its position.
    quarantine = pq.read_table(io.BytesIO(download(server, project, "payments.quarantine").content))
    broken = dict(zip(quarantine["_falaj_row"].to_pylist(), quarantine["_falaj_rule"].to_pylist()))
    assert set(broken) == {500, 501, 502, 503, 504}
    assert "range" in broken[500] and "allowed_values" in broken[501]
    assert broken[502] == "customer_id: expected int64, got 'x14'"
    assert "not_null" in broken[503]
    assert "malformed CSV line" in broken[504]
    assert quarantine.column("_falaj_raw").to_pylist()[
        quarantine["_falaj_row"].to_pylist().index(504)] == "15,20,AED"

    # The stored rows equal what was sent, and the profile agrees with numpy.
    stored = pq.read_table(io.BytesIO(download(server, project, "payments", 1).content))
    assert stored["customer_id"].to_pylist() == [int(v) for v in good["customer_id"]]
    np.testing.assert_allclose(stored["amount"].to_numpy(), good["amount"])
    version = server.get(f"/api/v1/projects/{project}/datasets/payments/versions/1").json()
    assert version["rows"] == 500 and version["region"] == "eu-west"
    assert version["lineage"]["source"] == "payments"
    profile = {c["name"]: c for c in version["profile"]["columns"]}
    amount = profile["amount"]
    assert amount["count"] == 500 and amount["null_count"] == 0
    stats = amount["numeric"]
    assert stats["mean"] == pytest.approx(np.mean(good["amount"]), rel=1e-9)
    assert stats["stddev"] == pytest.approx(np.std(good["amount"], ddof=STDDEV_DDOF), rel=1e-9)
    assert (stats["min"], stats["max"]) == (np.min(good["amount"]), np.max(good["amount"]))
    assert stats["quantiles"]["p50"] == pytest.approx(np.quantile(good["amount"], 0.5), rel=1e-12)
    assert sum(stats["histogram"]["counts"]) == 500
    top = {t["value"]: t["count"] for t in profile["currency"]["top_values"]}
    assert top == {c: int(np.sum(good["currency"] == c)) for c in ("AED", "USD", "EUR")}

    # CSV download round-trips through pyarrow too.
    csv = download(server, project, "payments", 1, format="csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert pacsv.read_csv(io.BytesIO(csv.content)).num_rows == 500


def test_parquet_and_push_batches_append_versions(server, project):
    make_source(server, project)
    rng = np.random.default_rng(11)
    rows = random_rows(rng, 50)
    times = np.array([t.rstrip("Z") for t in rows["event_time"]], dtype="datetime64[ms]")
    table = pa.table({**rows, "event_time": pa.array(times, pa.timestamp("ms"))})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    assert ingest(server, project, sink.getvalue(), "parquet").status_code == 201

    pushed = server.post(f"/api/v1/projects/{project}/sources/payments/push", json={"rows": [
        {"customer_id": 1, "amount": 5.5, "currency": "AED", "event_time": "2026-11-24T06:00:00Z"},
        {"customer_id": 2, "amount": 1e9, "currency": "AED"},
        {"customer_id": 3, "shoe_size": 44},
    ]})
    assert pushed.status_code == 201, pushed.text
    assert (pushed.json()["rows_accepted"], pushed.json()["rows_quarantined"]) == (1, 2)
    listing = server.get(f"/api/v1/projects/{project}/datasets").json()["datasets"]
    by_name = {d["name"]: d for d in listing}
    assert by_name["payments"]["latest_version"] == 2 and by_name["payments"]["rows"] == 51
    assert by_name["payments.quarantine"]["kind"] == "quarantine"
    versions = server.get(f"/api/v1/projects/{project}/datasets/payments").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert len({v["sha256"] for v in versions}) == 2


def test_strict_policy_rejects_the_batch_and_still_keeps_every_row(server, project):
    make_source(server, project, name="strict", validation={**RULES, "policy": "strict"})
    response = ingest(server, project, b"customer_id,amount,currency,email,event_time\n"
                      b"1,10,AED,a@x.ae,2026-11-01\n2,-1,AED,b@x.ae,2026-11-01\n", source="strict")
    assert response.status_code == 422, response.text
    outcome = response.json()
    assert outcome["verdict"] == "rejected" and outcome["dataset"] is None
    assert outcome["rows_quarantined"] == 2
    quarantine = pq.read_table(io.BytesIO(download(server, project, "strict.quarantine").content))
    assert sorted(quarantine["_falaj_row"].to_pylist()) == [0, 1]
    assert any(rule.startswith("batch rejected") for rule in quarantine["_falaj_rule"].to_pylist())
    assert server.get(f"/api/v1/projects/{project}/datasets/strict").status_code == 404


def test_bad_sources_and_batches_are_refused_with_reasons(server, project):
    base = f"/api/v1/projects/{project}/sources"
    cases = [
        ({"name": "s", "kind": "file"}, "schema"),
        ({"name": "s", "kind": "ftp", "schema": SCHEMA}, "ftp"),
        ({"name": "bad name!", "kind": "file", "schema": SCHEMA}, "source name"),
        ({"name": "s", "kind": "file", "schema": [{"name": "a", "type": "decimal"}]}, "decimal"),
        ({"name": "s", "kind": "file", "schema": [{"name": "a", "type": "int64"}] * 2}, "twice"),
        ({"name": "s", "kind": "file", "schema": SCHEMA,
          "validation": {"rules": [{"column": "nope", "not_null": True}]}}, "nope"),
        ({"name": "s", "kind": "file", "schema": SCHEMA,
          "validation": {"rules": [{"column": "amount", "range": {"min": 5, "max": 1}}]}}, "min"),
        ({"name": "s", "kind": "file", "schema": SCHEMA, "surprise": 1}, "surprise"),
    ]
    for body, mentioned in cases:
        error = assert_error_shape(server.post(base, json=body), 400, "INVALID_ARGUMENT")
        assert mentioned in error["message"], (body, error)
    assert server.post(base, data=b"{not json", headers={"Content-Type": "application/json"}
                       ).status_code == 400
    mqtt = server.post(base, json={"name": "m", "kind": "mqtt", "schema": SCHEMA})
    assert "needs a 'config'" in assert_error_shape(mqtt, 400, "INVALID_ARGUMENT")["message"]
    unasked = server.post(base, json={"name": "m", "kind": "file", "schema": SCHEMA,
                                      "config": {"uri": "x"}})
    assert "takes no 'config'" in assert_error_shape(unasked, 400, "INVALID_ARGUMENT")["message"]

    make_source(server, project)
    assert_error_shape(server.post(base, json={"name": "payments", "kind": "file",
                                               "schema": SCHEMA}), 409, "ALREADY_EXISTS")
    for body, fmt, mentioned in [
            (b"customer_id,amount\n1,2\n", "csv", "no column"),
            (b"customer_id,amount,currency,email,event_time,ssn\n", "csv", "ssn"),
            (b"PAR1garbage", "parquet", "Parquet"),
            (b"\xff\xfe\x00binary", "csv", "CSV"),
            (b"a", "xlsx", "format")]:
        error = assert_error_shape(ingest(server, project, body, fmt), 400, "INVALID_ARGUMENT")
        assert mentioned in error["message"], (body, error)
    assert_error_shape(ingest(server, project, b""), 400, "INVALID_ARGUMENT")
    assert_error_shape(ingest(server, project, b"a\n1\n", source="nope"), 404, "NOT_FOUND")
    push = f"{base}/payments/push"
    for body in ([], {"rows": "x"}, {"rows": [], "more": 1}):
        assert_error_shape(server.post(push, json=body), 400, "INVALID_ARGUMENT")
    assert_error_shape(server.get(f"/api/v1/projects/{project}/datasets/payments/versions/0"),
                       400, "INVALID_ARGUMENT")
    assert_error_shape(server.get(f"/api/v1/projects/{project}/datasets/payments/versions/9"),
                       404, "NOT_FOUND")
    # Nothing half-written: no dataset exists after only refused batches.
    assert server.get(f"/api/v1/projects/{project}/datasets").json()["datasets"] == []


def test_concurrent_pushes_each_land_as_their_own_version(server, project):
    make_source(server, project, name="events", kind="push")
    errors = []

    def push(i):
        response = server.post(f"/api/v1/projects/{project}/sources/events/push", json={
            "rows": [{"customer_id": i, "amount": float(j), "currency": "USD"} for j in range(20)]})
        if response.status_code != 201:
            errors.append(response.text)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = server.get(f"/api/v1/projects/{project}/datasets/events").json()["versions"]
    assert sorted(v["version"] for v in versions) == list(range(1, 9))
    assert sum(v["rows"] for v in versions) == 160


def test_downloads_to_another_region_need_a_transfer_policy(server, project):
    make_source(server, project)
    assert ingest(server, project, to_csv(random_rows(np.random.default_rng(3), 5))).status_code == 201
    assert download(server, project, "payments").status_code == 200
    denied = download(server, project, "payments", to_region="us-east")
    assert_error_shape(denied, 403, "PERMISSION_DENIED")
    # The email column is tagged pii, so the policy must cover pii as well as unclassified data.
    policy = f"/api/v1/projects/{project}/transfer-policies/us-east"
    assert server.request("PUT", policy, json={"legal_basis": "pdpl-art22-adequacy",
                                               "data_classes": []}).status_code == 200
    assert download(server, project, "payments", to_region="us-east").status_code == 403
    assert server.request("PUT", policy, json={"legal_basis": "pdpl-art22-adequacy",
                                               "data_classes": ["pii"]}).status_code == 200
    assert download(server, project, "payments", to_region="us-east").status_code == 200
    records = server.get(f"/api/v1/audit?resource_prefix=/api/v1/projects/{project}/datasets"
                         "&limit=100").json()["records"]
    assert (denied.headers["X-Request-Id"], "denied") in {(r["request_id"], r["outcome"])
                                                          for r in records}
