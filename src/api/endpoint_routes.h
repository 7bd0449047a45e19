// REST for serving endpoints (serving/endpoint_store.h):
//   GET/POST          /api/v1/projects/{project}/endpoints
//   GET/PUT/DELETE    /api/v1/projects/{project}/endpoints/{endpoint}
//   GET               /api/v1/projects/{project}/endpoints/{endpoint}/status
// Reading needs endpoints.read, changing endpoints.write (deployer). A change takes effect for
// the next request: the predictor forgets its remembered routing, and the targets' new versions
// start loading at once, so the first request after a change does not wait for a load when the
// previous version can still answer (hot swap).
#pragma once

#include "api/router.h"
#include "serving/endpoint_store.h"
#include "serving/model_manager.h"
#include "serving/predictor.h"

namespace falaj::api {

Status AddEndpointRoutes(Router& router, serving::EndpointStore& endpoints,
                         serving::Predictor& predictor, serving::ModelManager& models);

}  // namespace falaj::api
