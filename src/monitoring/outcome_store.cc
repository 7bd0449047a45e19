#include "monitoring/outcome_store.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/random.h"
#include "common/resource_names.h"

namespace falaj::monitoring {
namespace {

constexpr size_t kMaxPredictionValues = 1024;
constexpr std::string_view kColumns =
    "id, request_id, unit_key, metric, type, value, timestamp_ms, received_at_ms, joined, arm, "
    "model, version, prediction_timestamp_ms, prediction";

Status ItemError(size_t index, std::string_view field, std::string_view problem) {
  return MakeError(ErrorCode::kInvalidArgument, "outcomes[{}].{}: {}", index, field, problem);
}

// Identifiers come from clients: bounded, and free of control characters, so they cannot forge
// log lines or break out of anything that prints them.
Status CheckText(size_t index, std::string_view field, std::string_view text) {
  if (text.size() > kMaxOutcomeTextLength) {
    return ItemError(index, field, fmt::format("longer than {} bytes", kMaxOutcomeTextLength));
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return ItemError(index, field, "contains a control character");
    }
  }
  return Ok();
}

std::string ResolvedType(const OutcomeInput& input) {
  if (!input.type.empty()) return input.type;
  if (input.metric == "conversion") return "conversion";
  if (input.metric == "label") return "label";
  return "value";
}

StoredOutcome FromRow(const storage::Row& row, std::string_view project,
                      std::string_view endpoint) {
  StoredOutcome stored;
  OutcomeRecord& record = stored.record;
  record.project = std::string(project);
  record.endpoint = std::string(endpoint);
  stored.id = row.Text(0);
  record.request_id = row.Text(1);
  record.unit_key = row.Text(2);
  record.metric = row.Text(3);
  stored.type = row.Text(4);
  record.value = row.Real(5);
  record.timestamp_ms = row.Int(6);
  stored.received_at_ms = row.Int(7);
  record.joined = row.Int(8) != 0;
  record.arm = row.Text(9);
  record.model = row.Text(10);
  record.version = row.Int(11);
  record.prediction_timestamp_ms = row.Int(12);
  for (const auto& value : nlohmann::json::parse(row.Text(13))) {
    record.prediction.push_back(value.get<float>());
  }
  return stored;
}

}  // namespace

const storage::MigrationSet& OutcomeStore::Migrations() {
  static const storage::MigrationSet kSet{
      "prediction_outcomes",
      {{1, "create prediction outcomes",
        "CREATE TABLE prediction_outcomes (project TEXT NOT NULL, endpoint TEXT NOT NULL, "
        "subject TEXT NOT NULL, metric TEXT NOT NULL, client_id TEXT NOT NULL, id TEXT NOT NULL, "
        "request_id TEXT NOT NULL, unit_key TEXT NOT NULL, type TEXT NOT NULL, "
        "value DOUBLE PRECISION NOT NULL, timestamp_ms BIGINT NOT NULL, "
        "received_at_ms BIGINT NOT NULL, joined INTEGER NOT NULL, arm TEXT NOT NULL, "
        "model TEXT NOT NULL, version BIGINT NOT NULL, prediction_timestamp_ms BIGINT NOT NULL, "
        "prediction TEXT NOT NULL, PRIMARY KEY (project, endpoint, subject, metric, client_id));"
        "CREATE INDEX prediction_outcomes_by_time ON prediction_outcomes "
        "(project, endpoint, received_at_ms, id)"}}};
  return kSet;
}

Status OutcomeStore::Validate(const std::vector<OutcomeInput>& batch) {
  if (batch.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'outcomes' must hold at least one outcome");
  }
  if (batch.size() > kMaxOutcomesPerBatch) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'outcomes' holds {} outcomes; at most {} are accepted per batch",
                     batch.size(), kMaxOutcomesPerBatch);
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const OutcomeInput& input = batch[i];
    if (input.request_id.empty() == input.unit_key.empty()) {
      return ItemError(i, "request_id", "give exactly one of 'request_id' and 'unit_key'");
    }
    FALAJ_RETURN_IF_ERROR(CheckText(i, "request_id", input.request_id));
    FALAJ_RETURN_IF_ERROR(CheckText(i, "unit_key", input.unit_key));
    FALAJ_RETURN_IF_ERROR(CheckText(i, "id", input.id));
    if (Status named = ValidateName("metric", input.metric); !named) {
      return ItemError(i, "metric", named.error().message);
    }
    const std::string type = ResolvedType(input);
    if (type != "conversion" && type != "value" && type != "label") {
      return ItemError(i, "type", "must be conversion, value or label");
    }
    if (!std::isfinite(input.value)) return ItemError(i, "value", "must be a finite number");
    if (type == "conversion" && input.value != 0 && input.value != 1) {
      return ItemError(i, "value", "a conversion is 0 or 1");
    }
    if (input.timestamp_ms < 0) return ItemError(i, "timestamp", "must not be before 1970");
  }
  return Ok();
}

Status OutcomeStore::Join(std::string_view project, std::string_view endpoint,
                          OutcomeRecord& record) {
  std::optional<LoggedPrediction> found;
  if (!record.request_id.empty()) {
    FALAJ_ASSIGN_OR_RETURN(found, log_.FindRequest(project, endpoint, record.request_id));
  } else {
    FALAJ_ASSIGN_OR_RETURN(
        found, log_.LatestForUnit(project, endpoint, record.unit_key, record.timestamp_ms));
  }
  if (!found) return Ok();
  const serving::PredictionRecord& prediction = found->record;
  record.joined = true;
  // An outcome sent by request id belongs to the prediction's unit: A/B tests count conversions
  // once per unit.
  if (record.unit_key.empty()) record.unit_key = prediction.unit_key;
  record.arm = prediction.arm;
  record.model = prediction.model;
  record.version = prediction.version;
  record.prediction_timestamp_ms = prediction.timestamp_ms;
  const size_t count = std::min(prediction.outputs.size(), kMaxPredictionValues);
  record.prediction.assign(prediction.outputs.begin(), prediction.outputs.begin() + count);
  return Ok();
}

Result<std::vector<StoredOutcome>> OutcomeStore::Record(std::string_view project,
                                                        std::string_view endpoint,
                                                        std::vector<OutcomeInput> batch) {
  FALAJ_RETURN_IF_ERROR(Validate(batch));
  const int64_t now = ToUnixMillis(clock_.Now());
  std::vector<StoredOutcome> stored(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    OutcomeInput& input = batch[i];
    StoredOutcome& outcome = stored[i];
    outcome.id = input.id.empty() ? RandomHex(8) : input.id;
    outcome.type = ResolvedType(input);
    outcome.received_at_ms = now;
    OutcomeRecord& record = outcome.record;
    record.project = std::string(project);
    record.endpoint = std::string(endpoint);
    record.request_id = std::move(input.request_id);
    record.unit_key = std::move(input.unit_key);
    record.metric = std::move(input.metric);
    record.value = input.value;
    record.timestamp_ms = input.timestamp_ms == 0 ? now : input.timestamp_ms;
    FALAJ_RETURN_IF_ERROR(Join(project, endpoint, record));
  }
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        for (size_t i = 0; i < stored.size(); ++i) {
          StoredOutcome& outcome = stored[i];
          const OutcomeRecord& record = outcome.record;
          const std::string subject =
              record.request_id.empty() ? "u:" + record.unit_key : "r:" + record.request_id;
          FALAJ_ASSIGN_OR_RETURN(
              int64_t changed,
              tx.Execute(
                  fmt::format("INSERT INTO prediction_outcomes (project, endpoint, subject, "
                              "client_id, {}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                              "?, ?, ?, ?) ON CONFLICT DO NOTHING",
                              kColumns),
                  {std::string(project), std::string(endpoint), subject, batch[i].id, outcome.id,
                   record.request_id, record.unit_key, record.metric, outcome.type, record.value,
                   record.timestamp_ms, outcome.received_at_ms, int64_t{record.joined ? 1 : 0},
                   record.arm, record.model, record.version, record.prediction_timestamp_ms,
                   nlohmann::json(record.prediction).dump()}));
          outcome.duplicate = changed == 0;
        }
        return Ok();
      }));
  for (const auto& outcome : stored) {
    if (!outcome.duplicate) log_.PublishOutcome(outcome.record);
  }
  return stored;
}

Result<OutcomePage> OutcomeStore::List(const OutcomeQuery& query) {
  std::string sql = fmt::format(
      "SELECT {} FROM prediction_outcomes WHERE project = ? AND endpoint = ?", kColumns);
  std::vector<storage::SqlValue> params = {query.project, query.endpoint};
  for (const auto& [column, value] :
       {std::pair<std::string_view, const std::string*>{"request_id", &query.request_id},
        {"unit_key", &query.unit_key},
        {"metric", &query.metric}}) {
    if (value->empty()) continue;
    sql += fmt::format(" AND {} = ?", column);
    params.emplace_back(*value);
  }
  if (!query.after.empty()) {
    const size_t colon = query.after.find(':');
    int64_t received = 0;
    if (colon == std::string::npos ||
        std::from_chars(query.after.data(), query.after.data() + colon, received).ec !=
            std::errc()) {
      return MakeError(ErrorCode::kInvalidArgument, "malformed page cursor 'after': '{}'",
                       query.after);
    }
    sql += " AND (received_at_ms > ? OR (received_at_ms = ? AND id > ?))";
    params.insert(params.end(), {received, received, query.after.substr(colon + 1)});
  }
  sql += fmt::format(" ORDER BY received_at_ms, id LIMIT {}", query.limit + 1);
  OutcomePage page;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
        for (const auto& row : rows)
          page.items.push_back(FromRow(row, query.project, query.endpoint));
        return Ok();
      }));
  if (page.items.size() > query.limit) {
    page.items.pop_back();
    page.next = fmt::format("{}:{}", page.items.back().received_at_ms, page.items.back().id);
  }
  return page;
}

Result<int64_t> OutcomeStore::Erase(std::string_view project,
                                    const std::vector<std::string>& request_ids,
                                    const std::vector<std::string>& unit_keys) {
  int64_t deleted = 0;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        for (const auto& request_id : request_ids) {
          FALAJ_ASSIGN_OR_RETURN(
              int64_t changed,
              tx.Execute("DELETE FROM prediction_outcomes WHERE project = ? AND request_id = ?",
                         {std::string(project), request_id}));
          deleted += changed;
        }
        for (const auto& unit_key : unit_keys) {
          FALAJ_ASSIGN_OR_RETURN(
              int64_t changed,
              tx.Execute("DELETE FROM prediction_outcomes WHERE project = ? AND unit_key = ?",
                         {std::string(project), unit_key}));
          deleted += changed;
        }
        return Ok();
      }));
  return deleted;
}

Result<int64_t> OutcomeStore::Purge(std::string_view project, std::string_view endpoint) {
  int64_t deleted = 0;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            deleted,
            tx.Execute("DELETE FROM prediction_outcomes WHERE project = ? AND endpoint = ?",
                       {std::string(project), std::string(endpoint)}));
        return Ok();
      }));
  return deleted;
}

Result<int64_t> OutcomeStore::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT COUNT(*) FROM prediction_outcomes WHERE project = ?",
                                  {std::string(project)}));
  return rows.at(0).Int(0);
}

}  // namespace falaj::monitoring
