#include "training/tuning_spec.h"

#include <gtest/gtest.h>

#include "training/tuning_test_support.h"

namespace falaj::training {
namespace {

using nlohmann::json;

json FullSpec() {
  return {{"space", QualitySpace()},
          {"algorithm", "asha"},
          {"max_trials", 40},
          {"max_seconds", 90.5},
          {"parallelism", 4},
          {"seed", 7},
          {"asha", {{"min_resource", 2}, {"reduction_factor", 4}, {"max_resource", 128}}},
          {"metric", "logloss"},
          {"direction", "minimize"},
          {"experiment", "churn-tuning"},
          {"train", {{"dataset", "churn"}, {"target", "left"}}}};
}

TEST(TuningSpecTest, ParsesEveryField) {
  auto spec = ParseTuningSpec(FullSpec());
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->algorithm, Algorithm::kAsha);
  EXPECT_EQ(spec->max_trials, 40);
  EXPECT_EQ(spec->max_seconds, 90.5);
  EXPECT_EQ(spec->parallelism, 4);
  EXPECT_EQ(spec->seed, 7u);
  EXPECT_EQ(spec->asha.min_resource, 2);
  EXPECT_EQ(spec->asha.reduction_factor, 4);
  EXPECT_EQ(spec->asha.max_resource, 128);
  EXPECT_EQ(spec->metric, "logloss");
  EXPECT_EQ(spec->higher_is_better, false);
  EXPECT_EQ(spec->experiment, "churn-tuning");
  EXPECT_EQ(spec->train, FullSpec()["train"]);
  ASSERT_EQ(spec->space.params().size(), 1u);
  // The spec's metric and direction override the runner's.
  CurveRunner runner;
  StudyOptions options = MakeStudyOptions(*spec, runner);
  EXPECT_EQ(options.metric, "logloss");
  EXPECT_FALSE(options.higher_is_better);
  EXPECT_EQ(options.asha.max_resource, 128);
}

TEST(TuningSpecTest, DefaultsAreRandomSearchWithTheRunnersMetric) {
  auto spec = ParseTuningSpec({{"space", QualitySpace()}});
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->algorithm, Algorithm::kRandom);
  EXPECT_EQ(spec->max_trials, 20);
  EXPECT_EQ(spec->parallelism, 1);
  EXPECT_FALSE(spec->max_seconds);
  EXPECT_EQ(spec->asha.max_resource, 0);  // the training spec's own length
  CurveRunner runner;
  StudyOptions options = MakeStudyOptions(*spec, runner);
  EXPECT_EQ(options.metric, "auc");
  EXPECT_TRUE(options.higher_is_better);
  // Random search may cap trials through asha.max_resource alone.
  auto capped = ParseTuningSpec({{"space", QualitySpace()}, {"asha", {{"max_resource", 50}}}});
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->asha.max_resource, 50);
}

TEST(TuningSpecTest, BadSpecsNameTheField) {
  auto with = [](const char* key, json value) {
    json spec = FullSpec();
    spec[key] = std::move(value);
    return spec;
  };
  json no_asha = FullSpec();
  no_asha.erase("asha");
  json no_space = FullSpec();
  no_space.erase("space");
  const std::vector<std::pair<json, std::string>> cases = {
      {json::array(), "object"},
      {no_space, "'space'"},
      {with("space", {{"q", {{"type", "uniform"}}}}), "'space.q.low'"},
      {with("algorithm", "tpe"), "'algorithm'"},
      {with("max_trials", 0), "'max_trials'"},
      {with("max_trials", "many"), "'max_trials'"},
      {with("max_seconds", -1), "'max_seconds'"},
      {with("parallelism", 1000), "'parallelism'"},
      {with("seed", -3), "'seed'"},
      {with("seed", 1.5), "'seed'"},
      {no_asha, "'asha'"},
      {with("asha", {{"max_resource", 10}, {"reduction_factor", 1}}), "'asha.reduction_factor'"},
      {with("asha", {{"max_resource", 10}, {"min_resource", "1"}}), "'asha.min_resource'"},
      {with("asha", {{"min_resource", 5}, {"max_resource", 5}}), "'asha.max_resource'"},
      {with("asha", {{"max_resource", 5}, {"grace", 2}}), "'asha.grace'"},
      {with("asha", 3), "'asha'"},
      {with("metric", ""), "'metric'"},
      {with("direction", "up"), "'direction'"},
      {with("experiment", 5), "'experiment'"},
      {with("train", "x"), "'train'"},
      {with("trials", 5), "'trials'"},
  };
  for (const auto& [spec, field] : cases) {
    auto parsed = ParseTuningSpec(spec);
    ASSERT_FALSE(parsed) << spec.dump();
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(field), std::string::npos)
        << field << " not in: " << parsed.error().message;
  }
}

}  // namespace
}  // namespace falaj::training
