#include "tracking/run_filter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace falaj::tracking {
namespace {

Run SampleRun() {
  Run run;
  run.info.run_id = "0123456789abcdef0123456789abcdef";
  run.info.run_name = "Lucky-Run";
  run.info.status = "FINISHED";
  run.info.start_time_ms = 1000;
  run.latest_metrics = {{"auc", 0.9, 1, 0},
                        {"loss", std::numeric_limits<double>::quiet_NaN(), 1, 0}};
  run.params = {{"depth", "6"}};
  run.tags = {{"team", "risk"}, {"odd key", "it's"}};
  return run;
}

bool Matches(std::string_view filter) {
  auto parsed = RunFilter::Parse(filter);
  EXPECT_TRUE(parsed) << filter << ": " << parsed.error().message;
  return parsed && parsed->Matches(SampleRun());
}

TEST(RunFilterTest, EveryNumericComparator) {
  EXPECT_TRUE(Matches("metrics.auc = 0.9"));
  EXPECT_TRUE(Matches("metrics.auc != 0.8"));
  EXPECT_TRUE(Matches("metrics.auc < 1"));
  EXPECT_TRUE(Matches("metrics.auc <= 0.9"));
  EXPECT_TRUE(Matches("metrics.auc > 0.8"));
  EXPECT_TRUE(Matches("metrics.auc >= 0.9"));
  EXPECT_FALSE(Matches("metrics.auc > 0.9"));
  EXPECT_FALSE(Matches("metrics.auc < 9e-1"));
  EXPECT_TRUE(Matches("attributes.start_time >= 1000"));
  EXPECT_FALSE(Matches("attributes.end_time > 0"));  // no end time: never matches
}

TEST(RunFilterTest, NanAndMissingKeysNeverCompareTrueExceptNotEqual) {
  EXPECT_FALSE(Matches("metrics.loss > 0"));
  EXPECT_FALSE(Matches("metrics.loss = 0"));
  EXPECT_TRUE(Matches("metrics.loss != 0"));
  EXPECT_FALSE(Matches("metrics.missing != 0"));
}

TEST(RunFilterTest, StringsAndQuoting) {
  EXPECT_TRUE(Matches("params.depth = '6' and tags.team = \"risk\""));
  EXPECT_TRUE(Matches("params.depth != '7'"));
  EXPECT_TRUE(Matches("tags.`odd key` = 'it''s'"));
  EXPECT_TRUE(Matches("tags.\"odd key\" = 'it\\'s'"));
  EXPECT_TRUE(Matches("attributes.status = 'FINISHED' AND run.run_name LIKE 'Lucky%'"));
  EXPECT_FALSE(Matches("attributes.run_name LIKE 'lucky%'"));
  EXPECT_TRUE(Matches("attributes.run_name ILIKE 'lucky_run'"));
  EXPECT_TRUE(Matches("tags.team LIKE '%i%k'"));
  EXPECT_TRUE(Matches("attributes.run_id = '0123456789abcdef0123456789abcdef'"));
  EXPECT_TRUE(Matches("   "));
}

TEST(RunFilterTest, PercentIsAWildcardEvenOverALiteralPercent) {
  tracking::Run run = SampleRun();
  run.tags["team"] = "a%b";
  auto matches = [&](std::string_view filter) { return RunFilter::Parse(filter)->Matches(run); };
  EXPECT_TRUE(matches("tags.team LIKE 'a%'"));
  EXPECT_TRUE(matches("tags.team LIKE '%b'"));
  EXPECT_TRUE(matches("tags.team ILIKE 'A%B'"));
  EXPECT_FALSE(matches("tags.team LIKE 'a_'"));
}

void ExpectError(std::string_view filter, std::string_view fragment) {
  auto parsed = RunFilter::Parse(filter);
  ASSERT_FALSE(parsed) << filter;
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message.find(fragment), std::string::npos) << parsed.error().message;
}

TEST(RunFilterTest, MalformedFiltersNameThePosition) {
  ExpectError("metrics.auc >", "position 13");
  ExpectError("auc > 1", "position 0");
  ExpectError("metrics.auc > 1 or metrics.auc < 0", "position 16: expected AND");
  ExpectError("metrics.auc ~ 1", "position 12: expected a comparator");
  ExpectError("metrics.auc > '1'", "expected a number");
  ExpectError("params.depth = 6", "expected a quoted string");
  ExpectError("params.depth > '6'", "strings support only");
  ExpectError("metrics.auc LIKE 1", "LIKE and ILIKE");
  ExpectError("tags.team = 'risk", "unterminated string");
  ExpectError("attributes.colour = 'red'", "unknown run attribute");
  ExpectError("metrics. > 1", "expected a key");
  ExpectError("metrics.auc > 1; DROP TABLE tracking_runs", "position 15");
  ExpectError(std::string(20000, 'a'), "longer than");
  ExpectError(std::string("metrics.a > 1 and ") + '\0', "expected an identifier");
}

TEST(RunOrderTest, ParsesDirectionsAndRejectsJunk) {
  EXPECT_TRUE(RunOrder::Parse({"metrics.auc DESC", "attributes.start_time", "params.x asc"}));
  EXPECT_FALSE(RunOrder::Parse({"metrics.auc sideways"}));
  EXPECT_FALSE(RunOrder::Parse({"auc"}));
}

Experiment MakeExperiment(std::string id, std::string name, int64_t created,
                          std::map<std::string, std::string> tags = {}) {
  Experiment experiment;
  experiment.experiment_id = std::move(id);
  experiment.name = std::move(name);
  experiment.creation_time_ms = created;
  experiment.last_update_time_ms = created + 5;
  experiment.tags = std::move(tags);
  return experiment;
}

bool ExperimentMatches(std::string_view filter, const Experiment& experiment) {
  auto parsed = RunFilter::Parse(filter, SearchSubject::kExperiments);
  EXPECT_TRUE(parsed) << filter << ": " << parsed.error().message;
  return parsed && parsed->Matches(experiment);
}

TEST(ExperimentFilterTest, NamesAttributesWithOrWithoutPrefixAndTags) {
  Experiment fraud = MakeExperiment("3", "fraud-v2", 2000, {{"team", "risk"}});
  EXPECT_TRUE(ExperimentMatches("name = 'fraud-v2'", fraud));
  EXPECT_TRUE(ExperimentMatches("attributes.name LIKE 'fraud%'", fraud));
  EXPECT_TRUE(ExperimentMatches("name ILIKE 'FRAUD-%' and tags.team = 'risk'", fraud));
  EXPECT_TRUE(ExperimentMatches("creation_time >= 2000 and last_update_time < 2006", fraud));
  EXPECT_TRUE(ExperimentMatches("experiment_id = '3'", fraud));
  EXPECT_FALSE(ExperimentMatches("name != 'fraud-v2'", fraud));
  EXPECT_FALSE(ExperimentMatches("tags.missing = 'x'", fraud));
  EXPECT_FALSE(ExperimentMatches("creation_time > 2000", fraud));
}

TEST(ExperimentFilterTest, RefusesWhatExperimentsDoNotHave) {
  auto refused = [](std::string_view filter, std::string_view fragment) {
    auto parsed = RunFilter::Parse(filter, SearchSubject::kExperiments);
    ASSERT_FALSE(parsed) << filter;
    EXPECT_NE(parsed.error().message.find(fragment), std::string::npos) << parsed.error().message;
  };
  refused("metrics.auc > 1", "no metrics or params");
  refused("params.depth = '6'", "no metrics or params");
  refused("status = 'FINISHED'", "unknown experiment attribute 'status'");
  refused("attributes.run_name = 'x'", "unknown experiment attribute");
  refused("name > 'a'", "strings support only");
  refused("creation_time = 'yesterday'", "expected a number");
  refused("= 'x'", "expected an identifier");
  // Run searches still refuse experiment attributes.
  EXPECT_FALSE(RunFilter::Parse("attributes.name = 'x'"));
}

TEST(ExperimentOrderTest, DefaultsToNewestFirstThenIdsAsNumbers) {
  std::vector<Experiment> experiments = {
      MakeExperiment("2", "b", 100), MakeExperiment("10", "a", 300), MakeExperiment("9", "c", 300)};
  auto ids = [&](const RunOrder& order) {
    auto sorted = experiments;
    std::sort(sorted.begin(), sorted.end(),
              [&](const auto& a, const auto& b) { return order.Before(a, b); });
    std::vector<std::string> out;
    for (const auto& experiment : sorted) out.push_back(experiment.experiment_id);
    return out;
  };
  auto by_default = RunOrder::Parse({}, SearchSubject::kExperiments);
  ASSERT_TRUE(by_default);
  EXPECT_EQ(ids(*by_default), (std::vector<std::string>{"9", "10", "2"}));
  auto by_name = RunOrder::Parse({"name DESC"}, SearchSubject::kExperiments);
  ASSERT_TRUE(by_name);
  EXPECT_EQ(ids(*by_name), (std::vector<std::string>{"9", "2", "10"}));
  auto by_id = RunOrder::Parse({"experiment_id DESC"}, SearchSubject::kExperiments);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(ids(*by_id), (std::vector<std::string>{"10", "9", "2"}));
  EXPECT_FALSE(RunOrder::Parse({"metrics.auc"}, SearchSubject::kExperiments));
}

}  // namespace
}  // namespace falaj::tracking
