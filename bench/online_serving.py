"""Online feature reads over HTTP on loopback: Falaj's POST /features/online against its own
/healthz and against Feast's Python feature server (SQLite online store, `feast serve`), on the
same data (N entities × 50 float features), in the same run. Feast's server cannot sustain the
constant rate, so its latency is measured at a tenth of it and its ceiling with 4 connections.

For each server: a constant-rate run (vegeta, 1 000 requests/s, 1 entity × 50 features, random
entities, Falaj's read once beforehand: the first reads after materialisation are reported
apart) reporting p50/p99, then a closed-loop run (wrk, 16 connections) reporting the ceiling.

Usage: .venv/bin/python bench/online_serving.py [FALAJ_BINARY] [--entities N] [--seconds S]
Feast runs when .venv-feast/bin/feast exists (python3 -m venv .venv-feast &&
.venv-feast/bin/pip install feast==0.67.0); vegeta comes from scripts/install-bench-deps.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import requests

ROOT = Path(__file__).resolve().parent.parent
FEATURES = [f"f{i}" for i in range(50)]
VEGETA = ROOT / ".bench-bin" / "vegeta"
FEAST = ROOT / ".venv-feast" / "bin" / "feast"


def wait_for(url, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def make_data(path: Path, entities: int) -> None:
    rng = np.random.default_rng(7)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    columns = {"entity_id": pa.array(np.arange(entities, dtype=np.int64)),
               "event_timestamp": pa.array([now - timedelta(minutes=5)] * entities,
                                           pa.timestamp("us", tz="UTC"))}
    for name in FEATURES:
        columns[name] = pa.array(rng.random(entities))
    pq.write_table(pa.table(columns), path)


def vegeta(targets: list, seconds: int, rate: int, work: Path, name: str) -> dict:
    """Constant-rate run; targets are (method, url, headers, body) tuples."""
    lines = []
    for i, (method, url, headers, body) in enumerate(targets):
        lines.append(f"{method} {url}")
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if body is not None:
            body_file = work / f"{name}-body-{i}.json"
            body_file.write_text(body)
            lines.append(f"@{body_file}")
        lines.append("")
    (work / f"{name}.targets").write_text("\n".join(lines))
    attack = subprocess.run([str(VEGETA), "attack", "-targets", str(work / f"{name}.targets"),
                             "-rate", f"{rate}/s", "-duration", f"{seconds}s", "-keepalive"],
                            capture_output=True, check=True)
    report = subprocess.run([str(VEGETA), "report", "-type", "json"], input=attack.stdout,
                            capture_output=True, check=True)
    data = json.loads(report.stdout)
    return {"p50_ms": data["latencies"]["50th"] / 1e6, "p99_ms": data["latencies"]["99th"] / 1e6,
            "success": data["success"], "rps": data["throughput"]}


def wrk(url: str, body: str | None, headers: dict, seconds: int, work: Path, name: str,
        connections: int = 16) -> float:
    script = work / f"{name}.lua"
    lua = ["wrk.method = 'POST'" if body else "wrk.method = 'GET'"]
    if body:
        lua.append(f"wrk.body = [[{body}]]")
    for key, value in headers.items():
        lua.append(f"wrk.headers['{key}'] = '{value}'")
    script.write_text("\n".join(lua) + "\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{name}: non-2xx answers:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def falaj(binary: str, data: Path, work: Path, args) -> dict:
    process = subprocess.Popen(
        [binary, "server", "--data-dir", str(work / "falaj"), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "FALAJ_LOG_LEVEL": "warn", "FALAJ_RATE_LIMIT_RPS": "0"})
    try:
        url = None
        for line in process.stdout:
            match = re.search(r"serving (http://\S+)", line)
            if match:
                url = match.group(1)
                break
        key = (work / "falaj" / "admin.key").read_text().strip()
        auth = {"Authorization": f"Bearer {key}"}
        s = requests.Session()
        s.headers.update(auth)
        assert s.post(f"{url}/api/v1/projects", json={"name": "bench", "region": "uae-north"}).ok
        schema = [{"name": "entity_id", "type": "int64", "nullable": False},
                  {"name": "event_timestamp", "type": "timestamp"}] + \
                 [{"name": n, "type": "float64"} for n in FEATURES]
        assert s.post(f"{url}/api/v1/projects/bench/sources",
                      json={"name": "stats", "kind": "file", "schema": schema}).ok
        started = time.monotonic()
        ingest = s.post(f"{url}/api/v1/projects/bench/sources/stats/ingest?format=parquet",
                        data=data.read_bytes())
        assert ingest.ok, ingest.text
        ingest_seconds = time.monotonic() - started
        objects = [{"kind": "entity", "name": "e", "join_keys": ["entity_id"]},
                   {"kind": "feature_view", "name": "stats", "entities": ["e"], "source": "stats",
                    "timestamp_field": "event_timestamp", "ttl": "1d",
                    "features": [{"name": n, "type": "float64"} for n in FEATURES]},
                   {"kind": "feature_service", "name": "svc", "features": ["stats:*"]}]
        assert s.post(f"{url}/api/v1/projects/bench/feature-definitions",
                      json={"objects": objects}).ok
        started = time.monotonic()
        runs = s.post(f"{url}/api/v1/projects/bench/features/materialize", json={}).json()["runs"]
        materialize_seconds = time.monotonic() - started
        rng = random.Random(1)
        bodies = [json.dumps({"feature_service": "svc",
                              "entities": {"entity_id": [rng.randrange(args.entities)]}})
                  for _ in range(200)]
        check = s.post(f"{url}/api/v1/projects/bench/features/online", data=bodies[0]).json()
        assert check["results"][1]["statuses"] == ["PRESENT"], check
        online = f"{url}/api/v1/projects/bench/features/online"
        headers = {**auth, "Content-Type": "application/json"}
        # The first read of an entity after a bulk-loaded materialisation comes from disk on the
        # worker pool; timed apart, so the constant-rate run measures warm reads.
        started = time.monotonic()
        for body in bodies:
            assert s.post(online, data=body).ok
        first_reads_ms = (time.monotonic() - started) * 1000 / len(bodies)
        result = {
            "ingest_rows_per_s": args.entities / ingest_seconds,
            "materialize_rows_per_s": runs[0]["rows_read"] / materialize_seconds,
            "first_reads_ms": first_reads_ms,
            "healthz_const": vegeta([("GET", f"{url}/healthz", {}, None)], args.seconds,
                                    args.rate, work, "f-healthz"),
            "online_const": vegeta([("POST", online, headers, b) for b in bodies], args.seconds,
                                   args.rate, work, "f-online"),
            "healthz_max": wrk(f"{url}/healthz", None, {}, args.seconds, work, "f-healthz"),
            "online_max": wrk(online, bodies[0], headers, args.seconds, work, "f-online"),
        }
        return result
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


FEAST_REPO = """\
project: bench
registry: {work}/registry.db
provider: local
online_store:
  type: sqlite
  path: {work}/online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""

FEAST_DEFS = """\
from datetime import timedelta
from feast import Entity, FeatureService, FeatureView, Field, FileSource
from feast.types import Float64
from feast.value_type import ValueType

entity = Entity(name="e", join_keys=["entity_id"], value_type=ValueType.INT64)
source = FileSource(path="{data}", timestamp_field="event_timestamp")
stats = FeatureView(name="stats", entities=[entity], ttl=timedelta(days=1), source=source,
                    schema=[{fields}])
svc = FeatureService(name="svc", features=[stats])
"""


def feast(data: Path, work: Path, args) -> dict:
    repo = work / "feast"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(FEAST_REPO.format(work=repo))
    fields = ", ".join(f'Field(name="{n}", dtype=Float64)' for n in FEATURES)
    (repo / "defs.py").write_text(FEAST_DEFS.format(data=data, fields=fields))
    env = {**os.environ, "FEAST_USAGE": "False"}
    subprocess.run([str(FEAST), "apply"], cwd=repo, check=True, env=env, capture_output=True)
    started = time.monotonic()
    end = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    subprocess.run([str(FEAST), "materialize-incremental", end], cwd=repo, check=True, env=env,
                   capture_output=True)
    materialize_seconds = time.monotonic() - started
    port = 18000 + os.getpid() % 1000
    process = subprocess.Popen([str(FEAST), "serve", "-h", "127.0.0.1", "-p", str(port)],
                               cwd=repo, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/health")
        rng = random.Random(1)
        bodies = [json.dumps({"feature_service": "svc",
                              "entities": {"entity_id": [rng.randrange(args.entities)]}})
                  for _ in range(200)]
        check = requests.post(f"{url}/get-online-features", data=bodies[0],
                              headers={"Content-Type": "application/json"}).json()
        assert check.get("results", [{}, {}])[1].get("statuses") == ["PRESENT"], check
        headers = {"Content-Type": "application/json"}
        online = f"{url}/get-online-features"
        return {
            "materialize_rows_per_s": args.entities / materialize_seconds,
            # Feast's server falls over at our rate: its latency is measured at a tenth of it.
            "online_const": vegeta([("POST", online, headers, b) for b in bodies], args.seconds,
                                   args.rate // 10, work, "feast-online"),
            "online_max": wrk(online, bodies[0], headers, args.seconds, work, "feast-online", 4),
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("binary", nargs="?", default=str(ROOT / "build" / "falaj"))
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--no-feast", action="store_true", help="measure Falaj only")
    args = parser.parse_args()
    if not VEGETA.exists():
        print("vegeta is missing: run scripts/install-bench-deps", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="falaj-online-bench-"))
    try:
        data = work / "stats.parquet"
        make_data(data, args.entities)
        ours = falaj(args.binary, data, work, args)
        theirs = feast(data, work, args) if FEAST.exists() and not args.no_feast else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"online features: {args.entities} entities x 50 float features, 1 entity per request")
    for label, key in (("healthz", "healthz_const"), ("falaj online", "online_const")):
        r = ours[key]
        print(f"  {label:<14} {args.rate}/s: p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms"
              f"  success {r['success']:.4f}")
    print(f"  falaj ceiling: online {ours['online_max']:.0f} req/s, healthz "
          f"{ours['healthz_max']:.0f} req/s, ratio {ours['online_max'] / ours['healthz_max']:.2f}")
    print(f"  falaj ingest {ours['ingest_rows_per_s']:.0f} rows/s, materialise "
          f"{ours['materialize_rows_per_s']:.0f} rows/s (HTTP, end to end); first read of an "
          f"entity after it {ours['first_reads_ms']:.3f} ms (sequential, untimed by vegeta)")
    if theirs:
        r = theirs["online_const"]
        print(f"  feast online   {args.rate // 10}/s: p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms"
              f"  success {r['success']:.4f}")
        ratio = (f"{ours['online_max'] / theirs['online_max']:.1f}x"
                 if theirs["online_max"] > 0 else "n/a (feast answered nothing in time)")
        print(f"  feast ceiling: {theirs['online_max']:.0f} req/s; falaj/feast {ratio}; "
              f"feast materialise {theirs['materialize_rows_per_s']:.0f} rows/s")
    else:
        print("  feast: skipped (--no-feast, or .venv-feast not installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
