// REST for A/B tests (abtest/ab_test_service.h):
//   GET/POST      /api/v1/projects/{project}/abtests
//   GET/DELETE    /api/v1/projects/{project}/abtests/{abtest}
//   GET           /api/v1/projects/{project}/abtests/{abtest}/results
//   POST          /api/v1/projects/{project}/abtests/{abtest}/decision
//   GET           /api/v1/projects/{project}/abtests/{abtest}/decisions
// Reading needs abtests.read, changing (create, delete, decide) abtests.write; the pipeline
// audits every change, and the service audits the decisions its automatic policy takes. The
// routes are always registered (the contract is the same on every server); without a service
// they answer UNAVAILABLE.
#pragma once

#include "abtest/ab_test_service.h"
#include "api/router.h"

namespace falaj::api {

Status AddAbTestRoutes(Router& router, abtest::AbTestService* service);

}  // namespace falaj::api
