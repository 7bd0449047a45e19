// Inference with features, the features side: serving::FeatureProvider implemented over the
// features module — feature services resolved by features::OnlineFeatures (cached) and entity rows
// read from the online store's KvStore in its byte layout (features/online_codec.h). It lives in
// the api layer so that the serving module does not depend on the features module
// (serving/feature_provider.h has the contract).
//
// Resolve() checks that every feature of the service can feed a model (int64, float64, bool or
// timestamp, in a view materialised online) and keeps the service's features::PreparedRead (the
// same prepared read, with the same TTL and key rules, as the REST online read) with the
// predictor's route. Fetch() reads all of a request's entities with one MultiGet per feature view
// and writes float32: int64 and timestamps (µs since the epoch) as numbers, bool as 0 or 1, and
// NaN for anything missing (NOT_FOUND, OUTSIDE_MAX_AGE, null).
//
// Thread-safe: every method may be called concurrently; plans are immutable.
#pragma once

#include <memory>
#include <string_view>

#include "common/clock.h"
#include "features/feature_registry.h"
#include "features/online_features.h"
#include "features/online_read_plan.h"
#include "serving/feature_provider.h"
#include "storage/kv_store.h"

namespace falaj::api {

class OnlineFeatureProvider final : public serving::FeatureProvider {
 public:
  // Nothing is owned; everything must outlive the provider and its plans. `online_kv` is the
  // online store's KvStore. `remote`: it is reached over the network (Redis), so fetches never
  // run on an I/O thread.
  OnlineFeatureProvider(features::FeatureRegistry& registry, features::OnlineFeatures& online,
                        storage::KvStore& online_kv, bool remote,
                        const Clock& clock = SystemClock::Instance())
      : registry_(registry), online_(online), kv_(online_kv), remote_(remote), clock_(clock) {}

  Result<std::shared_ptr<const serving::ResolvedFeatureService>> Resolve(
      std::string_view project, std::string_view service) override;

 private:
  features::FeatureRegistry& registry_;
  features::OnlineFeatures& online_;
  storage::KvStore& kv_;
  const bool remote_;
  const Clock& clock_;
};

// One online value of a feature of `type` as a model input: numbers as float32, bool as 0/1, NaN
// when absent (or a string, which Resolve() keeps from reaching here).
float FeatureCellAsFloat(const features::FeatureCell& cell, data::ColumnType type);

}  // namespace falaj::api
