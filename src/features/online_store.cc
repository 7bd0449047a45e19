#include "features/online_store.h"

#include <arrow/api.h>

#include <charconv>
#include <unordered_map>

namespace falaj::features {
namespace {

constexpr size_t kWriteBatch = 10000;

int64_t MicrosPerUnit(const arrow::DataType& type) {
  if (type.id() != arrow::Type::TIMESTAMP) return 1;
  switch (static_cast<const arrow::TimestampType&>(type).unit()) {
    case arrow::TimeUnit::SECOND:
      return 1'000'000;
    case arrow::TimeUnit::MILLI:
      return 1'000;
    default:
      return 1;
  }
}

// The value at `row` of a single-chunk column, for the online encoding.
OnlineValue ValueAt(const arrow::Array& array, int64_t row) {
  if (array.IsNull(row)) return {};
  switch (array.type_id()) {
    case arrow::Type::INT64:
      return static_cast<const arrow::Int64Array&>(array).Value(row);
    case arrow::Type::INT32:
      return static_cast<int64_t>(static_cast<const arrow::Int32Array&>(array).Value(row));
    case arrow::Type::TIMESTAMP: {
      const int64_t raw = static_cast<const arrow::TimestampArray&>(array).Value(row);
      if (static_cast<const arrow::TimestampType&>(*array.type()).unit() == arrow::TimeUnit::NANO) {
        return raw / 1000;
      }
      return raw * MicrosPerUnit(*array.type());
    }
    case arrow::Type::DOUBLE:
      return static_cast<const arrow::DoubleArray&>(array).Value(row);
    case arrow::Type::BOOL:
      return static_cast<const arrow::BooleanArray&>(array).Value(row);
    case arrow::Type::STRING:
      return static_cast<const arrow::StringArray&>(array).GetString(row);
    case arrow::Type::LARGE_STRING:
      return static_cast<const arrow::LargeStringArray&>(array).GetString(row);
    default:
      return {};
  }
}

Result<std::shared_ptr<arrow::Array>> Column(const arrow::Table& table, const std::string& name,
                                             std::string_view view) {
  auto column = table.GetColumnByName(name);
  if (!column) {
    return MakeError(ErrorCode::kInvalidArgument, "feature view '{}': rows lack column '{}'", view,
                     name);
  }
  if (column->num_chunks() == 1) return column->chunk(0);
  auto combined = arrow::Concatenate(column->chunks());
  if (!combined.ok()) {
    return MakeError(ErrorCode::kInternal, "combining column '{}': {}", name,
                     combined.status().message());
  }
  return *combined;
}

// A join-key value from a request, coerced to the key column's type ("42" matches an int64 key
// only as 42 and 42 a string key only as "42", so the encodings agree with materialised rows).
OnlineValue CoerceKey(const OnlineValue& value, data::ColumnType type) {
  if (type == data::ColumnType::kString) {
    if (const auto* integer = std::get_if<int64_t>(&value)) return std::to_string(*integer);
    return value;
  }
  if (const auto* text = std::get_if<std::string>(&value)) {
    int64_t parsed = 0;
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), parsed);
    if (error == std::errc() && end == text->data() + text->size()) return parsed;
  }
  return value;
}

struct Candidate {
  int64_t row = 0;
  int64_t event = 0;
  int64_t created = 0;
};

bool Newer(int64_t event, int64_t created, int64_t than_event, int64_t than_created) {
  return event != than_event ? event > than_event : created >= than_created;
}

}  // namespace

std::string_view FeatureStatusName(FeatureStatus status) {
  switch (status) {
    case FeatureStatus::kPresent:
      return "PRESENT";
    case FeatureStatus::kNotFound:
      return "NOT_FOUND";
    case FeatureStatus::kOutsideMaxAge:
      return "OUTSIDE_MAX_AGE";
  }
  return "NOT_FOUND";
}

Result<int64_t> OnlineStore::WriteLatest(std::string_view project, const ResolvedView& view,
                                         const arrow::Table& rows,
                                         std::chrono::system_clock::time_point now,
                                         storage::KvWriteMode mode) {
  const std::string& name = view.view.name;
  std::vector<std::shared_ptr<arrow::Array>> keys, features;
  for (const auto& key : view.join_keys) {
    FALAJ_ASSIGN_OR_RETURN(auto column, Column(rows, key, name));
    keys.push_back(std::move(column));
  }
  FALAJ_ASSIGN_OR_RETURN(auto event_column, Column(rows, view.view.timestamp_field, name));
  std::shared_ptr<arrow::Array> created_column;
  if (!view.view.created_timestamp_field.empty()) {
    FALAJ_ASSIGN_OR_RETURN(created_column, Column(rows, view.view.created_timestamp_field, name));
  }
  for (const auto& feature : view.view.features) {
    FALAJ_ASSIGN_OR_RETURN(auto column, Column(rows, feature.name, name));
    features.push_back(std::move(column));
  }
  const int64_t now_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::string prefix = OnlineKeyPrefix(project, name);
  // The latest row per entity within the batch.
  std::unordered_map<std::string, Candidate> latest;
  for (int64_t row = 0; row < rows.num_rows(); ++row) {
    OnlineValue event = ValueAt(*event_column, row);
    if (!std::holds_alternative<int64_t>(event) || std::get<int64_t>(event) > now_micros) continue;
    std::string key = prefix;
    bool null_key = false;
    for (const auto& column : keys) {
      OnlineValue value = ValueAt(*column, row);
      null_key = null_key || std::holds_alternative<std::monostate>(value);
      AppendKeyValue(key, value);
    }
    if (null_key) continue;
    int64_t created = 0;
    if (created_column) {
      OnlineValue value = ValueAt(*created_column, row);
      if (const auto* micros = std::get_if<int64_t>(&value)) created = *micros;
    }
    Candidate candidate{row, std::get<int64_t>(event), created};
    auto [slot, inserted] = latest.try_emplace(std::move(key), candidate);
    if (!inserted &&
        Newer(candidate.event, candidate.created, slot->second.event, slot->second.created)) {
      slot->second = candidate;
    }
  }
  const uint64_t layout = LayoutHash(view.view.features);
  std::vector<std::pair<const std::string*, const Candidate*>> pending;
  pending.reserve(latest.size());
  for (const auto& [key, candidate] : latest) pending.emplace_back(&key, &candidate);
  int64_t written = 0;
  storage::KvValues existing;
  for (size_t start = 0; start < pending.size(); start += kWriteBatch) {
    const size_t end = std::min(pending.size(), start + kWriteBatch);
    std::vector<std::string_view> batch_keys;
    for (size_t i = start; i < end; ++i) batch_keys.push_back(*pending[i].first);
    FALAJ_RETURN_IF_ERROR(kv_.MultiGet(batch_keys, existing));
    std::vector<std::string> values;
    std::vector<storage::KvEntry> puts;
    values.reserve(end - start);
    for (size_t i = start; i < end; ++i) {
      const Candidate& candidate = *pending[i].second;
      if (existing.found(i - start)) {
        auto stored = DecodeOnlineTimes(existing.value(i - start), layout);
        if (stored && !Newer(candidate.event, candidate.created, stored->first, stored->second)) {
          continue;
        }
      }
      OnlineRow row{candidate.event, candidate.created, {}};
      for (const auto& column : features) row.values.push_back(ValueAt(*column, candidate.row));
      values.push_back(EncodeOnlineRow(layout, row, view.view.features));
      puts.push_back({*pending[i].first, values.back()});
    }
    FALAJ_RETURN_IF_ERROR(kv_.Write(puts, mode));
    written += static_cast<int64_t>(puts.size());
  }
  return written;
}

Status OnlineStore::Read(std::string_view project, const std::vector<ResolvedView>& views,
                         const std::vector<EntityKeyColumn>& entities,
                         std::chrono::system_clock::time_point now, bool full_feature_names,
                         std::vector<OnlineFeatureColumn>& out) {
  const size_t count = entities.empty() ? 0 : entities.front().values.size();
  for (const auto& column : entities) {
    if (column.values.size() != count) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "entity key '{}' has {} values; every key needs {}", column.name,
                       column.values.size(), count);
    }
  }
  const int64_t now_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::vector<std::string> keys(count);
  std::vector<std::string_view> key_views(count);
  storage::KvValues found;
  for (const auto& view : views) {
    std::vector<const EntityKeyColumn*> columns;
    for (const auto& key : view.join_keys) {
      const EntityKeyColumn* match = nullptr;
      for (const auto& column : entities) match = column.name == key ? &column : match;
      if (!match) {
        return MakeError(ErrorCode::kInvalidArgument, "feature view '{}' needs entity key '{}'",
                         view.view.name, key);
      }
      columns.push_back(match);
    }
    const std::string prefix = OnlineKeyPrefix(project, view.view.name);
    for (size_t i = 0; i < count; ++i) {
      keys[i] = prefix;
      for (size_t k = 0; k < columns.size(); ++k) {
        AppendKeyValue(keys[i], CoerceKey(columns[k]->values[i], view.join_key_types[k]));
      }
      key_views[i] = keys[i];
    }
    FALAJ_RETURN_IF_ERROR(kv_.MultiGet(key_views, found));
    const uint64_t layout = LayoutHash(view.view.features);
    const size_t first = out.size();
    for (const auto& feature : view.selected) {
      out.push_back({full_feature_names ? view.view.name + "__" + feature.name : feature.name,
                     feature.type,
                     {},
                     {},
                     {}});
    }
    std::vector<size_t> positions;
    for (const auto& feature : view.selected) {
      for (size_t f = 0; f < view.view.features.size(); ++f) {
        if (view.view.features[f].name == feature.name) positions.push_back(f);
      }
    }
    const int64_t ttl_micros =
        std::chrono::duration_cast<std::chrono::microseconds>(view.view.ttl).count();
    for (size_t i = 0; i < count; ++i) {
      std::optional<OnlineRow> row;
      if (found.found(i)) row = DecodeOnlineRow(found.value(i), layout, view.view.features);
      FeatureStatus status = row ? FeatureStatus::kPresent : FeatureStatus::kNotFound;
      if (row && ttl_micros > 0 && row->event_micros < now_micros - ttl_micros) {
        status = FeatureStatus::kOutsideMaxAge;
      }
      for (size_t s = 0; s < positions.size(); ++s) {
        OnlineFeatureColumn& column = out[first + s];
        column.statuses.push_back(status);
        column.event_micros.push_back(row ? row->event_micros : 0);
        column.values.push_back(status == FeatureStatus::kPresent ? row->values[positions[s]]
                                                                  : OnlineValue{});
      }
    }
  }
  return Ok();
}

Result<uint64_t> OnlineStore::DropView(std::string_view project, std::string_view view) {
  return kv_.DeletePrefix(OnlineKeyPrefix(project, view));
}

Result<int64_t> OnlineStore::EraseEntity(std::string_view project,
                                         const std::vector<ResolvedView>& views,
                                         const std::vector<EntityKeyColumn>& entity) {
  int64_t erased = 0;
  storage::KvValues found;
  for (const auto& view : views) {
    std::string key = OnlineKeyPrefix(project, view.view.name);
    bool complete = true;
    for (size_t k = 0; k < view.join_keys.size(); ++k) {
      const EntityKeyColumn* match = nullptr;
      for (const auto& column : entity) match = column.name == view.join_keys[k] ? &column : match;
      if (!match || match->values.size() != 1) {
        complete = false;
        break;
      }
      AppendKeyValue(key, CoerceKey(match->values[0], view.join_key_types[k]));
    }
    if (!complete) continue;
    std::string_view keys[] = {key};
    FALAJ_RETURN_IF_ERROR(kv_.MultiGet(keys, found));
    if (!found.found(0)) continue;
    FALAJ_RETURN_IF_ERROR(kv_.Delete(keys));
    ++erased;
  }
  return erased;
}

}  // namespace falaj::features
