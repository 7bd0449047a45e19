// Comparing runs: params and latest metrics of several runs side by side, with the keys whose
// values differ marked, for the native API's runs/compare and `falaj runs compare`.
#include <cmath>
#include <set>

#include "tracking/tracking_store.h"

namespace falaj::tracking {
namespace {

template <typename Value, typename Equal>
bool Differs(const std::vector<std::optional<Value>>& values, Equal&& equal) {
  for (const auto& value : values) {
    if (value.has_value() != values.front().has_value()) return true;
    if (value && !equal(*value, *values.front())) return true;
  }
  return false;
}

bool SameValue(const MetricPoint& a, const MetricPoint& b) {
  return a.value == b.value || (std::isnan(a.value) && std::isnan(b.value));
}

}  // namespace

Result<RunComparison> TrackingStore::CompareRuns(std::string_view project,
                                                 const std::vector<std::string>& run_ids) {
  if (run_ids.empty() || run_ids.size() > kMaxComparedRuns) {
    return MakeError(ErrorCode::kInvalidArgument, "compare 1 to {} runs, not {}", kMaxComparedRuns,
                     run_ids.size());
  }
  if (std::set<std::string>(run_ids.begin(), run_ids.end()).size() != run_ids.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "a run appears twice in the comparison");
  }
  std::vector<Run> runs;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        for (const auto& id : run_ids) {
          FALAJ_ASSIGN_OR_RETURN(auto run, LoadRun(tx, project, id));
          runs.push_back(std::move(run));
        }
        return Ok();
      }));
  RunComparison comparison;
  std::set<std::string> param_keys, metric_keys;
  for (const auto& run : runs) {
    comparison.runs.push_back(run.info);
    for (const auto& [key, value] : run.params) param_keys.insert(key);
    for (const auto& metric : run.latest_metrics) metric_keys.insert(metric.key);
  }
  for (const auto& key : param_keys) {
    ParamComparison row{key, {}, false};
    for (const auto& run : runs) {
      auto found = run.params.find(key);
      row.values.push_back(found == run.params.end() ? std::nullopt
                                                     : std::optional<std::string>(found->second));
    }
    row.differs = Differs(row.values, std::equal_to<std::string>());
    comparison.params.push_back(std::move(row));
  }
  for (const auto& key : metric_keys) {
    MetricComparison row{key, {}, false};
    for (const auto& run : runs) {
      std::optional<MetricPoint> latest;
      for (const auto& metric : run.latest_metrics) {
        if (metric.key == key) latest = metric;
      }
      row.latest.push_back(std::move(latest));
    }
    row.differs = Differs(row.latest, SameValue);
    comparison.metrics.push_back(std::move(row));
  }
  return comparison;
}

}  // namespace falaj::tracking
