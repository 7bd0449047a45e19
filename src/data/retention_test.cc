#include "data/retention.h"

#include <gtest/gtest.h>

#include <set>

namespace falaj::data {
namespace {

using nlohmann::json;

TEST(RetentionPolicyTest, ParsesDaysPerClassAndAnOptionalDefault) {
  auto policy = ParseRetentionPolicy(json{{"default_days", 365}, {"classes", {{"pii", 30}}}});
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(policy->default_days, 365);
  EXPECT_EQ(policy->classes.at("pii"), 30);
  auto no_default =
      ParseRetentionPolicy(json{{"default_days", nullptr}, {"classes", {{"health", 0}}}});
  ASSERT_TRUE(no_default);
  EXPECT_FALSE(no_default->default_days.has_value());
  EXPECT_EQ(RetentionPolicyJson(*no_default),
            (json{{"default_days", nullptr}, {"classes", {{"health", 0}}}}));
}

TEST(RetentionPolicyTest, RefusesMalformedPoliciesNamingTheProblem) {
  const std::pair<json, std::string_view> cases[] = {
      {json::object(), "must be a JSON object setting"},
      {json::array(), "must be a JSON object setting"},
      {json{{"classes", {{"secret", 3}}}}, "unknown data class 'secret'"},
      {json{{"classes", {{"pii", -1}}}}, "'classes.pii' must be a whole number"},
      {json{{"classes", json::array({"pii"})}}, "'classes' must be an object"},
      {json{{"default_days", "30"}}, "'default_days' must be a whole number"},
      {json{{"default_days", 2.5}}, "'default_days' must be a whole number"},
      {json{{"default_days", kMaxRetentionDays + 1}}, "0 to 36500"},
      {json{{"default_days", 1}, {"keep", true}}, "unknown field 'keep'"},
  };
  for (const auto& [body, needle] : cases) {
    auto policy = ParseRetentionPolicy(body);
    ASSERT_FALSE(policy.has_value()) << body.dump();
    EXPECT_EQ(policy.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(policy.error().message.find(needle), std::string::npos) << policy.error().message;
  }
}

TEST(PinsInLineageTest, FindsDatasetReferencesAtAnyDepth) {
  json lineage = {{"run_id", "r1"},
                  {"training", {{"dataset", "labels"}, {"version", 4}}},
                  {"inputs", json::array({json{{"dataset", "events"}, {"version", 2}},
                                          json{{"dataset", "bad"}, {"version", "2"}},
                                          json{{"dataset", 7}, {"version", 2}}})}};
  auto pins = PinsInLineage(lineage, "model m version 1");
  ASSERT_EQ(pins.size(), 2u);
  std::set<std::pair<std::string, int64_t>> found;
  for (const auto& pin : pins) {
    found.emplace(pin.dataset, pin.version);
    EXPECT_EQ(pin.by, "model m version 1");
  }
  EXPECT_EQ(found, (std::set<std::pair<std::string, int64_t>>{{"labels", 4}, {"events", 2}}));
  EXPECT_TRUE(PinsInLineage(json::object(), "x").empty());
}

}  // namespace
}  // namespace falaj::data
