#include "training/asha.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "training/asha_reference.h"

namespace falaj::training {
namespace {

TEST(AshaTest, RungsAreGeometricBelowMaxResource) {
  EXPECT_EQ(AshaRungs({1, 3, 81}), (std::vector<int>{1, 3, 9, 27}));
  EXPECT_EQ(AshaRungs({1, 3, 82}), (std::vector<int>{1, 3, 9, 27, 81}));
  EXPECT_EQ(AshaRungs({2, 2, 16}), (std::vector<int>{2, 4, 8}));
  EXPECT_EQ(AshaRungs({5, 4, 6}), (std::vector<int>{5}));
  EXPECT_EQ(AshaRungs({1, 1000, 1 << 30}).size(), 4u);  // no overflow on the way up
}

TEST(AshaTest, ConfigErrorsNameTheField) {
  EXPECT_NE(ValidateAshaConfig({0, 3, 10}).error().message.find("asha.min_resource"),
            std::string::npos);
  EXPECT_NE(ValidateAshaConfig({1, 1, 10}).error().message.find("asha.reduction_factor"),
            std::string::npos);
  EXPECT_NE(ValidateAshaConfig({10, 3, 10}).error().message.find("asha.max_resource"),
            std::string::npos);
  EXPECT_TRUE(ValidateAshaConfig({1, 3, 10}));
}

TEST(AshaTest, QuantileInterpolatesLikeNumpy) {
  // numpy.percentile([0.5, 0.7, 0.9], 100 * 2/3) = 0.7666…; ([1, 2, 3, 4], 50) = 2.5.
  EXPECT_DOUBLE_EQ(InterpolatedQuantile({0.5, 0.7, 0.9}, 2, 3), 0.7 + 0.2 / 3);
  EXPECT_DOUBLE_EQ(InterpolatedQuantile({1, 2, 3, 4}, 1, 2), 2.5);
  EXPECT_DOUBLE_EQ(InterpolatedQuantile({1, 2, 3, 4}, 2, 3), 3.0);
  EXPECT_DOUBLE_EQ(InterpolatedQuantile({7}, 2, 3), 7.0);
}

TEST(AshaTest, AHandWorkedRung) {
  AshaScheduler asha({1, 3, 27}, /*higher_is_better=*/true);
  EXPECT_FALSE(asha.OnReport(1, 1, 0.5).stop);  // the first at a rung always goes on
  EXPECT_FALSE(asha.OnReport(2, 1, 0.9).stop);  // cutoff 0.5
  EXPECT_TRUE(asha.OnReport(3, 1, 0.7).stop);   // cutoff of {0.5, 0.9} at 2/3 = 0.7667
  // Now {0.5, 0.7, 0.9}: cutoff 0.7667 again.
  AshaDecision low = asha.OnReport(4, 1, 0.75);
  EXPECT_TRUE(low.stop);
  EXPECT_EQ(low.rung, 1);
  EXPECT_NEAR(*low.cutoff, 0.7 + 0.2 / 3, 1e-12);
  // Recorded values {0.5, 0.7, 0.75, 0.9}: cutoff at position 2 exactly = 0.75; equal goes on.
  EXPECT_FALSE(asha.OnReport(5, 1, 0.75).stop);
  // Steps between rungs decide nothing, and a trial is judged once per rung.
  EXPECT_FALSE(asha.OnReport(2, 2, 0.0).rung.has_value());
  EXPECT_FALSE(asha.OnReport(2, 3, 0.95).stop);
  EXPECT_FALSE(asha.OnReport(2, 3, 0.0).stop);
  EXPECT_TRUE(asha.OnReport(6, 1, std::nan("")).stop);  // NaN is stopped, not recorded
}

TEST(AshaTest, MinimisingFlipsTheComparison) {
  AshaScheduler asha({1, 2, 8}, /*higher_is_better=*/false);
  EXPECT_FALSE(asha.OnReport(1, 1, 0.30).stop);
  EXPECT_TRUE(asha.OnReport(2, 1, 0.40).stop);        // larger loss than the median of {0.30}
  EXPECT_FALSE(asha.OnReport(3, 1, 0.20).stop);       // smaller
  AshaDecision decision = asha.OnReport(4, 1, 0.35);  // {0.2, 0.3, 0.4}: median 0.3
  EXPECT_TRUE(decision.stop);
  EXPECT_DOUBLE_EQ(*decision.cutoff, 0.30);
}

// Random interleavings of many trials, with small integer values so that ties with recorded
// values and with interpolated cutoffs happen often (and are exact in floating point); every
// decision must equal the brute-force replay of the rule.
TEST(AshaTest, DecisionsEqualABruteForceReplay) {
  std::mt19937_64 rng(2024);
  int stops = 0, decisions = 0;
  for (int round = 0; round < 200; ++round) {
    const AshaConfig config{1 + static_cast<int>(rng() % 3), 2 + static_cast<int>(rng() % 3),
                            20 + static_cast<int>(rng() % 60)};
    const bool higher = rng() % 2 == 0;
    AshaScheduler asha(config, higher);
    AshaReplay replay(config, higher);
    const int trials = 2 + static_cast<int>(rng() % 30);
    std::vector<int> step(static_cast<size_t>(trials) + 1, 0);
    std::vector<bool> done(static_cast<size_t>(trials) + 1, false);
    int live = trials;
    while (live > 0) {
      const int trial = 1 + static_cast<int>(rng() % static_cast<uint64_t>(trials));
      if (done[static_cast<size_t>(trial)]) continue;
      const int next = ++step[static_cast<size_t>(trial)];
      const double value = static_cast<double>(rng() % 11);
      const AshaDecision decision = asha.OnReport(trial, next, value);
      ASSERT_EQ(decision.stop, replay.Stop(trial, next, value))
          << "config " << config.min_resource << "," << config.reduction_factor << ","
          << config.max_resource << " higher " << higher << " cutoff "
          << decision.cutoff.value_or(-1) << " rung " << decision.rung.value_or(-1) << " round "
          << round << " trial " << trial << " step " << next << " value " << value;
      ++decisions;
      if (decision.stop || next >= config.max_resource) {
        stops += decision.stop;
        done[static_cast<size_t>(trial)] = true;
        --live;
      }
    }
  }
  // The replay must have exercised both answers many times.
  EXPECT_GT(stops, 500);
  EXPECT_GT(decisions, 10 * stops);
}

}  // namespace
}  // namespace falaj::training
