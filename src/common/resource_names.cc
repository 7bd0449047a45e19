#include "common/resource_names.h"

namespace falaj {

bool IsNameCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Status ValidateName(std::string_view what, std::string_view name) {
  bool valid = !name.empty() && name.size() <= 128 && name.front() != '.' && name.front() != '-';
  for (char c : name) valid = valid && IsNameCharacter(c);
  if (!valid) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{} '{}' must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', not "
                     "starting with '.' or '-'",
                     what, name.substr(0, 80));
  }
  return Ok();
}

}  // namespace falaj
