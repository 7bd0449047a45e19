// SchemeRegistry<Factory>: the map from URI scheme ("sqlite", "file", "s3" …) to the factory that
// opens a backend, one per storage interface. Built-in backends are passed to the constructor
// rather than registered by static initialisers, which the linker drops from static archives.
//
// Thread-safe: Register() and Find() may race; opening runs outside the lock.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace falaj::storage {

template <typename Factory>
class SchemeRegistry {
 public:
  SchemeRegistry(std::string_view kind,
                 std::initializer_list<std::pair<const std::string, Factory>> builtins)
      : kind_(kind), factories_(builtins) {}

  // Two backends claiming one scheme is a wiring bug no caller could handle: it aborts.
  void Register(std::string scheme, Factory factory) {
    // Parsed URIs have lowercase schemes, so a mixed-case registration could never be reached.
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::lock_guard lock(mutex_);
    if (!factories_.emplace(scheme, std::move(factory)).second) {
      std::fprintf(stderr, "%s scheme '%s' registered twice\n", kind_.c_str(), scheme.c_str());
      std::abort();
    }
  }

  // INVALID_ARGUMENT naming the scheme and the known ones when none is registered.
  Result<Factory> Find(std::string_view scheme) const {
    std::lock_guard lock(mutex_);
    auto found = factories_.find(scheme);
    if (found != factories_.end()) return found->second;
    std::string known;
    for (const auto& entry : factories_) known += (known.empty() ? "" : ", ") + entry.first + "://";
    return MakeError(ErrorCode::kInvalidArgument, "{} scheme '{}' is not supported; known: {}",
                     kind_, scheme, known);
  }

 private:
  const std::string kind_;
  mutable std::mutex mutex_;
  std::map<std::string, Factory, std::less<>> factories_;  // guarded by mutex_
};

}  // namespace falaj::storage
