#include "api/feature_provider_adapter.h"

#include <fmt/format.h>

#include <limits>
#include <span>
#include <string>
#include <vector>

namespace falaj::api {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

class ResolvedService final : public serving::ResolvedFeatureService {
 public:
  ResolvedService(std::shared_ptr<const features::PreparedRead> plan,
                  std::vector<std::string> features, uint64_t generation,
                  const features::FeatureRegistry& registry, storage::KvStore& kv, bool remote,
                  const Clock& clock)
      : plan_(std::move(plan)),
        features_(std::move(features)),
        generation_(generation),
        registry_(registry),
        kv_(kv),
        remote_(remote),
        clock_(clock) {}

  const std::vector<std::string>& join_keys() const override { return plan_->join_keys(); }
  const std::vector<std::string>& features() const override { return features_; }
  bool current() const override { return registry_.generation() == generation_; }
  bool remote() const override { return remote_; }

  Status Fetch(const serving::EntityKeys& keys, const serving::FeatureMatrix& out) const override {
    const size_t rows = keys.rows;
    if (keys.columns.size() != plan_->join_keys().size() || out.rows != rows ||
        out.stride < features_.size() || out.data.size() < rows * out.stride) {
      return MakeError(ErrorCode::kInternal, "feature fetch called with mismatched shapes");
    }
    // Reused per thread: a steady stream of requests stops allocating for keys and answers.
    thread_local std::vector<std::vector<features::EntityKey>> key_values;
    thread_local std::vector<std::span<const features::EntityKey>> key_columns;
    thread_local features::OnlineReadResult found;
    key_values.resize(keys.columns.size());
    key_columns.clear();
    for (size_t k = 0; k < keys.columns.size(); ++k) {
      if (keys.columns[k].size() != rows) {
        return MakeError(ErrorCode::kInternal, "feature fetch called with mismatched keys");
      }
      key_values[k].resize(rows);
      for (size_t i = 0; i < rows; ++i) key_values[k][i] = {keys.columns[k][i], {}, false};
      key_columns.emplace_back(key_values[k]);
    }
    const int64_t now_micros =
        std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now().time_since_epoch())
            .count();
    FALAJ_RETURN_IF_ERROR(plan_->Read(kv_, key_columns, rows, now_micros, false, found));
    for (const auto& view : plan_->views()) {
      for (size_t i = 0; i < rows; ++i) {
        float* target = &out.data[i * out.stride + view.first_column];
        for (size_t s = 0; s < view.columns; ++s) {
          target[s] =
              FeatureCellAsFloat(found.cell(i, view.first_column + s), view.view->selected[s].type);
        }
      }
    }
    return Ok();
  }

 private:
  const std::shared_ptr<const features::PreparedRead> plan_;
  const std::vector<std::string> features_;
  const uint64_t generation_;
  const features::FeatureRegistry& registry_;
  storage::KvStore& kv_;
  const bool remote_;
  const Clock& clock_;
};

// Whether every feature the service reads can feed a model.
Status CheckModelInputs(std::string_view service, const features::ResolvedView& view) {
  if (!view.view.online) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "feature service '{}' reads feature view '{}', which is not materialised "
                     "online (online: false)",
                     service, view.view.name);
  }
  for (const auto& feature : view.selected) {
    if (feature.type == data::ColumnType::kString) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "feature service '{}' has string feature '{}:{}'; only int64, float64, "
                       "bool and timestamp features can feed a model",
                       service, view.view.name, feature.name);
    }
  }
  return Ok();
}

}  // namespace

float FeatureCellAsFloat(const features::FeatureCell& cell, data::ColumnType type) {
  if (!cell.present) return kMissing;
  switch (type) {
    case data::ColumnType::kInt64:
    case data::ColumnType::kTimestamp:
      return static_cast<float>(cell.integer);
    case data::ColumnType::kFloat64:
      return static_cast<float>(cell.real);
    case data::ColumnType::kBool:
      return cell.flag ? 1.0f : 0.0f;
    case data::ColumnType::kString:
      break;
  }
  return kMissing;
}

Result<std::shared_ptr<const serving::ResolvedFeatureService>> OnlineFeatureProvider::Resolve(
    std::string_view project, std::string_view service) {
  // Read before resolving: a change racing with this resolution then makes the plan stale rather
  // than letting it look current.
  const uint64_t generation = registry_.generation();
  FALAJ_ASSIGN_OR_RETURN(auto plan,
                         online_.Prepare({std::string(project), std::string(service), {}}));
  std::vector<std::string> names;
  for (const auto& view : plan->resolved()) {
    FALAJ_RETURN_IF_ERROR(CheckModelInputs(service, view));
    for (const auto& feature : view.selected) {
      names.push_back(fmt::format("{}:{}", view.view.name, feature.name));
    }
  }
  if (names.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "feature service '{}' has no features", service);
  }
  return std::make_shared<const ResolvedService>(std::move(plan), std::move(names), generation,
                                                 registry_, kv_, remote_, clock_);
}

}  // namespace falaj::api
