// Who is calling: the identity that authentication establishes and authorisation checks.
// A plain value; thread-safe to share read-only.
#pragma once

#include <string>

namespace falaj::security {

struct Principal {
  std::string id;    // stable identifier, e.g. "key:3f9a0c1b2d4e"
  std::string name;  // human label, e.g. "bootstrap-admin"
  std::string role;  // "admin", "editor" or "viewer"
};

}  // namespace falaj::security
