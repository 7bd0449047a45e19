#include "tracking/tracking_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>

#include "tracking/run_filter.h"
#include "tracking/tracking_store_fixture.h"

namespace falaj::tracking {
namespace {

class TrackingStoreTest : public TrackingStoreFixture {
 protected:
  void SetUp() override {
    TrackingStoreFixture::SetUp();
    auto experiment = tracking_->CreateExperiment("bank", "fraud", {{"team", "risk"}});
    ASSERT_TRUE(experiment);
    experiment_id_ = experiment->experiment_id;
  }
  tracking::Run NewRunIn(std::string name = "", int64_t start = 1000) {
    auto run = tracking_->CreateRun("bank", {experiment_id_, std::move(name), "key:k", start, {}});
    EXPECT_TRUE(run) << run.error().message;
    return *run;
  }

  std::string experiment_id_;
};

TEST_F(TrackingStoreTest, ExperimentsAreUniquePerProjectAndHaveALifecycle) {
  auto duplicate = tracking_->CreateExperiment("bank", "fraud", {});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, ErrorCode::kAlreadyExists);
  EXPECT_TRUE(tracking_->CreateExperiment("other", "fraud", {}));
  EXPECT_EQ(tracking_->GetExperiment("other", experiment_id_)->project, "other");
  EXPECT_EQ(tracking_->GetExperimentByName("bank", "fraud")->tags.at("team"), "risk");
  EXPECT_EQ(tracking_->GetExperimentByName("bank", "nope").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(tracking_->SetExperimentLifecycle("bank", experiment_id_, Lifecycle::kDeleted));
  EXPECT_TRUE(tracking_->ListExperiments("bank", ViewType::kActiveOnly)->empty());
  EXPECT_EQ(tracking_->ListExperiments("bank", ViewType::kDeletedOnly)->size(), 1u);
  EXPECT_EQ(tracking_->CreateRun("bank", {experiment_id_, "", "", {}, {}}).error().code,
            ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(tracking_->RenameExperiment("bank", experiment_id_, "fraud-v2"));
  EXPECT_TRUE(tracking_->GetExperimentByName("bank", "fraud-v2"));
}

TEST_F(TrackingStoreTest, TheDefaultExperimentExistsOnceAskedFor) {
  auto fresh = tracking_->GetExperiment("fresh", "0");
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->name, kDefaultExperimentName);
  EXPECT_TRUE(tracking_->CreateRun("fresh", {"0", "", "", {}, {}}));
  EXPECT_EQ(tracking_->CreateExperiment("fresh", "next", {})->experiment_id, "1");
  // A project that already named an experiment "Default" keeps it and has no experiment 0.
  ASSERT_TRUE(tracking_->CreateExperiment("named", kDefaultExperimentName, {}));
  EXPECT_EQ(tracking_->GetExperiment("named", "0").error().code, ErrorCode::kNotFound);
}

TEST_F(TrackingStoreTest, RunsBelongToTheirProject) {
  tracking::Run run = NewRunIn("first");
  EXPECT_EQ(run.info.run_id.size(), 32u);
  EXPECT_EQ(run.tags.at(kRunNameTag), "first");
  EXPECT_EQ(tracking_->GetRun("other", run.info.run_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(tracking_->GetRun("bank", "../../etc").error().code, ErrorCode::kNotFound);
  auto updated = tracking_->UpdateRun("bank", run.info.run_id, {"FINISHED", 2000, "renamed"});
  ASSERT_TRUE(updated);
  EXPECT_EQ(tracking_->GetRun("bank", run.info.run_id)->info.end_time_ms, 2000);
  EXPECT_EQ(tracking_->UpdateRun("bank", run.info.run_id, {"DONE", {}, {}}).error().code,
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(tracking_->SetRunLifecycle("bank", run.info.run_id, Lifecycle::kDeleted));
  EXPECT_EQ(tracking_->LogBatch("bank", run.info.run_id, {{}, {{"a", "1"}}, {}}).error().code,
            ErrorCode::kFailedPrecondition);
}

TEST_F(TrackingStoreTest, ParamsAreWriteOnceAndTagsLastWriteWins) {
  tracking::Run run = NewRunIn();
  ASSERT_TRUE(tracking_->LogBatch("bank", run.info.run_id, {{}, {{"depth", "6"}}, {{"t", "1"}}}));
  ASSERT_TRUE(tracking_->LogBatch("bank", run.info.run_id, {{}, {{"depth", "6"}}, {{"t", "2"}}}));
  auto changed = tracking_->LogBatch("bank", run.info.run_id,
                                     {{{"m", 1, 1, 0}}, {{"depth", "7"}}, {{"t", "3"}}});
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(changed.error().message.find("'depth'"), std::string::npos);
  EXPECT_NE(changed.error().message.find("'6'"), std::string::npos);
  EXPECT_NE(changed.error().message.find("'7'"), std::string::npos);
  auto stored = tracking_->GetRun("bank", run.info.run_id);
  EXPECT_EQ(stored->params.at("depth"), "6");
  EXPECT_EQ(stored->tags.at("t"), "2");  // the failed batch wrote nothing
  EXPECT_TRUE(stored->latest_metrics.empty());
  ASSERT_TRUE(tracking_->DeleteTag("bank", run.info.run_id, "t"));
  EXPECT_EQ(tracking_->DeleteTag("bank", run.info.run_id, "t").error().code, ErrorCode::kNotFound);
}

TEST_F(TrackingStoreTest, BatchLimitsAreMlflows) {
  tracking::Run run = NewRunIn();
  Batch batch;
  batch.metrics.assign(kMaxBatchMetrics, {"m", 1, 1, 0});
  for (size_t i = 0; i < kMaxBatchParams; ++i) batch.params.emplace_back(std::to_string(i), "v");
  for (size_t i = 0; i < kMaxBatchTags; ++i) batch.tags.emplace_back(std::to_string(i), "v");
  ASSERT_TRUE(tracking_->LogBatch("bank", run.info.run_id, batch));
  for (auto change : {0, 1, 2}) {
    Batch over = batch;
    if (change == 0) over.metrics.push_back({"m", 1, 1, 0});
    if (change == 1) over.params.emplace_back("extra", "v");
    if (change == 2) over.tags.emplace_back("extra", "v");
    EXPECT_EQ(tracking_->LogBatch("bank", run.info.run_id, over).error().code,
              ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(tracking_->LogBatch("bank", run.info.run_id,
                                   {{{std::string(kMaxKeyLength + 1, 'k'), 1, 1, 0}}, {}, {}}));
  EXPECT_TRUE(tracking_->LogBatch("bank", run.info.run_id,
                                  {{}, {{"big", std::string(kMaxParamValueBytes, 'v')}}, {}}));
  EXPECT_FALSE(tracking_->LogBatch(
      "bank", run.info.run_id, {{}, {{"bigger", std::string(kMaxParamValueBytes + 1, 'v')}}, {}}));
}

TEST_F(TrackingStoreTest, MetricHistoryIsOrderedPagedAndKeepsNonFiniteValues) {
  tracking::Run run = NewRunIn();
  const double kNan = std::numeric_limits<double>::quiet_NaN();
  const double kInf = std::numeric_limits<double>::infinity();
  ASSERT_TRUE(tracking_->LogBatch(
      "bank", run.info.run_id,
      {{{"loss", 3, 30, 2}, {"loss", kNan, 10, 0}, {"loss", kInf, 20, 1}, {"loss", -kInf, 25, 1}},
       {},
       {}}));
  auto first = tracking_->MetricHistory("bank", run.info.run_id, "loss", 3, "");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->metrics.size(), 3u);
  EXPECT_TRUE(std::isnan(first->metrics[0].value));
  EXPECT_EQ(first->metrics[1].value, kInf);
  EXPECT_EQ(first->metrics[2].value, -kInf);
  ASSERT_FALSE(first->next_page_token.empty());
  auto second =
      tracking_->MetricHistory("bank", run.info.run_id, "loss", 3, first->next_page_token);
  ASSERT_EQ(second->metrics.size(), 1u);
  EXPECT_EQ(second->metrics[0].step, 2);
  EXPECT_TRUE(second->next_page_token.empty());
  // The latest value is the one at the highest step, not the last logged.
  ASSERT_TRUE(tracking_->LogBatch("bank", run.info.run_id, {{{"loss", 9, 40, 1}}, {}, {}}));
  auto stored = tracking_->GetRun("bank", run.info.run_id);
  ASSERT_EQ(stored->latest_metrics.size(), 1u);
  EXPECT_EQ(stored->latest_metrics[0].value, 3);
  EXPECT_FALSE(tracking_->MetricHistory("bank", run.info.run_id, "loss", 3, "zz"));
}

TEST_F(TrackingStoreTest, SearchMatchesABruteForceSortAcrossPages) {
  std::mt19937 random(7);
  std::vector<tracking::Run> all;
  for (int i = 0; i < 57; ++i) {
    tracking::Run run = NewRunIn("r" + std::to_string(i), 1000 + random() % 5);
    Batch batch;
    if (i % 7 != 0) batch.metrics.push_back({"auc", (random() % 10) / 10.0, 1, 0});
    batch.params.emplace_back("depth", std::to_string(i % 4));
    ASSERT_TRUE(tracking_->LogBatch("bank", run.info.run_id, batch));
    all.push_back(*tracking_->GetRun("bank", run.info.run_id));
  }
  for (const auto& [filter, order_by] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"", {}},
           {"metrics.auc >= 0.3 and params.depth != '2'", {"metrics.auc DESC"}},
           {"params.depth = '1'", {"metrics.auc", "attributes.run_name DESC"}}}) {
    auto parsed = RunFilter::Parse(filter);
    auto order = RunOrder::Parse(order_by);
    std::vector<std::string> expected;
    std::vector<tracking::Run> sorted = all;
    std::erase_if(sorted, [&](const tracking::Run& run) { return !parsed->Matches(run); });
    std::sort(sorted.begin(), sorted.end(),
              [&](const tracking::Run& a, const tracking::Run& b) { return order->Before(a, b); });
    for (const auto& run : sorted) expected.push_back(run.info.run_id);

    std::vector<std::string> paged;
    RunSearch search{{experiment_id_}, filter, order_by, ViewType::kActiveOnly, 5, ""};
    do {
      auto page = tracking_->SearchRuns("bank", search);
      ASSERT_TRUE(page) << page.error().message;
      for (const auto& run : page->runs) paged.push_back(run.info.run_id);
      search.page_token = page->next_page_token;
    } while (!search.page_token.empty());
    EXPECT_EQ(paged, expected) << filter;
  }
  // The default order is start_time DESC, then run_id.
  auto page = tracking_->SearchRuns("bank", {{experiment_id_}, "", {}, ViewType::kAll, 100, ""});
  EXPECT_TRUE(std::is_sorted(
      page->runs.begin(), page->runs.end(), [](const tracking::Run& a, const tracking::Run& b) {
        return a.info.start_time_ms > b.info.start_time_ms ||
               (a.info.start_time_ms == b.info.start_time_ms && a.info.run_id < b.info.run_id);
      }));
  EXPECT_EQ(tracking_->SearchRuns("other", {{experiment_id_}, "", {}, ViewType::kAll, 100, ""})
                ->runs.size(),
            0u);
}

}  // namespace
}  // namespace falaj::tracking
