#include "abtest/assignment.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "abtest/statistics.h"

namespace falaj::abtest {
namespace {

Assignment Make(std::vector<double> weights, double coverage = 1.0,
                std::string salt = "checkout-test") {
  auto a = Assignment::Create({std::move(salt), std::move(weights), coverage});
  EXPECT_TRUE(a) << a.error().message;
  return std::move(*a);
}

std::vector<int64_t> Counts(const Assignment& a, int units) {
  std::vector<int64_t> counts(a.arm_count(), 0);
  for (int i = 0; i < units; ++i) {
    const auto arm = a.ArmFor("user-" + std::to_string(i));
    if (arm) ++counts[*arm];
  }
  return counts;
}

// A million ids split by `weights` pass a chi-square goodness-of-fit test at the SRM threshold;
// returns the share of the first arm.
double ExpectSplitFollowsWeights(std::vector<double> weights) {
  const Assignment a = Make(weights);
  const std::vector<int64_t> counts = Counts(a, 1000000);
  const auto srm = SampleRatioMismatch(counts, weights);
  EXPECT_TRUE(srm);
  EXPECT_GT(srm->p_value, 0.001) << counts[0] << " / " << counts[1];
  return static_cast<double>(counts[0]) / 1e6;
}

TEST(Assignment, EvenSplitIsUniform) { EXPECT_NEAR(ExpectSplitFollowsWeights({1, 1}), 0.5, 0.002); }

TEST(Assignment, WeightsAreRespected) {
  EXPECT_NEAR(ExpectSplitFollowsWeights({10, 90}), 0.1, 0.002);
}

// Stickiness: the same id gets the same arm every call and from an independently built
// Assignment (another replica, or after a restart).
TEST(Assignment, SameIdSameArm) {
  const Assignment a = Make({1, 1, 2});
  const Assignment replica = Make({1, 1, 2});
  for (int i = 0; i < 10000; ++i) {
    const std::string id = "account-" + std::to_string(i);
    const auto arm = a.ArmFor(id);
    ASSERT_TRUE(arm);
    EXPECT_EQ(a.ArmFor(id), arm);
    EXPECT_EQ(replica.ArmFor(id), arm);
  }
}

TEST(Assignment, SaltChangesTheSplit) {
  const Assignment a = Make({1, 1}, 1.0, "test-a");
  const Assignment b = Make({1, 1}, 1.0, "test-b");
  int same = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = std::to_string(i);
    same += a.ArmFor(id) == b.ArmFor(id);
  }
  // Independent salts agree about half the time.
  EXPECT_GT(same, 4500);
  EXPECT_LT(same, 5500);
}

// Raising coverage only adds units: nobody already in the test changes arm.
TEST(Assignment, RampingCoverageNeverMovesUnits) {
  const Assignment low = Make({1, 1}, 0.2);
  const Assignment high = Make({1, 1}, 0.8);
  int in_low = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string id = "u" + std::to_string(i);
    if (const auto arm = low.ArmFor(id)) {
      ++in_low;
      EXPECT_EQ(high.ArmFor(id), arm);
    }
  }
  EXPECT_NEAR(in_low / 20000.0, 0.2, 0.02);
}

TEST(Assignment, EmptyKeyAndBadConfig) {
  EXPECT_FALSE(Make({1, 1}).ArmFor("").has_value());
  EXPECT_FALSE(Assignment::Create({"s", {}, 1.0}));
  EXPECT_FALSE(Assignment::Create({"s", {1, -1}, 1.0}));
  EXPECT_FALSE(Assignment::Create({"s", {1, 1}, 1.5}));
}

// GrowthBook's own SDK test vectors (packages/sdk-js/test/cases.json, "hash", version 2) and
// the FNV-1a reference values of Landon Curt Noll's test suite.
TEST(Assignment, MatchesGrowthBookVectors) {
  EXPECT_EQ(Fnv1a32(""), 0x811C9DC5u);
  EXPECT_EQ(Fnv1a32("a"), 0xE40C292Cu);
  EXPECT_EQ(Fnv1a32("foobar"), 0xBF9CF968u);
  EXPECT_EQ(Fnv1a32("a") % 1000, 220u);  // GrowthBook hash v1 of ("", "a") is 0.22
  EXPECT_EQ(HashV2("seed", "a"), 0.0505);
  EXPECT_EQ(HashV2("seed", "b"), 0.2696);
  EXPECT_EQ(HashV2("foo", "ab"), 0.2575);
  EXPECT_EQ(HashV2("foo", "def"), 0.2019);
  EXPECT_EQ(HashV2("89123klj", "8952klfjas09ujkasdf"), 0.124);
  EXPECT_EQ(HashV2("90850943850283058242805", "123"), 0.7516);
  EXPECT_EQ(HashV2("()**(%$##$%#$#", "___)((*\":&"), 0.0128);
}

TEST(Assignment, MalformedUtf8IsStable) {
  const std::string bad = "\xff\xc3";
  EXPECT_EQ(Fnv1a32(bad), Fnv1a32(bad));
  // Each bad byte hashes as U+FFFD.
  EXPECT_EQ(Fnv1a32(bad), Fnv1a32("\xef\xbf\xbd\xef\xbf\xbd"));
}

}  // namespace
}  // namespace falaj::abtest
