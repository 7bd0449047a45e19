// Error paths and properties of the fixed-horizon statistics; the numbers themselves are checked
// against scipy in reference_vectors_test.cc.
#include "abtest/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/distributions.h"

namespace falaj::abtest {
namespace {

TEST(Distributions, TailsAreComplementary) {
  for (double df : {1.0, 2.5, 30.0, 1e5}) {
    for (double t : {-5.0, -0.5, 0.0, 0.7, 12.0}) {
      EXPECT_NEAR(StudentTSf(t, df) + StudentTCdf(t, df), 1.0, 1e-14) << t << " " << df;
    }
    for (double p : {1e-9, 0.025, 0.5, 0.8}) {
      EXPECT_NEAR(StudentTCdf(StudentTQuantile(p, df), df) / p, 1.0, 1e-12) << p << " " << df;
    }
  }
  const Tails gamma = RegularizedGamma(3.5, 2.0);
  EXPECT_NEAR(gamma.lower + gamma.upper, 1.0, 1e-15);
  EXPECT_DOUBLE_EQ(ChiSquareSf(0, 3), 1.0);
  // ln B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b) where that has no cancellation.
  EXPECT_NEAR(LogBeta(12.5, 40), std::lgamma(12.5) + std::lgamma(40) - std::lgamma(52.5), 1e-12);
  EXPECT_NEAR(LogBeta(0.5, 25), std::lgamma(0.5) + std::lgamma(25) - std::lgamma(25.5), 1e-12);
}

TEST(TwoProportionZTest, RejectsBadInput) {
  EXPECT_EQ(TwoProportionZTest({0, 0}, {10, 1}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TwoProportionZTest({10, 11}, {10, 1}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TwoProportionZTest({10, -1}, {10, 1}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TwoProportionZTest({10, 1}, {10, 1}, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TwoProportionZTest({10, 1}, {10, 1}, NAN).error().code, ErrorCode::kInvalidArgument);
  // No variation at all: nothing to test.
  EXPECT_EQ(TwoProportionZTest({10, 0}, {20, 0}).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(TwoProportionZTest({10, 10}, {20, 20}).error().code, ErrorCode::kFailedPrecondition);
}

TEST(TwoProportionZTest, SignAndSymmetry) {
  const auto up = TwoProportionZTest({1000, 100}, {1000, 130});
  const auto down = TwoProportionZTest({1000, 130}, {1000, 100});
  ASSERT_TRUE(up && down);
  EXPECT_GT(up->statistic, 0);
  EXPECT_DOUBLE_EQ(up->statistic, -down->statistic);
  EXPECT_DOUBLE_EQ(up->p_value, down->p_value);
  EXPECT_TRUE(std::isinf(up->degrees_of_freedom));
  EXPECT_NEAR(up->relative->value, 0.3, 1e-12);
}

TEST(WelchTTest, RejectsBadInput) {
  EXPECT_EQ(WelchTTest({1, 0, 1}, {10, 0, 1}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(WelchTTest({10, 0, -1}, {10, 0, 1}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(WelchTTest({10, NAN, 1}, {10, 0, 1}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(WelchTTest({10, 1, 0}, {10, 2, 0}).error().code, ErrorCode::kFailedPrecondition);
}

TEST(WelchTTest, NarrowerWithMoreConfidenceLeft) {
  const auto wide = WelchTTest({50, 1, 2}, {50, 1.5, 2}, 0.01);
  const auto narrow = WelchTTest({50, 1, 2}, {50, 1.5, 2}, 0.1);
  ASSERT_TRUE(wide && narrow);
  EXPECT_LT(wide->absolute.ci.lower, narrow->absolute.ci.lower);
  EXPECT_DOUBLE_EQ(wide->p_value, narrow->p_value);
  // Equal sizes and variances: Welch's df is 2(n - 1).
  EXPECT_NEAR(wide->degrees_of_freedom, 98, 1e-12);
}

TEST(SampleRatioMismatch, FlagsOnlyBelowThresholdWithEnoughUnits) {
  const std::vector<double> even{1, 1};
  const std::vector<int64_t> balanced{5010, 4990};
  const std::vector<int64_t> skewed{5300, 4700};
  const std::vector<int64_t> tiny{0, 7};
  EXPECT_FALSE(SampleRatioMismatch(balanced, even)->mismatch);
  EXPECT_TRUE(SampleRatioMismatch(skewed, even)->mismatch);
  const auto few = SampleRatioMismatch(tiny, even);
  ASSERT_TRUE(few);
  EXPECT_LT(few->p_value, 0.05);
  EXPECT_FALSE(few->mismatch);
}

TEST(SampleRatioMismatch, RejectsBadInput) {
  const std::vector<int64_t> two{10, 10};
  const std::vector<int64_t> zero{0, 0};
  const std::vector<double> one_weight{1};
  const std::vector<double> bad_weight{1, 0};
  const std::vector<double> even{1, 1};
  EXPECT_FALSE(SampleRatioMismatch(two, one_weight));
  EXPECT_FALSE(SampleRatioMismatch(two, bad_weight));
  EXPECT_FALSE(SampleRatioMismatch(zero, even));
  EXPECT_FALSE(SampleRatioMismatch(std::vector<int64_t>{10}, std::vector<double>{1}));
}

TEST(MinimumSampleSize, GrowsAsEffectShrinks) {
  const auto big = MinimumSampleSizeForProportions(0.1, 0.02);
  const auto small = MinimumSampleSizeForProportions(0.1, 0.01);
  ASSERT_TRUE(big && small);
  EXPECT_GT(small->units_per_arm, 3 * big->units_per_arm);
  EXPECT_GE(static_cast<double>(big->units_per_arm), big->exact);
  EXPECT_LT(static_cast<double>(big->units_per_arm) - 1, big->exact);
}

TEST(MinimumSampleSize, RejectsBadInput) {
  EXPECT_FALSE(MinimumSampleSizeForProportions(0.1, 0));
  EXPECT_FALSE(MinimumSampleSizeForProportions(0.95, 0.1));
  EXPECT_FALSE(MinimumSampleSizeForProportions(0.1, 0.01, 0.05, 1));
  EXPECT_FALSE(MinimumSampleSizeForProportions(0.1, 0.01, 0, 0.8));
  EXPECT_FALSE(MinimumSampleSizeForMeans(0, 0.1));
  EXPECT_FALSE(MinimumSampleSizeForMeans(1, NAN));
}

}  // namespace
}  // namespace falaj::abtest
