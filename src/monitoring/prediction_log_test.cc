// The prediction log: sampling, a full queue drops (counted) without blocking, concurrent
// producers all land, reads by request id and unit key, outcomes join and deduplicate, erasure
// rewrites segments, purge removes one endpoint's log and outcomes and nothing else, listeners see
// durable records.
#include "monitoring/prediction_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "monitoring/outcome_store.h"

namespace falaj::monitoring {
namespace {

// Recent, so that retention (30 days by default) keeps them.
const int64_t kBase = ToUnixMillis(SystemClock::Instance().Now()) - 60'000;

serving::PredictionRecord Record(int i, std::string unit = "") {
  serving::PredictionRecord record;
  record.project = "p";
  record.endpoint = "e";
  record.model = "m";
  record.version = 1;
  record.request_id = "req-" + std::to_string(i);
  record.unit_key = std::move(unit);
  record.entity_key_names = {"customer_id"};
  record.entity_key_values = {std::to_string(i)};
  record.timestamp_ms = kBase + i;
  record.rows = 1;
  record.feature_names = {"f0"};
  record.inputs = {static_cast<float>(i)};
  record.outputs = {static_cast<float>(i) / 2};
  return record;
}

struct Counting : PredictionListener, OutcomeListener {
  void OnPrediction(const serving::PredictionRecord&) override { ++predictions; }
  void OnOutcome(const OutcomeRecord& outcome) override { outcomes.push_back(outcome); }
  int predictions = 0;
  std::vector<OutcomeRecord> outcomes;
};

class PredictionLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("falaj_predlog_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    auto store = storage::OpenMetadataStore("sqlite://" + (root_ / "m.db").string(), 2);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(PredictionLog::Migrations()));
    ASSERT_TRUE(store_->Migrate(OutcomeStore::Migrations()));
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  PredictionLog& MakeLog(size_t capacity = 1024, double rate = 1.0,
                         PredictionLogOptions options = {}) {
    options.directory = (root_ / "logs").string();
    options.queue_capacity = capacity;
    options.sample_rate = rate;
    options.flush_interval = std::chrono::milliseconds(2);
    log_.reset();
    metrics_ = std::make_unique<metrics::Registry>();
    log_ = std::make_unique<PredictionLog>(*store_, *metrics_, std::move(options));
    return *log_;
  }

  std::filesystem::path root_;
  std::unique_ptr<metrics::Registry> metrics_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<PredictionLog> log_;
};

TEST_F(PredictionLogTest, SamplingRateZeroAndOne) {
  EXPECT_TRUE(MakeLog(16, 1.0).Sample("p", "e"));
  EXPECT_FALSE(MakeLog(16, 0.0).Sample("p", "e"));
  int sampled = 0;
  auto& half = MakeLog(16, 0.5);
  for (int i = 0; i < 10000; ++i) sampled += half.Sample("p", "e") ? 1 : 0;
  EXPECT_NEAR(sampled, 5000, 300);
}

TEST_F(PredictionLogTest, FullQueueDropsAndCountsWithoutBlocking) {
  auto& log = MakeLog(8);  // the writer is not started: nothing drains
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) log.Offer(Record(i));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  auto stats = log.Stats("p", "e");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->dropped, 992u);
  EXPECT_EQ(stats->queued, 8u);
  EXPECT_NE(metrics_->Render().find("falaj_prediction_log_dropped_total 992"), std::string::npos);
  log.Start();
  log.Flush();
  stats = log.Stats("p", "e");
  EXPECT_EQ(stats->written, 8u);
  EXPECT_EQ(stats->indexed_records, 8u);
}

TEST_F(PredictionLogTest, ConcurrentProducersAllLandAndListenersSeeThem) {
  auto& log = MakeLog(1 << 16);
  Counting listener;
  log.AddPredictionListener(&listener);
  log.Start();
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&log, t] {
      for (int i = 0; i < 2000; ++i) log.Offer(Record(t * 10000 + i));
    });
  }
  for (auto& producer : producers) producer.join();
  log.Flush();
  EXPECT_EQ(listener.predictions, 8000);
  PredictionQuery query{.project = "p", .endpoint = "e", .limit = 1000};
  size_t total = 0;
  for (;;) {
    auto page = log.Read(query);
    ASSERT_TRUE(page) << page.error().message;
    total += page->items.size();
    if (page->next.empty()) break;
    query.after = page->next;
  }
  EXPECT_EQ(total, 8000u);
  auto found = log.FindRequest("p", "e", "req-30005");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->record.inputs, std::vector<float>{30005.0f});
}

TEST_F(PredictionLogTest, StopDrainsTheQueue) {
  auto& log = MakeLog(1 << 12);
  log.Start();
  for (int i = 0; i < 500; ++i) log.Offer(Record(i));
  log.Stop();
  auto stats = log.Stats("p", "e");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->written, 500u);
  EXPECT_EQ(stats->indexed_records, 500u);
}

TEST_F(PredictionLogTest, OutcomesJoinByRequestAndUnitAndDeduplicate) {
  auto& log = MakeLog();
  Counting listener;
  log.AddOutcomeListener(&listener);
  log.Start();
  log.Offer(Record(1, "alice"));
  log.Offer(Record(5, "alice"));
  log.Flush();
  OutcomeStore outcomes(*store_, log);
  std::vector<OutcomeInput> batch = {
      {.request_id = "req-1", .metric = "conversion", .value = 1},
      {.unit_key = "alice", .metric = "revenue", .value = 9.5, .timestamp_ms = kBase + 3},
      {.request_id = "nope", .metric = "conversion", .value = 0},
  };
  auto stored = outcomes.Record("p", "e", batch);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_TRUE((*stored)[0].record.joined);
  EXPECT_EQ((*stored)[0].record.prediction, std::vector<float>{0.5f});
  EXPECT_TRUE((*stored)[1].record.joined);
  EXPECT_EQ((*stored)[1].record.prediction_timestamp_ms, kBase + 1);
  EXPECT_FALSE((*stored)[2].record.joined);
  EXPECT_EQ(listener.outcomes.size(), 3u);
  auto again = outcomes.Record("p", "e", batch);
  ASSERT_TRUE(again);
  for (const auto& outcome : *again) EXPECT_TRUE(outcome.duplicate);
  EXPECT_EQ(listener.outcomes.size(), 3u);
  auto listed = outcomes.List({.project = "p", .endpoint = "e"});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->items.size(), 3u);
}

TEST_F(PredictionLogTest, InvalidOutcomesNameTheItemAndField) {
  auto bad = OutcomeStore::Validate({{.request_id = "a", .metric = "ok", .value = 1},
                                     {.request_id = "b", .metric = "bad name", .value = 1}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("outcomes[1].metric"), std::string::npos);
  bad = OutcomeStore::Validate({{.request_id = "a", .metric = "conversion", .value = 2}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("outcomes[0].value"), std::string::npos);
  bad = OutcomeStore::Validate({{.request_id = "a\n", .metric = "m"}});
  ASSERT_FALSE(bad);
  bad = OutcomeStore::Validate(
      std::vector<OutcomeInput>(kMaxOutcomesPerBatch + 1, {.request_id = "a", .metric = "m"}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("at most 1000"), std::string::npos);
}

TEST_F(PredictionLogTest, EraseRewritesSegmentsAndKeepsTheRest) {
  auto& log = MakeLog();
  log.Start();
  for (int i = 0; i < 20; ++i) log.Offer(Record(i, i == 3 ? "carol" : ""));
  log.Flush();
  auto erased = log.Erase("p", {{"customer_id", "7"}});
  ASSERT_TRUE(erased) << erased.error().message;
  EXPECT_EQ(erased->records_removed, 1);
  EXPECT_EQ(erased->request_ids, std::vector<std::string>{"req-7"});
  erased = log.Erase("p", {{"user", "carol"}});
  ASSERT_TRUE(erased);
  EXPECT_EQ(erased->records_removed, 1);
  auto gone = log.FindRequest("p", "e", "req-7");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);
  auto kept = log.FindRequest("p", "e", "req-8");
  ASSERT_TRUE(kept && *kept);
  EXPECT_EQ((*kept)->record.inputs, std::vector<float>{8.0f});
  // Appending after an erasure goes to a new segment, readable as before.
  log.Offer(Record(100));
  log.Flush();
  auto later = log.FindRequest("p", "e", "req-100");
  ASSERT_TRUE(later && *later);
  auto stats = log.Stats("p", "e");
  EXPECT_EQ(stats->indexed_records, 19u);
}

TEST_F(PredictionLogTest, RetentionDeletesOldDaysAndFollowsTheProjectsPolicy) {
  PredictionLogOptions options;
  options.retention_days = 30;
  std::optional<int64_t> policy_days;
  options.project_retention_days = [&](std::string_view) -> Result<std::optional<int64_t>> {
    return policy_days;
  };
  auto& log = MakeLog(1024, 1.0, std::move(options));
  log.Start();
  constexpr int64_t kDay = 24 * 3600 * 1000;
  auto old = Record(1);
  old.timestamp_ms = kBase - 40 * kDay;
  auto recent = Record(2);
  recent.timestamp_ms = kBase - 3 * kDay;
  log.Offer(std::move(old));
  log.Offer(std::move(recent));
  log.Offer(Record(3));
  log.Flush();
  // The writer applies retention itself when idle, so it may have deleted the old day already.
  auto deleted = log.ApplyRetention();
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_FALSE(*log.FindRequest("p", "e", "req-1"));
  EXPECT_TRUE(*log.FindRequest("p", "e", "req-2"));
  policy_days = 1;  // the project's policy is stricter than the log's default
  deleted = log.ApplyRetention();
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 1);
  EXPECT_FALSE(*log.FindRequest("p", "e", "req-2"));
  EXPECT_TRUE(*log.FindRequest("p", "e", "req-3"));
  EXPECT_EQ(log.Stats("p", "e")->indexed_records, 1u);
}

// Records of endpoint "e" of project "p", with a request id that names them.
serving::PredictionRecord RecordOf(std::string project, std::string endpoint, int i) {
  auto record = Record(i);
  record.project = std::move(project);
  record.endpoint = std::move(endpoint);
  return record;
}

TEST_F(PredictionLogTest, PurgeRemovesOneEndpointsLogAndOutcomesAndNothingElse) {
  auto& log = MakeLog();
  log.Start();
  for (int i = 0; i < 10; ++i) log.Offer(Record(i));
  log.Offer(RecordOf("p", "other", 50));
  log.Offer(RecordOf("q", "e", 60));
  log.Flush();
  OutcomeStore outcomes(*store_, log);
  ASSERT_TRUE(
      outcomes.Record("p", "e", {{.request_id = "req-1", .metric = "conversion", .value = 1}}));
  ASSERT_TRUE(outcomes.Record("p", "other",
                              {{.request_id = "req-50", .metric = "conversion", .value = 1}}));
  ASSERT_TRUE(
      outcomes.Record("q", "e", {{.request_id = "req-60", .metric = "conversion", .value = 0}}));
  // Still queued when the purge starts: flushed first, so purged rather than landing after it.
  for (int i = 10; i < 15; ++i) log.Offer(Record(i));
  auto purged = log.Purge("p", "e");
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_GE(purged->segments, 1);
  EXPECT_EQ(purged->records, 15);
  auto outcomes_purged = outcomes.Purge("p", "e");
  ASSERT_TRUE(outcomes_purged) << outcomes_purged.error().message;
  EXPECT_EQ(*outcomes_purged, 1);

  auto read = log.Read({.project = "p", .endpoint = "e"});
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_TRUE(read->items.empty());
  EXPECT_FALSE(*log.FindRequest("p", "e", "req-1"));
  EXPECT_EQ(log.Stats("p", "e")->segments, 0u);
  EXPECT_TRUE(outcomes.List({.project = "p", .endpoint = "e"})->items.empty());
  EXPECT_TRUE(*log.FindRequest("p", "other", "req-50"));
  EXPECT_TRUE(*log.FindRequest("q", "e", "req-60"));
  EXPECT_EQ(outcomes.List({.project = "p", .endpoint = "other"})->items.size(), 1u);
  EXPECT_EQ(outcomes.List({.project = "q", .endpoint = "e"})->items.size(), 1u);

  // The ownership checks count what is left of each project.
  ASSERT_TRUE(store_->RunTransaction(storage::TransactionMode::kReadOnly,
                                     [](storage::Transaction& tx) -> Status {
                                       EXPECT_EQ(*PredictionLog::CountInProject(tx, "p"), 1);
                                       EXPECT_EQ(*OutcomeStore::CountInProject(tx, "p"), 1);
                                       EXPECT_EQ(*PredictionLog::CountInProject(tx, "none"), 0);
                                       return Ok();
                                     }));

  // Nothing left to purge: zeros. Writing afterwards starts a fresh segment, read back as usual.
  purged = log.Purge("p", "e");
  ASSERT_TRUE(purged);
  EXPECT_EQ(purged->segments, 0);
  EXPECT_EQ(purged->records, 0);
  log.Offer(Record(100));
  log.Flush();
  auto later = log.FindRequest("p", "e", "req-100");
  ASSERT_TRUE(later && *later);
  EXPECT_EQ((*later)->record.inputs, std::vector<float>{100.0f});
  EXPECT_EQ(log.Stats("p", "e")->indexed_records, 1u);
}

}  // namespace
}  // namespace falaj::monitoring
