#include "serving/traffic_policy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace falaj::serving {
namespace {

const std::vector<std::string> kArms = {"champion", "challenger", "dark"};

Result<TrafficPolicy> Parse(const char* text) {
  return TrafficPolicyFromJson(nlohmann::json::parse(text), PolicySource::kBody);
}

std::string ErrorOf(const char* text) {
  auto policy = Parse(text);
  if (!policy) return policy.error().message;
  auto valid = ValidateTrafficPolicy(*policy, kArms);
  return valid ? "" : valid.error().message;
}

TEST(TrafficPolicyTest, AFullPolicyRoundTripsWithItsServerState) {
  auto policy = Parse(R"({"assignment": {"unit_key": "user_id", "required": true},
      "shadow": [{"arm": "dark", "percent": 12.5}],
      "canary": {"arm": "challenger", "baseline": "champion", "steps": [1, 5, 100],
                 "step_seconds": 60, "guardrails": {"max_error_rate": 0.01,
                 "max_p99_latency_ms": 50, "min_requests": 10,
                 "monitored": [{"name": "monitor.x.drift.share", "max": 0.3}]}}})");
  ASSERT_TRUE(policy) << policy.error().message;
  ASSERT_TRUE(ValidateTrafficPolicy(*policy, kArms));
  policy->salt = "00ff";
  policy->canary_state = CanaryState{"ramping", 1, 1234, 0, ""};
  auto stored = TrafficPolicyFromJson(TrafficPolicyToJson(*policy), PolicySource::kStored);
  ASSERT_TRUE(stored);
  EXPECT_EQ(TrafficPolicyToJson(*stored), TrafficPolicyToJson(*policy));
  EXPECT_TRUE(SameCanary(*stored->canary, *policy->canary));
  EXPECT_EQ(stored->canary_state->step, 1u);
  EXPECT_EQ(stored->salt, "00ff");
}

TEST(TrafficPolicyTest, ClientsCannotSetTheSaltOrTheCanaryProgress) {
  EXPECT_NE(ErrorOf(R"({"salt": "x"})").find("salt"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"canary_state": {}})").find("canary_state"), std::string::npos);
}

TEST(TrafficPolicyTest, BadPoliciesAreRefusedNamingTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"shadow": [{"arm": "ghost"}]})", "shadow arm 'ghost'"},
      {R"({"shadow": [{"arm": "dark", "percent": 100.5}]})", "between 0 and 100"},
      {R"({"shadow": [{"arm": "dark"}, {"arm": "dark"}]})", "twice"},
      {R"({"canary": {"arm": "challenger", "baseline": "champion", "steps": [5, 5, 100]}})",
       "strictly increasing"},
      {R"({"canary": {"arm": "challenger", "baseline": "champion", "steps": [5, 50]}})",
       "must be 100"},
      {R"({"canary": {"arm": "challenger", "baseline": "challenger", "steps": [100]}})",
       "must differ"},
      {R"({"canary": {"arm": "challenger", "baseline": "champion", "steps": [100],
           "guardrails": {"max_error_rate": -0.1}}})",
       "[0, 1]"},
      {R"({"canary": {"arm": "challenger", "baseline": "champion", "steps": [100],
           "guardrails": {"max_p99_latency_ms": 0}}})",
       "positive"},
      {R"({"canary": {"arm": "challenger", "baseline": "champion", "steps": "all"}})",
       "percentages"},
      {R"({"assignment": {"unit_key": "a\nb"}})", "'unit_key'"},
      {R"({"assignment": {"unit_key": "u", "salt": "s"}})", "salt"},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_NE(ErrorOf(text).find(expected), std::string::npos) << text << " → " << ErrorOf(text);
  }
  EXPECT_EQ(ErrorOf(R"({})"), "");
}

}  // namespace
}  // namespace falaj::serving
