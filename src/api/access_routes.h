// REST routes for access control:
//   /api/v1/api-keys[/{key}[/rotate]]                        platform-wide keys (platform admins)
//   /api/v1/projects/{project}/api-keys[/{key}[/rotate]]     keys scoped to one project, each
//                                                            bound to a role there (project admins)
//   /api/v1/projects/{project}/members[/{subject}]           role bindings
// The same handlers serve both key scopes; the scope is the {project} path parameter or none.
#pragma once

#include "api/router.h"
#include "security/api_keys.h"
#include "security/role_bindings.h"

namespace falaj::api {

Status AddAccessRoutes(Router& router, security::ApiKeyService& keys,
                       security::RoleBindingService& bindings);

}  // namespace falaj::api
