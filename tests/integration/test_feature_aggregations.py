"""Row transformations and windowed aggregations in feature views, end to end against a real
server: training sets checked row by row against a Python brute force of the documented window
rule, materialised and streamed aggregates read online and compared with the brute force at
"now", incremental and full re-runs that must not double count, and bad definitions refused with
reasons."""

from __future__ import annotations

import datetime as dt
import io
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import assert_error_shape, unique_name
from test_feature_store import csv, ingest, iso

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
MINUTE = 60_000_000
WINDOWS = {"1h": 3600_000_000, "24h": 86400_000_000, "7d": 7 * 86400_000_000}


def micros(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


COLUMNS = ["customer_id", "amount", "merchant_category", "qty", "event_time"]

DEFINITIONS = [
    {"kind": "entity", "name": "customer", "join_keys": ["customer_id"]},
    {"kind": "feature_view", "name": "txn_rows", "entities": ["customer"], "source": "payments",
     "timestamp_field": "event_time",
     "transformations": [
         {"name": "amount_log", "type": "float64", "expr": "log1p(amount)"},
         {"name": "is_large", "type": "bool",
          "expr": "amount > 1000 and merchant_category != 7"}],
     "features": [{"name": "amount_log", "type": "float64"}, {"name": "is_large", "type": "bool"}]},
    {"kind": "feature_view", "name": "spend", "entities": ["customer"], "source": "payments",
     "timestamp_field": "event_time", "aggregation_interval": "1m",
     "transformations": [{"name": "large", "type": "int64", "expr": "if(amount > 1000, 1, 0)"}],
     "aggregations": [
         {"column": "amount", "function": "sum", "windows": ["1h", "24h", "7d"]},
         {"function": "count", "windows": ["1h", "24h"]},
         {"column": "amount", "function": "max", "windows": ["24h"], "name": "max_amount_24h"},
         {"column": "amount", "function": "mean", "windows": ["7d"]},
         {"column": "amount", "function": "count", "windows": ["24h"]},
         {"column": "large", "function": "sum", "windows": ["24h"]},
         {"column": "qty", "function": "min", "windows": ["1h"]}]},
    {"kind": "feature_service", "name": "risk", "features": ["txn_rows:*", "spend:*"]},
]

# (feature, column, function, window)
AGGREGATES = [
    ("amount_sum_1h", "amount", "sum", "1h"), ("amount_sum_24h", "amount", "sum", "24h"),
    ("amount_sum_7d", "amount", "sum", "7d"), ("count_1h", None, "count", "1h"),
    ("count_24h", None, "count", "24h"), ("max_amount_24h", "amount", "max", "24h"),
    ("amount_mean_7d", "amount", "mean", "7d"), ("amount_count_24h", "amount", "count", "24h"),
    ("large_sum_24h", "large", "sum", "24h"), ("qty_min_1h", "qty", "min", "1h"),
]


def event(customer, amount, category, qty, moment):
    large = 0 if amount is None else int(amount > 1000)  # if() takes else on a null condition
    return {"customer_id": customer, "amount": amount, "merchant_category": category, "qty": qty,
            "time": micros(moment), "moment": moment, "large": large}


def random_events(rng, count, newest: dt.datetime):
    """Times on a 30-second grid over 8 days: many ties and many exactly on tile boundaries."""
    events = []
    for _ in range(count):
        moment = newest - dt.timedelta(seconds=30 * int(rng.integers(0, 8 * 2880)))
        amount = None if rng.random() < 0.1 else round(float(rng.gamma(2, 600)), 2)
        qty = None if rng.random() < 0.15 else int(rng.integers(-5, 50))
        events.append(event(int(rng.integers(1, 25)), amount, int(rng.integers(1, 10)), qty,
                            moment))
    return events


def aggregate(events, customer, at_micros, column, function, window):
    """The documented window: align(t) + g - W <= event_ts <= t, g = 1 minute."""
    start = (at_micros // MINUTE) * MINUTE + MINUTE - WINDOWS[window]
    rows = [e for e in events
            if e["customer_id"] == customer and start <= e["time"] <= at_micros]
    values = [1 if column is None else e[column] for e in rows]
    values = [v for v in values if v is not None]
    if function == "count":
        return len(values)
    if function == "sum":
        return sum(values)
    if not values:
        return None
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}[function]


def close(expected, actual) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-6)


def kleene_and(a, b):
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


@pytest.fixture(scope="module")
def store(server):
    project = unique_name("agg")
    assert server.create_project(project).status_code == 201
    for name, schema in [
        ("payments", [{"name": "customer_id", "type": "int64", "nullable": False},
                      {"name": "amount", "type": "float64"},
                      {"name": "merchant_category", "type": "int64"},
                      {"name": "qty", "type": "int64"},
                      {"name": "event_time", "type": "timestamp"}]),
        ("labels", [{"name": "customer_id", "type": "int64"},
                    {"name": "event_timestamp", "type": "timestamp"}])]:
        response = server.post(f"/api/v1/projects/{project}/sources",
                               json={"name": name, "kind": "file", "schema": schema})
        assert response.status_code == 201, response.text
    rng = np.random.default_rng(4242)
    # Older than now by at least 2 minutes, so streamed rows below land after them.
    events = random_events(rng, 900, NOW - dt.timedelta(minutes=2))
    for part in (events[:450], events[450:]):
        ingest(server, project, "payments", csv(COLUMNS, [
            (e["customer_id"], e["amount"], e["merchant_category"], e["qty"], iso(e["moment"]))
            for e in part]))
    labels = []
    for _ in range(500):
        if rng.random() < 0.3:  # exactly on an event's time (ties with it)
            moment = events[int(rng.integers(0, len(events)))]["moment"]
        else:
            moment = NOW - dt.timedelta(seconds=int(rng.integers(0, 9 * 86400)))
        labels.append((int(rng.integers(1, 28)), moment))
    ingest(server, project, "labels", csv(["customer_id", "event_timestamp"],
                                          [(c, iso(m)) for c, m in labels]))
    applied = server.post(f"/api/v1/projects/{project}/feature-definitions",
                          json={"objects": DEFINITIONS})
    assert applied.status_code == 200, applied.text
    return {"project": project, "events": events, "labels": labels, "rng": rng}


def test_training_set_matches_a_brute_force_of_transformations_and_windows(server, store):
    project = store["project"]
    built = server.post(f"/api/v1/projects/{project}/training-sets", json={
        "name": "risk_train", "feature_service": "risk",
        "entities": {"dataset": "labels", "timestamp_column": "event_timestamp"}})
    assert built.status_code == 201, built.text
    names = [v["name"] for v in built.json()["lineage"]["feature_views"]]
    assert names == ["txn_rows", "spend"]
    data = server.get(f"/api/v1/projects/{project}/datasets/risk_train/versions/1/data")
    table = pq.read_table(io.BytesIO(data.content))
    assert table.column_names == ["customer_id", "event_timestamp", "amount_log", "is_large"] + \
        [a[0] for a in AGGREGATES]
    assert str(table.schema.field("count_1h").type) == "int64"
    assert str(table.schema.field("qty_min_1h").type) == "int64"
    assert str(table.schema.field("amount_sum_24h").type) == "double"
    events = store["events"]
    nonzero = 0
    for row, (customer, moment) in zip(table.to_pylist(), store["labels"]):
        at = micros(moment)
        latest = None
        for index, e in enumerate(events):
            if e["customer_id"] == customer and e["time"] <= at:
                if latest is None or (e["time"], index) >= (latest[0]["time"], latest[1]):
                    latest = (e, index)
        if latest is None:
            assert row["amount_log"] is None and row["is_large"] is None
        else:
            e = latest[0]
            expected_log = None if e["amount"] is None else math.log1p(e["amount"])
            assert close(expected_log, row["amount_log"]), (customer, moment)
            large = None if e["amount"] is None else e["amount"] > 1000
            assert row["is_large"] == kleene_and(large, e["merchant_category"] != 7)
        for feature, column, function, window in AGGREGATES:
            expected = aggregate(events, customer, at, column, function, window)
            assert close(expected, row[feature]), (feature, customer, moment, expected,
                                                   row[feature])
        nonzero += row["count_1h"] > 0
    assert 0 < nonzero < len(store["labels"])  # empty and non-empty windows both exercised


def read_online(server, project, customers):
    before = micros(dt.datetime.now(dt.timezone.utc))
    response = server.post(f"/api/v1/projects/{project}/features/online", json={
        "features": ["spend:*"], "entities": {"customer_id": customers}})
    after = micros(dt.datetime.now(dt.timezone.utc))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert response.json()["metadata"]["feature_names"] == \
        ["customer_id"] + [a[0] for a in AGGREGATES]
    return results, before, after


def check_online(server, project, events):
    customers = list(range(1, 28))
    results, before, after = read_online(server, project, customers)
    for (feature, column, function, window), result in zip(AGGREGATES, results[1:]):
        for i, customer in enumerate(customers):
            known = any(e["customer_id"] == customer for e in events)
            assert result["statuses"][i] == ("PRESENT" if known else "NOT_FOUND"), \
                (feature, customer)
            if not known:
                assert result["values"][i] is None
                continue
            # "now" is somewhere between the request's start and end.
            candidates = [aggregate(events, customer, t, column, function, window)
                          for t in (before, after)]
            assert any(close(c, result["values"][i]) for c in candidates), \
                (feature, customer, candidates, result["values"][i])


def test_online_aggregates_follow_materialisation_and_streaming_without_double_counting(
        server, store):
    project = store["project"]
    base = f"/api/v1/projects/{project}/features/materialize"
    runs = server.post(base, json={"feature_views": ["spend"]}).json()["runs"]
    assert runs[0]["mode"] == "full" and runs[0]["rows_read"] == 900, runs
    events = list(store["events"])
    check_online(server, project, events)

    # Streamed rows count at once; an incremental run then reads the same version and skips it.
    fresh = [event(3, 1500.0, 2, 1, NOW - dt.timedelta(seconds=40)),
             event(3, None, 2, -9, NOW - dt.timedelta(seconds=20)),
             event(26, 10.5, 7, 4, NOW - dt.timedelta(minutes=1))]
    pushed = server.post(f"/api/v1/projects/{project}/sources/payments/push", json={"rows": [
        {"customer_id": e["customer_id"], "amount": e["amount"],
         "merchant_category": e["merchant_category"], "qty": e["qty"],
         "event_time": iso(e["moment"])} for e in fresh]})
    assert pushed.status_code == 201 and pushed.json()["online_error"] is None, pushed.text
    events += fresh
    check_online(server, project, events)
    again = server.post(base, json={"feature_views": ["spend"]}).json()["runs"]
    assert again[0]["mode"] == "incremental" and again[0]["rows_read"] == 3, again
    check_online(server, project, events)
    rebuilt = server.post(base, json={"feature_views": ["spend"], "incremental": False}).json()
    assert rebuilt["runs"][0]["mode"] == "full"
    check_online(server, project, events)


def test_transformed_features_are_materialised_and_streamed(server, store):
    project = store["project"]
    runs = server.post(f"/api/v1/projects/{project}/features/materialize",
                       json={"feature_views": ["txn_rows"]}).json()["runs"]
    assert runs[0]["mode"] == "full", runs
    pushed = server.post(f"/api/v1/projects/{project}/sources/payments/push", json={"rows": [
        {"customer_id": 24, "amount": 2000.0, "merchant_category": 3, "qty": 1,
         "event_time": iso(NOW - dt.timedelta(seconds=5))}]})
    assert pushed.status_code == 201 and pushed.json()["online_error"] is None, pushed.text
    read = server.post(f"/api/v1/projects/{project}/features/online", json={
        "features": ["txn_rows:amount_log", "txn_rows:is_large"],
        "entities": {"customer_id": [24]}}).json()
    assert close(math.log1p(2000.0), read["results"][1]["values"][0]), read
    assert read["results"][2]["values"] == [True], read


def test_bad_definitions_are_refused_with_reasons(server, store):
    project = store["project"]
    base = f"/api/v1/projects/{project}/feature-definitions"
    rows, spend = DEFINITIONS[1], DEFINITIONS[2]

    def with_expr(expr, type_="float64"):
        return dict(rows, transformations=[{"name": "t", "type": type_, "expr": expr}],
                    features=[{"name": "t", "type": type_}])

    def with_aggregations(aggregations, **extra):
        return dict(spend, aggregations=aggregations, **extra)

    cases = [
        (with_expr("log1p(amout)"),
         "expression 'log1p(amout)': unknown column 'amout' at position 7"),
        (with_expr("'unterminated"), "unterminated string at position 1"),
        (with_expr("amount +"), "unexpected end of expression"),
        (with_expr("amount > 1"), "the expression is bool, declared float64"),
        (with_expr("upper(amount)"), "'upper' needs a string, not float64"),
        (with_expr("nosuch(amount)"), "unknown function 'nosuch'"),
        (with_expr("(" * 100 + "amount" + ")" * 100), "nesting deeper than 64"),
        (dict(rows, transformations=[{"name": "amount", "type": "float64", "expr": "1.0"}]),
         "already a column"),
        (with_aggregations([{"column": "amount", "function": "sum", "windows": ["90s"]}]),
         "window '90s' is not a multiple of the aggregation_interval (1m)"),
        (with_aggregations([{"column": "amount", "function": "sum", "windows": ["1h"]}],
                           aggregation_interval="7m"),
         "window '1h' is not a multiple of the aggregation_interval (7m)"),
        (with_aggregations([{"column": "amout", "function": "sum", "windows": ["1h"]}]),
         "no column 'amout'"),
        (with_aggregations([{"column": "amount", "function": "median", "windows": ["1h"]}]),
         "function 'median' is not one of count, sum, mean, min, max"),
        (with_aggregations([{"function": "sum", "windows": ["1h"]}]), "sum needs a 'column'"),
        (with_aggregations([{"column": "amount", "function": "sum", "windows": ["1h", "2h"],
                             "name": "s"}]), "'name' is only allowed with a single window"),
        (with_aggregations([{"column": "amount", "function": "sum", "windows": ["1h", "60m"]}]),
         "window '60m' appears twice"),
        (with_aggregations([{"column": "amount", "function": "sum", "windows": []}]),
         "'windows' must be a list"),
        (with_aggregations([{"column": "amount", "function": "sum", "windows": ["1h"]}],
                           features=[{"name": "amount", "type": "float64"}]),
         "a view with aggregations takes no 'features'"),
        (with_aggregations([{"column": "amount", "function": "sum", "windows": ["1h"]}],
                           ttl="1d"), "takes no 'ttl'"),
        (dict(rows, aggregation_interval="1m"), "only meaningful with 'aggregations'"),
    ]
    for definition, mentioned in cases:
        error = assert_error_shape(server.post(base, json={"objects": [DEFINITIONS[0], definition]}),
                                   400, "INVALID_ARGUMENT")
        assert mentioned in error["message"], (mentioned, error["message"])
    # A string column cannot be summed (the source gets one for this check).
    response = server.post(f"/api/v1/projects/{project}/sources", json={
        "name": "notes", "kind": "file", "schema": [
            {"name": "customer_id", "type": "int64"}, {"name": "note", "type": "string"},
            {"name": "event_time", "type": "timestamp"}]})
    assert response.status_code == 201, response.text
    notes = dict(spend, name="notes_view", source="notes", transformations=[],
                 aggregations=[{"column": "note", "function": "sum", "windows": ["1h"]}])
    del notes["transformations"]
    error = assert_error_shape(server.post(base, json={"objects": [DEFINITIONS[0], notes]}), 400,
                               "INVALID_ARGUMENT")
    assert "column 'note' is string, not a number" in error["message"], error
    counted = dict(notes, aggregations=[{"column": "note", "function": "count", "windows": ["1h"]}])
    assert server.post(base, json={"objects": [DEFINITIONS[0], counted]}).status_code == 200
    # Applying the same definitions again changes nothing (derived features are stable).
    again = server.post(base, json={"objects": DEFINITIONS}).json()["changes"]
    assert [c["action"] for c in again] == ["unchanged"] * 4
