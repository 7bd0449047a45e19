// Run search: the filter, order and page run in SQL (run_search_sql.h), so only the runs of the
// page are read; their params, tags and latest metrics follow in three queries per chunk of ids.
#include <algorithm>
#include <unordered_map>

#include "tracking/run_filter.h"
#include "tracking/run_rows.h"
#include "tracking/run_search_sql.h"
#include "tracking/tracking_store.h"
#include "tracking/tracking_validation.h"

namespace falaj::tracking {
namespace {

constexpr size_t kMaxSearchResults = 50000;
constexpr size_t kMaxSearchExperiments = 100;

// "(?, ?, …)" with `count` placeholders.
std::string Placeholders(size_t count) {
  std::string text = "(";
  for (size_t i = 0; i < count; ++i) text += i == 0 ? "?" : ", ?";
  return text + ")";
}

// Ids per IN list: far below every backend's limit on bound parameters.
constexpr size_t kIdsPerQuery = 500;

Status LoadRunData(storage::Transaction& tx, std::vector<Run>& runs) {
  std::unordered_map<std::string, Run*> by_id;
  for (auto& run : runs) by_id.emplace(run.info.run_id, &run);
  for (size_t first = 0; first < runs.size(); first += kIdsPerQuery) {
    size_t count = std::min(kIdsPerQuery, runs.size() - first);
    std::vector<storage::SqlValue> ids;
    for (size_t i = first; i < first + count; ++i) ids.emplace_back(runs[i].info.run_id);
    auto load = [&](std::string_view table, std::string_view columns, auto&& add) -> Status {
      FALAJ_ASSIGN_OR_RETURN(
          auto rows, tx.Query(fmt::format("SELECT run_id, {} FROM {} WHERE run_id IN {}", columns,
                                          table, Placeholders(count)),
                              ids));
      for (const auto& row : rows) {
        auto found = by_id.find(row.Text(0));
        if (found != by_id.end()) add(*found->second, row);
      }
      return Ok();
    };
    FALAJ_RETURN_IF_ERROR(load("tracking_params", "key, value", [](Run& run, const auto& row) {
      run.params.emplace(row.Text(1), row.Text(2));
    }));
    FALAJ_RETURN_IF_ERROR(load("tracking_tags", "key, value", [](Run& run, const auto& row) {
      run.tags.emplace(row.Text(1), row.Text(2));
    }));
    FALAJ_RETURN_IF_ERROR(load(
        "tracking_latest_metrics", "key, value, timestamp_ms, step", [](Run& run, const auto& row) {
          run.latest_metrics.push_back(
              {row.Text(1), MetricValueFromRow(row, 2), row.Int(3), row.Int(4)});
        }));
  }
  for (auto& run : runs) {
    std::sort(run.latest_metrics.begin(), run.latest_metrics.end(),
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

  RunScope scope{project, {}, search.view};
  for (const auto& id : search.experiment_ids) {
    FALAJ_ASSIGN_OR_RETURN(int64_t number, ParseExperimentId(id));
    scope.experiment_ids.push_back(number);
  }
  // One run more than the page tells whether another page follows.
  RunQuery query =
      BuildRunQuery(store_.backend(), scope, filter, order, search.max_results + 1, offset);
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(query.sql, query.params));
        page.runs.clear();
        for (const auto& row : rows) {
          if (page.runs.size() == search.max_results) break;
          page.runs.push_back({RunInfoFromRow(row), {}, {}, {}});
        }
        page.next_page_token =
            rows.size() > search.max_results ? EncodePageToken(offset + search.max_results) : "";
        return LoadRunData(tx, page.runs);
      }));
  return page;
}

}  // namespace falaj::tracking
