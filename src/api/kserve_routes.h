// The KServe v2 / Open Inference Protocol over HTTP (shared/REFERENCE.md §1):
//   GET  /v2, /v2/health/live, /v2/health/ready                        server (public)
//   GET  /v2/models/{project}.{name}[/versions/{version}][/ready]      metadata, readiness
//   POST /v2/models/{project}.{name}[/versions/{version}]/infer        JSON or binary tensors
// A served name is "<project>.<name>": an endpoint of the project, else a model of the project
// (serving/predictor.h). A version path pins a model version and bypasses endpoint routing.
// Errors inside these routes use the protocol's {"error": "..."} body. Inference first tries
// the non-blocking path on the I/O thread (a loaded model, no batching, credentials in memory).
#pragma once

#include "api/router.h"
#include "serving/inference_service.h"

namespace falaj::api {

Status AddKServeRoutes(Router& router, serving::InferenceService& inference);

}  // namespace falaj::api
