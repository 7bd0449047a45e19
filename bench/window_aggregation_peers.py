"""Offline windowed aggregation: Falaj's WindowAggregateJoin (bench/window_aggregation_bench.cc)
beside DuckDB computing the same 9 aggregates (sum of an int64 and a float64 column and a count,
over 1h, 24h and 7d) on the same rows, in one run.

The bench writes its seeded inputs (1 M events, 100 k entity rows, 10 k keys, 30 days) to Parquet
and times our join; DuckDB then loads the files into memory and runs a range join — each entity
row joined to its key's events in the widest window, narrower windows as conditional aggregates —
with the documented window rule align(t) + g - W <= ts <= t, g = 1 minute. Both are timed on
tables already in memory. CPU seconds are printed beside wall time: the machine may be shared.

  .venv/bin/python bench/window_aggregation_peers.py --bench BUILD/bench/window_aggregation_bench
      [--threads T] [--dir DIR]
"""

import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import time

import duckdb

G = 60_000_000
WINDOWS = {"1h": 3_600_000_000, "24h": 86_400_000_000, "7d": 604_800_000_000}


def duckdb_query() -> str:
    widest = max(WINDOWS.values())
    parts = []
    for label, width in WINDOWS.items():
        inside = f"v.us >= e.aligned + {G} - {width}"
        parts += [f"SUM(CASE WHEN {inside} THEN v.amount END) AS amount_sum_{label}",
                  f"SUM(CASE WHEN {inside} THEN v.score END) AS score_sum_{label}",
                  f"COUNT(CASE WHEN {inside} THEN 1 END) AS count_{label}"]
    return f"""
        CREATE OR REPLACE TABLE result AS
        SELECT e.row_id, {', '.join(parts)}
        FROM e LEFT JOIN v ON v.customer_id = e.customer_id AND v.us <= e.us
                          AND v.us >= e.aligned + {G} - {widest}
        GROUP BY e.row_id"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    directory = pathlib.Path(args.dir or tempfile.mkdtemp(prefix="window_bench_"))
    directory.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ, FALAJ_WINDOW_BENCH_DUMP=str(directory))
    out = subprocess.run([args.bench, "--benchmark_repetitions=3", "--benchmark_format=json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    ours_wall = min(b["real_time"] for b in runs) / 1e3
    ours_cpu = min(b["cpu_time"] for b in runs) / 1e3

    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute(f"""CREATE TABLE v AS SELECT customer_id, epoch_us(event_time) AS us, amount, score
                    FROM read_parquet('{directory}/events.parquet')""")
    con.execute(f"""CREATE TABLE e AS SELECT row_number() OVER () AS row_id, customer_id,
                           epoch_us(ts) AS us, (epoch_us(ts) // {G}) * {G} AS aligned
                    FROM read_parquet('{directory}/entities.parquet')""")
    timings = []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        con.execute(duckdb_query())
        timings.append((time.perf_counter() - wall, time.process_time() - cpu))
    duck_wall = min(t[0] for t in timings)
    duck_cpu = min(t[1] for t in timings)
    rows = con.execute("SELECT COUNT(*), SUM(count_7d) FROM result").fetchone()
    print(f"inputs: 1 M events x 100 k entity rows, 9 aggregates; DuckDB threads={args.threads}")
    print(f"falaj  WindowAggregateJoin: best {ours_wall:.3f} s wall, {ours_cpu:.3f} s CPU")
    print(f"duckdb range join:          best {duck_wall:.3f} s wall, {duck_cpu:.3f} s CPU "
          f"({rows[0]} rows, {rows[1]} events counted in 7d windows)")
    print(f"ratio (ours / DuckDB): {ours_wall / duck_wall:.2f}x wall, "
          f"{ours_cpu / duck_cpu:.2f}x CPU")


if __name__ == "__main__":
    main()
