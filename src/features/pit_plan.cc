#include "features/pit_plan.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <utility>

#include "features/pit_keys.h"
#include "features/pit_timestamps.h"

namespace falaj::features::pit {
namespace {

Status CheckKey(const arrow::Table& entities, const FeatureViewData& view, const std::string& key,
                const std::string& where) {
  FALAJ_ASSIGN_OR_RETURN(auto ours, Column(entities, key, "the entity table"));
  FALAJ_ASSIGN_OR_RETURN(auto theirs, Column(*view.table, key, where));
  const auto& a = *ours->type();
  const auto& b = *theirs->type();
  if (!(IsIntKey(a) || IsStringKey(a)) || !(IsIntKey(b) || IsStringKey(b))) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "join key '{}' of {} must be int32, int64, utf8 or large_utf8 (entity table: {}, "
        "view: {})",
        key, where, a.ToString(), b.ToString());
  }
  if (IsIntKey(a) != IsIntKey(b)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "join key '{}' is {} in the entity table but {} in {}", key, a.ToString(),
                     b.ToString(), where);
  }
  return Ok();
}

Result<ViewPlan> PlanView(const arrow::Table& entities, const FeatureViewData& view,
                          const PointInTimeJoinOptions& options) {
  if (view.name.empty())
    return MakeError(ErrorCode::kInvalidArgument, "a feature view has no name");
  const std::string where = fmt::format("feature view '{}'", view.name);
  if (!view.table) return MakeError(ErrorCode::kInvalidArgument, "{} has no table", where);
  if (view.join_keys.empty())
    return MakeError(ErrorCode::kInvalidArgument, "{} has no join keys", where);
  if (view.ttl.count() < 0)
    return MakeError(ErrorCode::kInvalidArgument, "{} has a negative ttl", where);
  for (const auto& key : view.join_keys)
    FALAJ_RETURN_IF_ERROR(CheckKey(entities, view, key, where));
  FALAJ_ASSIGN_OR_RETURN(auto ets,
                         Column(entities, options.entity_timestamp_column, "the entity table"));
  FALAJ_RETURN_IF_ERROR(TicksPerSecond(*ets, options.entity_timestamp_column, "the entity table"));
  std::set<std::string> skip(view.join_keys.begin(), view.join_keys.end());
  for (const std::string* name : {&view.event_timestamp_column, &view.created_timestamp_column}) {
    if (name->empty() && name == &view.created_timestamp_column) continue;
    FALAJ_ASSIGN_OR_RETURN(auto ts, Column(*view.table, *name, where));
    FALAJ_RETURN_IF_ERROR(TicksPerSecond(*ts, *name, where));
    skip.insert(*name);
  }
  ViewPlan plan{&view, view.features, {}};
  if (plan.features.empty()) {
    for (const auto& field : view.table->schema()->fields()) {
      if (!skip.contains(field->name())) plan.features.push_back(field->name());
    }
  }
  for (const auto& feature : plan.features) {
    FALAJ_RETURN_IF_ERROR(Column(*view.table, feature, where));
    plan.output_names.push_back(options.full_feature_names ? view.name + "__" + feature : feature);
  }
  return plan;
}

}  // namespace

Result<std::shared_ptr<arrow::ChunkedArray>> Column(const arrow::Table& table,
                                                    const std::string& name,
                                                    const std::string& where) {
  auto column = table.GetColumnByName(name);
  if (!column) {
    return MakeError(ErrorCode::kInvalidArgument, "{} has no (unique) column '{}'", where, name);
  }
  return column;
}

Result<std::vector<ViewPlan>> PlanAll(const arrow::Table& entities,
                                      std::span<const FeatureViewData> views,
                                      const PointInTimeJoinOptions& options) {
  std::vector<ViewPlan> plans;
  std::map<std::string, std::string> owner;  // output column -> who produces it
  for (const auto& field : entities.schema()->fields())
    owner.emplace(field->name(), "the entity table");
  for (const auto& view : views) {
    FALAJ_ASSIGN_OR_RETURN(ViewPlan plan, PlanView(entities, view, options));
    for (const auto& name : plan.output_names) {
      auto [it, fresh] = owner.emplace(name, fmt::format("feature view '{}'", view.name));
      if (!fresh) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            "output column '{}' comes from both {} and feature view '{}'; rename it or "
            "request full feature names",
            name, it->second, view.name);
      }
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace falaj::features::pit
