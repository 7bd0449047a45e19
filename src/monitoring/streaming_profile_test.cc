#include "monitoring/streaming_profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace falaj::monitoring {
namespace {

std::vector<double> LogNormal(size_t n, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::lognormal_distribution<double> dist(0.0, 1.0);
  std::vector<double> values(n);
  for (double& v : values) v = dist(random);
  return values;
}

// The largest |rank(Quantile(q)) / n - q| over a grid of q, ranks from the sorted data.
double MaxRankError(const QuantileSketch& sketch, std::vector<double> data) {
  std::sort(data.begin(), data.end());
  double worst = 0.0;
  for (int i = 1; i < 100; ++i) {
    double q = i / 100.0;
    double value = sketch.Quantile(q);
    auto rank = std::upper_bound(data.begin(), data.end(), value) - data.begin();
    worst = std::max(worst, std::abs(static_cast<double>(rank) / data.size() - q));
  }
  return worst;
}

TEST(QuantileSketch, RankErrorStaysWithinItsBound) {
  auto data = LogNormal(200000, 1);
  QuantileSketch sketch(256);
  for (double v : data) sketch.Update(v);
  EXPECT_EQ(sketch.count(), 200000);
  EXPECT_GT(sketch.RankErrorBound(), 0.0);
  // Besides the compaction bound, the answer can be one kept item (weight <= 2n / k) too high.
  double tolerance = sketch.RankErrorBound() + 2.0 / sketch.k();
  EXPECT_LE(MaxRankError(sketch, data), tolerance);
  EXPECT_LE(sketch.RankErrorBound(), std::log2(200000.0 / 256) / 256 + 1e-12);
}

TEST(QuantileSketch, ExactWhileNothingWasCompacted) {
  QuantileSketch sketch(64);
  for (int i = 1; i <= 50; ++i) sketch.Update(i);
  EXPECT_EQ(sketch.RankErrorBound(), 0.0);
  EXPECT_EQ(sketch.Quantile(0.5), 25.0);
  EXPECT_EQ(sketch.Quantile(1.0), 50.0);
  EXPECT_EQ(sketch.Quantile(0.0), 1.0);
  EXPECT_TRUE(std::isnan(QuantileSketch().Quantile(0.5)));
}

TEST(QuantileSketch, MergedSketchesAnswerForTheUnion) {
  auto a = LogNormal(100000, 2);
  auto b = LogNormal(150000, 3);
  for (double& v : b) v += 3.0;  // a different distribution so the merge matters
  QuantileSketch left(256, 1);
  QuantileSketch right(256, 2);
  for (double v : a) left.Update(v);
  for (double v : b) right.Update(v);
  left.Merge(right);
  EXPECT_EQ(left.count(), 250000);
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  EXPECT_LE(MaxRankError(left, all), left.RankErrorBound() + 2.0 / left.k());
}

TEST(NumericWindowProfile, CountsBinsMissingAndOutOfRange) {
  BinEdges edges{0.0, 10.0, 10};
  NumericWindowProfile profile(edges);
  std::vector<double> values = {0.5, 1.5, 1.7, 9.99, 10.0, -1.0, 11.0, INFINITY, NAN};
  for (double v : values) profile.Update(v);
  profile.UpdateMissing();
  EXPECT_EQ(profile.count(), 10);
  EXPECT_EQ(profile.missing(), 2);
  EXPECT_DOUBLE_EQ(profile.missing_rate(), 0.2);
  EXPECT_EQ(profile.out_of_range(), 3);
  std::vector<double> present = {0.5, 1.5, 1.7, 9.99, 10.0, -1.0, 11.0, INFINITY};
  auto expected = BinCounts(edges, present);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), profile.bins().begin()));
  EXPECT_EQ(profile.bins()[2], 2);
  EXPECT_EQ(profile.sketch().count(), 7);  // infinities stay out of the sketch
}

TEST(NumericWindowProfile, MergeAddsAndRejectsOtherBins) {
  BinEdges edges{0.0, 1.0, 4};
  NumericWindowProfile a(edges);
  NumericWindowProfile b(edges);
  a.Update(0.1);
  b.Update(0.9);
  b.Update(NAN);
  ASSERT_TRUE(a.Merge(b));
  EXPECT_EQ(a.count(), 3);
  EXPECT_EQ(a.missing(), 1);
  EXPECT_EQ(a.bins()[1], 1);
  EXPECT_EQ(a.bins()[4], 1);
  NumericWindowProfile other(BinEdges{0.0, 2.0, 4});
  EXPECT_EQ(a.Merge(other).error().code, ErrorCode::kInvalidArgument);
}

TEST(CategoricalWindowProfile, CountsUnseenAndMerges) {
  std::vector<std::string> categories = {"AED", "USD", "EUR"};
  auto profile = CategoricalWindowProfile::Create(categories);
  ASSERT_TRUE(profile);
  for (std::string_view v : {"AED", "AED", "EUR", "GBP", "xx"}) profile->Update(v);
  profile->UpdateMissing();
  EXPECT_EQ(profile->unseen(), 2);
  EXPECT_EQ(profile->count(), 6);
  EXPECT_EQ(profile->counts()[0], 2);
  EXPECT_EQ(profile->counts()[1], 0);
  auto counts = profile->ToCounts();
  EXPECT_EQ(counts.at("__unseen__"), 2);
  EXPECT_EQ(counts.at("EUR"), 1);

  auto other = CategoricalWindowProfile::Create(categories);
  other->Update("USD");
  ASSERT_TRUE(profile->Merge(*other));
  EXPECT_EQ(profile->counts()[1], 1);
  std::vector<std::string> different = {"AED"};
  EXPECT_FALSE(profile->Merge(*CategoricalWindowProfile::Create(different)));
  std::vector<std::string> duplicate = {"a", "a"};
  EXPECT_FALSE(CategoricalWindowProfile::Create(duplicate));
}

}  // namespace
}  // namespace falaj::monitoring
