#include "serving/traffic_router.h"

#include <gtest/gtest.h>

#include "serving/arm_stats.h"

namespace falaj::serving {
namespace {

Endpoint TwoArms(int64_t first, int64_t second) {
  Endpoint endpoint;
  endpoint.name = "e";
  endpoint.targets = {{"a", "m", 1, "", first}, {"b", "m", 2, "", second}};
  endpoint.traffic.salt = "salt";
  endpoint.traffic.assignment.unit_key = "user";
  return endpoint;
}

InferRequest WithUnit(std::string unit) {
  InferRequest request;
  if (!unit.empty()) request.parameters.emplace_back("user", std::move(unit));
  return request;
}

TEST(TrafficRouterTest, AUnitAlwaysGetsTheArmItsHashBucketFallsIn) {
  const Endpoint endpoint = TwoArms(1, 3);
  auto router = TrafficRouter::Create(endpoint);
  ASSERT_TRUE(router);
  const auto weights = EffectiveWeights(endpoint);
  for (int i = 0; i < 500; ++i) {
    const std::string unit = "u" + std::to_string(i);
    auto pick = router->Choose(WithUnit(unit), weights);
    ASSERT_TRUE(pick);
    EXPECT_EQ(pick->unit, unit);
    const double bucket = abtest::HashV2("salt", unit);
    EXPECT_EQ(pick->arm, bucket < 0.25 ? 0u : 1u) << unit;
    EXPECT_EQ(router->Choose(WithUnit(unit), weights)->arm, pick->arm);
  }
}

TEST(TrafficRouterTest, RampingACanaryOnlyMovesUnitsOntoIt) {
  Endpoint endpoint = TwoArms(1, 0);
  endpoint.traffic.canary = CanaryPolicy{"b", "a", {10, 50, 100}, 60, {}};
  endpoint.traffic.canary_state = CanaryState{};
  std::vector<size_t> previous;
  for (size_t step = 0; step < 3; ++step) {
    endpoint.traffic.canary_state->step = step;
    auto router = TrafficRouter::Create(endpoint);
    ASSERT_TRUE(router);
    const auto weights = EffectiveWeights(endpoint);
    std::vector<size_t> arms;
    for (int i = 0; i < 300; ++i) {
      arms.push_back(router->Choose(WithUnit("u" + std::to_string(i)), weights)->arm);
      if (!previous.empty() && previous[i] == 1) {
        EXPECT_EQ(arms.back(), 1u);
      }
    }
    previous = arms;
  }
  for (size_t arm : previous) EXPECT_EQ(arm, 1u);  // at 100 % everyone is on the canary
}

TEST(TrafficRouterTest, MissingOrOversizedUnitsFallBackOrAreRefused) {
  Endpoint endpoint = TwoArms(1, 1);
  auto weights = EffectiveWeights(endpoint);
  auto router = TrafficRouter::Create(endpoint);
  ASSERT_TRUE(router);
  EXPECT_TRUE(router->Choose(WithUnit(""), weights));
  auto huge = router->Choose(WithUnit(std::string(kMaxUnitLength + 1, 'x')), weights);
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, ErrorCode::kInvalidArgument);
  endpoint.traffic.assignment.required = true;
  auto strict = TrafficRouter::Create(endpoint);
  auto missing = strict->Choose(WithUnit(""), weights);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("'user'"), std::string::npos);
}

TEST(TrafficRouterTest, ShadowsMirrorTheirShareAndNeverThePrimary) {
  Endpoint endpoint = TwoArms(1, 0);
  endpoint.traffic.shadows = {{"b", 100}};
  auto router = TrafficRouter::Create(endpoint);
  std::vector<size_t> mirrors;
  router->Mirrors(0, mirrors);
  EXPECT_EQ(mirrors, std::vector<size_t>{1});
  router->Mirrors(1, mirrors);
  EXPECT_TRUE(mirrors.empty());
  endpoint.traffic.shadows = {{"b", 0}};
  EXPECT_FALSE(TrafficRouter::Create(endpoint)->has_shadows());
}

TEST(ArmStatsTest, CountsAndStepPercentiles) {
  ArmStatsRegistry registry;
  auto arm = registry.For("p", "e", "a");
  EXPECT_EQ(arm, registry.For("p", "e", "a"));
  for (int i = 0; i < 98; ++i) arm->Record(true, 100);
  arm->Record(false, 100);
  arm->Record(true, 1'000'000);
  arm->RecordShadow(false);
  arm->RecordShadowDropped();
  ArmSnapshot snapshot = arm->Snapshot("a");
  EXPECT_EQ(snapshot.requests, 100);
  EXPECT_EQ(snapshot.errors, 1);
  EXPECT_EQ(snapshot.shadow_requests, 1);
  EXPECT_EQ(snapshot.shadow_errors, 1);
  EXPECT_EQ(snapshot.shadow_dropped, 1);
  // 99 of 100 answers took 100 µs: the p99 bucket's upper bound is within 25 % of it.
  EXPECT_GE(snapshot.step_p99_ms, 0.1);
  EXPECT_LE(snapshot.step_p99_ms, 0.125);
  registry.ResetStep("p", "e");
  snapshot = arm->Snapshot("a");
  EXPECT_EQ(snapshot.step_requests, 0);
  EXPECT_EQ(snapshot.step_p99_ms, 0);
  EXPECT_EQ(snapshot.requests, 100);  // totals survive a new step
}

}  // namespace
}  // namespace falaj::serving
