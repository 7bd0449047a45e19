"""Issue 5's acceptance, end to end on real data against a real server: scikit-learn's
breast-cancer measurements turned into time-stamped events of 100 patients, ingested with
validation (three bad rows quarantined with their reasons and counted in the report), features
applied, a point-in-time training set built and checked row by row against a brute-force join,
an XGBoost model trained on that set, materialised, read online (TTL honoured), and served by an
endpoint that takes patient ids only — every prediction equal to XGBoost's own on the online
values."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pyarrow.parquet as pq
import pytest
import xgboost
from sklearn.datasets import load_breast_cancer

from conftest import unique_name
from serving_helpers import register_version

PATIENTS = 100
FIRST_ID = 70_000_000
STEP = dt.timedelta(minutes=45)
TTL = dt.timedelta(hours=4)
# Patients from this one on keep only their first (oldest) measurement, so their online values
# are older than the TTL.
FIRST_STALE = 90
TOLERANCE = 1e-6


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def as_of(events, patient, moment):
    """The brute-force point-in-time lookup: the latest event of `patient` in [moment − TTL,
    moment], or None."""
    best = None
    for event in events:
        if event["patient"] == patient and moment - TTL <= event["time"] <= moment:
            if best is None or event["time"] >= best["time"]:
                best = event
    return best


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    data = load_breast_cancer()
    names = [name.replace(" ", "_") for name in data.feature_names]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    base = now - dt.timedelta(hours=6)
    events = []
    for i, (row, target) in enumerate(zip(data.data, data.target)):
        patient, step = i % PATIENTS, i // PATIENTS
        if patient >= FIRST_STALE and step > 0:
            continue
        events.append({"patient": FIRST_ID + patient, "time": base + step * STEP,
                       "values": [float(v) for v in row], "target": int(target)})

    project = unique_name("accept")
    assert server.create_project(project).status_code == 201
    api = f"/api/v1/projects/{project}"
    schema = ([{"name": "patient_id", "type": "int64", "nullable": False},
               {"name": "measured_at", "type": "timestamp"}]
              + [{"name": name, "type": "float64"} for name in names])
    created = server.post(f"{api}/sources", json={
        "name": "measurements", "kind": "file", "schema": schema,
        "validation": {"policy": "quarantine",
                       "rules": [{"column": "mean_radius", "range": {"min": 0}}]}})
    assert created.status_code == 201, created.text
    lines = [",".join(["patient_id", "measured_at"] + names)]
    for event in events:
        # repr() round-trips a float64 exactly.
        lines.append(",".join([str(event["patient"]), iso(event["time"])]
                              + [repr(v) for v in event["values"]]))
    good = events[0]["values"]
    bad = [[str(FIRST_ID), iso(base), "-3.0"] + [repr(v) for v in good[1:]],      # range
           [str(FIRST_ID), iso(base), repr(good[0]), "n/a"] + [repr(v) for v in good[2:]],
           ["abc", iso(base)] + [repr(v) for v in good]]                           # not int64
    lines += [",".join(row) for row in bad]
    ingested = server.request("POST", f"{api}/sources/measurements/ingest?format=csv",
                              data=("\n".join(lines) + "\n").encode(),
                              headers={"Content-Type": "text/csv"})
    assert ingested.status_code == 201, ingested.text

    definitions = [
        {"kind": "entity", "name": "patient", "join_keys": ["patient_id"]},
        {"kind": "feature_view", "name": "tumour", "entities": ["patient"],
         "source": "measurements", "timestamp_field": "measured_at", "ttl": "4h",
         "features": [{"name": name, "type": "float64"} for name in names]},
        {"kind": "feature_service", "name": "diagnosis", "features": ["tumour:*"]},
    ]
    applied = server.post(f"{api}/feature-definitions", json={"objects": definitions})
    assert applied.status_code == 200, applied.text

    # Label times: before any measurement, just after each one, and long after the last.
    labels = []
    for patient in range(FIRST_ID, FIRST_ID + PATIENTS):
        mine = [e for e in events if e["patient"] == patient]
        moments = ([base - dt.timedelta(minutes=30)]
                   + [e["time"] + dt.timedelta(minutes=10) for e in mine]
                   + [mine[-1]["time"] + dt.timedelta(hours=5)])
        for moment in moments:
            found = as_of(events, patient, moment)
            labels.append((patient, moment, (found or mine[0])["target"]))
    assert server.post(f"{api}/sources", json={
        "name": "labels", "kind": "file",
        "schema": [{"name": "patient_id", "type": "int64"},
                   {"name": "event_timestamp", "type": "timestamp"},
                   {"name": "label", "type": "int64"}]}).status_code == 201
    label_csv = "patient_id,event_timestamp,label\n" + "".join(
        f"{p},{iso(t)},{y}\n" for p, t, y in labels)
    stored = server.request("POST", f"{api}/sources/labels/ingest?format=csv",
                            data=label_csv.encode(), headers={"Content-Type": "text/csv"})
    assert stored.status_code == 201 and stored.json()["rows_quarantined"] == 0, stored.text
    return {"project": project, "api": api, "names": names, "events": events, "labels": labels,
            "ingested": ingested.json(), "bad": bad, "tmp": tmp_path_factory.mktemp("accept")}


def test_bad_rows_are_quarantined_with_reasons_and_reported(server, world):
    outcome = world["ingested"]
    assert outcome["verdict"] == "accepted_with_quarantine"
    assert (outcome["rows_accepted"], outcome["rows_quarantined"]) == (len(world["events"]), 3)
    api = world["api"]
    quarantine = pq.read_table(io.BytesIO(server.get(
        f"{api}/datasets/measurements.quarantine/versions/latest/data").content))
    rules = sorted(quarantine["_falaj_rule"].to_pylist())
    assert len(rules) == 3
    assert any("range" in rule for rule in rules)
    assert any("expected float64, got 'n/a'" in rule for rule in rules)
    assert any("expected int64, got 'abc'" in rule for rule in rules)
    version = server.get(f"{api}/datasets/measurements/versions/1").json()
    checks = version["validation"]["checks"]
    assert [(c["kind"], c["failed"]) for c in checks if c["kind"] == "range"] == [("range", 1)]


def test_training_set_is_point_in_time_correct_and_the_served_model_matches_xgboost(server,
                                                                                    world):
    api, names, events = world["api"], world["names"], world["events"]
    built = server.post(f"{api}/training-sets", json={
        "name": "diagnosis_train", "feature_service": "diagnosis",
        "entities": {"dataset": "labels", "timestamp_column": "event_timestamp"}})
    assert built.status_code == 201, built.text
    table = pq.read_table(io.BytesIO(server.get(
        f"{api}/datasets/diagnosis_train/versions/1/data").content)).to_pylist()
    assert len(table) == len(world["labels"])
    matched = 0
    for row, (patient, moment, label) in zip(table, world["labels"]):
        assert (row["patient_id"], row["label"]) == (patient, label)
        found = as_of(events, patient, moment)
        want = [None] * len(names) if found is None else found["values"]
        assert [row[name] for name in names] == want, (patient, moment)
        matched += found is not None
    assert 0 < matched < len(table)  # rows with and without features were both checked

    # Train on the training set as built (missing features are NaN to XGBoost).
    features = np.array([[np.nan if row[n] is None else row[n] for n in names] for row in table],
                        dtype=np.float32)
    targets = np.array([row["label"] for row in table])
    model = xgboost.XGBClassifier(n_estimators=40, max_depth=4, tree_method="hist",
                                  random_state=5)
    model.fit(features, targets)
    path = world["tmp"] / "model.json"
    model.save_model(path)
    register_version(server, world["project"], "diagnose", path.read_bytes(), "xgboost")
    endpoint = server.post(f"{api}/endpoints", json={
        "name": "diagnose", "feature_service": "diagnosis",
        "targets": [{"model": "diagnose", "version": 1}]})
    assert endpoint.status_code == 201, endpoint.text

    runs = server.post(f"{api}/features/materialize", json={})
    assert runs.status_code == 200, runs.text
    assert runs.json()["runs"][0]["entities_written"] == PATIENTS

    patients = list(range(FIRST_ID, FIRST_ID + PATIENTS)) + [FIRST_ID + 10 * PATIENTS]
    online = server.post(f"{api}/features/online", json={
        "feature_service": "diagnosis", "entities": {"patient_id": patients}})
    assert online.status_code == 200, online.text
    now = dt.datetime.now(dt.timezone.utc)
    results = online.json()["results"][1:]
    matrix = np.full((len(patients), len(names)), np.nan, dtype=np.float32)
    for i, patient in enumerate(patients):
        latest = as_of(events, patient, now)
        statuses = {column["statuses"][i] for column in results}
        if patient >= FIRST_ID + PATIENTS:
            assert statuses == {"NOT_FOUND"}
        elif latest is None:
            assert statuses == {"OUTSIDE_MAX_AGE"}, patient
        else:
            assert statuses == {"PRESENT"}
            assert [column["values"][i] for column in results] == latest["values"]
            matrix[i] = latest["values"]
    assert np.isnan(matrix[FIRST_STALE]).all() and not np.isnan(matrix[0]).any()

    inferred = server.post(f"/v2/models/{world['project']}.diagnose/infer", json={"inputs": [
        {"name": "patient_id", "datatype": "INT64", "shape": [len(patients)], "data": patients}]})
    assert inferred.status_code == 200, inferred.text
    predictions = np.asarray(inferred.json()["outputs"][0]["data"], dtype=np.float64)
    assert np.max(np.abs(predictions - model.predict_proba(matrix)[:, 1])) < TOLERANCE
