// Online feature reads as a service: resolves a feature service (or a list of "view:feature"
// references) to views and prepares their read (online_read_plan.h) — cached for a second and
// dropped at once when definitions change in this process — and reads entities' rows through the
// prepared plan. Used by the REST route and by inference with features.
//
// Thread-safe: the cache is guarded by a shared mutex; reads of cached entries share it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "features/feature_registry.h"
#include "features/online_read_plan.h"
#include "features/online_store.h"

namespace falaj::features {

// What a read asks for: a feature service, or references when the service is empty.
struct OnlineQuery {
  std::string project;
  std::string feature_service;
  std::vector<FeatureReference> features;
};

class OnlineFeatures {
 public:
  OnlineFeatures(FeatureRegistry& registry, OnlineStore& store,
                 const Clock& clock = SystemClock::Instance())
      : registry_(registry), store_(store), clock_(clock) {}

  // The prepared read of a query's views, resolved through the registry unless cached.
  Result<std::shared_ptr<const PreparedRead>> Prepare(const OnlineQuery& query);
  // The cached prepared read, or null when preparing it would need the registry's storage.
  std::shared_ptr<const PreparedRead> PreparedFromMemory(const OnlineQuery& query);

  // Reads entities through `plan` at the clock's now (PreparedRead::Read).
  Result<bool> Read(const PreparedRead& plan, std::span<const std::span<const EntityKey>> keys,
                    size_t rows, bool memory_only, OnlineReadResult& out);

 private:
  struct Cached {
    std::shared_ptr<const PreparedRead> plan;
    std::chrono::steady_clock::time_point expires;
    uint64_t generation = 0;
  };

  FeatureRegistry& registry_;
  OnlineStore& store_;
  const Clock& clock_;
  std::shared_mutex mutex_;
  std::map<std::string, Cached, std::less<>> cache_;  // guarded by mutex_
};

}  // namespace falaj::features
