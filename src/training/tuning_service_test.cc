#include "training/tuning_service.h"

#include <gtest/gtest.h>

#include "tracking/tracking_store_fixture.h"
#include "training/tuning_test_support.h"

namespace falaj::training {
namespace {

using nlohmann::json;

class TuningServiceTest : public tracking::TrackingStoreFixture {
 protected:
  void SetUp() override {
    TrackingStoreFixture::SetUp();
    service_ = std::make_unique<TuningService>(*tracking_);
  }
  void TearDown() override {
    service_.reset();
    TrackingStoreFixture::TearDown();
  }

  json Spec(int trials) {
    return {{"space", QualitySpace()},
            {"algorithm", "asha"},
            {"max_trials", trials},
            {"parallelism", 2},
            {"seed", 3},
            {"asha", {{"min_resource", 1}, {"reduction_factor", 3}, {"max_resource", 27}}},
            {"experiment", "tuning-test"}};
  }
  // The study's parent run, found the way a user would: by its role tag.
  tracking::Run StudyRun() {
    auto experiment = tracking_->GetExperimentByName("shop", "tuning-test");
    EXPECT_TRUE(experiment);
    tracking::RunSearch search;
    search.experiment_ids = {experiment->experiment_id};
    search.filter = "tags.\"falaj.tuning.role\" = 'study'";
    auto page = tracking_->SearchRuns("shop", search);
    EXPECT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->runs.size(), 1u);
    return page->runs.at(0);
  }
  static std::optional<double> Latest(const tracking::Run& run, const std::string& key) {
    for (const auto& point : run.latest_metrics) {
      if (point.key == key) return point.value;
    }
    return std::nullopt;
  }

  std::unique_ptr<TuningService> service_;
};

TEST_F(TuningServiceTest, RecordsTheStudyAndEveryTrialAsChildRuns) {
  CurveRunner runner;
  runner.before_trial = [](int call) -> Status {
    if (call == 3) return MakeError(ErrorCode::kInternal, "xgboost said no");
    return Ok();
  };
  NullTaskContext context;
  auto result = service_->Run("shop", Spec(12), runner, context);
  ASSERT_TRUE(result) << result.error().message;
  const std::string study_id = (*result)["study_run_id"];
  tracking::Run study = StudyRun();
  EXPECT_EQ(study.info.run_id, study_id);
  EXPECT_EQ(study.info.status, "FINISHED");
  EXPECT_EQ(study.params.at("algorithm"), "asha");
  EXPECT_EQ(study.params.at("reduction_factor"), "3");
  EXPECT_EQ(study.tags.at(kTuningBestRunTag), (*result)["best"]["run_id"]);
  EXPECT_EQ(Latest(study, "best_auc"), (*result)["best"]["value"].get<double>());
  EXPECT_EQ(Latest(study, "trials_failed"), 1.0);

  ASSERT_EQ((*result)["trials"].size(), 12u);
  int killed = 0, failed = 0, finished = 0;
  for (const auto& trial : (*result)["trials"]) {
    auto run = tracking_->GetRun("shop", trial["run_id"].get<std::string>());
    ASSERT_TRUE(run) << run.error().message;
    EXPECT_EQ(run->info.parent_run_id, study_id);
    EXPECT_EQ(run->tags.at(tracking::kParentRunTag), study_id);
    EXPECT_EQ(run->info.run_name, "trial-" + std::to_string(trial["trial"].get<int>()));
    EXPECT_EQ(run->params.at("q"), trial["params"]["q"].dump());
    EXPECT_EQ(run->tags.at(kTuningOutcomeTag), trial["outcome"]);
    const std::string outcome = trial["outcome"];
    if (outcome == "failed") {
      ++failed;
      EXPECT_EQ(run->info.status, "FAILED");
      EXPECT_EQ(run->tags.at(kTuningReasonTag), "failed: xgboost said no");
      continue;
    }
    auto history = tracking_->MetricHistory("shop", run->info.run_id, "auc", 1000, "");
    ASSERT_TRUE(history);
    ASSERT_EQ(history->metrics.size(), trial["resource"].get<size_t>());
    const double q = trial["params"]["q"];
    for (size_t i = 0; i < history->metrics.size(); ++i) {
      EXPECT_EQ(history->metrics[i].step, static_cast<int64_t>(i) + 1);
      EXPECT_DOUBLE_EQ(history->metrics[i].value, CurveRunner::Value(q, static_cast<int>(i) + 1));
    }
    EXPECT_EQ(Latest(*run, "final_auc"), trial["value"].get<double>());
    if (outcome == "stopped_early") {
      ++killed;
      EXPECT_EQ(run->info.status, "KILLED");
      EXPECT_EQ(run->tags.at(kTuningReasonTag).rfind("stopped by ASHA at rung", 0), 0u);
    } else {
      ++finished;
      EXPECT_EQ(run->info.status, "FINISHED");
      EXPECT_EQ(trial["resource"], 27);
    }
  }
  EXPECT_EQ(failed, 1);
  EXPECT_GT(killed, 0);
  EXPECT_EQ((*result)["outcomes"]["stopped_early"], killed);
  EXPECT_EQ((*result)["outcomes"]["completed"], finished);
  // The best trial is the highest q among those that ran in full.
  double best_q = -1;
  for (const auto& trial : (*result)["trials"]) {
    if (trial["outcome"] == "completed")
      best_q = std::max(best_q, trial["params"]["q"].get<double>());
  }
  EXPECT_EQ((*result)["best"]["params"]["q"], best_q);
  EXPECT_EQ((*result)["best"]["outcome"], "completed");
}

TEST_F(TuningServiceTest, ACancelledStudyIsKilled) {
  CurveRunner runner;
  runner.on_step = [](int call, int step, TaskContext& context) {
    if (call == 2 && step == 1) static_cast<NullTaskContext&>(context).Cancel();
  };
  NullTaskContext context;
  json spec = Spec(10);
  spec["parallelism"] = 1;
  auto result = service_->Run("shop", spec, runner, context);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCancelled);
  tracking::Run study = StudyRun();
  EXPECT_EQ(study.info.status, "KILLED");
  EXPECT_TRUE(study.info.end_time_ms.has_value());
}

TEST_F(TuningServiceTest, AStudyWhoseTrialsAllFailIsFailed) {
  CurveRunner runner;
  runner.before_trial = [](int) -> Status {
    return MakeError(ErrorCode::kInvalidArgument, "no such column");
  };
  NullTaskContext context;
  auto result = service_->Run("shop", Spec(3), runner, context);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(result.error().message.find("no such column"), std::string::npos);
  EXPECT_EQ(StudyRun().info.status, "FAILED");
}

TEST_F(TuningServiceTest, LongCurvesAreLoggedInFullAcrossBatches) {
  CurveRunner runner;
  NullTaskContext context;
  json spec = {{"space", QualitySpace()},
               {"max_trials", 1},
               {"asha", {{"max_resource", 2500}}},  // more points than one batch holds
               {"experiment", "tuning-test"}};
  auto result = service_->Run("shop", spec, runner, context);
  ASSERT_TRUE(result) << result.error().message;
  const std::string run_id = (*result)["best"]["run_id"];
  auto history = tracking_->MetricHistory("shop", run_id, "auc", 5000, "");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->metrics.size(), 2500u);
  EXPECT_EQ(history->metrics.back().step, 2500);
  EXPECT_EQ(StudyRun().params.at("algorithm"), "random");
}

TEST_F(TuningServiceTest, ABadSpecRecordsNothing) {
  CurveRunner runner;
  NullTaskContext context;
  json spec = Spec(3);
  spec["asha"]["reduction_factor"] = 1;
  auto result = service_->Run("shop", spec, runner, context);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(result.error().message.find("asha.reduction_factor"), std::string::npos);
  EXPECT_EQ(runner.calls.load(), 0);
  // A parameter name that tracking could not log is refused before anything runs.
  json untrackable = Spec(3);
  untrackable["space"]["../q"] = {{"type", "uniform"}, {"low", 0}, {"high", 1}};
  result = service_->Run("shop", untrackable, runner, context);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(result.error().message.find("'space.../q'"), std::string::npos)
      << result.error().message;
  EXPECT_EQ(runner.calls.load(), 0);
  EXPECT_EQ(tracking_->GetExperimentByName("shop", "tuning-test").error().code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace falaj::training
