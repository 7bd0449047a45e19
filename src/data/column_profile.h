// Statistics profiles of a table's columns: what monitoring later compares new data against
// (the drift reference), and what a dataset version records about its contents. Profiles are
// plain values; computing one reads the table and nothing else; all functions are pure and
// thread-safe.
//
// Per column: row count, nulls, and for floats NaN and +-inf counted separately (NaN and inf are
// left out of every statistic below). By kind:
//   numeric (int8-64, uint8-64, float32/64): min, max, mean, population standard deviation
//     (ddof = 0, numpy's default), exact quantiles p1 p5 p25 p50 p75 p95 p99 with numpy's default
//     definition (linear interpolation between order statistics: index h = (n - 1) p), and a
//     histogram of equal-width bins over [min, max] with numpy.histogram's binning (last bin
//     closed; when min == max the range is widened to [min - 0.5, max + 0.5], as numpy does).
//     All computed in double, so integers beyond 2^53 are rounded.
//   string (utf8, large_utf8, utf8_view): value lengths in bytes (min, max, mean).
//   timestamp (any unit): min and max as ISO-8601 UTC text.
//   bool, other types: counts only (bool also top values).
// Distinct values: a HyperLogLog estimate (relative standard error ~1.6%, see hyperloglog.h) for
// numeric, string, bool and timestamp columns. Top values: the `top_k` most frequent values with
// exact counts for string, integer and bool columns, most frequent first, ties by value
// ascending; values as text (integers in decimal, "true"/"false", strings cut to 256 bytes).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace arrow {
class ChunkedArray;
class Table;
}  // namespace arrow

namespace falaj::data {

enum class ProfileKind { kNumeric, kString, kBool, kTimestamp, kOther };

// The quantile levels of NumericStats::quantiles, and their JSON names p1 ... p99.
inline constexpr std::array<double, 7> kQuantileLevels = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};

struct Histogram {
  double min = 0.0;  // left edge of the first bin
  double max = 0.0;  // right edge of the last bin
  std::vector<int64_t> counts{};
  bool operator==(const Histogram&) const = default;
};

// The bin of `value` in `histogram` (numpy's rule: [edge_i, edge_i+1), the last bin closed), or
// nullopt if it lies outside [min, max] or is NaN. For counting new data against a reference.
std::optional<size_t> HistogramBin(const Histogram& histogram, double value);

struct NumericStats {
  double min = 0.0;
  double max = 0.0;
  double mean = 0.0;
  double stddev = 0.0;
  std::array<double, kQuantileLevels.size()> quantiles{};
  Histogram histogram{};
  bool operator==(const NumericStats&) const = default;
};

struct LengthStats {
  int64_t min = 0;
  int64_t max = 0;
  double mean = 0.0;
  bool operator==(const LengthStats&) const = default;
};

struct TimeRange {
  std::string min{};  // "2026-11-24T01:22:11.123456Z"
  std::string max{};
  bool operator==(const TimeRange&) const = default;
};

struct TopValue {
  std::string value{};
  int64_t count = 0;
  bool operator==(const TopValue&) const = default;
};

struct ColumnProfile {
  std::string name{};  // invalid UTF-8 in the column's name is replaced by U+FFFD
  std::string type{};  // Arrow's name: "int64", "double", "string", "timestamp[us, tz=UTC]"
  ProfileKind kind = ProfileKind::kOther;
  int64_t count = 0;  // rows, missing ones included
  int64_t null_count = 0;
  int64_t nan_count = 0;
  int64_t infinite_count = 0;
  std::optional<int64_t> distinct_estimate{};  // of non-null, non-NaN values
  std::optional<NumericStats> numeric{};       // numeric kind with a finite value
  std::optional<LengthStats> lengths{};        // string kind with a value
  std::optional<TimeRange> time_range{};       // timestamp kind with a value
  std::vector<TopValue> top_values{};
  bool operator==(const ColumnProfile&) const = default;
};

struct TableProfile {
  int64_t row_count = 0;
  std::vector<ColumnProfile> columns{};  // in the table's column order
  bool operator==(const TableProfile&) const = default;
};

struct ProfileOptions {
  int histogram_bins = 20;  // 1..1000
  int top_k = 10;           // 0..1000
};

// Profiles every column of `table`. INVALID_ARGUMENT only for options out of range.
Result<TableProfile> ProfileTable(const arrow::Table& table, const ProfileOptions& options = {});

// Profiles one column; `options` must be in range (ProfileTable checks them).
ColumnProfile ProfileColumn(std::string name, const arrow::ChunkedArray& column,
                            const ProfileOptions& options = {});

// "numeric", "string", "bool", "timestamp", "other".
std::string_view ProfileKindName(ProfileKind kind);

// The JSON form; ProfileFromJson(ProfileToJson(p)) == p (doubles are written exactly).
nlohmann::json ProfileToJson(const TableProfile& profile);

// Parses the JSON form strictly (unknown keys, wrong types and inconsistent counts are
// INVALID_ARGUMENT naming the column and key).
Result<TableProfile> ProfileFromJson(const nlohmann::json& json);

}  // namespace falaj::data
