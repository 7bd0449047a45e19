// Authorisation: may this principal exercise this permission, here? Deny by default.
//
//   platform administrator                    → allowed, everywhere
//   platform-scoped permission (no project)   → only those granted to every principal
//   project-scoped permission                 → the credential must not be scoped to another
//                                               project, and one of the roles bound to the
//                                               principal's subject or groups must grant it
//
// A principal with no role in a project is refused whether or not the project exists, so
// refusals do not reveal which projects exist. Thread-safe.
#pragma once

#include <string_view>

#include "common/result.h"
#include "security/principal.h"
#include "security/role_bindings.h"

namespace falaj::security {

class Authorizer {
 public:
  explicit Authorizer(RoleBindingService& bindings) : bindings_(bindings) {}

  // `project` is empty for platform-scoped permissions. Errors only when storage fails.
  Result<bool> IsAllowed(const Principal& principal, std::string_view permission,
                         std::string_view project);

 private:
  RoleBindingService& bindings_;
};

}  // namespace falaj::security
