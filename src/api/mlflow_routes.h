// The MLflow REST 2.0 tracking API, mounted per project so that a tracking URI names the project:
//   MLFLOW_TRACKING_URI=http://host:port/mlflow/projects/{project}
// makes the mlflow client call {uri}/api/2.0/mlflow/<experiments|runs|metrics>/...
// Handlers translate MLflow's wire format (mlflow_codec.h) onto TrackingStore; every route
// declares runs.read or runs.write and passes the normal pipeline (API key as Bearer token, RBAC,
// audit of mutations; POST searches are reads and not audited). Errors inside handlers use
// MLflow's {"error_code", "message"} body. Artifacts, the model registry and logged models are not
// served yet.
#pragma once

#include <string>

#include "api/router.h"
#include "tracking/tracking_store.h"

namespace falaj::api {

// The path prefix of the MLflow API of project {project}.
inline const std::string kMlflowPrefix = "/mlflow/projects/{project}/api/2.0/mlflow";

Status AddMlflowRoutes(Router& router, tracking::TrackingStore& tracking);

}  // namespace falaj::api
