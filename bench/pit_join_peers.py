"""Point-in-time join: Falaj's PointInTimeJoin (bench/pit_join.cc) beside DuckDB's ASOF JOIN.

The issue's target: 1 M entity rows x 10 M feature rows x 3 feature views from local Parquet, no
slower than DuckDB's ASOF JOIN on the same files, and identical rows. This script

  1. writes seeded Parquet files (int64 keys, timestamp[us] event and created timestamps with many
     ties, 1-3 float/int features per view, a TTL on one view, a few null keys and timestamps);
  2. runs pit_join (our join: read, join, write Snappy Parquet) in a child process;
  3. runs DuckDB twice, each in its own child process so that peak RSS is its own: once end to end
     (one COPY from the Parquet files to a Parquet file) and once with the tables loaded into
     memory first, so that the join alone can be timed;
  4. checks that our rows and DuckDB's are identical (both sorted by entity_row_id) and prints the
     times, the ratios and the peak RSS measured in this run.

"Join alone" is, for us, the first PointInTimeJoin call in a fresh process (it pays for faulting
in fresh memory, as a one-off job would; later calls reuse Arrow's pool and are shown as "best
of N"), and for DuckDB a CREATE TABLE AS over tables already loaded into memory. CPU seconds are
printed beside wall times: the machine may be shared, and CPU time does not count the others.

DuckDB's ASOF JOIN takes, per entity row, the feature row with the same key and the greatest
ts <= entity ts, but leaves ties on ts unspecified. The query therefore first keeps one row per
(key, ts) with QUALIFY row_number() OVER (PARTITION BY key, ts ORDER BY created DESC NULLS LAST,
file_row_number DESC) = 1, then ASOF LEFT JOINs, then applies the TTL with a CASE on the matched
row's ts (the ASOF match is the latest row at or before the entity ts; if it is older than the
TTL, so is every other candidate, hence null).

  .venv/bin/python bench/pit_join_peers.py --pit-join BUILD/bench/pit_join [--entities N]
      [--features M] [--threads T] [--repeat R] [--dir DIR]
Files go to DIR (default /tmp/pit_join_bench_<N>x<M>) and are reused on later runs.
"""

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

T0 = 1_700_000_000_000_000  # microseconds since the epoch
SPAN_US = 30 * 86_400 * 1_000_000
NULL_SHARE = 0.001

# name, feature columns (name, type), event-ts granularity (us), has created ts, ttl (us, 0 = none)
VIEWS = [
    ("v0", [("price", "f64"), ("qty", "i64")], 3_600_000_000, True, 0),
    ("v1", [("rate", "f64")], 1_000_000, False, 12 * 3_600_000_000),
    ("v2", [("a", "f64"), ("b", "i64"), ("c", "f32")], 60_000_000, True, 0),
]


def with_nulls(rng, values):
    return pa.array(values, mask=rng.random(len(values)) < NULL_SHARE)


def timestamps(rng, values):
    return with_nulls(rng, values).cast(pa.timestamp("us"))


def generate(directory, entities, features, keys, seed):
    rng = np.random.default_rng(seed)
    ets = T0 + rng.integers(0, SPAN_US // 1_000_000, entities) * 1_000_000
    table = pa.table({
        "entity_row_id": pa.array(np.arange(entities, dtype=np.int64)),
        "key": with_nulls(rng, rng.integers(0, keys, entities)),
        "event_timestamp": timestamps(rng, ets),
    })
    pq.write_table(table, directory / "entities.parquet", compression="snappy")
    for name, columns, granularity, has_created, _ in VIEWS:
        slots = rng.integers(0, (SPAN_US * 5 // 4) // granularity, features)
        ts = T0 - SPAN_US // 4 + slots * granularity
        data = {
            "key": with_nulls(rng, rng.integers(0, keys, features)),
            "event_timestamp": timestamps(rng, ts),
        }
        if has_created:  # 0-2 hours after the event: ties in created too, left to row order
            data["created"] = timestamps(rng, ts + rng.integers(0, 3, features) * 3_600_000_000)
        for column, kind in columns:
            if kind == "i64":
                data[column] = pa.array(rng.integers(-1_000_000, 1_000_000, features))
            else:
                values = rng.standard_normal(features)
                data[column] = pa.array(values.astype(np.float32) if kind == "f32" else values)
        pq.write_table(pa.table(data), directory / f"{name}.parquet", compression="snappy")


def run_ours(binary, directory, threads, repeat):
    command = [binary, "--entities", str(directory / "entities.parquet"), "--entity-ts",
               "event_timestamp", "--out", str(directory / "ours.parquet"),
               "--threads", str(threads),
               "--repeat", str(repeat), "--full-names"]
    for name, _, _, has_created, ttl in VIEWS:
        spec = f"{name}={directory / (name + '.parquet')},keys=key,ts=event_timestamp"
        if has_created:
            spec += ",created=created"
        if ttl:
            spec += f",ttl_us={ttl}"
        command += ["--view", spec]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def duckdb_query(source, tie_break=True):
    """The SELECT that joins; source(name) names a table or a read_parquet(...) call. Without
    tie_break it is a bare ASOF JOIN, which picks among rows with equal ts arbitrarily."""
    ctes, selects, joins = [], [], []
    for name, columns, _, has_created, ttl in VIEWS:
        features = ", ".join(column for column, _ in columns)
        order = "created DESC NULLS LAST, rn DESC" if has_created else "rn DESC"
        qualify = (" QUALIFY row_number() OVER (PARTITION BY key, event_timestamp"
                   f" ORDER BY {order}) = 1" if tie_break else "")
        ctes.append(
            f"{name} AS (SELECT key, event_timestamp AS ts, {features} FROM {source(name)} "
            f"WHERE key IS NOT NULL AND event_timestamp IS NOT NULL{qualify})")
        for column, _ in columns:
            value = f"{name}.{column}"
            if ttl:
                value = (f"CASE WHEN {name}.ts >= e.event_timestamp - to_microseconds({ttl}) "
                         f"THEN {value} END")
            selects.append(f"{value} AS {name}__{column}")
        joins.append(f"ASOF LEFT JOIN {name} ON e.key = {name}.key"
                     f" AND e.event_timestamp >= {name}.ts")
    return (f"WITH {', '.join(ctes)} SELECT e.*, {', '.join(selects)} FROM {source('entities')} e "
            + " ".join(joins))


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def duckdb_child(directory, threads, mode):
    """Runs in its own process; prints a JSON line with its times and peak RSS."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    out = directory / "duckdb.parquet"

    def parquet(name):
        if name == "entities":
            return f"read_parquet('{directory / 'entities.parquet'}')"
        return (f"(SELECT *, file_row_number AS rn FROM "
                f"read_parquet('{directory / (name + '.parquet')}', file_row_number = true))")

    result = {"mode": mode, "threads": threads}
    start, cpu = time.perf_counter(), cpu_seconds()
    if mode == "e2e":
        query = duckdb_query(parquet)
        con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet, COMPRESSION snappy)")
        result["read_join_write_s"] = time.perf_counter() - start
        result["total_cpu_s"] = cpu_seconds() - cpu
    else:
        for name in ["entities"] + [view[0] for view in VIEWS]:
            con.execute(f"CREATE TABLE {name}_t AS SELECT * FROM {parquet(name)}")
        result["read_s"] = time.perf_counter() - start
        start, cpu = time.perf_counter(), cpu_seconds()
        con.execute(f"CREATE TABLE joined AS {duckdb_query(lambda name: name + '_t')}")
        result["join_s"] = time.perf_counter() - start
        result["join_cpu_s"] = cpu_seconds() - cpu
        start, cpu = time.perf_counter(), cpu_seconds()
        con.execute(f"CREATE TABLE joined_raw AS {duckdb_query(lambda name: name + '_t', False)}")
        result["raw_asof_join_s"] = time.perf_counter() - start
        result["raw_asof_join_cpu_s"] = cpu_seconds() - cpu
        start = time.perf_counter()
        con.execute(f"COPY joined TO '{directory / 'duckdb_inmem.parquet'}' (FORMAT parquet)")
        result["write_s"] = time.perf_counter() - start
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_duckdb(directory, threads, mode):
    command = [sys.executable, __file__, "--duckdb-child", mode, "--dir", str(directory),
               "--threads", str(threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def duckdb_version():
    import duckdb

    return duckdb.__version__


def compare(directory):
    """Number of rows that differ between our output and DuckDB's, after sorting both by id."""
    ours = pq.read_table(directory / "ours.parquet").sort_by("entity_row_id")
    theirs = pq.read_table(directory / "duckdb.parquet").sort_by("entity_row_id")
    if ours.column_names != theirs.column_names:
        raise SystemExit(f"columns differ: {ours.column_names} vs {theirs.column_names}")
    if ours.num_rows != theirs.num_rows:
        raise SystemExit(f"row counts differ: {ours.num_rows} vs {theirs.num_rows}")
    differing = np.zeros(ours.num_rows, dtype=bool)
    for name in ours.column_names:
        a = ours[name].combine_chunks()
        b = theirs[name].combine_chunks().cast(a.type)
        same = pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)
        both_null = (pc.is_null(a).to_numpy(zero_copy_only=False)
                     & pc.is_null(b).to_numpy(zero_copy_only=False))
        differing |= ~(same | both_null)
    unmatched = {name: int(ours[f"{name}__{columns[0][0]}"].null_count)
                 for name, columns, *_ in VIEWS}
    return int(differing.sum()), ours.num_rows, unmatched


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pit-join", help="path to the pit_join binary")
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=10_000_000, help="rows per feature view")
    parser.add_argument("--keys", type=int, default=0, help="distinct keys (default entities / 10)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3,
                        help="calls of our join in one process; the first and the best are shown")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--dir", help="for the Parquet files (default /tmp/pit_join_bench_NxM)")
    parser.add_argument("--duckdb-child", choices=["e2e", "inmem"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.duckdb_child:
        return duckdb_child(pathlib.Path(args.dir), args.threads, args.duckdb_child)
    if not args.pit_join:
        parser.error("--pit-join is required")

    directory = pathlib.Path(args.dir or f"/tmp/pit_join_bench_{args.entities}x{args.features}")
    directory.mkdir(parents=True, exist_ok=True)
    stamp = directory / f"generated-{args.seed}-{args.keys}"
    if not stamp.exists():
        start = time.perf_counter()
        generate(directory, args.entities, args.features, args.keys or max(1, args.entities // 10),
                 args.seed)
        stamp.touch()
        print(f"generated {directory} in {time.perf_counter() - start:.1f} s", file=sys.stderr)

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    ours = run_ours(args.pit_join, directory, args.threads, args.repeat)
    e2e = run_duckdb(directory, args.threads, "e2e")
    inmem = run_duckdb(directory, args.threads, "inmem")
    differing, rows, unmatched = compare(directory)

    print(f"point-in-time join, {args.entities:,} entity rows x {args.features:,} feature rows x "
          f"{len(VIEWS)} views, {args.threads} threads (pyarrow {pa.__version__}, duckdb "
          f"{duckdb_version()}); load average before: {load_before}")
    print(f"  rows identical to DuckDB: {rows - differing:,} of {rows:,} ({differing} differ);"
          f" entity rows without a match per view: {unmatched}")
    ratio = ours["first_join_s"] / inmem["join_s"]
    print(f"  join alone       ours {ours['first_join_s']:7.3f} s (best of {args.repeat}:"
          f" {ours['join_s']:.3f} s, CPU {ours['join_cpu_s']:.3f} s)"
          f"   DuckDB {inmem['join_s']:7.3f} s"
          f" (CPU {inmem['join_cpu_s']:.3f} s)   ours/DuckDB {ratio:.2f}")
    print(f"    DuckDB's bare ASOF JOIN, without the tie-break dedupe (so not identical on ties):"
          f" {inmem['raw_asof_join_s']:.3f} s (CPU {inmem['raw_asof_join_cpu_s']:.3f} s)")
    ratio = ours["read_join_write_s"] / e2e["read_join_write_s"]
    print(f"  read+join+write  ours {ours['read_join_write_s']:7.3f} s"
          f"   DuckDB {e2e['read_join_write_s']:7.3f} s (one COPY from Parquet to Parquet)"
          f"   ours/DuckDB {ratio:.2f}")
    print(f"    ours: read {ours['read_s']:.3f} s, first join {ours['first_join_s']:.3f} s,"
          f" write {ours['write_s']:.3f} s; process CPU {ours['total_cpu_s']:.1f} s (with"
          f" {args.repeat - 1} extra joins); DuckDB CPU {e2e['total_cpu_s']:.1f} s")
    print(f"  peak RSS         ours {ours['peak_rss_mb']:7.0f} MB"
          f"   DuckDB end to end {e2e['peak_rss_mb']:.0f} MB"
          f" (in-memory run {inmem['peak_rss_mb']:.0f} MB)")
    print(json.dumps({"ours": ours, "duckdb_e2e": e2e, "duckdb_inmem": inmem,
                      "differing_rows": differing}))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
