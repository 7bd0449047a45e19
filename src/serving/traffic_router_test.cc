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

// The value of one sample in the registry's exposition text (the series named with its labels,
// as rendered); -1 when absent.
double Sample(const metrics::Registry& metrics, const std::string& series) {
  const std::string text = metrics.Render();
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
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
    const InferRequest request = WithUnit(unit);  // the pick's unit is a view into it
    auto pick = router->Choose(request, weights);
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
  metrics::Registry metrics;
  ArmStatsRegistry registry(metrics);
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

// The Prometheus series carry the same counts as the counters the traffic API and the canary
// controller read.
TEST(ArmStatsTest, MetricsEqualTheArmsCounters) {
  metrics::Registry metrics;
  ArmStatsRegistry registry(metrics);
  Endpoint endpoint = TwoArms(1, 1);
  endpoint.project = "p";
  endpoint.traffic.assignment.unit_key.clear();
  auto router = TrafficRouter::Create(endpoint);
  ASSERT_TRUE(router);
  const std::vector<std::string> arms = ArmNames(endpoint);
  const std::vector<int64_t> weights = EffectiveWeights(endpoint);
  constexpr int kRequests = 400;
  for (int i = 0; i < kRequests; ++i) {
    auto pick = router->Choose(InferRequest{}, weights);
    ASSERT_TRUE(pick);
    // Every seventh request fails, so errors are counted on both arms too.
    registry.For("p", "e", arms[pick->arm])->Record(i % 7 != 0, 100 + i);
  }
  registry.For("p", "e", "b")->RecordShadow(true);
  registry.For("p", "e", "b")->RecordShadow(false);
  registry.For("p", "e", "b")->RecordShadowDropped();

  int64_t total = 0;
  for (const ArmSnapshot& arm : registry.Snapshot("p", "e", arms)) {
    const std::string labels = R"({project="p",endpoint="e",arm=")" + arm.arm + "\"";
    EXPECT_GT(arm.requests, 0) << arm.arm;
    EXPECT_EQ(Sample(metrics, "falaj_endpoint_arm_requests_total" + labels + "}"), arm.requests);
    EXPECT_EQ(Sample(metrics, "falaj_endpoint_arm_errors_total" + labels + "}"), arm.errors);
    EXPECT_EQ(Sample(metrics, "falaj_endpoint_arm_request_duration_seconds_count" + labels + "}"),
              arm.requests);
    const int64_t shadow_ok = arm.shadow_requests - arm.shadow_errors;
    EXPECT_EQ(
        Sample(metrics, "falaj_endpoint_arm_shadow_requests_total" + labels + R"(,result="ok"})"),
        shadow_ok);
    EXPECT_EQ(Sample(metrics,
                     "falaj_endpoint_arm_shadow_requests_total" + labels + R"(,result="failed"})"),
              arm.shadow_errors);
    EXPECT_EQ(Sample(metrics,
                     "falaj_endpoint_arm_shadow_requests_total" + labels + R"(,result="dropped"})"),
              arm.shadow_dropped);
    total += arm.requests;
  }
  EXPECT_EQ(total, kRequests);
}

// Weights follow the endpoint as stored: a ramping canary's step share, and 0 for an arm the
// endpoint no longer has.
TEST(ArmStatsTest, PublishSetsWeightsAndCanaryStep) {
  metrics::Registry metrics;
  ArmStatsRegistry registry(metrics);
  Endpoint endpoint = TwoArms(3, 1);
  endpoint.project = "p";
  registry.Publish(endpoint);
  const std::string weight = R"(falaj_endpoint_arm_weight{project="p",endpoint="e",arm=")";
  const std::string step = R"(falaj_endpoint_canary_step{project="p",endpoint="e"})";
  EXPECT_EQ(Sample(metrics, weight + R"(a"})"), 3);
  EXPECT_EQ(Sample(metrics, weight + R"(b"})"), 1);
  EXPECT_EQ(Sample(metrics, step), 0);

  endpoint.traffic.canary = CanaryPolicy{};
  endpoint.traffic.canary->arm = "b";
  endpoint.traffic.canary->baseline = "a";
  endpoint.traffic.canary->steps = {10, 50};
  endpoint.traffic.canary_state = CanaryState{};
  endpoint.traffic.canary_state->step = 1;
  registry.Publish(endpoint);
  const std::vector<int64_t> ramped = EffectiveWeights(endpoint);
  EXPECT_EQ(Sample(metrics, weight + R"(a"})"), ramped[0]);
  EXPECT_EQ(Sample(metrics, weight + R"(b"})"), ramped[1]);
  EXPECT_EQ(Sample(metrics, step), 2);

  endpoint.traffic = {};
  endpoint.targets.pop_back();
  registry.Publish(endpoint);
  EXPECT_EQ(Sample(metrics, weight + R"(a"})"), 3);
  EXPECT_EQ(Sample(metrics, weight + R"(b"})"), 0);
  EXPECT_EQ(Sample(metrics, step), 0);
}

}  // namespace
}  // namespace falaj::serving
