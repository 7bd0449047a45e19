"""Distributed XGBoost training for Falaj on XGBoost's own collective (rabit-style tracker).

Falaj runs this script once per distributed fit, as the launcher, in its own process group:

    python xgboost_collective.py launch WORK_DIR

WORK_DIR holds what Falaj wrote: config.json, each worker's training shard
(train_<rank>_x.npy, train_<rank>_y.npy, train_<rank>_group.npy for ranking) and the
validation split (valid_x.npy, valid_y.npy, valid_group.npy), all float32 / uint32 .npy.

The launcher starts xgboost.tracker.RabitTracker on 127.0.0.1 and N worker processes
(this script with `worker WORK_DIR RANK`). Ranks are fixed by task id (sortby="task"). Each
worker joins the collective with CommunicatorContext, builds its DMatrix from its shard (the
quantile sketches are merged across workers by XGBoost), trains with the same parameters and
evaluates the full validation split every round (the metric is the same on every rank). Rank 0
decides when to stop (early stopping, or the file WORK_DIR/stop that Falaj writes) and
broadcasts the decision, so every rank runs the same number of rounds. Rank 0 writes the model,
cut to the best iteration, to WORK_DIR/model.json.

Output: one JSON object per line on stdout after the marker "@falaj " (stdout and stderr share
one pipe, and XGBoost's tracker writes log fragments without newlines, so a message may follow
other text on its line; Falaj looks for the marker and logs everything else):
    {"xgboost_version": "3.2.0", "workers": N}            launcher, at start
    {"rank": r, "rows": n, "pid": p}                      every worker, after loading its shard
    {"iteration": i, "value": v}                          rank 0, every round (v null: no validation)
    {"done": true, "iterations_run": k, "best_iteration": b, "best_value": v,
     "stopped_early": bool, "stopped_by_request": bool}   rank 0, after saving the model
    {"error": "worker rank 1 failed (exit code 3)"}       launcher, when a worker fails
The launcher exits 0 only when every worker did.
"""

import ctypes
import json
import math
import os
import signal
import subprocess
import sys
import time


def emit(obj):
    sys.stdout.write("@falaj " + json.dumps(obj) + "\n")  # one write: atomic on a pipe
    sys.stdout.flush()


def die_with_parent():
    # Workers must not outlive the launcher (PR_SET_PDEATHSIG = 1).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:  # pylint: disable=broad-except
        pass


def task_id(rank):
    return "worker-%04d" % rank  # zero-padded so task order is rank order


def launch(work_dir):
    import xgboost
    from xgboost.tracker import RabitTracker

    with open(os.path.join(work_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    workers = int(config["workers"])
    emit({"xgboost_version": xgboost.__version__, "workers": workers})
    tracker = RabitTracker(n_workers=workers, host_ip="127.0.0.1", port=0, sortby="task")
    tracker.start()
    args = tracker.worker_args()
    env = dict(os.environ)
    env["FALAJ_COLLECTIVE_ARGS"] = json.dumps(args)
    procs = {}
    for rank in range(workers):
        procs[rank] = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "worker", work_dir, str(rank)], env=env)
    by_pid = {p.pid: rank for rank, p in procs.items()}
    failed = []
    remaining = set(procs)
    while remaining:
        pid, status = os.waitpid(-1, 0)
        rank = by_pid.get(pid)
        if rank is None:
            continue
        remaining.discard(rank)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            failed.append((rank, code))
            # Let the other workers notice the broken group, then report every failure.
            time.sleep(0.5)
            for other in sorted(remaining):
                code = procs[other].poll()
                if code is not None and code != 0:
                    failed.append((other, code))
            break
    if failed:
        parts = []
        for rank, code in failed:
            how = "killed by signal %d" % -code if code < 0 else "exit code %d" % code
            parts.append("worker rank %d failed (%s)" % (rank, how))
        emit({"error": "; ".join(parts)})
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        os._exit(1)  # the tracker thread may wait for the dead group forever
    tracker.wait_for(60)
    return 0


def load(work_dir, prefix):
    import numpy as np

    x = np.load(os.path.join(work_dir, prefix + "_x.npy"))
    y = np.load(os.path.join(work_dir, prefix + "_y.npy"))
    group_path = os.path.join(work_dir, prefix + "_group.npy")
    group = np.load(group_path) if os.path.exists(group_path) else None
    return x, y, group


def worker(work_dir, rank):
    die_with_parent()
    import numpy as np
    import xgboost as xgb
    from xgboost import collective

    with open(os.path.join(work_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    args = json.loads(os.environ["FALAJ_COLLECTIVE_ARGS"])
    args["dmlc_task_id"] = task_id(rank)
    crash_rank = os.environ.get("FALAJ_COLLECTIVE_TEST_CRASH_RANK")
    with collective.CommunicatorContext(**args):
        actual = collective.get_rank()
        if actual != rank:
            raise RuntimeError("worker %d got rank %d" % (rank, actual))
        x, y, group = load(work_dir, "train_%d" % rank)
        emit({"rank": rank, "rows": int(x.shape[0]), "pid": os.getpid()})
        params = dict(config["params"])
        dtrain = xgb.DMatrix(x, label=y, missing=np.nan, nthread=int(params["nthread"]))
        if group is not None:
            dtrain.set_group(group)
        cached = [dtrain]
        dvalid = None
        if config["has_validation"]:
            vx, vy, vgroup = load(work_dir, "valid")
            dvalid = xgb.DMatrix(vx, label=vy, missing=np.nan, nthread=int(params["nthread"]))
            if vgroup is not None:
                dvalid.set_group(vgroup)
            cached.append(dvalid)
        booster = xgb.Booster(params, cached)
        rounds = int(config["num_boost_round"])
        patience = int(config["early_stopping_rounds"])
        higher = bool(config["higher_is_better"])
        stop_path = os.path.join(work_dir, "stop")
        best_iteration, best_value, since_best = -1, None, 0
        iterations_run, stopped_early, stopped_by_request = 0, False, False
        for iteration in range(rounds):
            if crash_rank is not None and int(crash_rank) == rank and iteration == 2:
                os._exit(3)
            booster.update(dtrain, iteration)
            iterations_run = iteration + 1
            value = None
            if dvalid is not None:
                answer = booster.eval(dvalid, "valid", iteration)
                value = float(answer.split("\t")[1].split(":", 1)[1])
                if best_iteration < 0 or (value > best_value if higher else value < best_value):
                    best_iteration, best_value, since_best = iteration, value, 0
                else:
                    since_best += 1
            decision = ""  # rank 0's verdict: "" (go on), "request" or "early"
            if rank == 0:
                emit({"iteration": iteration,
                      "value": None if value is None or math.isnan(value) else value})
                if os.path.exists(stop_path):
                    decision = "request"
                elif patience > 0 and since_best >= patience:
                    decision = "early"
            decision = collective.broadcast(decision, 0)
            if decision:
                stopped_by_request = decision == "request"
                stopped_early = decision == "early"
                break
        if rank == 0:
            kept = best_iteration + 1 if best_iteration >= 0 else iterations_run
            model = booster[:kept] if kept < iterations_run else booster
            path = os.path.join(work_dir, "model.json")
            model.save_model(path[:-len(".json")] + ".partial.json")  # the extension picks JSON
            os.replace(path[:-len(".json")] + ".partial.json", path)
            emit({"done": True, "iterations_run": iterations_run,
                  "best_iteration": best_iteration, "best_value": best_value,
                  "stopped_early": stopped_early, "stopped_by_request": stopped_by_request})
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "launch":
        return launch(argv[2])
    if len(argv) == 4 and argv[1] == "worker":
        return worker(argv[2], int(argv[3]))
    sys.stderr.write("usage: xgboost_collective.py launch WORK_DIR\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
