#include "security/authorizer.h"

#include "security/roles.h"

namespace falaj::security {

Result<bool> Authorizer::IsAllowed(const Principal& principal, std::string_view permission,
                                   std::string_view project) {
  if (permission.empty()) return false;
  if (principal.platform_admin) return true;
  if (project.empty()) return IsGrantedToEveryPrincipal(permission);
  if (!principal.scope_project.empty() && principal.scope_project != project) return false;
  std::vector<std::string> subjects = principal.groups;
  subjects.push_back(principal.subject);
  auto roles = bindings_.RolesOf(project, subjects);
  if (!roles) return std::unexpected(roles.error());
  for (const auto& role : *roles) {
    if (RoleGrants(role, permission)) return true;
  }
  return false;
}

}  // namespace falaj::security
