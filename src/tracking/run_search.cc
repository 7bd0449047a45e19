// Run search: the runs of the named experiments are loaded with their params, tags and latest
// metrics in four queries, filtered and ordered in memory (so SQLite and PostgreSQL agree on
// every comparison, NaN included), then cut into pages.
#include <algorithm>
#include <unordered_map>

#include "tracking/run_filter.h"
#include "tracking/run_rows.h"
#include "tracking/tracking_store.h"
#include "tracking/tracking_validation.h"

namespace falaj::tracking {
namespace {

constexpr size_t kMaxSearchResults = 50000;
constexpr size_t kMaxSearchExperiments = 100;

// "(?, ?, …)" with one placeholder per experiment.
std::string Placeholders(size_t count) {
  std::string text = "(";
  for (size_t i = 0; i < count; ++i) text += i == 0 ? "?" : ", ?";
  return text + ")";
}

Status LoadRunData(storage::Transaction& tx, const std::string& scope,
                   const std::vector<storage::SqlValue>& params,
                   std::unordered_map<std::string, Run*>& by_id) {
  auto load = [&](std::string_view table, std::string_view columns, auto&& add) -> Status {
    FALAJ_ASSIGN_OR_RETURN(
        auto rows, tx.Query(fmt::format("SELECT d.run_id, {} FROM {} d JOIN tracking_runs r ON "
                                        "r.run_id = d.run_id WHERE {}",
                                        columns, table, scope),
                            params));
    for (const auto& row : rows) {
      auto found = by_id.find(row.Text(0));
      if (found != by_id.end()) add(*found->second, row);
    }
    return Ok();
  };
  FALAJ_RETURN_IF_ERROR(load("tracking_params", "d.key, d.value", [](Run& run, const auto& row) {
    run.params.emplace(row.Text(1), row.Text(2));
  }));
  FALAJ_RETURN_IF_ERROR(load("tracking_tags", "d.key, d.value", [](Run& run, const auto& row) {
    run.tags.emplace(row.Text(1), row.Text(2));
  }));
  FALAJ_RETURN_IF_ERROR(load("tracking_latest_metrics", "d.key, d.value, d.timestamp_ms, d.step",
                             [](Run& run, const auto& row) {
                               run.latest_metrics.push_back({row.Text(1),
                                                             MetricValueFromRow(row, 2), row.Int(3),
                                                             row.Int(4)});
                             }));
  for (auto& [id, run] : by_id) {
    std::sort(run->latest_metrics.begin(), run->latest_metrics.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
  }
  return Ok();
}

}  // namespace

Result<RunPage> TrackingStore::SearchRuns(std::string_view project, const RunSearch& search) {
  if (search.max_results == 0 || search.max_results > kMaxSearchResults) {
    return MakeError(ErrorCode::kInvalidArgument, "max_results must be between 1 and {}",
                     kMaxSearchResults);
  }
  if (search.experiment_ids.size() > kMaxSearchExperiments) {
    return MakeError(ErrorCode::kInvalidArgument, "at most {} experiment_ids may be searched",
                     kMaxSearchExperiments);
  }
  FALAJ_ASSIGN_OR_RETURN(auto filter, RunFilter::Parse(search.filter));
  FALAJ_ASSIGN_OR_RETURN(auto order, RunOrder::Parse(search.order_by));
  FALAJ_ASSIGN_OR_RETURN(size_t offset, DecodePageToken(search.page_token));
  RunPage page;
  if (search.experiment_ids.empty()) return page;

  std::vector<storage::SqlValue> params{std::string(project)};
  for (const auto& id : search.experiment_ids) {
    FALAJ_ASSIGN_OR_RETURN(int64_t number, ParseExperimentId(id));
    params.emplace_back(number);
  }
  std::string scope =
      "r.project = ? AND r.experiment_id IN " + Placeholders(search.experiment_ids.size());
  if (search.view == ViewType::kActiveOnly) scope += " AND r.lifecycle = 'active'";
  if (search.view == ViewType::kDeletedOnly) scope += " AND r.lifecycle = 'deleted'";

  std::vector<Run> runs;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        std::string columns(kRunColumns);
        columns.replace(columns.find(" FROM tracking_runs"), std::string::npos,
                        " FROM tracking_runs r WHERE " + scope);
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(columns, params));
        runs.reserve(rows.size());
        for (const auto& row : rows) runs.push_back({RunInfoFromRow(row), {}, {}, {}});
        std::unordered_map<std::string, Run*> by_id;
        for (auto& run : runs) by_id.emplace(run.info.run_id, &run);
        return LoadRunData(tx, scope, params, by_id);
      }));

  std::erase_if(runs, [&](const Run& run) { return !filter.Matches(run); });
  std::sort(runs.begin(), runs.end(),
            [&](const Run& a, const Run& b) { return order.Before(a, b); });
  if (offset >= runs.size()) return page;
  size_t end = std::min(runs.size(), offset + search.max_results);
  page.runs.assign(std::make_move_iterator(runs.begin() + offset),
                   std::make_move_iterator(runs.begin() + end));
  if (end < runs.size()) page.next_page_token = EncodePageToken(end);
  return page;
}

}  // namespace falaj::tracking
