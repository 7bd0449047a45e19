// Parsing of storage URIs such as "sqlite:///var/lib/falaj/falaj.db" or "file://./data/blobs".
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::storage {

struct StorageUri {
  std::string scheme;  // lowercase, e.g. "sqlite", "file", "postgresql", "s3"
  std::string rest;    // everything after "scheme://", e.g. "/var/lib/falaj/falaj.db"
};

// INVALID_ARGUMENT naming the URI when it has no "scheme://" prefix or nothing after it.
Result<StorageUri> ParseStorageUri(std::string_view uri);

}  // namespace falaj::storage
