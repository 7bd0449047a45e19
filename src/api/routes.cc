#include "api/routes.h"

#include "api/abtest_routes.h"
#include "api/access_routes.h"
#include "api/audit_routes.h"
#include "api/data_routes.h"
#include "api/endpoint_routes.h"
#include "api/erasure_routes.h"
#include "api/feature_routes.h"
#include "api/job_routes.h"
#include "api/kserve_routes.h"
#include "api/mlflow_routes.h"
#include "api/outcome_routes.h"
#include "api/prediction_log_routes.h"
#include "api/project_routes.h"
#include "api/registry_routes.h"
#include "api/residency_routes.h"
#include "api/retention_routes.h"
#include "api/system_routes.h"
#include "api/tracking_routes.h"

namespace falaj::api {

Status AddAllRoutes(Router& router, const RouteDependencies& dependencies) {
  FALAJ_RETURN_IF_ERROR(AddSystemRoutes(router, dependencies.ready, dependencies.metrics));
  FALAJ_RETURN_IF_ERROR(AddProjectRoutes(router, dependencies.projects, dependencies.authorizer));
  FALAJ_RETURN_IF_ERROR(AddAccessRoutes(router, dependencies.keys, dependencies.bindings));
  FALAJ_RETURN_IF_ERROR(AddResidencyRoutes(router, dependencies.residency, dependencies.projects));
  FALAJ_RETURN_IF_ERROR(AddRegistryRoutes(
      router, dependencies.registry, dependencies.artifacts,
      [&predictor = dependencies.predictor](const std::string& project, const std::string&) {
        predictor.Forget(project);
      },
      dependencies.residency, dependencies.projects));
  FALAJ_RETURN_IF_ERROR(AddEndpointRoutes(
      router, {dependencies.endpoints, dependencies.predictor, dependencies.models,
               dependencies.residency, dependencies.projects, dependencies.node_region}));
  FALAJ_RETURN_IF_ERROR(AddErasureRoutes(router, dependencies.erasures));
  FALAJ_RETURN_IF_ERROR(AddRetentionRoutes(router, dependencies.retention));
  FALAJ_RETURN_IF_ERROR(AddKServeRoutes(router, dependencies.predictor));
  FALAJ_RETURN_IF_ERROR(
      AddDataRoutes(router, {dependencies.sources, dependencies.datasets, dependencies.ingest,
                             dependencies.mqtt, dependencies.projects, dependencies.residency}));
  FALAJ_RETURN_IF_ERROR(
      AddFeatureRoutes(router, {dependencies.feature_registry, dependencies.training_sets,
                                dependencies.materializer, dependencies.online_features}));
  FALAJ_RETURN_IF_ERROR(AddMlflowRoutes(
      router, {dependencies.tracking, dependencies.artifact_index, dependencies.logged_models,
               dependencies.registry, dependencies.artifacts}));
  FALAJ_RETURN_IF_ERROR(AddTrackingRoutes(router, dependencies.tracking));
  FALAJ_RETURN_IF_ERROR(AddJobRoutes(router, dependencies.jobs, dependencies.authorizer));
  FALAJ_RETURN_IF_ERROR(AddAbTestRoutes(router, dependencies.abtests));
  if (dependencies.prediction_log != nullptr && dependencies.outcomes != nullptr) {
    FALAJ_RETURN_IF_ERROR(
        AddPredictionLogRoutes(router, *dependencies.prediction_log, *dependencies.outcomes));
    FALAJ_RETURN_IF_ERROR(AddOutcomeRoutes(router, *dependencies.outcomes, dependencies.endpoints));
  }
  return AddAuditRoutes(router, dependencies.audit, dependencies.audit_public_key);
}

}  // namespace falaj::api
