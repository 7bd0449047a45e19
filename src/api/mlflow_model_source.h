// Turning an MLflow model version's `source` into files Falaj's registry can register: the
// source (models:/m-…, runs:/<run>/<path>, mlflow-artifacts:/<path>) is resolved to a directory
// of the project's artifact index, its MLmodel file names the flavour, and the flavour gives the
// Falaj format (xgboost, lightgbm, onnx; anything else is refused with MLflow's error).
// Stateless; thread-safe as the services are.
#pragma once

#include <string>
#include <vector>

#include "api/mlflow_routes.h"
#include "registry/model_registry.h"

namespace falaj::api::mlflow {

struct ModelSource {
  std::string directory;   // in the artifact index, e.g. "1/models/m-…/artifacts"
  std::string run_id;      // "" when unknown
  std::string model_id;    // the logged model, "" when none
  std::string format;      // Falaj format from the MLmodel flavours
  std::string model_file;  // the flavour's data file (what serving loads), "" when not named
  std::vector<registry::ArtifactFile> files;  // relative to `directory`
};

// `run_id` and `model_id` are the request's own fields (may be empty).
Result<ModelSource> ResolveModelSource(const MlflowServices& services, std::string_view project,
                                       std::string_view source, std::string_view run_id,
                                       std::string_view model_id);

// The artifact-index directory where a registered version's files are frozen, and its URI.
std::string RegistryDirectory(std::string_view model, int64_t version);
// The directory of every frozen version of `model`.
std::string RegistryDirectory(std::string_view model);

}  // namespace falaj::api::mlflow
