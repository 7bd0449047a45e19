"""Point-in-time join: Falaj's PointInTimeJoin (bench/pit_join.cc) beside Feast's local offline
store (`get_historical_features` over FileSources, pandas/dask), on the files and views of
bench/pit_join_peers.py.

The issue's target: at least 20x Feast's local offline store "if it completes at all". Feast runs
in its own virtualenv (.venv-feast, feast 0.67, from scripts/install-bench-deps) as a child
process with a time limit; our join runs in the same session on the same Parquet files, so the
ratio is measured in one run. Rows are compared after sorting by entity_row_id and the number that
differ is printed (Feast reads int64 keys with nulls through pandas as floats; such rows may
differ).

  .venv/bin/python bench/pit_join_feast.py --pit-join BUILD/bench/pit_join [--entities N]
      [--features M] [--timeout SECONDS]
"""

import argparse
import datetime as dt
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FEAST_PYTHON = ROOT / ".venv-feast" / "bin" / "python"
sys.path.insert(0, str(ROOT / "bench"))


def feast_child(directory):
    """Runs under .venv-feast's Python; prints one JSON line with its time and peak RSS."""
    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float32, Float64, Int64
    from feast.value_type import ValueType

    from pit_join_peers import VIEWS

    types = {"f64": Float64, "f32": Float32, "i64": Int64}
    repo = pathlib.Path(tempfile.mkdtemp(prefix="feast-pit-"))
    (repo / "feature_store.yaml").write_text(textwrap.dedent(f"""\
        project: pitbench
        registry: {repo / 'registry.db'}
        provider: local
        online_store: {{type: sqlite, path: {repo / 'online.db'}}}
        offline_store: {{type: file}}
        entity_key_serialization_version: 3
        """))
    store = FeatureStore(repo_path=str(repo))
    entity = Entity(name="key", join_keys=["key"], value_type=ValueType.INT64)
    views, refs = [], []
    for name, columns, _, has_created, ttl in VIEWS:
        source = FileSource(path=str(directory / f"{name}.parquet"),
                            timestamp_field="event_timestamp",
                            created_timestamp_column="created" if has_created else "")
        views.append(FeatureView(
            name=name, entities=[entity], ttl=dt.timedelta(microseconds=ttl), online=False,
            schema=[Field(name=column, dtype=types[kind]) for column, kind in columns],
            source=source))
        refs += [f"{name}:{column}" for column, _ in columns]
    store.apply([entity, *views])
    entities = pd.read_parquet(directory / "entities.parquet")
    entities["event_timestamp"] = entities["event_timestamp"].dt.tz_localize("UTC")
    start = time.perf_counter()
    joined = store.get_historical_features(entity_df=entities, features=refs,
                                           full_feature_names=True).to_df()
    elapsed = time.perf_counter() - start
    joined.to_parquet(directory / "feast.parquet")
    print(json.dumps({"join_s": elapsed, "rows": len(joined),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def compare(directory):
    """(rows that differ, rows Feast left out, our rows), matching rows by entity_row_id."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ours = pq.read_table(directory / "ours.parquet")
    theirs = pq.read_table(directory / "feast.parquet")
    features = [n for n in ours.column_names if "__" in n and n in theirs.column_names]
    theirs = theirs.select(["entity_row_id"] + features).rename_columns(
        ["entity_row_id"] + [f"feast_{n}" for n in features])
    both = ours.join(theirs, keys="entity_row_id", join_type="inner")
    differing = np.zeros(both.num_rows, dtype=bool)
    for name in features:
        a = both[name].combine_chunks()
        b = both[f"feast_{name}"].combine_chunks().cast(a.type, safe=False)
        same = pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)
        both_null = (pc.is_null(a).to_numpy(zero_copy_only=False)
                     & pc.is_null(b, nan_is_null=True).to_numpy(zero_copy_only=False))
        differing |= ~(same | both_null)
    return int(differing.sum()), ours.num_rows - both.num_rows, ours.num_rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pit-join", help="path to the pit_join binary")
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=1_000_000, help="rows per feature view")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800, help="Feast's time limit, seconds")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--feast-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help="for the Parquet files (default /tmp/pit_join_bench_NxM)")
    args = parser.parse_args()
    directory = pathlib.Path(args.dir or f"/tmp/pit_join_bench_{args.entities}x{args.features}")
    if args.feast_child:
        return feast_child(directory)
    if not args.pit_join:
        parser.error("--pit-join is required")
    if not FEAST_PYTHON.exists():
        raise SystemExit("Feast is not installed (.venv-feast): run scripts/install-bench-deps")

    from pit_join_peers import generate, run_ours

    directory.mkdir(parents=True, exist_ok=True)
    stamp = directory / f"generated-{args.seed}-0"
    if not stamp.exists():
        generate(directory, args.entities, args.features, max(1, args.entities // 10), args.seed)
        stamp.touch()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    ours = run_ours(args.pit_join, directory, args.threads, 1)
    try:
        child = subprocess.run([str(FEAST_PYTHON), __file__, "--feast-child", "--dir",
                                str(directory)], check=True, capture_output=True, text=True,
                               timeout=args.timeout)
        feast = json.loads(child.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        feast = None
    print(f"point-in-time join, {args.entities:,} entity rows x {args.features:,} feature rows x "
          f"3 views; load average before: {load}")
    print(f"  ours   join {ours['first_join_s']:.3f} s, read+join+write "
          f"{ours['read_join_write_s']:.3f} s")
    if feast is None:
        print(f"  Feast  did not complete within {args.timeout:.0f} s")
        return
    differing, missing, rows = compare(directory)
    print(f"  Feast  get_historical_features {feast['join_s']:.3f} s, peak RSS "
          f"{feast['peak_rss_mb']:.0f} MB; of our {rows:,} rows Feast left out {missing:,} and "
          f"answered {differing:,} differently")
    print(f"  Feast / ours: join {feast['join_s'] / ours['first_join_s']:.1f}x, "
          f"against our read+join+write {feast['join_s'] / ours['read_join_write_s']:.1f}x")


if __name__ == "__main__":
    main()
