// AlertService on a real SQLite store and JobService, a fake clock and a recording poster:
// evaluation with `for`, one trigger per firing, and a pending trigger submitted after a restart.
#include "monitoring/alert_service.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/random.h"
#include "monitoring/monitor_test_support.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {
namespace {

class AlertServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() / ("alerts-" + RandomHex(6));
    std::filesystem::create_directories(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store.has_value());
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(jobs::JobService::Migrations()));
    ASSERT_TRUE(store_->Migrate(AlertService::Migrations()));
    notifier_ = std::make_unique<AlertNotifier>(
        [this](const std::string& url, const std::string& body) -> Result<int> {
          std::lock_guard lock(mutex_);
          posted_.emplace_back(url, nlohmann::json::parse(body));
          return 200;
        },
        metrics_, NotifierOptions{16, 1, std::chrono::milliseconds(1)});
  }
  void TearDown() override {
    alerts_.reset();
    jobs_.reset();
    notifier_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }

  // A (re)started server: jobs with room for `queue_limit` jobs, and the alert service.
  void Boot(size_t queue_limit) {
    alerts_.reset();
    jobs_.reset();
    jobs::JobServiceOptions options;
    options.queue_limit = queue_limit;
    options.log_dir = (directory_ / "logs").string();
    jobs_ = std::make_unique<jobs::JobService>(*store_, options);
    jobs_->RegisterRunner(
        "train", [](const jobs::Job&, jobs::JobContext&) -> Result<nlohmann::json> { return {}; },
        true);
    alerts_ = std::make_unique<AlertService>(*store_, values_, *jobs_, *notifier_, clock_,
                                             [] { return std::string("http://falaj"); });
    // A long tick: the test drives evaluation itself.
    ASSERT_TRUE(alerts_->Start(std::chrono::hours(1)));
  }

  void CreateRule() {
    auto rule = alerts_->CreateRule("p",
                                    {{"name", "drift"},
                                     {"value", "monitor.m.drift_share"},
                                     {"op", ">="},
                                     {"threshold", 0.5},
                                     {"for", "10s"},
                                     {"webhook_url", "http://127.0.0.1:1/hook"},
                                     {"trigger", {{"kind", "train"}, {"spec", {{"x", 1}}}}}},
                                    "tester");
    ASSERT_TRUE(rule.has_value()) << rule.error().message;
  }

  int64_t Now() const { return clock_.now_ms.load(); }
  void Advance(int64_t ms) { clock_.now_ms += ms; }
  void SetValue(double value) { values_.Set("p", "monitor.m.drift_share", {value, Now()}); }
  Alert Only() {
    auto all = alerts_->ListAlerts("p", std::nullopt);
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? Alert{} : all.front();
  }

  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  metrics::Registry metrics_;
  MonitoredValues values_;
  FakeClock clock_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, nlohmann::json>> posted_;  // guarded by mutex_
  std::unique_ptr<AlertNotifier> notifier_;
  std::unique_ptr<jobs::JobService> jobs_;
  std::unique_ptr<AlertService> alerts_;
};

TEST_F(AlertServiceTest, FiresAfterForTriggersOnceAndResolves) {
  Boot(100);
  CreateRule();
  SetValue(0.6);
  alerts_->Evaluate(Now());
  EXPECT_EQ(Only().state, AlertState::kPending);
  Advance(9'999);
  alerts_->Evaluate(Now());
  EXPECT_EQ(Only().state, AlertState::kPending);
  Advance(1);
  alerts_->Evaluate(Now());
  Alert firing = Only();
  EXPECT_EQ(firing.state, AlertState::kFiring);
  EXPECT_EQ(firing.trigger, TriggerState::kSubmitted);
  ASSERT_FALSE(firing.trigger_job.empty());
  auto job = jobs_->Get("p", firing.trigger_job);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->kind, "train");
  EXPECT_EQ(job->created_by, "alert:drift");
  Advance(1'000);
  SetValue(0.7);
  alerts_->Evaluate(Now());
  EXPECT_EQ(jobs_->List("p", {})->size(), 1u);  // one job per firing
  SetValue(0.2);
  alerts_->Evaluate(Now());
  EXPECT_EQ(Only().state, AlertState::kResolved);
  ASSERT_TRUE(notifier_->Drain(std::chrono::seconds(5)));
  std::lock_guard lock(mutex_);
  ASSERT_EQ(posted_.size(), 2u);
  EXPECT_EQ(posted_[0].second["state"], "firing");
  EXPECT_EQ(posted_[0].second["trigger_job"], firing.trigger_job);
  EXPECT_EQ(posted_[1].second["state"], "resolved");
}

TEST_F(AlertServiceTest, AFiringAlertIsSentToAlertmanagerAgainEveryMinute) {
  Boot(100);
  auto rule = alerts_->CreateRule("p",
                                  {{"name", "drift"},
                                   {"value", "monitor.m.drift_share"},
                                   {"op", ">="},
                                   {"threshold", 0.5},
                                   {"alertmanager_url", "http://127.0.0.1:1"}},
                                  "tester");
  ASSERT_TRUE(rule.has_value()) << rule.error().message;
  auto sent = [&] {
    EXPECT_TRUE(notifier_->Drain(std::chrono::seconds(5)));
    std::lock_guard lock(mutex_);
    return posted_.size();
  };
  SetValue(0.6);
  alerts_->Evaluate(Now());
  EXPECT_EQ(Only().state, AlertState::kFiring);
  EXPECT_EQ(sent(), 1u);
  Advance(AlertService::kAlertmanagerResendMs - 1);
  SetValue(0.6);
  alerts_->Evaluate(Now());
  EXPECT_EQ(sent(), 1u);
  Advance(1);
  alerts_->Evaluate(Now());
  EXPECT_EQ(sent(), 2u);
  SetValue(0.1);
  alerts_->Evaluate(Now());
  EXPECT_EQ(Only().state, AlertState::kResolved);
  Advance(AlertService::kAlertmanagerResendMs);
  alerts_->Evaluate(Now());
  ASSERT_EQ(sent(), 3u);  // the resolution, and nothing after it
  std::lock_guard lock(mutex_);
  EXPECT_EQ(posted_[1].first, posted_[0].first);
  EXPECT_EQ(posted_[1].second, posted_[0].second);  // the same alert, startsAt unchanged
  EXPECT_TRUE(posted_[2].second[0].contains("endsAt"));
}

TEST_F(AlertServiceTest, StaleValuesDoNotHold) {
  Boot(100);
  CreateRule();
  SetValue(0.9);
  Advance(3'600'001);  // older than the default 1 h window
  alerts_->Evaluate(Now());
  EXPECT_TRUE(alerts_->ListAlerts("p", std::nullopt).empty());
}

TEST_F(AlertServiceTest, APendingTriggerIsSubmittedAfterARestart) {
  Boot(0);  // a job queue with no room: the trigger stays pending
  CreateRule();
  SetValue(0.6);
  alerts_->Evaluate(Now());
  Advance(10'000);
  alerts_->Evaluate(Now());
  Alert firing = Only();
  EXPECT_EQ(firing.state, AlertState::kFiring);
  EXPECT_EQ(firing.trigger, TriggerState::kPending);
  EXPECT_FALSE(firing.trigger_error.empty());
  // The process goes away; a new one has room for jobs and no monitored values yet.
  values_.Erase("p", "");
  Boot(100);
  Alert after = Only();
  EXPECT_EQ(after.state, AlertState::kFiring);
  EXPECT_EQ(after.trigger, TriggerState::kSubmitted);
  ASSERT_FALSE(after.trigger_job.empty());
  EXPECT_TRUE(jobs_->Get("p", after.trigger_job).has_value());
  EXPECT_EQ(after.active_since_ms, firing.active_since_ms);
}

}  // namespace
}  // namespace falaj::monitoring
