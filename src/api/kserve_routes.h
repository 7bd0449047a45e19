// The KServe v2 / Open Inference Protocol over HTTP (shared/REFERENCE.md §1):
//   GET  /v2, /v2/health/live, /v2/health/ready                        server (public)
//   GET  /v2/models/{project}.{model}[/versions/{version}][/ready]     model metadata, readiness
//   POST /v2/models/{project}.{model}[/versions/{version}]/infer       JSON tensors
// A model is addressed as "<project>.<model>"; without a version the "champion" alias is served,
// else the latest non-archived version. Errors inside these routes use the protocol's
// {"error": "..."} body.
#pragma once

#include "api/router.h"
#include "serving/model_manager.h"

namespace falaj::api {

Status AddKServeRoutes(Router& router, serving::ModelManager& models,
                       registry::ModelRegistry& registry);

}  // namespace falaj::api
