// Validation rules shared by the registry's resources: names, aliases, tags and artifact paths.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/resource_names.h"
#include "common/result.h"

namespace falaj::registry {

using falaj::ValidateName;
// At most 64 tags, keys as names, values at most 256 bytes.
Status ValidateTags(const std::map<std::string, std::string>& tags);
// A relative path of names separated by '/', no "." or ".." segments, at most 256 bytes.
Status ValidateArtifactPath(std::string_view path);
// True for "1", "42"; false for "01", "v1", "".
bool IsVersionNumber(std::string_view text);

}  // namespace falaj::registry
