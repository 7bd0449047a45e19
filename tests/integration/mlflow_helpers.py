"""Running a script with the real mlflow client against a Falaj server.

The client lives in its own venv (.venv-mlflow, made by scripts/install-deps) because mlflow pins
packages that would break the repo's .venv; scripts run there as a subprocess with
MLFLOW_TRACKING_URI naming the project and MLFLOW_TRACKING_TOKEN carrying a Falaj API key, and
print what they saw as one JSON object on their last line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT

MLFLOW_PYTHON = REPO_ROOT / ".venv-mlflow" / "bin" / "python"


def run_mlflow_script(server, project: str, script: Path, *args: str) -> dict:
    if not MLFLOW_PYTHON.exists():
        # scripts/install-deps creates it: a missing client is a broken setup, not a reason to pass.
        pytest.fail(".venv-mlflow is missing: run scripts/install-deps")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "FALAJ_"))}
    env.update({"MLFLOW_TRACKING_URI": f"{server.url}/mlflow/projects/{project}",
                "MLFLOW_TRACKING_TOKEN": server.key,
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    done = subprocess.run([str(MLFLOW_PYTHON), str(script), *args], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-6000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
