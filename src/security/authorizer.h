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

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "security/principal.h"
#include "security/role_bindings.h"

namespace falaj::security {

class Authorizer {
 public:
  // Role lookups are remembered this long; a change through RoleBindingService is seen at once,
  // a change made by another server replica within this time.
  static constexpr std::chrono::milliseconds kRolesCacheTtl{1000};

  explicit Authorizer(RoleBindingService& bindings) : bindings_(bindings) {}

  // `project` is empty for platform-scoped permissions. Errors only when storage fails.
  Result<bool> IsAllowed(const Principal& principal, std::string_view permission,
                         std::string_view project);
  // The same answer from memory alone; nullopt when it needs a storage read.
  std::optional<bool> IsAllowedFromMemory(const Principal& principal, std::string_view permission,
                                          std::string_view project);

 private:
  struct RememberedRoles {
    std::vector<std::string> roles;
    uint64_t generation;
    std::chrono::steady_clock::time_point at;
  };
  // The decision that needs no roles, or nullopt when the roles decide.
  static std::optional<bool> DecideWithoutRoles(const Principal& principal,
                                                std::string_view permission,
                                                std::string_view project);
  static std::string RolesKey(const Principal& principal, std::string_view project);

  RoleBindingService& bindings_;
  std::mutex mutex_;
  std::unordered_map<std::string, RememberedRoles> roles_;  // guarded by mutex_
};

}  // namespace falaj::security
