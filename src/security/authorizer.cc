#include "security/authorizer.h"

#include <algorithm>

#include "security/roles.h"

namespace falaj::security {

std::optional<bool> Authorizer::DecideWithoutRoles(const Principal& principal,
                                                   std::string_view permission,
                                                   std::string_view project) {
  if (permission.empty()) return false;
  if (principal.platform_admin) return true;
  if (project.empty()) return IsGrantedToEveryPrincipal(permission);
  if (!principal.scope_project.empty() && principal.scope_project != project) return false;
  return std::nullopt;
}

std::string Authorizer::RolesKey(const Principal& principal, std::string_view project) {
  std::string key(project);
  key += '\x1f';
  key += principal.subject;
  for (const auto& group : principal.groups) {
    key += '\x1f';
    key += group;
  }
  return key;
}

namespace {

bool AnyGrants(const std::vector<std::string>& roles, std::string_view permission) {
  return std::any_of(roles.begin(), roles.end(),
                     [&](const std::string& role) { return RoleGrants(role, permission); });
}

// Bounds the cache; clearing it all at once is simpler than LRU and costs one read per caller.
constexpr size_t kMaxRememberedRoles = 100'000;

}  // namespace

Result<bool> Authorizer::IsAllowed(const Principal& principal, std::string_view permission,
                                   std::string_view project) {
  if (auto decided = DecideWithoutRoles(principal, permission, project)) return *decided;
  uint64_t generation = bindings_.generation();
  std::vector<std::string> subjects = principal.groups;
  subjects.push_back(principal.subject);
  auto roles = bindings_.RolesOf(project, subjects);
  if (!roles) return std::unexpected(roles.error());
  bool allowed = AnyGrants(*roles, permission);
  std::lock_guard lock(mutex_);
  if (roles_.size() >= kMaxRememberedRoles) roles_.clear();
  roles_[RolesKey(principal, project)] = {std::move(*roles), generation,
                                          std::chrono::steady_clock::now()};
  return allowed;
}

std::optional<bool> Authorizer::IsAllowedFromMemory(const Principal& principal,
                                                    std::string_view permission,
                                                    std::string_view project) {
  if (auto decided = DecideWithoutRoles(principal, permission, project)) return *decided;
  std::lock_guard lock(mutex_);
  auto found = roles_.find(RolesKey(principal, project));
  if (found == roles_.end() || found->second.generation != bindings_.generation() ||
      std::chrono::steady_clock::now() - found->second.at >= kRolesCacheTtl) {
    return std::nullopt;
  }
  return AnyGrants(found->second.roles, permission);
}

}  // namespace falaj::security
