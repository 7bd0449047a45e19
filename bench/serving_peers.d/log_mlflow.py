"""Logs the benchmark model with mlflow.xgboost.log_model to a local store and prints the logged
model's directory, which `mlflow models serve -m DIR --env-manager local` serves.

Usage: log_mlflow.py WORK MODEL_JSON FLAVOR
  FLAVOR booster     logs the xgboost.Booster: the pyfunc predicts probabilities (compared to 1e-5)
  FLAVOR classifier  logs the XGBClassifier: the pyfunc predicts class labels (compared exactly)
The tracking store is sqlite in WORK (MLflow 3 refuses a file store unless told to allow it); the
artifacts go to WORK/mlruns. No tracking server runs.
"""

import os
import sys

work, model_json, flavor = sys.argv[1:4]
os.chdir(work)  # the default artifact root, ./mlruns, is relative to the working directory

import mlflow  # noqa: E402
import mlflow.xgboost  # noqa: E402
import xgboost  # noqa: E402

mlflow.set_tracking_uri(f"sqlite:///{os.path.join(work, 'mlflow.db')}")
if flavor == "classifier":
    model = xgboost.XGBClassifier()
else:
    model = xgboost.Booster()
model.load_model(model_json)
with mlflow.start_run():
    info = mlflow.xgboost.log_model(model, name="model")
location = mlflow.get_logged_model(info.model_id).artifact_location
print(os.path.abspath(location.removeprefix("file://")))
