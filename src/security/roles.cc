#include "security/roles.h"

#include <algorithm>

namespace falaj::security {
namespace {

struct RoleSpec {
  std::string_view name;
  // Permissions granted besides every "*.read"; "*" grants all.
  std::vector<std::string_view> extra;
  bool reads_everything;
};

const std::vector<RoleSpec>& Roles() {
  static const std::vector<RoleSpec> kRoles = {
      {"viewer", {"models.predict"}, true},
      {"developer",
       {"datasets.write", "features.write", "runs.write", "models.write", "jobs.write",
        "models.predict", "monitors.write", "alerts.write"},
       true},
      {"deployer",
       {"endpoints.write", "abtests.write", "models.promote", "models.predict", "monitors.write",
        "alerts.write"},
       true},
      // The audit trail is not a "*.read" permission: only auditors and admins see it.
      {"auditor", {"audit.read"}, true},
      {"admin", {"*"}, true},
  };
  return kRoles;
}

}  // namespace

bool IsProjectRole(std::string_view role) {
  return std::any_of(Roles().begin(), Roles().end(),
                     [&](const RoleSpec& spec) { return spec.name == role; });
}

std::vector<std::string_view> ProjectRoles() {
  std::vector<std::string_view> names;
  for (const auto& spec : Roles()) names.push_back(spec.name);
  return names;
}

bool RoleGrants(std::string_view role, std::string_view permission) {
  if (permission.empty()) return false;
  for (const auto& spec : Roles()) {
    if (spec.name != role) continue;
    if (spec.reads_everything && permission.ends_with(".read") && permission != "audit.read") {
      return true;
    }
    return std::any_of(spec.extra.begin(), spec.extra.end(), [&](std::string_view granted) {
      return granted == "*" || granted == permission;
    });
  }
  return false;
}

bool IsGrantedToEveryPrincipal(std::string_view permission) {
  return permission == "projects.list";
}

}  // namespace falaj::security
