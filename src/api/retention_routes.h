// REST for data retention of one project (data/retention.h):
//   GET    /api/v1/projects/{project}/retention       the policy and the last run (policies.read)
//   PUT    /api/v1/projects/{project}/retention       set the policy (policies.admin)
//   DELETE /api/v1/projects/{project}/retention       remove it (policies.admin)
//   POST   /api/v1/projects/{project}/retention/run   apply it now, answer the run report
//                                                     (policies.admin)
// The background schedule runs the same code; the manual trigger exists for operators (and
// tests) that need a run now.
#pragma once

#include "api/router.h"
#include "data/retention.h"

namespace falaj::api {

Status AddRetentionRoutes(Router& router, data::RetentionService& retention);

}  // namespace falaj::api
