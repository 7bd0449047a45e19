// MonitorService fed directly with PredictionRecords and OutcomeRecords (the prediction log
// calls these listeners once wired), on a real SQLite store, a fake reference and a fake clock.
#include "monitoring/monitor_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>

#include "common/random.h"
#include "monitoring/monitor_test_support.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {
namespace {

class MonitorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() / ("monitor-" + RandomHex(6));
    std::filesystem::create_directories(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store.has_value());
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(MonitorService::Migrations()));
    service_ = std::make_unique<MonitorService>(*store_, references_, values_, metrics_, clock_);
    auto created = service_->Create(
        "p", {{"name", "m"}, {"endpoint", "e"}, {"model", "m"}, {"window", "1m"}}, "tester");
    ASSERT_TRUE(created.has_value()) << created.error().message;
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }

  serving::PredictionRecord Record(double shift, size_t rows) {
    serving::PredictionRecord record;
    record.project = "p";
    record.endpoint = "e";
    record.model = "m";
    record.version = 1;
    record.feature_names = {"a", "b"};
    record.rows = rows;
    for (size_t r = 0; r < rows; ++r) {
      record.inputs.push_back(static_cast<float>(std::fmod(r * 0.37, 8.0) + shift));
      record.inputs.push_back(static_cast<float>(std::fmod(r * 0.53, 8.0)));
      record.outputs.push_back(static_cast<float>(std::fmod(r * 0.11, 1.0)));
    }
    return record;
  }

  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  FakeReferences references_{{"a", "b"}};
  MonitoredValues values_;
  metrics::Registry metrics_;
  FakeClock clock_;
  std::unique_ptr<MonitorService> service_;
};

TEST_F(MonitorServiceTest, WindowsCloseOnTheClockAndPublishDriftAndLabels) {
  service_->OnPrediction(Record(3.0, 400));
  // Other traffic is not this monitor's.
  auto other = Record(0, 50);
  other.endpoint = "elsewhere";
  other.model = "other";
  service_->OnPrediction(other);
  auto shadow = Record(0, 50);
  shadow.shadow = true;
  service_->OnPrediction(shadow);
  for (int i = 0; i < 100; ++i) {
    OutcomeRecord outcome;
    outcome.project = "p";
    outcome.endpoint = "e";
    outcome.model = "m";
    outcome.metric = "label";
    outcome.joined = true;
    outcome.prediction = {i < 50 ? 0.8f : 0.2f};
    outcome.value = i < 40 || i >= 90 ? 1 : 0;
    service_->OnOutcome(outcome);
  }
  service_->CloseDueWindows(clock_.now_ms + 59'000);  // not yet a minute
  EXPECT_FALSE(values_.Get("p", "monitor.m.drift_share").has_value());
  clock_.now_ms += 60'000;
  service_->CloseDueWindows(clock_.now_ms);
  auto share = values_.Get("p", "monitor.m.drift_share");
  ASSERT_TRUE(share.has_value());
  // a moved by 3 (of 8) is drifted, b is not: share 1/2.
  EXPECT_DOUBLE_EQ(share->value, 0.5);
  EXPECT_EQ(share->at_ms, clock_.now_ms.load());
  EXPECT_EQ(values_.Get("p", "monitor.m.drift.a.drifted")->value, 1.0);
  EXPECT_EQ(values_.Get("p", "monitor.m.drift.b.drifted")->value, 0.0);
  EXPECT_EQ(values_.Get("p", "monitor.m.rows")->value, 400.0);
  EXPECT_GT(values_.Get("p", "monitor.m.out_of_range.a")->value, 0.0);
  EXPECT_TRUE(values_.Get("p", "monitor.m.prediction.score").has_value());
  // Labels: predictions 0.8 for i < 50, 0.2 after; label 1 for i < 40 or i >= 90.
  EXPECT_DOUBLE_EQ(values_.Get("p", "monitor.m.label.accuracy")->value, 0.8);
  EXPECT_DOUBLE_EQ(values_.Get("p", "monitor.m.label.count")->value, 100);
  // AUC: positives 40 at 0.8 and 10 at 0.2, negatives 10 at 0.8 and 40 at 0.2.
  double auc = (40.0 * 40 + 0.5 * (40 * 10 + 10 * 40)) / (50.0 * 50);
  EXPECT_DOUBLE_EQ(values_.Get("p", "monitor.m.label.auc")->value, auc);
  auto reports = service_->ListReports("p", "m", 10);
  ASSERT_TRUE(reports.has_value());
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ((*reports)[0].body["rows"], 400);
  EXPECT_NE(metrics_.Render().find("falaj_monitor_drift_share{project=\"p\",monitor=\"m\"} 0.5"),
            std::string::npos);
  // The next window is empty: no report when it closes on the clock.
  clock_.now_ms += 60'000;
  service_->CloseDueWindows(clock_.now_ms);
  EXPECT_EQ(service_->ListReports("p", "m", 10)->size(), 1u);
}

TEST_F(MonitorServiceTest, DeleteForgetsValuesAndStopsCounting) {
  service_->OnPrediction(Record(0, 100));
  auto open = service_->OpenWindow("p", "m");
  ASSERT_TRUE(open.has_value());
  EXPECT_EQ(open->rows, 100);
  EXPECT_EQ(open->start_ms, clock_.now_ms.load());
  ASSERT_TRUE(service_->CloseWindow("p", "m").has_value());
  EXPECT_TRUE(values_.Get("p", "monitor.m.rows").has_value());
  ASSERT_TRUE(service_->Delete("p", "m"));
  EXPECT_TRUE(values_.List("p", "monitor.m.").empty());
  service_->OnPrediction(Record(0, 100));
  EXPECT_EQ(service_->CloseWindow("p", "m").error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(service_->OpenWindow("p", "m").has_value());
}

TEST_F(MonitorServiceTest, ConcurrentPredictionsAndClosesLoseNoRow) {
  constexpr int kThreads = 4;
  constexpr int kRecords = 200;
  std::atomic<int64_t> reported{0};
  std::thread closer([&] {
    for (int i = 0; i < 20; ++i) {
      auto report = service_->CloseWindow("p", "m");
      if (report) reported += report->body["rows"].get<int64_t>();
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&] {
      auto record = Record(0, 5);
      for (int i = 0; i < kRecords; ++i) service_->OnPrediction(record);
    });
  }
  for (auto& writer : writers) writer.join();
  closer.join();
  reported += service_->CloseWindow("p", "m")->body["rows"].get<int64_t>();
  EXPECT_EQ(reported.load(), kThreads * kRecords * 5);
}

}  // namespace
}  // namespace falaj::monitoring
