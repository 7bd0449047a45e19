// TuningJob in process on real stores: the study runs over the shared prepared data, the best
// configuration is retrained with the trial's parameters and registered with lineage to the
// dataset version, the study and the best trial; bad specs name the field.
#include "training/tuning_job.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <random>

#include "training/training_test_support.h"

namespace falaj::training {
namespace {

using json = nlohmann::json;

std::shared_ptr<arrow::Table> MakeTable(int64_t n) {
  std::mt19937 random(11);
  std::uniform_real_distribution<double> uniform(-1, 1);
  arrow::DoubleBuilder a, b;
  arrow::Int64Builder label;
  for (int64_t i = 0; i < n; ++i) {
    const double x = uniform(random), y = uniform(random);
    EXPECT_TRUE(a.Append(x).ok() && b.Append(y).ok());
    EXPECT_TRUE(label.Append(x * x + y - 0.3 + 0.3 * uniform(random) > 0 ? 1 : 0).ok());
  }
  std::vector<std::shared_ptr<arrow::Array>> arrays(3);
  EXPECT_TRUE(a.Finish(&arrays[0]).ok() && b.Finish(&arrays[1]).ok() &&
              label.Finish(&arrays[2]).ok());
  auto schema =
      arrow::schema({arrow::field("a", arrow::float64()), arrow::field("b", arrow::float64()),
                     arrow::field("label", arrow::int64())});
  return arrow::Table::Make(schema, arrays);
}

class TuningJobTest : public TrainingStoresTest {
 protected:
  void SetUp() override {
    TrainingStoresTest::SetUp();
    AddDataset("points", *MakeTable(1500));
    tuning_ = std::make_unique<TuningService>(*tracking_);
    job_ = std::make_unique<TuningJob>(*service_, *tuning_, *tracking_);
  }
  void TearDown() override {
    job_.reset();
    tuning_.reset();
    TrainingStoresTest::TearDown();
  }
  static json Spec() {
    return {{"space",
             {{"eta", {{"type", "loguniform"}, {"low", 0.02}, {"high", 0.5}}},
              {"max_depth", {{"type", "int"}, {"low", 1}, {"high", 5}}}}},
            {"algorithm", "asha"},
            {"max_trials", 6},
            {"parallelism", 2},
            {"seed", 4},
            {"asha", {{"min_resource", 2}, {"reduction_factor", 3}, {"max_resource", 18}}},
            {"train",
             {{"data", {{"dataset", "points"}}},
              {"label", "label"},
              {"trainer", "xgboost"},
              {"objective", "binary:logistic"},
              {"params", {{"eta", 0.3}, {"seed", 1}}},
              {"register", {{"model", "points"}}}}}};
  }
  std::unique_ptr<TuningService> tuning_;
  std::unique_ptr<TuningJob> job_;
};

TEST_F(TuningJobTest, RetrainsAndRegistersTheBestWithLineageToDataStudyAndTrial) {
  auto result = job_->Run("p", Spec(), context_);
  ASSERT_TRUE(result) << result.error().message;
  const json& best = (*result)["best"];
  ASSERT_TRUE(best.is_object());
  EXPECT_EQ((*result)["trials_started"], 6);
  EXPECT_EQ((*result)["model"], "points");
  auto version = registry_->GetVersion("p", "points", (*result)["version"].get<int64_t>());
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(version->lineage["dataset"], "points");
  EXPECT_EQ(version->lineage["version"], 1);
  EXPECT_EQ(version->lineage["tuning"]["study_run_id"], (*result)["study_run_id"]);
  EXPECT_EQ(version->lineage["tuning"]["best_trial_run_id"], best["run_id"]);
  EXPECT_EQ(version->lineage["run_id"], (*result)["retrained"]["run_id"]);

  // The retrained run trained the best trial's parameters for max_resource rounds.
  auto run = tracking_->GetRun("p", (*result)["retrained"]["run_id"].get<std::string>());
  ASSERT_TRUE(run) << run.error().message;
  std::map<std::string, std::string> params = run->params;
  EXPECT_EQ(params["max_depth"], best["params"]["max_depth"].dump());
  EXPECT_DOUBLE_EQ(std::stod(params["eta"]), best["params"]["eta"].get<double>());
  EXPECT_EQ(params["num_boost_round"], "18");
  EXPECT_EQ(params["seed"], "1");  // the train spec's own params stay
}

TEST_F(TuningJobTest, BadSpecsNameTheField) {
  json spec = Spec();
  spec["train"]["params"]["max_depth"] = -1;
  auto status = ValidateTuningJobSpec(spec);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("params.max_depth"), std::string::npos)
      << status.error().message;
  spec = Spec();
  spec["train"]["trainer"] = "linear";
  spec["train"].erase("objective");
  spec["train"].erase("params");
  status = ValidateTuningJobSpec(spec);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("train.trainer"), std::string::npos);
  spec = Spec();
  spec["train"]["data"]["dataset"] = "missing";
  auto missing = job_->Run("p", spec, context_);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;
}

}  // namespace
}  // namespace falaj::training
