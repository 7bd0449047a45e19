"""Experiment tracking: Falaj's MLflow-compatible REST API beside a real MLflow tracking server
(mlflow 3.17.2 from PyPI, SQLite backend store), both started here on loopback ephemeral ports and
driven by the same client code (requests, one keep-alive session each) over the same MLflow REST
2.0 calls. The issue's target (issue 6): at least 10x MLflow for both workloads.

  (a) log-batch: 100 000 metric points via runs/log-batch in batches of 1000 into a few runs;
  (b) search: create N runs (default 10 000) with params and metrics (setup, timed but not the
      target), then runs/search with a metric-and-param filter ordered by a metric, paged to the
      end; the best of several repetitions. Both servers must return the same number of runs.

MLflow runs from its own venv (.venv-mlflow-server, made by scripts/install-bench-deps); its
pins must not touch the repo's .venv.

  .venv/bin/python bench/tracking_vs_mlflow.py --falaj BUILD/falaj [--runs N] [--points N]
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
MLFLOW_SERVER = ROOT / ".venv-mlflow-server" / "bin" / "mlflow"
FILTER = "metrics.auc > 0.9 and params.depth = '6'"
ORDER_BY = ["metrics.auc DESC"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready in {timeout}s")


def start_falaj(binary, work):
    process = subprocess.Popen(
        [binary, "server", "--data-dir", str(work / "falaj"), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "FALAJ_LOG_LEVEL": "warn", "FALAJ_RATE_LIMIT_RPS": "0"})
    url = None
    for line in process.stdout:
        match = re.search(r"serving (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        raise RuntimeError("falaj did not print its address")
    wait_ready(url + "/readyz", process)
    key = (work / "falaj" / "admin.key").read_text().strip()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    answer = session.post(f"{url}/api/v1/projects", json={"name": "bench", "region": "uae-north"})
    assert answer.ok, answer.text
    return process, session, f"{url}/mlflow/projects/bench/api/2.0/mlflow", None


def start_mlflow(work, workers, bulk_runs, seed):
    """Starts `mlflow server`; with bulk_runs, first writes (b)'s runs into its store."""
    if not MLFLOW_SERVER.exists():
        sys.exit(".venv-mlflow-server is missing: run scripts/install-bench-deps")
    setup = None
    if bulk_runs:
        code = (f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
                f"from tracking_vs_mlflow import mlflow_bulk_child; "
                f"mlflow_bulk_child({'sqlite:///' + str(work / 'mlflow.db')!r}, "
                f"{str(work / 'mlflow-artifacts')!r}, {bulk_runs}, {seed})")
        started = time.perf_counter()
        done = subprocess.run([str(MLFLOW_SERVER.parent / "python"), "-c", code],
                              capture_output=True, text=True, check=True)
        setup = (json.loads(done.stdout.strip().splitlines()[-1])["experiment_id"],
                 time.perf_counter() - started)
    port = free_port()
    process = subprocess.Popen(
        [str(MLFLOW_SERVER), "server", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
         "--default-artifact-root", str(work / "mlflow-artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=open(work / "mlflow.log", "wb"), cwd=work,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + "/health", process)
    return process, requests.Session(), f"{url}/api/2.0/mlflow", setup


def stop(process):
    """SIGTERM to the server's process group (mlflow's workers too), then SIGKILL after 30 s."""
    try:
        group = os.getpgid(process.pid) if process.pid != os.getpgid(0) else None
    except ProcessLookupError:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if group and group != os.getpgid(0):
            os.killpg(group, sig)
        else:
            process.send_signal(sig)
        try:
            process.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            continue


class Client:
    """The MLflow REST calls both servers answer; the same code drives both."""

    def __init__(self, session, base, retry=False):
        self.session, self.base, self.retry = session, base, retry

    def clone(self, retry):
        """Another keep-alive connection with the same headers, for another thread. `retry`:
        answers of 500 and more are retried (MLflow's SQLite store answers "database is locked"
        to concurrent writers; the failed request changed nothing)."""
        session = requests.Session()
        session.headers.update(self.session.headers)
        return Client(session, self.base, retry)

    def call(self, method, path, body):
        for attempt in range(10 if self.retry else 1):
            if method == "GET":
                answer = self.session.get(f"{self.base}/{path}", params=body)
            else:
                answer = self.session.post(f"{self.base}/{path}", json=body)
            if answer.status_code < 500:
                break
            time.sleep(0.05 * (attempt + 1))
        if not answer.ok:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:500]}")
        return answer.json()

    def post_raw(self, path, body):
        answer = self.session.post(f"{self.base}/{path}", data=body,
                                   headers={"Content-Type": "application/json"})
        if not answer.ok:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:500]}")

    def experiment(self, name):
        return self.call("POST", "experiments/create", {"name": name})["experiment_id"]

    def run(self, experiment_id, start_time):
        body = {"experiment_id": experiment_id, "start_time": start_time}
        return self.call("POST", "runs/create", body)["run"]["info"]["run_id"]


def log_points(client, points, runs, batch):
    """(a): `points` metric points in batches of `batch` spread over `runs` runs."""
    experiment = client.experiment("log-batch")
    run_ids = [client.run(experiment, 1_700_000_000_000) for _ in range(runs)]
    batches = points // batch
    # Bodies are serialised before the clock starts: the client's own JSON work is not the
    # servers' and would only add the same noise to both.
    bodies = []
    for b in range(batches):
        step = b // len(run_ids)
        metrics = [{"key": f"m{i % 10}", "value": (b * batch + i) * 0.001,
                    "timestamp": 1_700_000_000_000 + b, "step": step * 100 + i // 10}
                   for i in range(batch)]
        bodies.append(json.dumps({"run_id": run_ids[b % len(run_ids)], "metrics": metrics}))
    started = time.perf_counter()
    for body in bodies:
        client.post_raw("runs/log-batch", body)
    elapsed = time.perf_counter() - started
    # Read one history back so a server that dropped points would show.
    history = client.call("GET", "metrics/get-history",
                          {"run_id": run_ids[0], "metric_key": "m0", "max_results": 25000})
    return elapsed, len(history.get("metrics", []))


def run_data(i, seed):
    """Run i of (b): its start time, params, metrics and tags (the same on both servers)."""
    rng = random.Random(seed * 1_000_003 + i)
    start = 1_700_000_000_000 + i
    params = {"depth": str(rng.choice([4, 6, 8])), "eta": str(rng.choice([0.05, 0.1, 0.3]))}
    metrics = {"auc": round(rng.uniform(0.5, 1.0), 6), "loss": round(rng.uniform(0.1, 1.0), 6)}
    return start, params, metrics, {"team": rng.choice(["risk", "growth"])}


def create_one(client, experiment, i, seed):
    start, params, metrics, tags = run_data(i, seed)
    run_id = client.run(experiment, start)
    client.call("POST", "runs/log-batch", {
        "run_id": run_id,
        "params": [{"key": k, "value": v} for k, v in params.items()],
        "metrics": [{"key": k, "value": v, "timestamp": start, "step": 0}
                    for k, v in metrics.items()],
        "tags": [{"key": k, "value": v} for k, v in tags.items()]})


def mlflow_bulk_child(uri, artifacts, count, seed):
    """Runs under .venv-mlflow-server: writes (b)'s runs through MLflow's own store and ORM
    models in one transaction (over REST it needs ~0.15 s a run, half an hour for 10 000)."""
    import uuid

    from mlflow.store.tracking.dbmodels import models as m
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, artifacts)
    experiment = store.create_experiment("search")
    with store.ManagedSessionMaker() as session:
        for i in range(count):
            start, params, metrics, tags = run_data(i, seed)
            run_id = uuid.uuid4().hex
            tags = {**tags, "mlflow.runName": f"run-{i}"}
            session.add(m.SqlRun(
                run_uuid=run_id, name=f"run-{i}", experiment_id=int(experiment), user_id="bench",
                status="RUNNING", start_time=start, end_time=None, lifecycle_stage="active",
                artifact_uri=f"{artifacts}/{experiment}/{run_id}/artifacts", source_type="UNKNOWN",
                source_name="", entry_point_name="", source_version=""))
            session.add_all([m.SqlParam(run_uuid=run_id, key=k, value=v) for k, v in params.items()])
            session.add_all([m.SqlTag(run_uuid=run_id, key=k, value=v) for k, v in tags.items()])
            for cls in (m.SqlMetric, m.SqlLatestMetric):
                session.add_all([cls(run_uuid=run_id, key=k, value=v, timestamp=start, step=0,
                                     is_nan=False) for k, v in metrics.items()])
    print(json.dumps({"experiment_id": experiment}))


def create_runs(client, count, seed, threads):
    """Setup for (b), not the target: `threads` clients at once (run i's data depends on i only),
    since MLflow needs a good tenth of a second per run."""
    experiment = client.experiment("search")
    started = time.perf_counter()
    local = threading.local()

    def work(i):
        if not hasattr(local, "client"):
            local.client = client.clone(retry=True)
        create_one(local.client, experiment, i, seed)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(count)))
    return experiment, time.perf_counter() - started


def search(client, experiment, page_size):
    """(b): the whole filtered, ordered result, page by page."""
    ids, token = [], None
    started = time.perf_counter()
    while True:
        body = {"experiment_ids": [experiment], "filter": FILTER, "order_by": ORDER_BY,
                "max_results": page_size}
        if token:
            body["page_token"] = token
        page = client.call("POST", "runs/search", body)
        ids.extend(run["info"]["run_id"] for run in page.get("runs", []))
        token = page.get("next_page_token")
        if not token:
            break
    return time.perf_counter() - started, ids


def measure(name, client, args, setup):
    log_time, history = log_points(client, args.points, args.log_runs, args.batch)
    print(f"{name}: log-batch {args.points} points: {log_time:.3f} s "
          f"({args.points / log_time:,.0f} points/s); history of one key has {history} points",
          flush=True)
    if setup is None:
        experiment, seconds = create_runs(client, args.runs, args.seed, args.setup_threads)
        how = "over REST: create + log-batch each"
    else:
        (experiment, seconds), how = setup, "through its store in one transaction"
    print(f"{name}: setup of {args.runs} runs ({how}): {seconds:.1f} s", flush=True)
    setup = seconds
    times, ids = [], None
    for _ in range(args.repeat):
        elapsed, ids = search(client, experiment, args.page_size)
        times.append(elapsed)
    print(f"{name}: search ({len(ids)} runs, pages of {args.page_size}): best {min(times):.4f} s "
          f"of {[round(t, 4) for t in times]}", flush=True)
    return {"log_s": log_time, "history": history, "setup_s": setup, "search_s": min(times),
            "search_all_s": times, "matched": len(ids)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--falaj", required=True, help="path to the falaj binary")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--log-runs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--setup-threads", type=int, default=8)
    parser.add_argument("--mlflow-setup", choices=["store", "rest"], default="store",
                        help="how MLflow gets (b)'s runs: its own store in one transaction "
                             "(default) or the REST calls Falaj gets")
    parser.add_argument("--mlflow-workers", type=int, default=2,
                        help="server processes; the measured phases use one connection")
    parser.add_argument("--only", choices=["falaj", "mlflow"], help="run one side (no ratio)")
    parser.add_argument("--keep", action="store_true", help="keep the servers' data directory")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="tracking-bench-"))
    results = {}
    try:
        for name, start in (("falaj", lambda: start_falaj(args.falaj, work)),
                            ("mlflow", lambda: start_mlflow(
                                work, args.mlflow_workers,
                                args.runs if args.mlflow_setup == "store" else 0, args.seed))):
            if args.only and name != args.only:
                continue
            process, session, base, setup = start()
            try:
                results[name] = measure(name, Client(session, base), args, setup)
            finally:
                stop(process)
    finally:
        if args.keep:
            print(f"data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    if args.only:
        return
    ours, theirs = results["falaj"], results["mlflow"]
    if ours["matched"] != theirs["matched"] or ours["history"] != theirs["history"]:
        print(f"MISMATCH: falaj found {ours['matched']} runs / {ours['history']} points, mlflow "
              f"{theirs['matched']} / {theirs['history']}")
        sys.exit(1)
    log_ratio = theirs["log_s"] / ours["log_s"]
    search_ratio = theirs["search_s"] / ours["search_s"]
    print(f"log-batch {args.points} points: falaj {ours['log_s']:.3f} s, mlflow "
          f"{theirs['log_s']:.3f} s -> {log_ratio:.1f}x")
    print(f"search {args.runs} runs ({ours['matched']} matched): falaj {ours['search_s']:.4f} s, "
          f"mlflow {theirs['search_s']:.4f} s -> {search_ratio:.1f}x")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(
            {"args": vars(args), "results": results, "log_ratio": log_ratio,
             "search_ratio": search_ratio}, indent=2))


if __name__ == "__main__":
    main()
