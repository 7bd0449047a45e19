#include "features/online_features.h"

#include <mutex>

namespace falaj::features {
namespace {

constexpr auto kCacheTtl = std::chrono::seconds(1);
constexpr size_t kMaxCacheEntries = 4096;

std::string CacheKey(const OnlineQuery& query) {
  std::string key;
  key.reserve(query.project.size() + query.feature_service.size() + 2);
  key.append(query.project).push_back('\n');
  key.append(query.feature_service).push_back('\n');
  for (const auto& reference : query.features) {
    key.append(reference.view).append(":").append(reference.feature).push_back(',');
  }
  return key;
}

}  // namespace

std::shared_ptr<const PreparedRead> OnlineFeatures::PreparedFromMemory(const OnlineQuery& query) {
  const std::string key = CacheKey(query);
  std::shared_lock lock(mutex_);
  auto found = cache_.find(key);
  if (found == cache_.end() || found->second.expires <= std::chrono::steady_clock::now() ||
      found->second.generation != registry_.generation()) {
    return nullptr;
  }
  return found->second.plan;
}

Result<std::shared_ptr<const PreparedRead>> OnlineFeatures::Prepare(const OnlineQuery& query) {
  if (auto cached = PreparedFromMemory(query)) return cached;
  // Read before resolving: a change racing with this resolution then makes the entry stale
  // rather than letting it look current.
  const uint64_t generation = registry_.generation();
  FALAJ_ASSIGN_OR_RETURN(
      auto views, registry_.ResolveRequested(query.project, query.feature_service, query.features));
  auto plan = std::make_shared<const PreparedRead>(
      query.project, std::make_shared<const std::vector<ResolvedView>>(std::move(views)));
  std::unique_lock lock(mutex_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_[CacheKey(query)] = {plan, std::chrono::steady_clock::now() + kCacheTtl, generation};
  return plan;
}

Result<bool> OnlineFeatures::Read(const PreparedRead& plan,
                                  std::span<const std::span<const EntityKey>> keys, size_t rows,
                                  bool memory_only, OnlineReadResult& out) {
  const int64_t now_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now().time_since_epoch())
          .count();
  return plan.Read(store_.kv(), keys, rows, now_micros, memory_only, out);
}

}  // namespace falaj::features
