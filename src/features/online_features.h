// Online feature reads as a service: resolves a feature service (or a list of "view:feature"
// references) to views — cached for a second and dropped at once when definitions change in this
// process — and reads the entities' rows from the online store. Used by the REST route and by
// inference with features.
//
// Thread-safe: the cache is guarded by a shared mutex; reads of cached entries share it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "features/feature_registry.h"
#include "features/online_store.h"

namespace falaj::features {

struct OnlineRequest {
  std::string project;
  std::string feature_service;             // or `features`
  std::vector<FeatureReference> features;  // used when feature_service is empty
  std::vector<EntityKeyColumn> entities;
  bool full_feature_names = false;
};

class OnlineFeatures {
 public:
  OnlineFeatures(FeatureRegistry& registry, OnlineStore& store,
                 const Clock& clock = SystemClock::Instance())
      : registry_(registry), store_(store), clock_(clock) {}

  Status Get(const OnlineRequest& request, std::vector<OnlineFeatureColumn>& out);
  // The views a request resolves to (cached).
  Result<std::shared_ptr<const std::vector<ResolvedView>>> Resolve(const OnlineRequest& request);

 private:
  struct Cached {
    std::shared_ptr<const std::vector<ResolvedView>> views;
    std::chrono::steady_clock::time_point expires;
    uint64_t generation = 0;
  };

  FeatureRegistry& registry_;
  OnlineStore& store_;
  const Clock& clock_;
  std::shared_mutex mutex_;
  std::map<std::string, Cached> cache_;  // guarded by mutex_
};

}  // namespace falaj::features
