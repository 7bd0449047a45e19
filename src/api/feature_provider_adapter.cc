#include "api/feature_provider_adapter.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "features/online_codec.h"

namespace falaj::api {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// How to read one feature view for a service: everything that does not depend on the request.
struct ViewPlan {
  std::string prefix;               // OnlineKeyPrefix(project, view)
  std::vector<size_t> key_columns;  // per join key of the view: its column in EntityKeys
  std::vector<bool> string_keys;    // per join key: the source stores it as a string
  std::span<const features::FeatureField> fields;  // the view's features, as stored
  uint64_t layout = 0;                             // LayoutHash(fields)
  std::vector<size_t> positions;                   // per selected feature: its index in `fields`
  size_t first_column = 0;  // the matrix column of the first selected feature
  int64_t ttl_micros = 0;   // 0: values never expire
};

class ResolvedService final : public serving::ResolvedFeatureService {
 public:
  ResolvedService(std::shared_ptr<const std::vector<features::ResolvedView>> views,
                  std::vector<ViewPlan> plans, std::vector<std::string> join_keys,
                  std::vector<std::string> features, uint64_t generation,
                  const features::FeatureRegistry& registry, storage::KvStore& kv, bool remote,
                  const Clock& clock)
      : views_(std::move(views)),
        plans_(std::move(plans)),
        join_keys_(std::move(join_keys)),
        features_(std::move(features)),
        generation_(generation),
        registry_(registry),
        kv_(kv),
        remote_(remote),
        clock_(clock) {}

  const std::vector<std::string>& join_keys() const override { return join_keys_; }
  const std::vector<std::string>& features() const override { return features_; }
  bool current() const override { return registry_.generation() == generation_; }
  bool remote() const override { return remote_; }

  Status Fetch(const serving::EntityKeys& keys, const serving::FeatureMatrix& out) const override {
    const size_t rows = keys.rows;
    if (keys.columns.size() != join_keys_.size() || out.rows != rows ||
        out.stride < features_.size() || out.data.size() < rows * out.stride) {
      return MakeError(ErrorCode::kInternal, "feature fetch called with mismatched shapes");
    }
    for (const auto& column : keys.columns) {
      if (column.size() != rows) {
        return MakeError(ErrorCode::kInternal, "feature fetch called with mismatched keys");
      }
    }
    // Reused per thread: a steady stream of requests stops allocating for keys and answers.
    thread_local std::vector<std::string> key_bytes;
    thread_local std::vector<std::string_view> key_views;
    thread_local storage::KvValues found;
    if (key_bytes.size() < rows) key_bytes.resize(rows);
    key_views.resize(rows);
    const int64_t now_micros =
        std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now().time_since_epoch())
            .count();
    for (const ViewPlan& plan : plans_) {
      for (size_t i = 0; i < rows; ++i) {
        std::string& key = key_bytes[i];
        key.assign(plan.prefix);
        for (size_t k = 0; k < plan.key_columns.size(); ++k) {
          const int64_t id = keys.columns[plan.key_columns[k]][i];
          // As OnlineStore::Read coerces: an integer key names a string key by its decimal text.
          features::AppendKeyValue(key, plan.string_keys[k]
                                            ? features::OnlineValue(std::to_string(id))
                                            : features::OnlineValue(id));
        }
        key_views[i] = key;
      }
      FALAJ_RETURN_IF_ERROR(kv_.MultiGet(key_views, found));
      for (size_t i = 0; i < rows; ++i) {
        std::optional<features::OnlineRow> row;
        if (found.found(i))
          row = features::DecodeOnlineRow(found.value(i), plan.layout, plan.fields);
        // As OnlineStore::Read: a row older than now − ttl is OUTSIDE_MAX_AGE, i.e. missing.
        const bool present =
            row && !(plan.ttl_micros > 0 && row->event_micros < now_micros - plan.ttl_micros);
        float* target = &out.data[i * out.stride + plan.first_column];
        for (size_t s = 0; s < plan.positions.size(); ++s) {
          target[s] = present ? OnlineValueAsFloat(row->values[plan.positions[s]]) : kMissing;
        }
      }
    }
    return Ok();
  }

 private:
  // Owns what the plans' `fields` point into.
  const std::shared_ptr<const std::vector<features::ResolvedView>> views_;
  const std::vector<ViewPlan> plans_;
  const std::vector<std::string> join_keys_;
  const std::vector<std::string> features_;
  const uint64_t generation_;
  const features::FeatureRegistry& registry_;
  storage::KvStore& kv_;
  const bool remote_;
  const Clock& clock_;
};

// The service's join keys: every view's, each once, in the order the views name them.
std::vector<std::string> JoinKeys(const std::vector<features::ResolvedView>& views) {
  std::vector<std::string> keys;
  for (const auto& view : views) {
    for (const auto& key : view.join_keys) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  return keys;
}

Result<ViewPlan> PlanView(std::string_view project, std::string_view service,
                          const features::ResolvedView& view,
                          const std::vector<std::string>& join_keys, size_t first_column) {
  if (!view.view.online) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "feature service '{}' reads feature view '{}', which is not materialised "
                     "online (online: false)",
                     service, view.view.name);
  }
  ViewPlan plan;
  plan.prefix = features::OnlineKeyPrefix(project, view.view.name);
  for (size_t k = 0; k < view.join_keys.size(); ++k) {
    auto column = std::find(join_keys.begin(), join_keys.end(), view.join_keys[k]);
    plan.key_columns.push_back(static_cast<size_t>(column - join_keys.begin()));
    plan.string_keys.push_back(k < view.join_key_types.size() &&
                               view.join_key_types[k] == data::ColumnType::kString);
  }
  plan.fields = view.view.features;
  plan.layout = features::LayoutHash(plan.fields);
  for (const auto& feature : view.selected) {
    if (feature.type == data::ColumnType::kString) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "feature service '{}' has string feature '{}:{}'; only int64, float64, "
                       "bool and timestamp features can feed a model",
                       service, view.view.name, feature.name);
    }
    auto stored = std::find_if(plan.fields.begin(), plan.fields.end(),
                               [&](const auto& field) { return field.name == feature.name; });
    if (stored == plan.fields.end()) {
      return MakeError(ErrorCode::kInternal, "feature view '{}' lost feature '{}'", view.view.name,
                       feature.name);
    }
    plan.positions.push_back(static_cast<size_t>(stored - plan.fields.begin()));
  }
  plan.first_column = first_column;
  plan.ttl_micros = std::chrono::duration_cast<std::chrono::microseconds>(view.view.ttl).count();
  return plan;
}

}  // namespace

float OnlineValueAsFloat(const features::OnlineValue& value) {
  if (const auto* integer = std::get_if<int64_t>(&value)) return static_cast<float>(*integer);
  if (const auto* real = std::get_if<double>(&value)) return static_cast<float>(*real);
  if (const auto* flag = std::get_if<bool>(&value)) return *flag ? 1.0f : 0.0f;
  return kMissing;
}

Result<std::shared_ptr<const serving::ResolvedFeatureService>> OnlineFeatureProvider::Resolve(
    std::string_view project, std::string_view service) {
  // Read before resolving: a change racing with this resolution then makes the plan stale rather
  // than letting it look current.
  const uint64_t generation = registry_.generation();
  features::OnlineRequest request;
  request.project = std::string(project);
  request.feature_service = std::string(service);
  FALAJ_ASSIGN_OR_RETURN(auto views, online_.Resolve(request));
  std::vector<std::string> join_keys = JoinKeys(*views);
  std::vector<ViewPlan> plans;
  std::vector<std::string> names;
  for (const auto& view : *views) {
    FALAJ_ASSIGN_OR_RETURN(auto plan, PlanView(project, service, view, join_keys, names.size()));
    for (const auto& feature : view.selected) {
      names.push_back(fmt::format("{}:{}", view.view.name, feature.name));
    }
    plans.push_back(std::move(plan));
  }
  if (names.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "feature service '{}' has no features", service);
  }
  return std::make_shared<const ResolvedService>(std::move(views), std::move(plans),
                                                 std::move(join_keys), std::move(names), generation,
                                                 registry_, kv_, remote_, clock_);
}

}  // namespace falaj::api
