"""Connector sources against real servers started by the tests: an MQTT source subscribed to a
real Mosquitto broker (payloads batched into dataset versions, bad ones quarantined, live status
in the API), and a PostgreSQL source pulled from a real PostgreSQL (full, then incremental by a
timestamp column; its password shown redacted and stored sealed, never in plaintext)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from conftest import assert_error_shape, unique_name, wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PASSWORD = "s3cret-Pg-passw0rd"
SCHEMA = [{"name": "meter_id", "type": "int64", "nullable": False},
          {"name": "kwh", "type": "float64"},
          {"name": "read_at", "type": "timestamp"}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    work = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    conf = work / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"{user}listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: port_open(port), 20, message="mosquitto listening")
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster with password authentication (as the postgres user when
    the tests run as root, since initdb refuses root)."""
    work = Path(tempfile.mkdtemp(prefix="falaj-pg-"))
    prefix = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(work, user.pw_uid, user.pw_gid)
        prefix = ["/usr/sbin/runuser", "-u", "postgres", "--"]
    (work / "pw").write_text(PG_PASSWORD + "\n")
    if prefix:
        os.chown(work / "pw", pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    subprocess.run(prefix + [str(PG_BIN / "initdb"), "-D", str(work / "data"), "-U", "falaj",
                             f"--pwfile={work / 'pw'}", "-A", "scram-sha-256", "--no-sync"],
                   check=True, capture_output=True)
    port = free_port()
    subprocess.run(prefix + [str(PG_BIN / "pg_ctl"), "-D", str(work / "data"), "-l",
                             str(work / "log"), "-w", "-o",
                             f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off",
                             "start"], check=True, capture_output=True)

    def psql(sql: str) -> str:
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "falaj", "-d",
                               "postgres", "-At", "-c", sql], check=True, capture_output=True,
                              text=True, env={**os.environ, "PGPASSWORD": PG_PASSWORD}).stdout

    wait_until(lambda: psql("SELECT 1").strip() == "1", 30, message="postgres accepting")
    yield {"port": port, "psql": psql,
           "uri": f"postgresql://falaj:{PG_PASSWORD}@127.0.0.1:{port}/postgres"}
    subprocess.run(prefix + [str(PG_BIN / "pg_ctl"), "-D", str(work / "data"), "-m", "fast", "-w",
                             "stop"], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)


def dataset_rows(server, project, dataset) -> int:
    response = server.get(f"/api/v1/projects/{project}/datasets/{dataset}")
    if response.status_code != 200:
        return 0
    return sum(v["rows"] for v in response.json()["versions"])


def test_mqtt_source_ingests_device_messages(server, broker):
    project = unique_name("iot")
    assert server.create_project(project).status_code == 201
    created = server.post(f"/api/v1/projects/{project}/sources", json={
        "name": "meters", "kind": "mqtt", "schema": SCHEMA,
        "config": {"broker_uri": f"tcp://127.0.0.1:{broker}", "topic": "site/+/meter",
                   "client_id": unique_name("falaj"), "qos": 1, "flush_rows": 5,
                   "flush_interval_ms": 200}})
    assert created.status_code == 201, created.text
    wait_until(lambda: server.get(f"/api/v1/projects/{project}/sources/meters").json()
               ["status"]["connected"], 20, message="subscriber connected")

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker)
    client.loop_start()
    messages = [json.dumps({"meter_id": i, "kwh": i * 1.5, "read_at": 1_780_000_000 + i})
                for i in range(10)]
    messages += ["not json at all", json.dumps({"meter_id": "x", "kwh": 1})]
    for number, payload in enumerate(messages):
        client.publish(f"site/{number % 3}/meter", payload, qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()

    wait_until(lambda: dataset_rows(server, project, "meters") == 10, 30,
               message="10 rows ingested")
    wait_until(lambda: dataset_rows(server, project, "meters.quarantine") == 2, 30,
               message="2 rows quarantined")
    status = server.get(f"/api/v1/projects/{project}/sources/meters").json()["status"]
    assert status["received"] == 12 and status["failed_flushes"] == 0
    versions = server.get(f"/api/v1/projects/{project}/datasets/meters").json()["versions"]
    assert all(v["lineage"]["format"] == "mqtt" for v in versions)

    bad = server.post(f"/api/v1/projects/{project}/sources", json={
        "name": "bad", "kind": "mqtt", "schema": SCHEMA,
        "config": {"broker_uri": "http://x", "topic": "a/#/b", "client_id": "c"}})
    assert "config" in assert_error_shape(bad, 400, "INVALID_ARGUMENT")["message"]
    assert server.delete(f"/api/v1/projects/{project}/sources/meters").status_code == 204


def test_postgres_source_pulls_full_then_incrementally(server, postgres):
    psql = postgres["psql"]
    psql("CREATE TABLE readings (meter_id bigint NOT NULL, kwh double precision, "
         "read_at timestamptz NOT NULL)")
    psql("INSERT INTO readings SELECT i, i * 0.5, TIMESTAMPTZ '2026-11-01 00:00:00+00' + "
         "i * INTERVAL '1 minute' FROM generate_series(1, 250) AS i")
    project = unique_name("pg")
    assert server.create_project(project).status_code == 201
    created = server.post(f"/api/v1/projects/{project}/sources", json={
        "name": "readings", "kind": "postgresql", "schema": SCHEMA,
        "config": {"uri": postgres["uri"], "table": "readings", "timestamp_column": "read_at",
                   "batch_rows": 100}})
    assert created.status_code == 201, created.text
    assert PG_PASSWORD not in created.text and "***" in created.json()["config"]["uri"]

    first = server.post(f"/api/v1/projects/{project}/sources/readings/pull")
    assert first.status_code == 200, first.text
    assert sum(b["rows_accepted"] for b in first.json()["batches"]) == 250
    assert first.json()["watermark_after"].startswith("2026-11-01T04:10:00")
    psql("INSERT INTO readings SELECT i, i * 0.5, TIMESTAMPTZ '2026-11-02 00:00:00+00' + "
         "i * INTERVAL '1 minute' FROM generate_series(1, 30) AS i")
    second = server.post(f"/api/v1/projects/{project}/sources/readings/pull").json()
    assert sum(b["rows_accepted"] for b in second["batches"]) == 30
    assert dataset_rows(server, project, "readings") == 280
    again = server.post(f"/api/v1/projects/{project}/sources/readings/pull").json()
    assert again["batches"] == []

    # The password is sealed at rest: nowhere in the server's files in plaintext.
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            assert PG_PASSWORD.encode() not in path.read_bytes(), path

    wrong = server.post(f"/api/v1/projects/{project}/sources", json={
        "name": "wrong", "kind": "postgresql", "schema": SCHEMA,
        "config": {"uri": postgres["uri"].replace(PG_PASSWORD, "nope"), "table": "readings"}})
    assert wrong.status_code == 201
    refused = server.post(f"/api/v1/projects/{project}/sources/wrong/pull")
    error = assert_error_shape(refused, 503, "UNAVAILABLE")
    assert "nope" not in error["message"]
    injected = server.post(f"/api/v1/projects/{project}/sources", json={
        "name": "inj", "kind": "postgresql", "schema": SCHEMA,
        "config": {"uri": postgres["uri"], "table": "readings; DROP TABLE readings"}})
    assert_error_shape(injected, 400, "INVALID_ARGUMENT")
    file_source = server.post(f"/api/v1/projects/{project}/sources", json={
        "name": "f", "kind": "file", "schema": SCHEMA})
    assert file_source.status_code == 201
    assert_error_shape(server.post(f"/api/v1/projects/{project}/sources/f/pull"), 409,
                       "FAILED_PRECONDITION")
