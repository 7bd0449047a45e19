// The MLflow REST 2.0 API, mounted per project so that a tracking URI names the project:
//   MLFLOW_TRACKING_URI=http://host:port/mlflow/projects/{project}
// makes the mlflow client call {uri}/api/2.0/mlflow/... (tracking, logged models, model registry)
// and {uri}/api/2.0/mlflow-artifacts/artifacts/... (proxied artifacts).
// Handlers translate MLflow's wire format (mlflow_codec.h) onto Falaj's services: TrackingStore
// (experiments, runs), ArtifactIndex + the project's blob store (artifacts), LoggedModelStore
// (MLflow 3 logged models) and ModelRegistry (registered models, versions, aliases). Every route
// declares a permission (runs.read/write for tracking and artifacts, models.read/write/promote
// for the registry) and passes the normal pipeline (API key as Bearer token, RBAC, audit of
// mutations; POST searches are reads and not audited). Errors use MLflow's
// {"error_code", "message"} body, also those the pipeline answers before a handler runs.
#pragma once

#include <string>

#include "api/mlflow_codec.h"
#include "api/router.h"
#include "registry/model_registry.h"
#include "storage/blob_store.h"
#include "tracking/artifact_index.h"
#include "tracking/logged_models.h"
#include "tracking/tracking_store.h"

namespace falaj::api {

// The path prefix of the MLflow API of project {project}.
inline const std::string kMlflowPrefix = "/mlflow/projects/{project}/api/2.0/mlflow";
// The path prefix of the proxied artifact API of project {project}.
inline const std::string kMlflowArtifactsPrefix =
    "/mlflow/projects/{project}/api/2.0/mlflow-artifacts/artifacts";

// Everything the MLflow routes use; copied into the routes, so the services must outlive them.
struct MlflowServices {
  tracking::TrackingStore& tracking;
  tracking::ArtifactIndex& artifact_index;
  tracking::LoggedModelStore& logged_models;
  registry::ModelRegistry& registry;
  storage::ProjectBlobStores blobs;
};

Status AddMlflowRoutes(Router& router, const MlflowServices& services);

// One JSON endpoint of the MLflow API over the services; `path` is below kMlflowPrefix.
// Writes are audited.
struct MlflowEndpoint {
  using Body = Result<nlohmann::json> (*)(const MlflowServices&, const mlflow::Fields&,
                                          HttpRequest&);
  std::string method;
  std::string path;
  std::string permission;
  bool write;
  Body body;
};
Status AddMlflowEndpoints(Router& router, const MlflowServices& services,
                          const std::vector<MlflowEndpoint>& endpoints);

// The parts, one file each.
Status AddMlflowTrackingRoutes(Router& router, tracking::TrackingStore& tracking);
Status AddMlflowArtifactRoutes(Router& router, const MlflowServices& services);
Status AddMlflowLoggedModelRoutes(Router& router, const MlflowServices& services);
Status AddMlflowRegistryRoutes(Router& router, const MlflowServices& services);

}  // namespace falaj::api
