// REST routes for data-subject erasure under /api/v1/projects/{project}/erasures:
//   POST  erase one entity's records everywhere (project admins): {"entity": {"key": value, …},
//         "reason": "…"} → the erasure report
//   GET   the project's erasure reports (auditors and admins)
#pragma once

#include "api/router.h"
#include "features/erasure.h"

namespace falaj::api {

Status AddErasureRoutes(Router& router, features::ErasureService& erasures);

}  // namespace falaj::api
