#include "features/erasure.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/encoding.h"
#include "common/random.h"
#include "data/arrow_status.h"
#include "data/quarantine.h"

namespace falaj::features {
namespace {

// SHA-256 of the canonical key ("name=value\n" per key, sorted by name), for the report.
std::string KeyDigest(std::vector<EntityKeyColumn> keys) {
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  Sha256 hash;
  for (const auto& key : keys) hash.Update(key.name + "=" + EntityKeyText(key.values[0]) + "\n");
  return hash.FinishHex();
}

// The scalar a key value compares against in a column of `type` (ids stored as text in
// quarantine datasets match their text form).
std::shared_ptr<arrow::Scalar> KeyScalar(const OnlineValue& value, const arrow::DataType& type) {
  if (type.id() == arrow::Type::INT64) {
    if (const auto* integer = std::get_if<int64_t>(&value)) {
      return std::make_shared<arrow::Int64Scalar>(*integer);
    }
    int64_t parsed = 0;
    const std::string text = EntityKeyText(value);
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (error != std::errc() || end != text.data() + text.size()) return nullptr;
    return std::make_shared<arrow::Int64Scalar>(parsed);
  }
  if (type.id() == arrow::Type::STRING)
    return std::make_shared<arrow::StringScalar>(EntityKeyText(value));
  return nullptr;
}

bool IsAlphanumeric(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Whether `text` holds `token` bounded by its ends or by characters that are not letters or
// digits ("42" is in "7,42,x" but not in "142,x").
bool HoldsToken(std::string_view text, std::string_view token) {
  if (token.empty()) return false;
  for (size_t at = text.find(token); at != std::string_view::npos; at = text.find(token, at + 1)) {
    const size_t end = at + token.size();
    if ((at == 0 || !IsAlphanumeric(text[at - 1])) &&
        (end == text.size() || !IsAlphanumeric(text[end]))) {
      return true;
    }
  }
  return false;
}

// Adds to `mask` the quarantined rows that could not be split into columns (every key column null)
// whose raw text holds every key value as a token: for such a line erasure errs towards removing
// it rather than keeping a copy of the entity's data.
Result<arrow::Datum> WithRawMatches(const arrow::Table& table, arrow::Datum mask,
                                    const std::vector<EntityKeyColumn>& keys) {
  auto raw = table.GetColumnByName(std::string(data::kRawColumn));
  if (!raw || raw->type()->id() != arrow::Type::STRING || table.num_rows() == 0) return mask;
  FALAJ_ASSIGN_OR_RETURN(auto combined,
                         data::FromArrow(table.CombineChunks(), "matching quarantined lines"));
  const auto& text = static_cast<const arrow::StringArray&>(
      *combined->GetColumnByName(std::string(data::kRawColumn))->chunk(0));
  std::vector<std::shared_ptr<arrow::Array>> key_columns;
  for (const auto& key : keys) key_columns.push_back(combined->GetColumnByName(key.name)->chunk(0));
  std::shared_ptr<arrow::Array> matched = mask.is_array() ? mask.make_array() : nullptr;
  if (!matched) {
    FALAJ_ASSIGN_OR_RETURN(matched,
                           data::FromArrow(arrow::Concatenate(mask.chunked_array()->chunks()),
                                           "matching quarantined lines"));
  }
  const auto& typed = static_cast<const arrow::BooleanArray&>(*matched);
  arrow::BooleanBuilder builder;
  FALAJ_RETURN_IF_ERROR(data::FromArrow(builder.Reserve(table.num_rows()), "matching"));
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    bool hit = typed.Value(row);
    if (!hit && !text.IsNull(row)) {
      hit = std::all_of(key_columns.begin(), key_columns.end(),
                        [&](const auto& column) { return column->IsNull(row); });
      for (const auto& key : keys)
        hit = hit && HoldsToken(text.GetView(row), EntityKeyText(key.values[0]));
    }
    builder.UnsafeAppend(hit);
  }
  FALAJ_ASSIGN_OR_RETURN(auto array, data::FromArrow(builder.Finish(), "matching"));
  return arrow::Datum(std::move(array));
}

// Rows of `table` whose key columns all equal the entity's values, and quarantined lines that
// name it (WithRawMatches); nullopt when the table lacks one of the key columns (it cannot hold
// the entity).
Result<std::optional<arrow::Datum>> Matches(const arrow::Table& table,
                                            const std::vector<EntityKeyColumn>& keys) {
  std::optional<arrow::Datum> mask;
  for (const auto& key : keys) {
    auto column = table.GetColumnByName(key.name);
    if (!column) return std::optional<arrow::Datum>();
    auto scalar = KeyScalar(key.values[0], *column->type());
    if (!scalar) return std::optional<arrow::Datum>();
    FALAJ_ASSIGN_OR_RETURN(auto equal,
                           data::FromArrow(arrow::compute::CallFunction("equal", {column, scalar}),
                                           "matching an entity"));
    FALAJ_ASSIGN_OR_RETURN(equal, data::FromArrow(arrow::compute::CallFunction(
                                                      "coalesce", {equal, arrow::Datum(false)}),
                                                  "matching an entity"));
    if (mask) {
      FALAJ_ASSIGN_OR_RETURN(equal,
                             data::FromArrow(arrow::compute::CallFunction("and", {*mask, equal}),
                                             "matching an entity"));
    }
    mask = std::move(equal);
  }
  if (!mask) return mask;
  FALAJ_ASSIGN_OR_RETURN(auto with_raw, WithRawMatches(table, std::move(*mask), keys));
  return std::optional<arrow::Datum>(std::move(with_raw));
}

}  // namespace

std::string EntityKeyText(const OnlineValue& value) {
  if (const auto* integer = std::get_if<int64_t>(&value)) return std::to_string(*integer);
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  return "";
}

const storage::MigrationSet& ErasureService::Migrations() {
  static const storage::MigrationSet kSet{
      "erasures",
      {{1, "create erasure reports",
        "CREATE TABLE erasures (project TEXT NOT NULL, id TEXT NOT NULL, report TEXT NOT NULL, "
        "created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, PRIMARY KEY (project, id))"}}};
  return kSet;
}

Result<nlohmann::json> ErasureService::EraseOffline(const ErasureRequest& request,
                                                    const std::string& id) {
  nlohmann::json removed = nlohmann::json::array();
  FALAJ_ASSIGN_OR_RETURN(auto datasets, datasets_.List(request.project));
  for (const auto& dataset : datasets) {
    FALAJ_ASSIGN_OR_RETURN(auto versions, datasets_.ListVersions(request.project, dataset.name));
    for (const auto& version : versions) {
      FALAJ_ASSIGN_OR_RETURN(auto table,
                             datasets_.ReadVersion(request.project, dataset.name, version.version));
      FALAJ_ASSIGN_OR_RETURN(auto mask, Matches(*table, request.keys));
      if (!mask) continue;
      FALAJ_ASSIGN_OR_RETURN(
          auto keep,
          data::FromArrow(arrow::compute::CallFunction("invert", {*mask}), "matching an entity"));
      FALAJ_ASSIGN_OR_RETURN(auto kept,
                             data::FromArrow(arrow::compute::Filter(table, keep), "erasing rows"));
      const int64_t count = table->num_rows() - kept.table()->num_rows();
      if (count == 0) continue;
      FALAJ_RETURN_IF_ERROR(datasets_.Rewrite(
          request.project, dataset.name, version.version, *kept.table(),
          {{"erasure", id}, {"rows_removed", count}, {"at", FormatRfc3339(clock_.Now())}}));
      removed.push_back(
          {{"dataset", dataset.name}, {"version", version.version}, {"rows_removed", count}});
    }
  }
  return removed;
}

Result<nlohmann::json> ErasureService::EraseOnline(const ErasureRequest& request) {
  nlohmann::json removed = nlohmann::json::array();
  FALAJ_ASSIGN_OR_RETURN(auto definitions, registry_.List(request.project));
  for (const auto& definition : definitions) {
    if (definition.kind != "feature_view") continue;
    auto view = registry_.ResolveView(request.project, definition.name);
    if (!view) continue;  // a view whose source is gone holds nothing readable
    bool keyed = true;
    for (const auto& key : view->join_keys) {
      bool present = false;
      for (const auto& given : request.keys) present = present || given.name == key;
      keyed = keyed && present;
    }
    if (!keyed) continue;
    FALAJ_ASSIGN_OR_RETURN(int64_t count,
                           online_.EraseEntity(request.project, {*view}, request.keys));
    removed.push_back({{"feature_view", definition.name}, {"rows_removed", count}});
  }
  return removed;
}

void ErasureService::AddEraser(std::string name, Eraser eraser) {
  erasers_.emplace_back(std::move(name), std::move(eraser));
}

Result<nlohmann::json> ErasureService::Erase(const ErasureRequest& request) {
  if (request.keys.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "name the entity: at least one join key");
  }
  for (const auto& key : request.keys) {
    if (key.values.size() != 1) {
      return MakeError(ErrorCode::kInvalidArgument, "entity key '{}' needs exactly one value",
                       key.name);
    }
  }
  const std::string id = RandomHex(12);
  nlohmann::json report = {{"id", id},
                           {"entity_sha256", KeyDigest(request.keys)},
                           {"key_columns", nlohmann::json::array()},
                           {"reason", request.reason},
                           {"requested_by", request.principal},
                           {"started_at", FormatRfc3339(clock_.Now())}};
  for (const auto& key : request.keys) report["key_columns"].push_back(key.name);
  FALAJ_ASSIGN_OR_RETURN(report["datasets"], EraseOffline(request, id));
  FALAJ_ASSIGN_OR_RETURN(report["online"], EraseOnline(request));
  for (const auto& [name, eraser] : erasers_) {
    FALAJ_ASSIGN_OR_RETURN(report[name], eraser(request));
  }
  report["finished_at"] = FormatRfc3339(clock_.Now());
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "INSERT INTO erasures (project, id, report, created_by, created_at_ms) VALUES (?, ?, "
            "?, ?, ?)",
            {request.project, id, report.dump(), request.principal, ToUnixMillis(clock_.Now())});
      }));
  return report;
}

Result<std::vector<nlohmann::json>> ErasureService::List(std::string_view project) {
  std::vector<nlohmann::json> reports;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT report FROM erasures WHERE project = ? "
                                                   "ORDER BY created_at_ms",
                                                   {std::string(project)}));
        for (const auto& row : rows) reports.push_back(nlohmann::json::parse(row.Text(0)));
        return Ok();
      }));
  return reports;
}

}  // namespace falaj::features
