// The roles of Falaj's RBAC and the permissions each grants. Permissions are named
// "<resource>.<verb>"; every route declares one. Project roles apply inside one project:
//
//   viewer     read everything in the project and call its models (models.predict)
//   developer  viewer + write data, features, runs, models and jobs
//   deployer   viewer + write endpoints and A/B tests, promote models
//   auditor    viewer + read the audit trail
//   admin      everything in the project, including members, keys and deleting it
//
// Platform administrators (a property of the principal, not a project role) may do everything.
// Stateless and thread-safe.
#pragma once

#include <string_view>
#include <vector>

namespace falaj::security {

bool IsProjectRole(std::string_view role);
std::vector<std::string_view> ProjectRoles();

// Whether a project role grants a permission. Unknown roles and permissions grant nothing.
bool RoleGrants(std::string_view role, std::string_view permission);

// Platform-scoped permissions that every authenticated principal holds (e.g. listing the
// projects it can see); every other platform permission needs a platform administrator.
bool IsGrantedToEveryPrincipal(std::string_view permission);

}  // namespace falaj::security
