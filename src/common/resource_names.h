// The naming rule every control-plane resource shares (models, endpoints, datasets, sources,
// feature views …), so names are safe in URLs, file names and key prefixes. Pure; thread-safe.
#pragma once

#include <string_view>

#include "common/result.h"

namespace falaj {

// A-Z, a-z, 0-9, '.', '_' or '-'.
bool IsNameCharacter(char c);

// 1–128 characters of [A-Za-z0-9._-], not starting with '.' or '-'. `what` names the field.
Status ValidateName(std::string_view what, std::string_view name);

}  // namespace falaj
