#include "registry/registry_names.h"

namespace falaj::registry {
Status ValidateTags(const std::map<std::string, std::string>& tags) {
  if (tags.size() > 64) return MakeError(ErrorCode::kInvalidArgument, "at most 64 tags");
  for (const auto& [key, value] : tags) {
    FALAJ_RETURN_IF_ERROR(ValidateName("tag key", key));
    if (value.size() > 256) {
      return MakeError(ErrorCode::kInvalidArgument, "tag '{}' is longer than 256 bytes", key);
    }
  }
  return Ok();
}

Status ValidateArtifactPath(std::string_view path) {
  bool valid = !path.empty() && path.size() <= 256 && path.front() != '/' && path.back() != '/';
  size_t start = 0;
  while (valid && start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    valid = !segment.empty() && segment != "." && segment != "..";
    for (char c : segment) valid = valid && IsNameCharacter(c);
    start = end + 1;
  }
  if (!valid) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "artifact path '{}' must be relative, made of names of A-Z, a-z, 0-9, '.', "
                     "'_' and '-' separated by '/', without '.' or '..' segments",
                     path.substr(0, 80));
  }
  return Ok();
}

bool IsVersionNumber(std::string_view text) {
  if (text.empty() || text.size() > 18 || text.front() == '0') return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace falaj::registry
