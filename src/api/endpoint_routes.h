// REST for serving endpoints (serving/endpoint_store.h):
//   GET/POST          /api/v1/projects/{project}/endpoints
//   GET/PUT/DELETE    /api/v1/projects/{project}/endpoints/{endpoint}
//   GET               /api/v1/projects/{project}/endpoints/{endpoint}/status
//   GET               /api/v1/projects/{project}/endpoints/{endpoint}/traffic
//   POST              /api/v1/projects/{project}/endpoints/{endpoint}/traffic/{rollback,promote}
// Reading needs endpoints.read, changing endpoints.write (deployer). A change takes effect for
// the next request: the predictor forgets its remembered routing, and the targets' new versions
// start loading at once, so the first request after a change does not wait for a load when the
// previous version can still answer (hot swap). Creating or changing an endpoint makes this node
// load the project's models, so it is refused (403, naming both regions) when the node's region
// differs from the project's and no transfer policy covers the node's region. Traffic shows each
// arm's weight and this server's counters, the policy and the canary's state; rollback and
// promote send all traffic to one arm (ending a ramp) and are audited like every mutation.
#pragma once

#include <string>

#include "api/router.h"
#include "projects/project_service.h"
#include "security/residency.h"
#include "serving/endpoint_store.h"
#include "serving/model_manager.h"
#include "serving/predictor.h"

namespace falaj::api {

struct EndpointRouteServices {
  serving::EndpointStore& endpoints;
  serving::Predictor& predictor;
  serving::ModelManager& models;
  security::ResidencyService& residency;
  projects::ProjectService& projects;
  std::string node_region;  // where this node runs; "" when undeclared (nothing to check)
};

Status AddEndpointRoutes(Router& router, const EndpointRouteServices& services);

}  // namespace falaj::api
