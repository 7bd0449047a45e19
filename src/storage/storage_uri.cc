#include "storage/storage_uri.h"

#include <algorithm>
#include <cctype>

namespace falaj::storage {

Result<StorageUri> ParseStorageUri(std::string_view uri) {
  auto separator = uri.find("://");
  if (separator == std::string_view::npos || separator == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "storage URI '{}' has no scheme; expected e.g. 'sqlite:///path/falaj.db'",
                     uri);
  }
  StorageUri parsed{std::string(uri.substr(0, separator)), std::string(uri.substr(separator + 3))};
  std::transform(parsed.scheme.begin(), parsed.scheme.end(), parsed.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (parsed.rest.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "storage URI '{}' names no location", uri);
  }
  return parsed;
}

}  // namespace falaj::storage
