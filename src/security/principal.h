// Who is calling: the identity that authentication establishes and authorisation checks.
// A plain value; thread-safe to share read-only.
#pragma once

#include <string>
#include <vector>

namespace falaj::security {

struct Principal {
  // Stable subject used in role bindings and the audit trail, e.g. "key:3f9a0c1b2d4e5f60" or
  // "user:alice@bank.ae".
  std::string subject;
  std::string name;  // human label, e.g. "bootstrap-admin"
  // True for platform administrators, who may do everything everywhere.
  bool platform_admin = false;
  // When non-empty, the credential only works inside this project, whatever its bindings say.
  std::string scope_project;
  // Further subjects whose role bindings apply, e.g. "group:risk-team" from an OIDC claim.
  std::vector<std::string> groups;
};

}  // namespace falaj::security
