// Differential test of the SQL run search: random runs (missing keys, NaN and ±Inf metrics, LIKE
// metacharacters in values, tied start times, deleted runs) and random filters, orders and page
// sizes; every search, paged to the end, must return exactly the runs RunFilter::Matches keeps,
// in RunOrder::Before's order — the in-memory reference evaluated here on runs read one by one.
#include "tracking/run_search_sql.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "tracking/run_filter.h"
#include "tracking/tracking_store_fixture.h"

namespace falaj::tracking {
namespace {

template <typename T>
const T& Pick(std::mt19937& random, const std::vector<T>& choices) {
  return choices[random() % choices.size()];
}

const std::vector<std::string> kNumbers = {"0", "0.5", "1", "-1", "2.5", "inf", "-inf", "nan"};
const std::vector<double> kMetricValues = {0,
                                           0.5,
                                           1,
                                           -1,
                                           2.5,
                                           0.25,
                                           std::numeric_limits<double>::infinity(),
                                           -std::numeric_limits<double>::infinity(),
                                           std::numeric_limits<double>::quiet_NaN()};
const std::vector<std::string> kTexts = {"6",  "4",   "Adam", "adam", "a_b", "a%b", "x*y",
                                         "q?", "[z]", "ab",   "aXb",  "",    "ADAM"};
const std::vector<std::string> kPatterns = {"%",  "a%",  "%b",  "_",    "a_b", "A%",  "%*%",
                                            "[%", "%?",  "a%b", "ad_m", "%]",  "x*y", "ADAM",
                                            "",   "%_%", "__",  "q?",   "[z]", "%d%"};
const std::vector<std::string> kStatuses = {"RUNNING", "FINISHED", "FAILED"};

std::string RandomCondition(std::mt19937& random) {
  switch (random() % 9) {
    case 0:
    case 1:
      return fmt::format("metrics.{} {} {}", Pick<std::string>(random, {"auc", "loss", "`m x`"}),
                         Pick<std::string>(random, {"=", "!=", "<", "<=", ">", ">="}),
                         Pick(random, kNumbers));
    case 2:
    case 3:
    case 4: {
      std::string key = Pick<std::string>(random, {"params.depth", "params.opt", "tags.team"});
      std::string comparator = Pick<std::string>(random, {"=", "!=", "LIKE", "ILIKE"});
      bool like = comparator.find("LIKE") != std::string::npos;
      return fmt::format("{} {} '{}'", key, comparator,
                         like ? Pick(random, kPatterns) : Pick(random, kTexts));
    }
    case 5:
      return fmt::format("attributes.status {} '{}'", Pick<std::string>(random, {"=", "!="}),
                         Pick(random, kStatuses));
    case 6:
      return fmt::format("attributes.run_name {} '{}'",
                         Pick<std::string>(random, {"LIKE", "ILIKE", "="}),
                         Pick<std::string>(random, {"R1%", "r1%", "%0", "r_", "r3"}));
    case 7:
      return fmt::format("attributes.{} {} {}",
                         Pick<std::string>(random, {"start_time", "end_time"}),
                         Pick<std::string>(random, {"=", "!=", "<", ">=", ">"}),
                         Pick<std::string>(random, {"1001", "1002", "2000", "nan"}));
    default:
      return fmt::format("attributes.lifecycle_stage = '{}'",
                         Pick<std::string>(random, {"active", "deleted"}));
  }
}

std::vector<std::string> RandomOrder(std::mt19937& random) {
  std::vector<std::string> clauses;
  size_t count = random() % 3;
  for (size_t i = 0; i < count; ++i) {
    clauses.push_back(
        Pick<std::string>(random, {"metrics.auc", "metrics.loss", "params.depth", "params.opt",
                                   "tags.team", "attributes.start_time", "attributes.end_time",
                                   "attributes.run_name", "attributes.status"}) +
        Pick<std::string>(random, {"", " ASC", " DESC", " desc"}));
  }
  return clauses;
}

using RunSearchSqlTest = TrackingStoreFixture;

TEST(LikeToGlobTest, EscapesGlobMetacharacters) {
  EXPECT_EQ(LikeToGlob("a%b_c"), "a*b?c");
  EXPECT_EQ(LikeToGlob("*?[]"), "[*][?][[]]");
}

TEST_F(RunSearchSqlTest, RandomSearchesMatchTheInMemoryReference) {
  std::mt19937 random(6);
  auto first = tracking_->CreateExperiment("bank", "a", {});
  auto second = tracking_->CreateExperiment("bank", "b", {});
  auto elsewhere = tracking_->CreateExperiment("other", "a", {});
  ASSERT_TRUE(first && second && elsewhere);
  std::vector<tracking::Run> all;
  for (int i = 0; i < 80; ++i) {
    const auto& experiment = i % 5 == 4 ? *second : *first;
    auto created = tracking_->CreateRun(
        "bank", {experiment.experiment_id, "r" + std::to_string(i % 13), "u", 1000 + i % 4, {}});
    ASSERT_TRUE(created);
    const std::string& id = created->info.run_id;
    Batch batch;
    for (const char* key : {"auc", "loss", "m x"}) {
      if (random() % 4 != 0) batch.metrics.push_back({key, Pick(random, kMetricValues), 5, 0});
    }
    if (random() % 4 != 0) batch.params.emplace_back("depth", Pick(random, kTexts));
    if (random() % 2 != 0) batch.params.emplace_back("opt", Pick(random, kTexts));
    if (random() % 3 != 0) batch.tags.emplace_back("team", Pick(random, kTexts));
    ASSERT_TRUE(tracking_->LogBatch("bank", id, batch));
    RunUpdate update;
    update.status = Pick(random, kStatuses);
    if (random() % 2 == 0) update.end_time_ms = 2000 + static_cast<int64_t>(random() % 3);
    ASSERT_TRUE(tracking_->UpdateRun("bank", id, update));
    if (random() % 6 == 0) {
      ASSERT_TRUE(tracking_->SetRunLifecycle("bank", id, Lifecycle::kDeleted));
    }
    all.push_back(*tracking_->GetRun("bank", id));
  }
  // A run of another project in an experiment with the same id must never show.
  ASSERT_TRUE(tracking_->CreateRun("other", {elsewhere->experiment_id, "r1", "u", 1000, {}}));

  size_t nonempty = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string filter;
    for (size_t c = random() % 4; c > 0; --c) {
      filter += (filter.empty() ? "" : " and ") + RandomCondition(random);
    }
    RunSearch search;
    search.experiment_ids =
        random() % 2 == 0 ? std::vector<std::string>{first->experiment_id}
                          : std::vector<std::string>{first->experiment_id, second->experiment_id};
    search.filter = filter;
    search.order_by = RandomOrder(random);
    search.view =
        Pick<ViewType>(random, {ViewType::kActiveOnly, ViewType::kDeletedOnly, ViewType::kAll});
    search.max_results = 1 + random() % 30;

    auto parsed = RunFilter::Parse(filter);
    auto order = RunOrder::Parse(search.order_by);
    ASSERT_TRUE(parsed && order) << filter;
    std::vector<tracking::Run> expected_runs;
    for (const auto& run : all) {
      bool in_scope = std::find(search.experiment_ids.begin(), search.experiment_ids.end(),
                                run.info.experiment_id) != search.experiment_ids.end();
      bool deleted = run.info.lifecycle == Lifecycle::kDeleted;
      bool in_view =
          search.view == ViewType::kAll || (search.view == ViewType::kDeletedOnly) == deleted;
      if (in_scope && in_view && parsed->Matches(run)) expected_runs.push_back(run);
    }
    std::sort(expected_runs.begin(), expected_runs.end(),
              [&](const tracking::Run& a, const tracking::Run& b) { return order->Before(a, b); });
    std::vector<std::string> expected;
    for (const auto& run : expected_runs) expected.push_back(run.info.run_id);

    std::vector<std::string> found;
    std::vector<tracking::Run> found_runs;
    do {
      auto page = tracking_->SearchRuns("bank", search);
      ASSERT_TRUE(page) << filter << ": " << page.error().message;
      ASSERT_LE(page->runs.size(), search.max_results);
      for (auto& run : page->runs) {
        found.push_back(run.info.run_id);
        found_runs.push_back(std::move(run));
      }
      search.page_token = page->next_page_token;
    } while (!search.page_token.empty());
    ASSERT_EQ(found, expected) << "filter: " << filter
                               << " order: " << fmt::format("{}", fmt::join(search.order_by, ", "));
    // The runs come back whole: params, tags and latest metrics as GetRun reads them.
    for (size_t i = 0; i < found_runs.size(); ++i) {
      EXPECT_EQ(found_runs[i].params, expected_runs[i].params);
      EXPECT_EQ(found_runs[i].tags, expected_runs[i].tags);
      ASSERT_EQ(found_runs[i].latest_metrics.size(), expected_runs[i].latest_metrics.size());
    }
    if (!expected.empty()) ++nonempty;
  }
  // The random filters must not be so strict that the comparison is vacuous.
  EXPECT_GT(nonempty, 100u);
}

}  // namespace
}  // namespace falaj::tracking
