"""Run by a command job (tests/integration/test_jobs.py) with the repo's .venv-mlflow python: the
real mlflow client, pointed at Falaj only by the environment the job gives it, logs a run with
a metric; the job's own key reports progress. Prints the run id for the test to find."""

import json
import os
import urllib.request

import mlflow

mlflow.set_experiment("job-experiment")
with mlflow.start_run(run_name="from-a-job") as run:
    mlflow.log_param("epochs", "3")
    for step, accuracy in enumerate([0.7, 0.8, 0.9]):
        mlflow.log_metric("accuracy", accuracy, step=step)

request = urllib.request.Request(
    f"{os.environ['FALAJ_URL']}/api/v1/projects/{os.environ['FALAJ_PROJECT']}/jobs/"
    f"{os.environ['FALAJ_JOB_ID']}/progress",
    data=json.dumps({"fraction": 0.9, "message": "epoch 3"}).encode(),
    headers={"Authorization": f"Bearer {os.environ['FALAJ_API_KEY']}",
             "Content-Type": "application/json"},
    method="POST")
with urllib.request.urlopen(request) as answer:
    assert answer.status == 204, answer.status
print(f"logged run {run.info.run_id}", flush=True)
