#include "features/online_features.h"

#include <mutex>

namespace falaj::features {
namespace {

constexpr auto kCacheTtl = std::chrono::seconds(1);
constexpr size_t kMaxCacheEntries = 4096;

std::string CacheKey(const OnlineRequest& request) {
  std::string key = request.project + '\n' + request.feature_service + '\n';
  for (const auto& reference : request.features) {
    key += reference.view + ':' + reference.feature + ',';
  }
  return key;
}

}  // namespace

Result<std::shared_ptr<const std::vector<ResolvedView>>> OnlineFeatures::Resolve(
    const OnlineRequest& request) {
  const std::string key = CacheKey(request);
  const auto now = std::chrono::steady_clock::now();
  const uint64_t generation = registry_.generation();
  {
    std::shared_lock lock(mutex_);
    auto found = cache_.find(key);
    if (found != cache_.end() && found->second.expires > now &&
        found->second.generation == generation) {
      return found->second.views;
    }
  }
  FALAJ_ASSIGN_OR_RETURN(
      auto views,
      registry_.ResolveRequested(request.project, request.feature_service, request.features));
  auto shared = std::make_shared<const std::vector<ResolvedView>>(std::move(views));
  std::unique_lock lock(mutex_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_[key] = {shared, now + kCacheTtl, generation};
  return shared;
}

Status OnlineFeatures::Get(const OnlineRequest& request, std::vector<OnlineFeatureColumn>& out) {
  FALAJ_ASSIGN_OR_RETURN(auto views, Resolve(request));
  return store_.Read(request.project, *views, request.entities, clock_.Now(),
                     request.full_feature_names, out);
}

}  // namespace falaj::features
