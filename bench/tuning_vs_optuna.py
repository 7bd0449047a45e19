"""Tuning benchmark: a Falaj "tune" job against Optuna on the same problem, space and budget.

Problem: binary classification with XGBoost, validation AUC after each boosting round (the
resource ASHA allocates), on a fixed train/validation split that this script writes to CSV so
that both sides read the same rows:
  * `synthetic` (default): sklearn.datasets.make_classification, 20,000 rows x 40 features
    (12 informative, 5% label noise), generated from a fixed seed, nothing downloaded;
  * `breast_cancer`: the Wisconsin breast cancer data that ships inside scikit-learn (569 rows).
Space (the Falaj spec's "space"; Optuna's suggest_* calls mirror it one to one): eta log-uniform
[0.01, 0.3), max_depth int [2, 10], min_child_weight log-uniform [0.5, 20), subsample and
colsample_bytree uniform [0.5, 1), lambda log-uniform [0.001, 10); up to --rounds rounds each.

Budget for every contender: --trials trials and --seconds of wall time, whichever ends first,
--parallelism trials at a time, each XGBoost on --nthread threads.

Contenders (Optuna 5.0, seeded):
  optuna-tpe         TPESampler, every trial runs all rounds
  optuna-tpe-sha     TPESampler + SuccessiveHalvingPruner (Optuna's ASHA: min_resource,
                     reduction_factor as Falaj's), trials reported every round
  optuna-random      RandomSampler: the baseline Falaj's random search should match
  falaj-random, falaj-asha   a "tune" job on a running Falaj server (--server, --key); skipped
                     without --server. The jobs API is POST /api/v1/projects/{p}/jobs
                     {"kind": "tune", "spec": ...}, then GET .../jobs/{id} until it has ended;
                     the job's result is TuningService::Run's JSON (src/training/tuning_service.h).

Reported, for each: the best validation AUC reached after n trials and after t seconds, the
final best, trials completed/pruned, boosting rounds spent and wall time. Written as JSON to
--out/results.json and printed as a table.

Run with the project venv (optuna, xgboost and scikit-learn are in python/requirements-dev.txt):
  .venv/bin/python bench/tuning_vs_optuna.py [--dataset synthetic] [--trials 40] [--seconds 300]
      [--server http://127.0.0.1:8080 --key KEY --project bench]
"""

import argparse
import json
import pathlib
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import optuna
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.model_selection import train_test_split

SEED = 20261124

# The one search space, in Falaj's spec format (src/training/search_space.h).
SPACE = {
    "eta": {"type": "loguniform", "low": 0.01, "high": 0.3},
    "max_depth": {"type": "int", "low": 2, "high": 10},
    "min_child_weight": {"type": "loguniform", "low": 0.5, "high": 20.0},
    "subsample": {"type": "uniform", "low": 0.5, "high": 1.0},
    "colsample_bytree": {"type": "uniform", "low": 0.5, "high": 1.0},
    "lambda": {"type": "loguniform", "low": 0.001, "high": 10.0},
}


def write_split(dataset, out):
    """Writes train.csv and valid.csv (label in column "label") and returns the four arrays."""
    if dataset == "synthetic":
        x, y = make_classification(
            n_samples=20_000, n_features=40, n_informative=12, n_redundant=8, flip_y=0.05,
            class_sep=0.8, random_state=SEED)
    else:
        x, y = load_breast_cancer(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y)
    header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["label"])
    for name, xs, ys in (("train", x_train, y_train), ("valid", x_valid, y_valid)):
        np.savetxt(out / f"{name}.csv", np.column_stack([xs, ys]), delimiter=",",
                   header=header, comments="", fmt="%.9g")
    return x_train, x_valid, y_train, y_valid


def suggest(trial):
    """Optuna's view of SPACE: the same distributions, bounds and scales."""
    params = {}
    for name, spec in SPACE.items():
        if spec["type"] == "int":
            params[name] = trial.suggest_int(name, spec["low"], spec["high"])
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"],
                                               log=spec["type"] == "loguniform")
    return params


class ReportEachRound(xgb.callback.TrainingCallback):
    """Counts rounds and keeps the last validation AUC; with `prune`, reports it to Optuna after
    each round and stops the trial when the pruner says so."""

    def __init__(self, trial, prune):
        self.trial, self.prune = trial, prune
        self.rounds, self.auc = 0, None

    def after_iteration(self, model, epoch, evals_log):
        self.rounds, self.auc = epoch + 1, evals_log["valid"]["auc"][-1]
        if self.prune:
            self.trial.report(self.auc, epoch + 1)
            if self.trial.should_prune():
                raise optuna.TrialPruned()
        return False


def run_optuna(name, sampler, pruner, data, args):
    x_train, x_valid, y_train, y_valid = data
    dtrain = xgb.DMatrix(x_train, label=y_train)
    dvalid = xgb.DMatrix(x_valid, label=y_valid)
    rounds_spent, lock = [0], threading.Lock()  # trials run on threads with --parallelism

    def objective(trial):
        params = {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist",
                  "nthread": args.nthread, "seed": SEED, **suggest(trial)}
        progress = ReportEachRound(trial, prune=pruner is not None)
        try:
            xgb.train(params, dtrain, num_boost_round=args.rounds, evals=[(dvalid, "valid")],
                      verbose_eval=False, callbacks=[progress])
        finally:
            with lock:
                rounds_spent[0] += progress.rounds
        return progress.auc  # the final round's AUC, as Falaj's trials report

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    start = time.perf_counter()
    study.optimize(objective, n_trials=args.trials, timeout=args.seconds,
                   n_jobs=args.parallelism)
    wall = time.perf_counter() - start
    trials = []
    for t in sorted(study.trials, key=lambda t: t.number):
        if t.datetime_complete is None:
            continue
        trials.append({
            "trial": t.number + 1,
            "value": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
            "outcome": {"COMPLETE": "completed", "PRUNED": "stopped_early"}.get(t.state.name,
                                                                             "failed"),
            "end_seconds": (t.datetime_complete - study.trials[0].datetime_start).total_seconds(),
        })
    return summarise(name, trials, rounds_spent[0], wall)


def falaj_spec(algorithm, args, out):
    """The tune job's spec (docs/tuning.md). "train" is a training spec (docs/training.md) over
    the dataset ingest_falaj() wrote: the same rows, train first and validation last in time, so
    a time split with validation_fraction = len(valid) / n and no test rows is Optuna's split.
    XGBoost's threads are set by the server (its hardware threads divided between parallel
    trials), not by a parameter."""
    n_train, n_valid = out["rows"]
    spec = {
        "space": SPACE,
        "algorithm": algorithm,
        "max_trials": args.trials,
        "max_seconds": args.seconds,
        "parallelism": args.parallelism,
        "seed": SEED % (2**31),
        "asha": {"min_resource": args.min_resource, "reduction_factor": args.reduction_factor,
                 "max_resource": args.rounds},
        "metric": "auc",
        "direction": "maximize",
        "experiment": f"tuning-bench-{algorithm}",
        "train": {
            "data": {"dataset": out["dataset"]},
            "label": "label",
            "split": {"method": "time", "time_column": "event_time",
                      "validation_fraction": n_valid / (n_train + n_valid), "test_fraction": 0},
            "trainer": "xgboost",
            "objective": "binary:logistic",
            "params": {"eval_metric": "auc", "tree_method": "hist", "seed": SEED % (2**31)},
            "num_boost_round": args.rounds,
        },
    }
    return spec


def http_json(method, url, key, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/octet-stream" if raw is not None else "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def ingest_falaj(args, data):
    """Creates --project (if missing) and ingests the split as one dataset, train rows first and
    validation rows last, one minute apart (event_time), so Falaj's time split reproduces it."""
    x_train, x_valid, y_train, y_valid = data
    api = f"{args.server.rstrip('/')}/api/v1/projects"
    try:
        http_json("POST", api, args.key, {"name": args.project, "region": "eu-west"})
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise
    name = f"bench_{args.dataset}_{int(time.time())}"
    columns = [f"f{i}" for i in range(x_train.shape[1])]
    schema = ([{"name": c, "type": "float64"} for c in columns]
              + [{"name": "label", "type": "int64"}, {"name": "event_time", "type": "timestamp"}])
    http_json("POST", f"{api}/{args.project}/sources", args.key,
              {"name": name, "kind": "file", "schema": schema})
    lines = [",".join(columns + ["label", "event_time"])]
    rows = np.vstack([x_train, x_valid])
    labels = np.concatenate([y_train, y_valid])
    for i, (row, label) in enumerate(zip(rows, labels)):
        moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + 60 * i))
        lines.append(",".join(f"{v:.17g}" for v in row) + f",{int(label)},{moment}")
    http_json("POST", f"{api}/{args.project}/sources/{name}/ingest?format=csv", args.key,
              raw=("\n".join(lines) + "\n").encode())
    return {"dataset": name, "rows": (len(y_train), len(y_valid))}


def run_falaj(name, algorithm, args, out):
    """Submits a tune job to the Falaj server and waits for it; returns its summary. `out` is
    what ingest_falaj() returned."""
    base = f"{args.server.rstrip('/')}/api/v1/projects/{args.project}/jobs"
    start = time.perf_counter()
    job = http_json("POST", base, args.key, {"kind": "tune", "spec": falaj_spec(algorithm, args,
                                                                                  out)})
    while True:
        job = http_json("GET", f"{base}/{job['id']}", args.key)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.2)
    wall = time.perf_counter() - start
    if job["status"] != "succeeded":
        raise SystemExit(f"{name}: job {job['id']} {job['status']}: {job.get('error')}")
    result = job["result"]  # TuningService::Run's JSON plus the retrained winner
    # Falaj's trial value is the validation AUC of the model it keeps (the best round's);
    # "last_round" values are not reported, so the comparison is with that value.
    return summarise(name, result["trials"], result["total_resource"], wall)


def summarise(name, trials, rounds, wall):
    """Best-so-far curves by trial count and by time; only completed trials count as results
    (as Optuna's best_value and Falaj's best both do)."""
    by_end = sorted(trials, key=lambda t: t["end_seconds"])
    best, curve = None, []
    for done, t in enumerate(by_end, start=1):
        if t["outcome"] == "completed" and t["value"] is not None:
            best = t["value"] if best is None else max(best, t["value"])
        curve.append({"trials": done, "seconds": round(t["end_seconds"], 3), "best": best})
    counts = {}
    for t in trials:
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    return {"name": name, "best": best, "trials": len(trials), "outcomes": counts,
            "rounds": rounds, "wall_seconds": round(wall, 2), "curve": curve}


def best_at(curve, key, limit):
    best = None
    for point in curve:
        if point[key] <= limit:
            best = point["best"]
    return "-" if best is None else f"{best:.4f}"


def print_table(results, args):
    checkpoints = [n for n in (5, 10, 20, 40, 80) if n <= args.trials]
    times = [args.seconds * f for f in (0.1, 0.25, 0.5, 1.0)]
    header = (["contender"] + [f"@{n}tr" for n in checkpoints] + [f"@{t:g}s" for t in times]
              + ["best", "done/pruned", "rounds", "wall s"])
    print(" | ".join(header))
    for r in results:
        row = [r["name"]] + [best_at(r["curve"], "trials", n) for n in checkpoints]
        row += [best_at(r["curve"], "seconds", t) for t in times]
        row += [f"{r['best']:.4f}", f"{r['outcomes'].get('completed', 0)}/"
                f"{r['outcomes'].get('stopped_early', 0)}", str(r["rounds"]),
                f"{r['wall_seconds']:.1f}"]
        print(" | ".join(row))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["synthetic", "breast_cancer"], default="synthetic")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--nthread", type=int, default=1, help="XGBoost threads per trial")
    parser.add_argument("--rounds", type=int, default=200, help="max boosting rounds (resource)")
    parser.add_argument("--min-resource", type=int, default=5)
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated contender names")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("/tmp/falaj-tuning-bench"))
    parser.add_argument("--server", help="Falaj server URL; without it the Falaj side is skipped")
    parser.add_argument("--key", help="API key for --server")
    parser.add_argument("--project", default="bench")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = write_split(args.dataset, args.out)
    print(f"{args.dataset}: {len(data[2])} train / {len(data[3])} validation rows, "
          f"{data[0].shape[1]} features; split in {args.out}")

    contenders = {
        "optuna-tpe": lambda: run_optuna("optuna-tpe", optuna.samplers.TPESampler(seed=SEED),
                                         None, data, args),
        "optuna-tpe-sha": lambda: run_optuna(
            "optuna-tpe-sha", optuna.samplers.TPESampler(seed=SEED),
            optuna.pruners.SuccessiveHalvingPruner(min_resource=args.min_resource,
                                                   reduction_factor=args.reduction_factor),
            data, args),
        "optuna-random": lambda: run_optuna(
            "optuna-random", optuna.samplers.RandomSampler(seed=SEED), None, data, args),
    }
    if args.server:
        falaj_data = ingest_falaj(args, data)
        contenders["falaj-random"] = lambda: run_falaj("falaj-random", "random", args, falaj_data)
        contenders["falaj-asha"] = lambda: run_falaj("falaj-asha", "asha", args, falaj_data)
    only = [n for n in args.only.split(",") if n]
    results = [run() for name, run in contenders.items() if not only or name in only]
    (args.out / "results.json").write_text(json.dumps(
        {"dataset": args.dataset, "budget": {"trials": args.trials, "seconds": args.seconds,
                                             "parallelism": args.parallelism,
                                             "nthread": args.nthread, "rounds": args.rounds},
         "results": results}, indent=1))
    print_table(results, args)


if __name__ == "__main__":
    main()
