#include "monitoring/report_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace falaj::monitoring {
namespace {

constexpr double kMinStddev = 0.001;  // Evidently's floor for the normed Wasserstein

// Where bin `index` (0 underflow … count + 1 overflow) stands on the axis.
double Midpoint(const BinEdges& edges, size_t index) {
  double width = (edges.hi - edges.lo) / edges.count;
  return edges.lo + (static_cast<double>(index) - 0.5) * width;
}

int64_t Total(std::span<const int64_t> counts) {
  return std::accumulate(counts.begin(), counts.end(), int64_t{0});
}

// sup |F_ref - F_cur| over the bins: the two-sample KS statistic of the midpoint samples.
double KsStatistic(std::span<const int64_t> reference, std::span<const int64_t> current) {
  double n = static_cast<double>(Total(reference));
  double m = static_cast<double>(Total(current));
  double d = 0;
  int64_t a = 0;
  int64_t b = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    a += reference[i];
    b += current[i];
    d = std::max(d, std::abs(static_cast<double>(a) / n - static_cast<double>(b) / m));
  }
  return d;
}

TestOutcome BinnedKs(std::span<const int64_t> reference, std::span<const int64_t> current) {
  int64_t n = Total(reference);
  int64_t m = Total(current);
  double d = KsStatistic(reference, current);
  // scipy's rule ('auto'): exact up to 10 000 rows a side, reported on its lattice.
  if (std::max(n, m) <= 10000) {
    int64_t g = std::gcd(n, m);
    double lcm = static_cast<double>((n / g) * m);
    return {std::nearbyint(d * lcm) / lcm, KsExactPValue(n, m, d)};
  }
  double en = static_cast<double>(n) * static_cast<double>(m) / static_cast<double>(n + m);
  return {d, KolmogorovSurvival(std::sqrt(en) * d)};
}

// W1 between the midpoint distributions: the area between the two step CDFs.
double BinnedWasserstein(const BinEdges& edges, std::span<const int64_t> reference,
                         std::span<const int64_t> current) {
  double n = static_cast<double>(Total(reference));
  double m = static_cast<double>(Total(current));
  double area = 0;
  int64_t a = 0;
  int64_t b = 0;
  for (size_t i = 0; i + 1 < reference.size(); ++i) {
    a += reference[i];
    b += current[i];
    area += std::abs(a / n - b / m) * (Midpoint(edges, i + 1) - Midpoint(edges, i));
  }
  return area;
}

// Non-empty bins as categories "0000", "0001" … (ordered as the bins), for chi-square and Z.
CategoryCounts BinCategories(std::span<const int64_t> counts, std::span<const int64_t> other) {
  CategoryCounts categories;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0 || other[i] > 0) categories[fmt::format("{:04d}", i)] = counts[i];
  }
  return categories;
}

// Evidently's registry on binned data: n_unique is the number of bins either side occupies.
Result<DriftResult> DefaultDrift(const FeatureReference& reference,
                                 std::span<const int64_t> current) {
  const std::vector<int64_t>& ref = reference.counts;
  size_t occupied = 0;
  for (size_t i = 0; i < ref.size(); ++i) occupied += (ref[i] > 0 || current[i] > 0) ? 1 : 0;
  const auto n_ref = static_cast<size_t>(Total(ref));
  DriftResult result;
  if (n_ref > kLargeReference) {
    if (occupied > 5) {
      result.test = DriftTest::kWasserstein;
      result.statistic =
          BinnedWasserstein(reference.edges, ref, current) / std::max(reference.stddev, kMinStddev);
    } else {
      result.test = DriftTest::kJensenShannon;
      FALAJ_ASSIGN_OR_RETURN(result.statistic, JensenShannonFromCounts(ref, current));
    }
    result.threshold = 0.1;
    result.drifted = result.statistic >= result.threshold;
    return result;
  }
  result.threshold = 0.05;
  if (occupied > 5) {
    TestOutcome ks = BinnedKs(ref, current);
    result.test = DriftTest::kKolmogorovSmirnov;
    result.statistic = ks.statistic;
    result.p_value = ks.p_value;
    result.drifted = ks.p_value <= result.threshold;
    return result;
  }
  CategoryCounts ref_categories = BinCategories(ref, current);
  CategoryCounts cur_categories = BinCategories(current, ref);
  TestOutcome outcome;
  if (occupied > 2) {
    result.test = DriftTest::kChiSquare;
    FALAJ_ASSIGN_OR_RETURN(outcome, ChiSquare(ref_categories, cur_categories));
  } else {
    result.test = DriftTest::kZ;
    FALAJ_ASSIGN_OR_RETURN(outcome, ZTest(ref_categories, cur_categories));
  }
  result.statistic = outcome.statistic;
  result.p_value = outcome.p_value;
  result.drifted = outcome.p_value < result.threshold;
  return result;
}

nlohmann::json QuantilesOf(const QuantileSketch& sketch) {
  nlohmann::json out = nlohmann::json::object();
  if (sketch.count() == 0) return out;
  for (double level : data::kQuantileLevels) {
    out[fmt::format("p{}", static_cast<int>(std::lround(level * 100)))] = sketch.Quantile(level);
  }
  return out;
}

}  // namespace

std::map<std::string, FeatureReference> NumericReferences(const data::TableProfile& profile) {
  std::map<std::string, FeatureReference> references;
  for (const data::ColumnProfile& column : profile.columns) {
    if (!column.numeric || column.numeric->histogram.counts.empty()) continue;
    const data::Histogram& histogram = column.numeric->histogram;
    FeatureReference reference;
    reference.name = column.name;
    reference.edges = {histogram.min, histogram.max, static_cast<int32_t>(histogram.counts.size())};
    reference.counts.reserve(histogram.counts.size() + 2);
    reference.counts.push_back(0);
    reference.counts.insert(reference.counts.end(), histogram.counts.begin(),
                            histogram.counts.end());
    reference.counts.push_back(0);
    reference.rows = column.count;
    reference.missing = column.null_count + column.nan_count + column.infinite_count;
    reference.stddev = column.numeric->stddev;
    for (size_t i = 0; i < data::kQuantileLevels.size(); ++i) {
      reference.quantiles[fmt::format(
          "p{}", static_cast<int>(std::lround(data::kQuantileLevels[i] * 100)))] =
          column.numeric->quantiles[i];
    }
    references.emplace(column.name, std::move(reference));
  }
  return references;
}

Result<StatisticChoice> ParseStatisticChoice(std::string_view name,
                                             std::optional<double> threshold) {
  StatisticChoice choice;
  if (name == "ks") {
    choice = {DriftTest::kKolmogorovSmirnov, 0.05};
  } else if (name == "wasserstein") {
    choice = {DriftTest::kWasserstein, 0.1};
  } else if (name == "psi") {
    choice = {DriftTest::kPsi, 0.1};
  } else if (name == "jensenshannon") {
    choice = {DriftTest::kJensenShannon, 0.1};
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown statistic '{}': use ks, wasserstein, psi or jensenshannon",
                     name.substr(0, 64));
  }
  if (threshold) {
    if (!std::isfinite(*threshold) || *threshold < 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the threshold of statistic '{}' must be a finite number >= 0", name);
    }
    choice.threshold = *threshold;
  }
  return choice;
}

Result<DriftResult> BinnedDrift(const FeatureReference& reference,
                                std::span<const int64_t> current_counts,
                                const std::optional<StatisticChoice>& choice) {
  if (current_counts.size() != reference.counts.size()) {
    return MakeError(ErrorCode::kInternal, "feature '{}': window bins do not match the reference",
                     reference.name);
  }
  if (Total(reference.counts) == 0 || Total(current_counts) == 0) {
    return MakeError(ErrorCode::kFailedPrecondition, "feature '{}': no observed value in the {}",
                     reference.name, Total(reference.counts) == 0 ? "reference" : "current data");
  }
  if (!choice) return DefaultDrift(reference, current_counts);
  DriftResult result;
  result.test = choice->test;
  result.threshold = choice->threshold;
  if (choice->test == DriftTest::kKolmogorovSmirnov) {
    TestOutcome ks = BinnedKs(reference.counts, current_counts);
    result.statistic = ks.statistic;
    result.p_value = ks.p_value;
    result.drifted = ks.p_value <= choice->threshold;
    return result;
  }
  if (choice->test == DriftTest::kWasserstein) {
    result.statistic = BinnedWasserstein(reference.edges, reference.counts, current_counts) /
                       std::max(reference.stddev, kMinStddev);
  } else if (choice->test == DriftTest::kPsi) {
    FALAJ_ASSIGN_OR_RETURN(result.statistic, PsiFromCounts(reference.counts, current_counts));
  } else {
    FALAJ_ASSIGN_OR_RETURN(result.statistic,
                           JensenShannonFromCounts(reference.counts, current_counts));
  }
  result.drifted = result.statistic >= choice->threshold;
  return result;
}

Result<nlohmann::json> FeatureDrift(const FeatureReference& reference,
                                    const NumericWindowProfile& current,
                                    const std::optional<StatisticChoice>& choice) {
  FALAJ_ASSIGN_OR_RETURN(DriftResult drift, BinnedDrift(reference, current.bins(), choice));
  nlohmann::json edges = {
      {"lo", reference.edges.lo}, {"hi", reference.edges.hi}, {"bins", reference.edges.count}};
  return nlohmann::json{
      {"statistic", DriftTestName(drift.test)},
      {"score", drift.statistic},
      {"p_value", drift.p_value ? nlohmann::json(*drift.p_value) : nlohmann::json()},
      {"threshold", drift.threshold},
      {"drifted", drift.drifted},
      {"bin_edges", edges},
      {"reference",
       {{"rows", reference.rows},
        {"bin_counts", reference.counts},
        {"missing_rate", reference.missing_rate()},
        {"stddev", reference.stddev},
        {"quantiles", reference.quantiles}}},
      {"current",
       {{"rows", current.count()},
        {"bin_counts", current.bins()},
        {"missing_rate", current.missing_rate()},
        {"out_of_range", current.out_of_range()},
        {"quantiles", QuantilesOf(current.sketch())}}}};
}

}  // namespace falaj::monitoring
