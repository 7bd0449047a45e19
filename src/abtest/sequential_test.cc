#include "abtest/sequential.h"

#include <gtest/gtest.h>

#include <cmath>

#include "abtest/aa_simulation.h"

namespace falaj::abtest {
namespace {

TEST(Sequential, MixingVarianceDefault) {
  // rho^2 = (-2 ln 0.05 + ln(-2 ln 0.05 + 1)) / 5000.
  const double l = -2 * std::log(0.05);
  EXPECT_DOUBLE_EQ(MixingVariance({}), (l + std::log(l + 1)) / 5000);
}

TEST(Sequential, WiderThanFixedHorizonAndShrinksWithData) {
  const auto small = SequentialProportions({1000, 100}, {1000, 120});
  const auto fixed = TwoProportionZTest({1000, 100}, {1000, 120});
  ASSERT_TRUE(small && fixed);
  EXPECT_GT(small->absolute.ci.upper - small->absolute.ci.lower,
            fixed->absolute.ci.upper - fixed->absolute.ci.lower);
  EXPECT_DOUBLE_EQ(small->absolute.value, fixed->absolute.value);
  const auto large = SequentialProportions({100000, 10000}, {100000, 12000});
  ASSERT_TRUE(large);
  EXPECT_LT(large->absolute.ci.upper - large->absolute.ci.lower,
            small->absolute.ci.upper - small->absolute.ci.lower);
  EXPECT_TRUE(large->significant);
  EXPECT_FALSE(small->significant);
}

TEST(Sequential, MeansMatchHalfWidth) {
  const auto r = SequentialMeans({50, 1.0, 4.0}, {60, 1.5, 9.0});
  ASSERT_TRUE(r);
  const auto half = ConfidenceSequenceHalfWidth(std::sqrt(4.0 / 50 + 9.0 / 60), 110, {});
  ASSERT_TRUE(half);
  EXPECT_DOUBLE_EQ(r->absolute.ci.upper - r->absolute.value, *half);
}

TEST(Sequential, RejectsBadInput) {
  EXPECT_EQ(ConfidenceSequenceHalfWidth(0.1, 0, {}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConfidenceSequenceHalfWidth(-1, 10, {}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ConfidenceSequenceHalfWidth(0.1, 10, {.alpha = 1.5}));
  EXPECT_FALSE(ConfidenceSequenceHalfWidth(0.1, 10, {.tuning_units = 0}));
  EXPECT_FALSE(SequentialProportions({10, 11}, {10, 1}));
  EXPECT_FALSE(SequentialMeans({1, 0, 1}, {10, 0, 1}));
}

// 1,000 A/A tests read after every 100 units up to 2,000: the confidence sequence keeps the
// chance of ever declaring a difference within alpha (plus two binomial standard errors of the
// simulation), while the naive z-test at the same 20 peeks does not.
TEST(Sequential, PeekingKeepsFalsePositiveRate) {
  AaSimulationConfig config;
  config.tests = 1000;
  config.seed = 7;
  const AaSimulationResult r = SimulateAaPeeking(config);
  const double bound = 0.05 + 2 * std::sqrt(0.05 * 0.95 / config.tests);
  EXPECT_LE(r.sequential_rate(), bound);
  EXPECT_GT(r.naive_rate(), bound);
  RecordProperty("sequential_fpr", std::to_string(r.sequential_rate()));
  RecordProperty("naive_fpr", std::to_string(r.naive_rate()));
}

}  // namespace
}  // namespace falaj::abtest
