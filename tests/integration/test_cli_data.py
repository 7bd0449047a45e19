"""The data and feature-store client commands against a real server: a source registered from
YAML, a CSV ingested with its outcome and profile shown, feature definitions applied from a
folder (a diff first, --dry-run applies nothing, a second apply changes nothing), materialised,
and read online; a dataset downloaded; bad files refused before anything is sent."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow.parquet as pq

from conftest import cli, unique_name

SOURCE = """\
name: readings
kind: file
schema:
  - {name: meter_id, type: int64, nullable: false}
  - {name: kwh, type: float64}
  - {name: read_at, type: timestamp}
validation:
  rules:
    - {column: kwh, range: {min: 0}}
"""

DEFINITIONS = """\
kind: entity
name: meter
join_keys: [meter_id]
---
kind: feature_view
name: usage
entities: [meter]
source: readings
timestamp_field: read_at
features:
  - {name: kwh, type: float64}
"""

SERVICE = """\
kind: feature_service
name: billing
features: ["usage:kwh"]
"""


def run(server, home, *args):
    return cli(args, home, {"FALAJ_URL": server.url, "FALAJ_KEY": server.key})


def run_json(server, home, *args):
    result = run(server, home, *args, "-o", "json")
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout)


def test_data_and_features_through_the_cli(server, home, tmp_path):
    project = unique_name("clidata")
    assert server.create_project(project).status_code == 201
    (tmp_path / "source.yaml").write_text(SOURCE)
    created = run_json(server, home, "sources", "create", project, "-f", str(tmp_path / "source.yaml"))
    assert created["name"] == "readings" and created["revision"] == 1

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    stamp = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    csv = tmp_path / "readings.csv"
    csv.write_text(f"meter_id,kwh,read_at\n1,3.5,{stamp}\n2,-1,{stamp}\n3,7.25,{stamp}\n")
    outcome = run_json(server, home, "sources", "ingest", project, "readings", str(csv))
    assert (outcome["rows_accepted"], outcome["rows_quarantined"]) == (2, 1)
    table = run(server, home, "datasets", "profile", project, "readings")
    assert table.returncode == 0 and "kwh" in table.stdout and "5.375" in table.stdout
    report = run(server, home, "datasets", "report", project, "readings")
    assert report.returncode == 0 and "verdict: accepted_with_quarantine" in report.stdout
    check_rows = [line.split() for line in report.stdout.splitlines() if " range " in line]
    assert len(check_rows) == 1 and check_rows[0][-3:] == ["1", "0.6666666666666666", "false"], report.stdout

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "meter.yaml").write_text(DEFINITIONS)
    (repo / "service.yml").write_text(SERVICE)
    dry = run(server, home, "apply", project, "-f", str(repo), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "+ entity meter (version 1)" in dry.stdout and "3 to change" in dry.stdout
    assert run_json(server, home, "features", "list", project) == []
    applied = run(server, home, "apply", project, "-f", str(repo))
    assert applied.returncode == 0 and "applied" in applied.stdout, applied.stderr
    again = run(server, home, "apply", project, "-f", str(repo))
    assert "0 to change, 3 unchanged" in again.stdout
    (repo / "meter.yaml").write_text(DEFINITIONS.replace("features:", "ttl: 1d\nfeatures:"))
    changed = run(server, home, "apply", project, "-f", str(repo))
    assert "~ feature_view usage (version 2)" in changed.stdout
    assert "ttl_seconds: 0 -> 86400" in changed.stdout

    runs = run_json(server, home, "features", "materialize", project)
    assert [(r["feature_view"], r["entities_written"]) for r in runs] == [("usage", 2)]
    online = run_json(server, home, "features", "online", project, "--service", "billing",
                      "--entities", "meter_id=1,2,3")
    assert online["results"][1]["values"] == [3.5, None, 7.25]
    shown = run(server, home, "features", "online", project, "--feature", "usage:kwh",
                "--entities", "meter_id=3")
    assert shown.returncode == 0 and "7.25" in shown.stdout

    out = tmp_path / "readings.parquet"
    assert run(server, home, "datasets", "download", project, "readings", "--out",
               str(out)).returncode == 0
    assert pq.read_table(io.BytesIO(out.read_bytes()))["kwh"].to_pylist() == [3.5, 7.25]


def test_ingest_draws_an_upload_progress_bar_only_when_asked_or_on_a_terminal(server, home,
                                                                             tmp_path):
    project = unique_name("cliprogress")
    assert server.create_project(project).status_code == 201
    (tmp_path / "source.yaml").write_text(SOURCE)
    assert run(server, home, "sources", "create", project, "-f",
               str(tmp_path / "source.yaml")).returncode == 0
    stamp = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = 60_000  # about 2.5 MB: several 256 KiB steps
    csv = tmp_path / "many.csv"
    csv.write_text("meter_id,kwh,read_at\n" +
                   "".join(f"{i},{i % 97}.5,{stamp}\n" for i in range(rows)))

    forced = run(server, home, "sources", "ingest", project, "readings", str(csv), "--progress",
                 "always", "-o", "json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["rows_accepted"] == rows
    # Redraws start with a carriage return, which text-mode capture turns into line breaks.
    draws = [line for line in forced.stderr.splitlines() if line.startswith("uploading [")]
    assert len(draws) >= 2 and "100%" in draws[-1], forced.stderr
    assert "the server is validating and storing" in forced.stderr

    # Captured output is not a terminal: the default draws nothing, and 'never' is respected.
    for extra in ([], ["--progress", "never"]):
        quiet = run(server, home, "sources", "ingest", project, "readings", str(csv), *extra)
        assert quiet.returncode == 0 and "uploading [" not in quiet.stderr, quiet.stderr
    wrong = run(server, home, "sources", "ingest", project, "readings", str(csv), "--progress",
                "sometimes")
    assert wrong.returncode != 0 and "--progress" in wrong.stderr


def test_bad_files_are_refused_before_sending(server, home, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    result = run(server, home, "sources", "create", "nowhere", "-f", str(bad))
    assert result.returncode == 2 and "bad.yaml" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(server, home, "apply", "nowhere", "-f", str(empty))
    assert result.returncode == 2 and "no definitions" in result.stderr
    result = run(server, home, "features", "online", "nowhere", "--service", "s",
                 "--entities", "no-equals-sign")
    assert result.returncode == 2 and "--entities" in result.stderr
