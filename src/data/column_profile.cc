#include "data/column_profile.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "data/arrow_columns.h"
#include "data/flat_counter.h"
#include "data/hyperloglog.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

constexpr size_t kMaxTopValueBytes = 256;

// Counting for top values needs no per-key answer.
constexpr auto kIgnoreCount = [](const auto&, char, int64_t) {};

// Neumaier's compensated sum: the mean stays accurate when values differ in magnitude.
double AccurateSum(const std::vector<double>& values) {
  double sum = 0.0;
  double compensation = 0.0;
  for (double value : values) {
    double total = sum + value;
    compensation +=
        std::abs(sum) >= std::abs(value) ? (sum - total) + value : (value - total) + sum;
    sum = total;
  }
  return sum + compensation;
}

// numpy's _lerp: exact at both ends, monotonic in t.
double Lerp(double a, double b, double t) {
  double difference = b - a;
  return t >= 0.5 ? b - difference * (1.0 - t) : a + difference * t;
}

// Exact quantiles, numpy's "linear" method. Reorders `values`: each level selects its order
// statistic with nth_element on the part not yet known to lie below it, so the whole costs a few
// linear passes instead of a sort.
std::array<double, kQuantileLevels.size()> Quantiles(std::vector<double>& values) {
  std::array<double, kQuantileLevels.size()> quantiles{};
  size_t n = values.size();
  auto start = values.begin();
  for (size_t i = 0; i < kQuantileLevels.size(); ++i) {
    double index = static_cast<double>(n - 1) * kQuantileLevels[i];
    size_t lower = static_cast<size_t>(std::floor(index));
    double fraction = index - static_cast<double>(lower);
    auto nth = values.begin() + static_cast<ptrdiff_t>(lower);
    std::nth_element(start, nth, values.end());
    double upper = *nth;
    if (fraction > 0.0 && lower + 1 < n) upper = *std::min_element(nth + 1, values.end());
    quantiles[i] = Lerp(*nth, upper, fraction);
    start = nth;
  }
  return quantiles;
}

Histogram MakeHistogram(const std::vector<double>& values, double min, double max, int bins) {
  Histogram histogram;
  histogram.min = min;
  histogram.max = max;
  if (min == max) {  // numpy widens a degenerate range the same way
    histogram.min -= 0.5;
    histogram.max += 0.5;
  }
  histogram.counts.assign(static_cast<size_t>(bins), 0);
  for (double value : values) {
    if (auto bin = HistogramBin(histogram, value)) ++histogram.counts[*bin];
  }
  return histogram;
}

// Consumes `values` (finite, at least one).
NumericStats NumericStatsOf(std::vector<double>& values, int bins) {
  NumericStats stats;
  auto [min, max] = std::minmax_element(values.begin(), values.end());
  stats.min = *min;
  stats.max = *max;
  double n = static_cast<double>(values.size());
  stats.mean = std::clamp(AccurateSum(values) / n, stats.min, stats.max);
  // The corrected two-pass algorithm (Chan, Golub & LeVeque): the second term removes most of
  // the error that rounding in the mean leaves in the squared deviations.
  double squares = 0.0;
  double deviations = 0.0;
  for (double value : values) {
    double deviation = value - stats.mean;
    squares += deviation * deviation;
    deviations += deviation;
  }
  stats.stddev = std::sqrt(std::max(0.0, (squares - deviations * deviations / n) / n));
  stats.histogram = MakeHistogram(values, stats.min, stats.max, bins);
  stats.quantiles = Quantiles(values);
  return stats;
}

// The `top_k` most frequent of (value, count) pairs: count descending, then value ascending.
template <typename Value, typename Text>
std::vector<TopValue> TopValues(std::vector<std::pair<Value, int64_t>> counted, int top_k,
                                Text&& text) {
  size_t k = std::min(counted.size(), static_cast<size_t>(top_k));
  std::partial_sort(counted.begin(), counted.begin() + static_cast<ptrdiff_t>(k), counted.end(),
                    [](const auto& a, const auto& b) {
                      return a.second != b.second ? a.second > b.second : a.first < b.first;
                    });
  std::vector<TopValue> top;
  for (size_t i = 0; i < k; ++i) top.push_back({text(counted[i].first), counted[i].second});
  return top;
}

int64_t RoundedEstimate(const HyperLogLog& sketch) {
  return static_cast<int64_t>(std::llround(sketch.Estimate()));
}

template <typename ArrowType>
void ProfileNumbers(const arrow::ChunkedArray& column, const ProfileOptions& options,
                    ColumnProfile& profile) {
  using T = typename ArrowType::c_type;
  constexpr bool kIsFloat = std::is_floating_point_v<T>;
  std::vector<double> values;
  values.reserve(static_cast<size_t>(column.length() - column.null_count()));
  HyperLogLog sketch;
  FlatCounter<uint64_t, HashInteger> counts;
  PrefetchingAdder<decltype(counts), uint64_t, char> adder(counts);
  ForEachChunk<arrow::NumericArray<ArrowType>>(column, [&](const auto& chunk, int64_t) {
    const T* raw = chunk.raw_values();
    ForEachValid(chunk, [&](int64_t i) {
      T value = raw[i];
      if constexpr (kIsFloat) {
        if (std::isnan(value)) {
          ++profile.nan_count;
          return;
        }
        double canonical = value == 0 ? 0.0 : static_cast<double>(value);  // -0 is 0
        sketch.AddHash(HashInteger(std::bit_cast<uint64_t>(canonical)));
        if (std::isinf(value)) {
          ++profile.infinite_count;
          return;
        }
      } else {
        sketch.AddHash(HashInteger(static_cast<uint64_t>(value)));
        adder.Add(static_cast<uint64_t>(value), 0, kIgnoreCount);
      }
      values.push_back(static_cast<double>(value));
    });
  });
  adder.Flush(kIgnoreCount);
  profile.kind = ProfileKind::kNumeric;
  profile.distinct_estimate = RoundedEstimate(sketch);
  if (!values.empty()) profile.numeric = NumericStatsOf(values, options.histogram_bins);
  if constexpr (!kIsFloat) {
    std::vector<std::pair<T, int64_t>> counted;
    counted.reserve(counts.size());
    counts.ForEach(
        [&](uint64_t key, int64_t count) { counted.emplace_back(static_cast<T>(key), count); });
    profile.top_values = TopValues(std::move(counted), options.top_k,
                                   [](T value) { return fmt::format("{}", value); });
  }
}

template <typename ArrowType>
void ProfileStrings(const arrow::ChunkedArray& column, const ProfileOptions& options,
                    ColumnProfile& profile) {
  using ArrayT = typename arrow::TypeTraits<ArrowType>::ArrayType;
  HyperLogLog sketch;
  FlatCounter<HashedView, HashOf> counts;
  PrefetchingAdder<decltype(counts), HashedView, char> adder(counts);
  LengthStats lengths{.min = INT64_MAX, .max = 0, .mean = 0.0};
  int64_t total_length = 0;
  int64_t seen = 0;
  ForEachChunk<ArrayT>(column, [&](const ArrayT& chunk, int64_t) {
    ForEachValid(chunk, [&](int64_t i) {
      std::string_view value = chunk.GetView(i);
      HashedView hashed{value, HashBytes(value)};
      sketch.AddHash(hashed.hash);
      adder.Add(hashed, 0, kIgnoreCount);
      auto length = static_cast<int64_t>(value.size());
      lengths.min = std::min(lengths.min, length);
      lengths.max = std::max(lengths.max, length);
      total_length += length;
      ++seen;
    });
  });
  adder.Flush(kIgnoreCount);
  profile.kind = ProfileKind::kString;
  profile.distinct_estimate = RoundedEstimate(sketch);
  if (seen > 0) {
    lengths.mean = static_cast<double>(total_length) / static_cast<double>(seen);
    profile.lengths = lengths;
  }
  std::vector<std::pair<HashedView, int64_t>> counted;
  counted.reserve(counts.size());
  counts.ForEach([&](HashedView key, int64_t count) { counted.emplace_back(key, count); });
  profile.top_values = TopValues(std::move(counted), options.top_k, [](HashedView value) {
    return SanitizeUtf8(value.text, kMaxTopValueBytes);
  });
}

void ProfileBools(const arrow::ChunkedArray& column, const ProfileOptions& options,
                  ColumnProfile& profile) {
  int64_t trues = 0;
  ForEachChunk<arrow::BooleanArray>(
      column, [&](const arrow::BooleanArray& chunk, int64_t) { trues += chunk.true_count(); });
  int64_t falses = column.length() - column.null_count() - trues;
  profile.kind = ProfileKind::kBool;
  profile.distinct_estimate = (trues > 0 ? 1 : 0) + (falses > 0 ? 1 : 0);
  std::vector<std::pair<bool, int64_t>> counted;
  if (falses > 0) counted.emplace_back(false, falses);
  if (trues > 0) counted.emplace_back(true, trues);
  profile.top_values = TopValues(std::move(counted), options.top_k,
                                 [](bool value) { return std::string(value ? "true" : "false"); });
}

void ProfileTimestamps(const arrow::ChunkedArray& column, ColumnProfile& profile) {
  int64_t units = UnitsPerSecond(static_cast<const arrow::TimestampType&>(*column.type()));
  HyperLogLog sketch;
  int64_t min = INT64_MAX;
  int64_t max = INT64_MIN;
  bool any = false;
  ForEachChunk<arrow::TimestampArray>(column, [&](const arrow::TimestampArray& chunk, int64_t) {
    const int64_t* raw = chunk.raw_values();
    ForEachValid(chunk, [&](int64_t i) {
      sketch.AddHash(HashInteger(static_cast<uint64_t>(raw[i])));
      min = std::min(min, raw[i]);
      max = std::max(max, raw[i]);
      any = true;
    });
  });
  profile.kind = ProfileKind::kTimestamp;
  profile.distinct_estimate = RoundedEstimate(sketch);
  if (any)
    profile.time_range = TimeRange{FormatIsoTimestamp(min, units), FormatIsoTimestamp(max, units)};
}

}  // namespace

std::optional<size_t> HistogramBin(const Histogram& histogram, double value) {
  size_t bins = histogram.counts.size();
  if (bins == 0 || !(value >= histogram.min && value <= histogram.max)) return std::nullopt;
  double step = (histogram.max - histogram.min) / static_cast<double>(bins);
  // numpy.linspace's edges: min + i * step, the last one exactly max.
  auto edge = [&](size_t i) {
    return i == bins ? histogram.max : static_cast<double>(i) * step + histogram.min;
  };
  auto bin = static_cast<size_t>((value - histogram.min) / (histogram.max - histogram.min) *
                                 static_cast<double>(bins));
  bin = std::min(bin, bins - 1);
  // As numpy.histogram: the arithmetic can land one bin off an edge; the edges decide.
  if (value < edge(bin) && bin > 0) --bin;
  if (value >= edge(bin + 1) && bin + 1 < bins) ++bin;
  return bin;
}

std::string_view ProfileKindName(ProfileKind kind) {
  switch (kind) {
    case ProfileKind::kNumeric:
      return "numeric";
    case ProfileKind::kString:
      return "string";
    case ProfileKind::kBool:
      return "bool";
    case ProfileKind::kTimestamp:
      return "timestamp";
    case ProfileKind::kOther:
      return "other";
  }
  return "other";
}

ColumnProfile ProfileColumn(std::string name, const arrow::ChunkedArray& column,
                            const ProfileOptions& options) {
  ColumnProfile profile;
  // Names come from files (Parquet, CSV headers) and must survive JSON, which needs UTF-8.
  profile.name = IsValidUtf8(name) ? std::move(name) : SanitizeUtf8(name);
  profile.type = SanitizeUtf8(column.type()->ToString());
  profile.count = column.length();
  profile.null_count = column.null_count();
  const arrow::DataType& type = *column.type();
  switch (FamilyOf(type)) {
    case ColumnFamily::kSignedInteger:
    case ColumnFamily::kUnsignedInteger:
    case ColumnFamily::kFloat:
      VisitNumericType(type, [&](auto arrow_type) {
        ProfileNumbers<decltype(arrow_type)>(column, options, profile);
      });
      break;
    case ColumnFamily::kString:
      VisitStringType(type, [&](auto arrow_type) {
        ProfileStrings<decltype(arrow_type)>(column, options, profile);
      });
      break;
    case ColumnFamily::kBool:
      ProfileBools(column, options, profile);
      break;
    case ColumnFamily::kTimestamp:
      ProfileTimestamps(column, profile);
      break;
    case ColumnFamily::kNull:
    case ColumnFamily::kOther:
      break;
  }
  return profile;
}

Result<TableProfile> ProfileTable(const arrow::Table& table, const ProfileOptions& options) {
  if (options.histogram_bins < 1 || options.histogram_bins > 1000 || options.top_k < 0 ||
      options.top_k > 1000) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "profile options: histogram_bins must be 1-1000 and top_k 0-1000");
  }
  TableProfile profile;
  profile.row_count = table.num_rows();
  for (int i = 0; i < table.num_columns(); ++i) {
    profile.columns.push_back(ProfileColumn(table.field(i)->name(), *table.column(i), options));
  }
  return profile;
}

}  // namespace falaj::data
