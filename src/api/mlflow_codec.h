// MLflow REST 2.0 wire conventions for the tracking routes: reading request fields (query string
// for GET, JSON body otherwise; int64 as number or string; doubles also as "NaN", "Infinity",
// "-Infinity"), writing experiments, runs and metrics in MLflow's shapes, and errors as
// {"error_code", "message"} with MLflow's status mapping. Stateless and thread-safe.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "api/router.h"
#include "common/result.h"
#include "tracking/tracking_types.h"
#include "tracking/tracking_validation.h"

namespace falaj::api::mlflow {

// The fields of one MLflow request, wherever the method puts them.
class Fields {
 public:
  static Result<Fields> Read(const HttpRequest& request);

  Result<std::optional<std::string>> String(std::string_view name) const;
  Result<std::string> RequiredString(std::string_view name) const;
  Result<std::optional<int64_t>> Int(std::string_view name) const;
  Result<std::optional<double>> Double(std::string_view name) const;
  // A JSON array of strings; [] when absent. Only in bodies.
  Result<std::vector<std::string>> Strings(std::string_view name) const;
  // [{key, value}] as ordered pairs; [] when absent. Only in bodies.
  Result<std::vector<std::pair<std::string, std::string>>> KeyValues(std::string_view name) const;
  // [{key, value, timestamp, step}]; [] when absent. Only in bodies.
  Result<std::vector<tracking::MetricPoint>> Metrics(std::string_view name) const;
  // run_id, or the deprecated run_uuid that older clients send.
  Result<std::string> RunId() const;

 private:
  const HttpRequest* request_ = nullptr;
  nlohmann::json body_;  // null for GET
};

// NaN and ±Inf as MLflow's strings; every other value as a JSON number.
nlohmann::json DoubleJson(double value);
// [{key, value}] in key order, as MLflow writes tags and params.
nlohmann::json KeyValuesJson(const std::map<std::string, std::string>& values);
nlohmann::json ExperimentJson(const tracking::Experiment& experiment);
nlohmann::json RunInfoJson(const tracking::RunInfo& info);
nlohmann::json RunJson(const tracking::Run& run);
nlohmann::json MetricJson(const tracking::MetricPoint& metric);
tracking::ViewType ParseViewType(std::string_view text);

// {"error_code": …, "message": …} with the HTTP status MLflow's clients expect for it.
HttpResponse ErrorResponse(const Error& error);

// An error the request pipeline answered before any MLflow handler ran (401, 403, unknown
// project or route, 413, 429) in Falaj's shape, rewritten to MLflow's; status and headers stay.
void ReshapePipelineError(HttpResponse& response, bool unknown_route);

// The filters MLflow's clients send for logged models and model versions: `key = 'value'`
// clauses (either quote) joined by AND, keys among `keys` ("attributes." prefix allowed). Anything
// else is refused by name rather than ignored.
Result<std::map<std::string, std::string>> ParseEqualityFilter(
    std::string_view filter, const std::vector<std::string_view>& keys);

// The paging fields of a search: the offset its page_token encodes and max_results (default when
// absent; INVALID_PARAMETER_VALUE outside 1..max_limit).
struct Paging {
  size_t offset = 0;
  size_t limit = 0;
};
Result<Paging> ReadPaging(const Fields& fields, size_t default_limit, size_t max_limit);

// {key: [to_json(item) for the page's items], next_page_token?}; `to_json` returns
// Result<nlohmann::json>.
template <typename Item, typename ToJson>
Result<nlohmann::json> PageJson(const std::vector<Item>& items, const Paging& paging,
                                std::string_view key, ToJson&& to_json) {
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = paging.offset; i < items.size() && i < paging.offset + paging.limit; ++i) {
    FALAJ_ASSIGN_OR_RETURN(auto json, to_json(items[i]));
    list.push_back(std::move(json));
  }
  nlohmann::json answer = {{std::string(key), std::move(list)}};
  if (paging.offset + paging.limit < items.size()) {
    answer["next_page_token"] = tracking::EncodePageToken(paging.offset + paging.limit);
  }
  return answer;
}

// The body of a JSON MLflow endpoint: its fields in, its answer out.
using JsonBody = std::function<Result<nlohmann::json>(const Fields&, HttpRequest&)>;

// A worker route answering `body`'s JSON or MLflow's error shape. Write routes are audited; read
// routes (POST searches included) are not.
Route JsonRoute(std::string method, std::string pattern, std::string permission, bool write,
                JsonBody body);

}  // namespace falaj::api::mlflow
