// REST routes for projects under /api/v1/projects: list (only the projects the caller may
// read), create (platform administrators), get, update (PATCH), delete. Handlers translate JSON
// to ProjectService calls and back; no logic of their own.
#pragma once

#include "api/router.h"
#include "projects/project_service.h"
#include "security/authorizer.h"

namespace falaj::api {

Status AddProjectRoutes(Router& router, projects::ProjectService& projects,
                        security::Authorizer& authorizer);

}  // namespace falaj::api
