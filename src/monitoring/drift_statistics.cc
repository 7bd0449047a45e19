#include "monitoring/drift_statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/distributions.h"

namespace falaj::monitoring {
namespace {

// scipy's 'auto' mode is exact up to this many rows per side.
constexpr int64_t kMaxExactKs = 10000;

int64_t Sum(std::span<const int64_t> counts) {
  return std::accumulate(counts.begin(), counts.end(), int64_t{0});
}

Status CheckCounts(std::span<const int64_t> reference, std::span<const int64_t> current) {
  if (reference.empty() || reference.size() != current.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "count vectors must be non-empty and of equal "
                     "length (got {} and {})",
                     reference.size(), current.size());
  }
  if (Sum(reference) <= 0 || Sum(current) <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "both sides need at least one observation");
  }
  return Ok();
}

Status CheckSamples(std::span<const double> reference, std::span<const double> current) {
  if (reference.empty() || current.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "both samples must be non-empty (got {} and {})",
                     reference.size(), current.size());
  }
  return Ok();
}

// Evidently's empty-bin rule, applied to one side's proportions.
std::vector<double> ProportionsWithEpsilon(std::span<const int64_t> counts) {
  double total = static_cast<double>(Sum(counts));
  std::vector<double> shares(counts.size());
  double min_nonzero = 1.0;
  for (size_t i = 0; i < counts.size(); ++i) {
    shares[i] = static_cast<double>(counts[i]) / total;
    if (shares[i] > 0) min_nonzero = std::min(min_nonzero, shares[i]);
  }
  double epsilon = min_nonzero <= 1e-4 ? min_nonzero / 1e6 : 1e-4;
  for (double& share : shares) {
    if (share == 0) share = epsilon;
  }
  return shares;
}

// scipy.special.rel_entr.
double RelEntr(double x, double y) {
  if (x > 0 && y > 0) return x * std::log(x / y);
  if (x == 0 && y >= 0) return 0.0;
  return INFINITY;
}

double LogChoose(int64_t n, int64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

struct SortedSamples {
  std::vector<double> a;  // reference
  std::vector<double> b;  // current
};

// KS and Wasserstein both walk the two empirical CDFs in merged order.
Result<SortedSamples> SortBoth(std::span<const double> reference, std::span<const double> current) {
  FALAJ_RETURN_IF_ERROR(CheckSamples(reference, current));
  SortedSamples sorted{{reference.begin(), reference.end()}, {current.begin(), current.end()}};
  std::sort(sorted.a.begin(), sorted.a.end());
  std::sort(sorted.b.begin(), sorted.b.end());
  return sorted;
}

// Aligns two category maps over the union of keys (ordered).
void Align(const CategoryCounts& reference, const CategoryCounts& current,
           std::vector<int64_t>& ref_counts, std::vector<int64_t>& cur_counts) {
  CategoryCounts keys = reference;
  for (const auto& [key, count] : current) keys.try_emplace(key, 0);
  for (const auto& [key, unused] : keys) {
    auto r = reference.find(key);
    auto c = current.find(key);
    ref_counts.push_back(r == reference.end() ? 0 : r->second);
    cur_counts.push_back(c == current.end() ? 0 : c->second);
  }
}

}  // namespace

Result<BinEdges> SturgesBins(std::span<const double> reference) {
  if (reference.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot bin an empty reference");
  }
  auto [min_it, max_it] = std::minmax_element(reference.begin(), reference.end());
  BinEdges edges{*min_it, *max_it, 1};
  double ptp = edges.hi - edges.lo;
  if (ptp == 0) {
    edges.lo -= 0.5;
    edges.hi += 0.5;
    return edges;
  }
  // The same floating-point steps as numpy's _hist_bin_sturges and _get_bin_edges, so the count
  // agrees even when log2(n) is an integer.
  double width = ptp / (std::log2(static_cast<double>(reference.size())) + 1.0);
  edges.count = static_cast<int32_t>(std::ceil(ptp / width));
  return edges;
}

size_t BinIndex(const BinEdges& edges, double value) {
  if (!(value >= edges.lo)) return 0;
  if (value > edges.hi) return static_cast<size_t>(edges.count) + 1;
  // numpy.histogram's equal-width path: a multiply, then a correction against the linspace edges.
  double step = (edges.hi - edges.lo) / edges.count;
  auto edge = [&](int64_t i) { return i == edges.count ? edges.hi : i * step + edges.lo; };
  auto index = static_cast<int64_t>((value - edges.lo) * (edges.count / (edges.hi - edges.lo)));
  if (index >= edges.count) index = edges.count - 1;
  if (value < edge(index)) {
    --index;
  } else if (value >= edge(index + 1) && index != edges.count - 1) {
    ++index;
  }
  return static_cast<size_t>(index) + 1;
}

std::vector<int64_t> BinCounts(const BinEdges& edges, std::span<const double> values) {
  std::vector<int64_t> counts(static_cast<size_t>(edges.count) + 2, 0);
  for (double value : values) ++counts[BinIndex(edges, value)];
  return counts;
}

Result<double> PsiFromCounts(std::span<const int64_t> reference, std::span<const int64_t> current) {
  FALAJ_RETURN_IF_ERROR(CheckCounts(reference, current));
  std::vector<double> r = ProportionsWithEpsilon(reference);
  std::vector<double> c = ProportionsWithEpsilon(current);
  double psi = 0.0;
  for (size_t i = 0; i < r.size(); ++i) psi += (r[i] - c[i]) * std::log(r[i] / c[i]);
  return psi;
}

Result<double> JensenShannonFromCounts(std::span<const int64_t> reference,
                                       std::span<const int64_t> current) {
  FALAJ_RETURN_IF_ERROR(CheckCounts(reference, current));
  double ref_total = static_cast<double>(Sum(reference));
  double cur_total = static_cast<double>(Sum(current));
  double left = 0.0;
  double right = 0.0;
  for (size_t i = 0; i < reference.size(); ++i) {
    double p = static_cast<double>(reference[i]) / ref_total;
    double q = static_cast<double>(current[i]) / cur_total;
    double m = (p + q) / 2.0;
    left += RelEntr(p, m);
    right += RelEntr(q, m);
  }
  // Rounding can leave a tiny negative sum for identical inputs; scipy would return NaN there.
  return std::sqrt(std::max(0.0, (left + right) / 2.0));
}

Result<double> Psi(std::span<const double> reference, std::span<const double> current) {
  FALAJ_RETURN_IF_ERROR(CheckSamples(reference, current));
  FALAJ_ASSIGN_OR_RETURN(BinEdges edges, SturgesBins(reference));
  return PsiFromCounts(BinCounts(edges, reference), BinCounts(edges, current));
}

Result<double> JensenShannon(std::span<const double> reference, std::span<const double> current) {
  FALAJ_RETURN_IF_ERROR(CheckSamples(reference, current));
  FALAJ_ASSIGN_OR_RETURN(BinEdges edges, SturgesBins(reference));
  return JensenShannonFromCounts(BinCounts(edges, reference), BinCounts(edges, current));
}

double KolmogorovSurvival(double lambda) {
  if (lambda <= 0) return 1.0;
  if (lambda < 1.0) {
    // The alternating series converges slowly here; the dual (theta) series converges fast:
    // K(l) = sqrt(2 pi) / l * sum_{k>=1} exp(-(2k - 1)^2 pi^2 / (8 l^2)), Q = 1 - K.
    double sum = 0.0;
    for (int k = 1; k <= 50; ++k) {
      double odd = 2.0 * k - 1.0;
      double term = std::exp(-odd * odd * M_PI * M_PI / (8.0 * lambda * lambda));
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return std::clamp(1.0 - std::sqrt(2.0 * M_PI) / lambda * sum, 0.0, 1.0);
  }
  double sum = 0.0;
  for (int k = 1; k <= 100; ++k) {
    double term = std::exp(-2.0 * k * k * lambda * lambda);
    sum += (k % 2 == 1 ? term : -term);
    if (term < 1e-300 || term < 1e-17 * std::abs(sum)) break;
  }
  return std::clamp(2.0 * sum, 0.0, 1.0);
}

double KsExactPValue(int64_t n, int64_t m, double d) {
  int64_t g = std::gcd(n, m);
  int64_t lcm = (n / g) * m;
  auto h = static_cast<int64_t>(std::nearbyint(d * static_cast<double>(lcm)));
  if (h == 0) return 1.0;
  if (n == m) {
    // scipy's _compute_prob_outside_square: a Horner-like sum that avoids cancellation.
    double p = 0.0;
    for (int64_t k = n / h; k >= 0; --k) {
      double p1 = 1.0;
      for (int64_t j = 0; j < h; ++j) {
        p1 = static_cast<double>(n - k * h - j) * p1 / static_cast<double>(n + k * h + j + 1);
      }
      p = p1 * (1.0 - p);
    }
    return std::clamp(2.0 * p, 0.0, 1.0);
  }
  // Lattice paths from (0, 0) to (n, m); a path leaves the band at its first point with
  // |m x - n y| >= h g. A(x, y) counts the paths that reach (x, y) without leaving, scaled by
  // binom(x + y, y) so every value stays in [0, 1]:
  //   A(x, y) = (x A(x - 1, y) + y A(x, y - 1)) / (x + y).
  // p sums, over each first outside point, those paths times the chance a random path passes
  // there: a sum of positive terms, so a tiny p keeps its relative accuracy (1 - P(inside)
  // would cancel to 0, where scipy reports e.g. 3e-32 for disjoint samples).
  int64_t bound = h * g;
  double log_all = LogChoose(n + m, n);
  double p = 0.0;
  std::vector<double> column(static_cast<size_t>(m) + 1, 0.0);
  for (int64_t x = 0; x <= n; ++x) {
    for (int64_t y = 0; y <= m; ++y) {
      double from_left = x > 0 ? static_cast<double>(x) * column[y] : 0.0;
      double from_below = y > 0 ? static_cast<double>(y) * column[y - 1] : 0.0;
      double reached = x + y == 0 ? 1.0 : (from_left + from_below) / static_cast<double>(x + y);
      if (std::abs(m * x - n * y) < bound) {
        column[y] = reached;
        continue;
      }
      column[y] = 0.0;
      if (reached > 0) {
        p += reached * std::exp(LogChoose(x + y, x) + LogChoose(n + m - x - y, n - x) - log_all);
      }
    }
  }
  return std::clamp(p, 0.0, 1.0);
}

Result<TestOutcome> KolmogorovSmirnov(std::span<const double> reference,
                                      std::span<const double> current) {
  FALAJ_ASSIGN_OR_RETURN(SortedSamples sorted, SortBoth(reference, current));
  const std::vector<double>& a = sorted.a;
  const std::vector<double>& b = sorted.b;
  auto n = static_cast<int64_t>(a.size());
  auto m = static_cast<int64_t>(b.size());
  double d = 0.0;
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    double x = (j == b.size() || (i < a.size() && a[i] <= b[j])) ? a[i] : b[j];
    while (i < a.size() && a[i] == x) ++i;
    while (j < b.size() && b[j] == x) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / n - static_cast<double>(j) / m));
  }
  if (std::max(n, m) <= kMaxExactKs) {
    int64_t g = std::gcd(n, m);
    int64_t lcm = (n / g) * m;
    // scipy reports the statistic rounded to the lattice it computes the p-value on.
    double h = std::nearbyint(d * static_cast<double>(lcm));
    return TestOutcome{h / static_cast<double>(lcm), KsExactPValue(n, m, d)};
  }
  double en = static_cast<double>(n) * static_cast<double>(m) / static_cast<double>(n + m);
  return TestOutcome{d, KolmogorovSurvival(std::sqrt(en) * d)};
}

Result<double> Wasserstein1(std::span<const double> reference, std::span<const double> current) {
  FALAJ_ASSIGN_OR_RETURN(SortedSamples sorted, SortBoth(reference, current));
  const std::vector<double>& a = sorted.a;
  const std::vector<double>& b = sorted.b;
  double n = static_cast<double>(a.size());
  double m = static_cast<double>(b.size());
  // Integral of |F_a - F_b| over the merged support, one step between neighbouring values.
  size_t i = 0;
  size_t j = 0;
  double previous = std::min(a[0], b[0]);
  double distance = 0.0;
  while (i < a.size() || j < b.size()) {
    bool take_a = j == b.size() || (i < a.size() && a[i] <= b[j]);
    double x = take_a ? a[i] : b[j];
    distance += std::abs(static_cast<double>(i) / n - static_cast<double>(j) / m) * (x - previous);
    previous = x;
    if (take_a) {
      ++i;
    } else {
      ++j;
    }
  }
  return distance;
}

Result<double> NormedWasserstein(std::span<const double> reference,
                                 std::span<const double> current) {
  FALAJ_ASSIGN_OR_RETURN(double distance, Wasserstein1(reference, current));
  double n = static_cast<double>(reference.size());
  double mean = std::accumulate(reference.begin(), reference.end(), 0.0) / n;
  double squares = 0.0;
  for (double value : reference) squares += (value - mean) * (value - mean);
  return distance / std::max(std::sqrt(squares / n), 0.001);
}

Result<TestOutcome> ChiSquare(const CategoryCounts& reference, const CategoryCounts& current) {
  std::vector<int64_t> r;
  std::vector<int64_t> c;
  Align(reference, current, r, c);
  FALAJ_RETURN_IF_ERROR(CheckCounts(r, c));
  if (r.size() < 2) return TestOutcome{0.0, 1.0};
  double scale = static_cast<double>(Sum(c)) / static_cast<double>(Sum(r));
  double statistic = 0.0;
  for (size_t k = 0; k < r.size(); ++k) {
    double expected = static_cast<double>(r[k]) * scale;
    double observed = static_cast<double>(c[k]);
    if (expected == 0) {
      if (observed > 0) return TestOutcome{INFINITY, 0.0};
      continue;
    }
    statistic += (observed - expected) * (observed - expected) / expected;
  }
  return TestOutcome{statistic, ChiSquareSf(statistic, static_cast<double>(r.size() - 1))};
}

Result<TestOutcome> ZTest(const CategoryCounts& reference, const CategoryCounts& current) {
  std::vector<int64_t> r;
  std::vector<int64_t> c;
  Align(reference, current, r, c);
  FALAJ_RETURN_IF_ERROR(CheckCounts(r, c));
  // Evidently codes the first category 0 and the rest 1; p is the share of the rest.
  double n1 = static_cast<double>(Sum(r));
  double n2 = static_cast<double>(Sum(c));
  double p1 = (n1 - static_cast<double>(r[0])) / n1;
  double p2 = (n2 - static_cast<double>(c[0])) / n2;
  double pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
  double variance = pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2);
  if (variance == 0) return TestOutcome{0.0, 1.0};
  double z = (p1 - p2) / std::sqrt(variance);
  return TestOutcome{z, 2 * NormalSf(std::abs(z))};
}

Result<double> JensenShannon(const CategoryCounts& reference, const CategoryCounts& current) {
  std::vector<int64_t> r;
  std::vector<int64_t> c;
  Align(reference, current, r, c);
  return JensenShannonFromCounts(r, c);
}

}  // namespace falaj::monitoring
