// REST routes for data residency of one project:
//   /api/v1/projects/{project}/transfer-policies[/{region}]   legal bases for cross-region moves
//   /api/v1/projects/{project}/restricted-classes             classes that never leave
//   /api/v1/projects/{project}/transfer-checks                a decision, audited (403 if denied)
#pragma once

#include "api/router.h"
#include "projects/project_service.h"
#include "security/residency.h"

namespace falaj::api {

Status AddResidencyRoutes(Router& router, security::ResidencyService& residency,
                          projects::ProjectService& projects);

}  // namespace falaj::api
