// The JSON form of a TableProfile, and its strict parser. A profile is written by one version of
// Falaj and may be read by a later one as a drift reference, so reading checks every key and type
// rather than trusting the stored document.
//
//   {"row_count": 1000, "columns": [{
//      "name": "amount", "type": "double", "kind": "numeric",
//      "count": 1000, "null_count": 3, "nan_count": 1, "infinite_count": 0,
//      "distinct_estimate": 950,                                    // absent for kind other
//      "numeric": {"min": 0.5, "max": 9000, "mean": 120.5, "stddev": 80.25,
//                  "quantiles": {"p1": ..., "p5": ..., "p25": ..., "p50": ..., "p75": ...,
//                                "p95": ..., "p99": ...},
//                  "histogram": {"min": 0.5, "max": 9000, "counts": [..20 counts..]}},
//      "lengths": {"min": 3, "max": 3, "mean": 3.0},                // string columns
//      "time_range": {"min": "2026-...Z", "max": "2026-...Z"},      // timestamp columns
//      "top_values": [{"value": "AED", "count": 600}, ...]}]}
#include <fmt/format.h>

#include <cmath>

#include "data/column_profile.h"

namespace falaj::data {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, kQuantileLevels.size()> kQuantileNames = {
    "p1", "p5", "p25", "p50", "p75", "p95", "p99"};

constexpr ProfileKind kKinds[] = {ProfileKind::kNumeric, ProfileKind::kString, ProfileKind::kBool,
                                  ProfileKind::kTimestamp, ProfileKind::kOther};

// One JSON object being read, with where it is for error messages ("columns[2].numeric").
class ObjectReader {
 public:
  static Result<ObjectReader> Open(const json& value, std::string where,
                                   std::initializer_list<std::string_view> keys) {
    if (!value.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "profile {}: must be an object, not {}",
                       where.empty() ? "document" : where, value.type_name());
    }
    for (const auto& [key, member] : value.items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return MakeError(ErrorCode::kInvalidArgument, "profile {}: unknown key '{}'", where, key);
      }
    }
    return ObjectReader(value, std::move(where));
  }

  bool Has(std::string_view key) const { return object_->contains(key); }
  std::string Where(std::string_view key) const {
    return where_.empty() ? std::string(key) : fmt::format("{}.{}", where_, key);
  }

  Result<const json*> Get(std::string_view key) const {
    auto found = object_->find(key);
    if (found == object_->end()) return Fail(key, "is missing");
    return &*found;
  }

  Result<int64_t> NonNegativeInt(std::string_view key) const {
    FALAJ_ASSIGN_OR_RETURN(const json* value, Get(key));
    if (!value->is_number_integer() || value->get<int64_t>() < 0 ||
        (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t{INT64_MAX})) {
      return Fail(key, "must be a non-negative integer");
    }
    return value->get<int64_t>();
  }

  Result<double> Number(std::string_view key) const {
    FALAJ_ASSIGN_OR_RETURN(const json* value, Get(key));
    if (!value->is_number()) return Fail(key, "must be a number");
    return value->get<double>();
  }

  Result<std::string> String(std::string_view key) const {
    FALAJ_ASSIGN_OR_RETURN(const json* value, Get(key));
    if (!value->is_string()) return Fail(key, "must be a string");
    return value->get<std::string>();
  }

  std::unexpected<Error> Fail(std::string_view key, std::string_view problem) const {
    return MakeError(ErrorCode::kInvalidArgument, "profile {}: {}", Where(key), problem);
  }

 private:
  ObjectReader(const json& object, std::string where)
      : object_(&object), where_(std::move(where)) {}

  const json* object_;
  std::string where_;
};

json NumericToJson(const NumericStats& stats) {
  json quantiles = json::object();
  for (size_t i = 0; i < kQuantileNames.size(); ++i) {
    quantiles[std::string(kQuantileNames[i])] = stats.quantiles[i];
  }
  return {{"min", stats.min},
          {"max", stats.max},
          {"mean", stats.mean},
          {"stddev", stats.stddev},
          {"quantiles", std::move(quantiles)},
          {"histogram",
           {{"min", stats.histogram.min},
            {"max", stats.histogram.max},
            {"counts", stats.histogram.counts}}}};
}

json ColumnToJson(const ColumnProfile& column) {
  json out = {{"name", column.name},
              {"type", column.type},
              {"kind", ProfileKindName(column.kind)},
              {"count", column.count},
              {"null_count", column.null_count},
              {"nan_count", column.nan_count},
              {"infinite_count", column.infinite_count}};
  if (column.distinct_estimate) out["distinct_estimate"] = *column.distinct_estimate;
  if (column.numeric) out["numeric"] = NumericToJson(*column.numeric);
  if (column.lengths) {
    out["lengths"] = {
        {"min", column.lengths->min}, {"max", column.lengths->max}, {"mean", column.lengths->mean}};
  }
  if (column.time_range) {
    out["time_range"] = {{"min", column.time_range->min}, {"max", column.time_range->max}};
  }
  json top = json::array();
  for (const auto& value : column.top_values) {
    top.push_back({{"value", value.value}, {"count", value.count}});
  }
  out["top_values"] = std::move(top);
  return out;
}

Result<Histogram> ParseHistogram(const json& value, const std::string& where) {
  FALAJ_ASSIGN_OR_RETURN(auto reader, ObjectReader::Open(value, where, {"min", "max", "counts"}));
  Histogram histogram;
  FALAJ_ASSIGN_OR_RETURN(histogram.min, reader.Number("min"));
  FALAJ_ASSIGN_OR_RETURN(histogram.max, reader.Number("max"));
  FALAJ_ASSIGN_OR_RETURN(const json* counts, reader.Get("counts"));
  if (!counts->is_array() || counts->empty() || counts->size() > 1000) {
    return reader.Fail("counts", "must be a list of 1-1000 counts");
  }
  for (const auto& count : *counts) {
    if (!count.is_number_integer() || count.get<int64_t>() < 0) {
      return reader.Fail("counts", "must hold non-negative integers");
    }
    histogram.counts.push_back(count.get<int64_t>());
  }
  if (!(histogram.min < histogram.max)) return reader.Fail("max", "must exceed min");
  return histogram;
}

Result<NumericStats> ParseNumeric(const json& value, const std::string& where) {
  FALAJ_ASSIGN_OR_RETURN(
      auto reader,
      ObjectReader::Open(value, where, {"min", "max", "mean", "stddev", "quantiles", "histogram"}));
  NumericStats stats;
  FALAJ_ASSIGN_OR_RETURN(stats.min, reader.Number("min"));
  FALAJ_ASSIGN_OR_RETURN(stats.max, reader.Number("max"));
  FALAJ_ASSIGN_OR_RETURN(stats.mean, reader.Number("mean"));
  FALAJ_ASSIGN_OR_RETURN(stats.stddev, reader.Number("stddev"));
  if (stats.min > stats.max) return reader.Fail("min", "exceeds max");
  FALAJ_ASSIGN_OR_RETURN(const json* quantiles, reader.Get("quantiles"));
  FALAJ_ASSIGN_OR_RETURN(auto levels,
                         ObjectReader::Open(*quantiles, reader.Where("quantiles"),
                                            {"p1", "p5", "p25", "p50", "p75", "p95", "p99"}));
  for (size_t i = 0; i < kQuantileNames.size(); ++i) {
    FALAJ_ASSIGN_OR_RETURN(stats.quantiles[i], levels.Number(kQuantileNames[i]));
  }
  FALAJ_ASSIGN_OR_RETURN(const json* histogram, reader.Get("histogram"));
  FALAJ_ASSIGN_OR_RETURN(stats.histogram, ParseHistogram(*histogram, reader.Where("histogram")));
  return stats;
}

Result<LengthStats> ParseLengths(const json& value, const std::string& where) {
  FALAJ_ASSIGN_OR_RETURN(auto reader, ObjectReader::Open(value, where, {"min", "max", "mean"}));
  LengthStats lengths;
  FALAJ_ASSIGN_OR_RETURN(lengths.min, reader.NonNegativeInt("min"));
  FALAJ_ASSIGN_OR_RETURN(lengths.max, reader.NonNegativeInt("max"));
  FALAJ_ASSIGN_OR_RETURN(lengths.mean, reader.Number("mean"));
  return lengths;
}

Result<TimeRange> ParseTimeRange(const json& value, const std::string& where) {
  FALAJ_ASSIGN_OR_RETURN(auto reader, ObjectReader::Open(value, where, {"min", "max"}));
  TimeRange range;
  FALAJ_ASSIGN_OR_RETURN(range.min, reader.String("min"));
  FALAJ_ASSIGN_OR_RETURN(range.max, reader.String("max"));
  return range;
}

Result<std::vector<TopValue>> ParseTopValues(const ObjectReader& column) {
  FALAJ_ASSIGN_OR_RETURN(const json* list, column.Get("top_values"));
  if (!list->is_array()) return column.Fail("top_values", "must be a list");
  std::vector<TopValue> top;
  for (size_t i = 0; i < list->size(); ++i) {
    FALAJ_ASSIGN_OR_RETURN(
        auto reader,
        ObjectReader::Open((*list)[i], fmt::format("{}[{}]", column.Where("top_values"), i),
                           {"value", "count"}));
    TopValue value;
    FALAJ_ASSIGN_OR_RETURN(value.value, reader.String("value"));
    FALAJ_ASSIGN_OR_RETURN(value.count, reader.NonNegativeInt("count"));
    top.push_back(std::move(value));
  }
  return top;
}

Result<ProfileKind> ParseKind(const ObjectReader& reader) {
  FALAJ_ASSIGN_OR_RETURN(auto name, reader.String("kind"));
  for (ProfileKind kind : kKinds) {
    if (name == ProfileKindName(kind)) return kind;
  }
  return reader.Fail("kind", "must be numeric, string, bool, timestamp or other");
}

// The optional sections, each parsed when present.
Status ParseSections(const ObjectReader& reader, ColumnProfile& column) {
  if (reader.Has("distinct_estimate")) {
    FALAJ_ASSIGN_OR_RETURN(column.distinct_estimate, reader.NonNegativeInt("distinct_estimate"));
  }
  if (reader.Has("numeric")) {
    FALAJ_ASSIGN_OR_RETURN(const json* numeric, reader.Get("numeric"));
    FALAJ_ASSIGN_OR_RETURN(column.numeric, ParseNumeric(*numeric, reader.Where("numeric")));
  }
  if (reader.Has("lengths")) {
    FALAJ_ASSIGN_OR_RETURN(const json* lengths, reader.Get("lengths"));
    FALAJ_ASSIGN_OR_RETURN(column.lengths, ParseLengths(*lengths, reader.Where("lengths")));
  }
  if (reader.Has("time_range")) {
    FALAJ_ASSIGN_OR_RETURN(const json* range, reader.Get("time_range"));
    FALAJ_ASSIGN_OR_RETURN(column.time_range, ParseTimeRange(*range, reader.Where("time_range")));
  }
  FALAJ_ASSIGN_OR_RETURN(column.top_values, ParseTopValues(reader));
  return Ok();
}

Result<ColumnProfile> ParseColumn(const json& value, std::string where) {
  FALAJ_ASSIGN_OR_RETURN(
      auto reader, ObjectReader::Open(value, std::move(where),
                                      {"name", "type", "kind", "count", "null_count", "nan_count",
                                       "infinite_count", "distinct_estimate", "numeric", "lengths",
                                       "time_range", "top_values"}));
  ColumnProfile column;
  FALAJ_ASSIGN_OR_RETURN(column.name, reader.String("name"));
  FALAJ_ASSIGN_OR_RETURN(column.type, reader.String("type"));
  FALAJ_ASSIGN_OR_RETURN(column.kind, ParseKind(reader));
  FALAJ_ASSIGN_OR_RETURN(column.count, reader.NonNegativeInt("count"));
  FALAJ_ASSIGN_OR_RETURN(column.null_count, reader.NonNegativeInt("null_count"));
  FALAJ_ASSIGN_OR_RETURN(column.nan_count, reader.NonNegativeInt("nan_count"));
  FALAJ_ASSIGN_OR_RETURN(column.infinite_count, reader.NonNegativeInt("infinite_count"));
  if (column.null_count + column.nan_count + column.infinite_count > column.count) {
    return reader.Fail("count", "is less than the missing values it includes");
  }
  FALAJ_RETURN_IF_ERROR(ParseSections(reader, column));
  return column;
}

}  // namespace

json ProfileToJson(const TableProfile& profile) {
  json columns = json::array();
  for (const auto& column : profile.columns) columns.push_back(ColumnToJson(column));
  return {{"row_count", profile.row_count}, {"columns", std::move(columns)}};
}

Result<TableProfile> ProfileFromJson(const json& value) {
  FALAJ_ASSIGN_OR_RETURN(auto reader, ObjectReader::Open(value, "", {"row_count", "columns"}));
  TableProfile profile;
  FALAJ_ASSIGN_OR_RETURN(profile.row_count, reader.NonNegativeInt("row_count"));
  FALAJ_ASSIGN_OR_RETURN(const json* columns, reader.Get("columns"));
  if (!columns->is_array()) return reader.Fail("columns", "must be a list");
  for (size_t i = 0; i < columns->size(); ++i) {
    FALAJ_ASSIGN_OR_RETURN(auto column, ParseColumn((*columns)[i], fmt::format("columns[{}]", i)));
    if (column.count != profile.row_count) return reader.Fail("columns", "disagree with row_count");
    profile.columns.push_back(std::move(column));
  }
  return profile;
}

}  // namespace falaj::data
