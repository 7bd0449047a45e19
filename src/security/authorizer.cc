#include "security/authorizer.h"

namespace falaj::security {

bool IsKnownRole(std::string_view role) {
  return role == "admin" || role == "editor" || role == "viewer";
}

bool IsAllowed(const Principal& principal, std::string_view permission) {
  if (permission.empty()) return false;
  if (principal.role == "admin") return true;
  if (principal.role == "editor") return !permission.ends_with(".admin");
  if (principal.role == "viewer") return permission.ends_with(".read");
  return false;
}

}  // namespace falaj::security
