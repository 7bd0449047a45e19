// Role-based authorisation: which role may use which permission. Permissions are strings named
// "<resource>.<verb>" (e.g. "projects.read", "projects.write") and every route declares one.
// Deny by default: an unknown role or permission is refused. Stateless and thread-safe.
#pragma once

#include <string_view>

#include "security/principal.h"

namespace falaj::security {

// The roles an API key may carry.
bool IsKnownRole(std::string_view role);

// Whether `principal` may exercise `permission`. admin: everything; editor: every permission
// except "*.admin"; viewer: only "*.read".
bool IsAllowed(const Principal& principal, std::string_view permission);

}  // namespace falaj::security
