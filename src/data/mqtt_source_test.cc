// MqttSubscriber against a real Mosquitto broker that each test starts on an ephemeral port, with
// a small TCP proxy in front of it so that a test can cut the subscriber's connection and keep it
// out deterministically while messages are published. Waits are on conditions with deadlines.
#include "data/mqtt_source.h"

#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "data/mqtt_broker_test_support.h"

namespace falaj::data {
namespace {

using namespace mqtt_test;

// Publishes in order, each once the broker acknowledged the previous one (QoS 1): a message is
// then the broker's to deliver.
void PublishAll(const std::string& uri,
                const std::vector<std::pair<std::string, std::string>>& messages) {
  mqtt::async_client client(uri, "falaj-test-publisher", nullptr);
  mqtt::connect_options options;
  options.set_clean_session(true);
  ASSERT_TRUE(client.connect(options)->wait_for(kWait));
  for (const auto& [topic, payload] : messages) {
    ASSERT_TRUE(client.publish(topic, payload.data(), payload.size(), 1, false)->wait_for(kWait));
  }
  client.disconnect()->wait_for(kWait);
}

// The flush callback's side: records batches, fails on demand, and lets tests wait for counts.
class Collector {
 public:
  MqttSubscriber::Flush Flush() {
    return [this](std::vector<std::string> batch) -> Status {
      std::lock_guard lock(mutex_);
      attempts_.push_back(batch);
      if (failing_ || fail_next_ > 0) {
        fail_next_ = std::max(0, fail_next_ - 1);
        return MakeError(ErrorCode::kUnavailable, "the dataset store is down");
      }
      for (auto& payload : batch) {
        distinct_.insert(payload);
        payloads_.push_back(std::move(payload));
      }
      changed_.notify_all();
      return Ok();
    };
  }
  // Counts distinct payloads, so that a redelivered message cannot stand in for a missing one.
  bool WaitFor(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return distinct_.size() >= count; });
  }
  void SetFailing(bool failing, int fail_next = 0) {
    std::lock_guard lock(mutex_);
    failing_ = failing;
    fail_next_ = fail_next;
  }
  std::vector<std::string> payloads() { return Locked(payloads_); }
  std::vector<std::vector<std::string>> attempts() { return Locked(attempts_); }

 private:
  template <typename T>
  T Locked(const T& value) {
    std::lock_guard lock(mutex_);
    return value;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> payloads_;
  std::set<std::string> distinct_;
  std::vector<std::vector<std::string>> attempts_;
  bool failing_ = false;
  int fail_next_ = 0;
};

std::string Describe(const MqttSubscriber& subscriber) {
  auto stats = subscriber.stats();
  return fmt::format(
      "received {}, flushed {}, buffered {}, reconnects {}, connected {}, paused {}, "
      "last error: {}",
      stats.received, stats.flushed, stats.buffered, stats.reconnects, stats.connected,
      stats.paused, stats.last_error);
}

std::vector<std::string> Numbered(std::string_view prefix, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(fmt::format("{}-{:03}", prefix, i));
  return out;
}

std::vector<std::string> WithPrefix(const std::vector<std::string>& payloads, char prefix) {
  std::vector<std::string> out;
  std::copy_if(payloads.begin(), payloads.end(), std::back_inserter(out),
               [&](const std::string& payload) { return payload[0] == prefix; });
  return out;
}

// QoS 1 is at least once: a message whose PUBACK was cut off is delivered again. Every expected
// message must arrive, first occurrences in order; anything else must repeat an earlier one.
void ExpectAtLeastOnceInOrder(const std::vector<std::string>& got,
                              const std::vector<std::string>& expected) {
  size_t next = 0;
  std::set<std::string> seen;
  for (const auto& payload : got) {
    if (next < expected.size() && payload == expected[next]) {
      seen.insert(payload);
      ++next;
    } else {
      EXPECT_TRUE(seen.contains(payload)) << "out of order or unexpected: " << payload;
    }
  }
  EXPECT_EQ(next, expected.size())
      << "missing from " << (next < expected.size() ? expected[next] : "");
}

class MqttSubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    broker_ = std::make_unique<Broker>(dir_, /*persistent=*/true);
    broker_->Start();
  }
  void TearDown() override {
    broker_.reset();
    fs::remove_all(dir_);
  }

  MqttSourceConfig Config(const std::string& uri, const std::string& topic) {
    MqttSourceConfig config;
    config.broker_uri = uri;
    config.topic = topic;
    config.client_id = "falaj-test-subscriber";
    config.flush_rows = 1000;
    config.flush_interval = 3600s;
    config.max_backoff = 200ms;
    return config;
  }

  void PublishAll(const std::string& topic, const std::vector<std::string>& payloads) {
    std::vector<std::pair<std::string, std::string>> messages;
    for (const auto& payload : payloads) messages.emplace_back(topic, payload);
    data::PublishAll(broker_->uri(), messages);
  }

  fs::path dir_;
  std::unique_ptr<Broker> broker_;
  Collector collector_;
};

TEST(MqttConfig, ParsesStrictlyWithDefaultsAndRedacts) {
  auto config = ParseMqttConfig(nlohmann::json{{"broker_uri", "tcp://broker.local:1883"},
                                               {"topic", "plant/+/temp"},
                                               {"client_id", "falaj-plant"},
                                               {"username", "ingest"},
                                               {"password", "s3cret"}});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->qos, 1);
  EXPECT_EQ(config->flush_rows, 1000);
  EXPECT_EQ(config->flush_interval, 1000ms);
  EXPECT_EQ(config->max_backoff, 30000ms);
  EXPECT_EQ(config->max_buffered, 100000);
  auto stored = ParseMqttConfig(MqttConfigJson(*config, /*redact_password=*/false));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->password, "s3cret");
  auto shown = MqttConfigJson(*config, /*redact_password=*/true);
  EXPECT_EQ(shown["password"], "***");
  EXPECT_EQ(shown.dump().find("s3cret"), std::string::npos);

  nlohmann::json good = {{"broker_uri", "ssl://[::1]:8883"}, {"topic", "a/#"}, {"client_id", "c"}};
  ASSERT_TRUE(ParseMqttConfig(good));
  auto expect_refused = [&](const std::string& key, nlohmann::json value) {
    nlohmann::json bad = good;
    bad[key] = std::move(value);
    auto parsed = ParseMqttConfig(bad);
    ASSERT_FALSE(parsed) << bad.dump();
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(key), std::string::npos) << parsed.error().message;
  };
  expect_refused("colour", "blue");
  for (const char* uri : {"http://h:1", "tcp://h", "tcp://h:0", "tcp://h:99999", "tcp://u@h:1",
                          "tcp://h:1/path", "tcp://:1883", ""}) {
    expect_refused("broker_uri", uri);
  }
  for (const char* topic : {"", "a/b#", "a+/b", "#/a", "a/#/b"}) expect_refused("topic", topic);
  expect_refused("qos", 3);
  expect_refused("qos", "1");
  expect_refused("client_id", "");
  expect_refused("client_id", "has space");
  expect_refused("flush_rows", -5);
  expect_refused("flush_interval_ms", 0);
  expect_refused("max_backoff_ms", int64_t{1} << 62);
  expect_refused("max_buffered", 10);  // below the default flush_rows
  expect_refused("password", "alone");
  nlohmann::json missing = good;
  missing.erase("client_id");
  EXPECT_FALSE(ParseMqttConfig(missing));
  EXPECT_FALSE(ParseMqttConfig(nlohmann::json::array()));
}

TEST_F(MqttSubscriberTest, FlushesFullBatchesByCountInOrder) {
  auto config = Config(broker_->uri(), "plant/line1/temp");
  config.flush_rows = 10;
  auto subscriber = MqttSubscriber::Start(config, collector_.Flush());
  ASSERT_TRUE(subscriber) << subscriber.error().message;
  auto expected = Numbered("m", 0, 30);
  PublishAll("plant/line1/temp", expected);
  ASSERT_TRUE(collector_.WaitFor(30));
  EXPECT_EQ(collector_.payloads(), expected);
  EXPECT_EQ(collector_.attempts(),  // none failed
            (std::vector{Numbered("m", 0, 10), Numbered("m", 10, 20), Numbered("m", 20, 30)}));
  // The counters move once the flush has returned.
  ASSERT_TRUE(Eventually([&] { return (*subscriber)->stats().flushed == 30; }));
  auto stats = (*subscriber)->stats();
  EXPECT_EQ(stats.received, 30);
  EXPECT_EQ(stats.flushed_batches, 3);
  EXPECT_TRUE(stats.connected);
  EXPECT_TRUE((*subscriber)->Stop());
}

TEST_F(MqttSubscriberTest, FlushesPartialBatchesWhenTheIntervalPasses) {
  auto config = Config(broker_->uri(), "plant/line1/temp");
  config.flush_interval = 20ms;  // flush_rows stays 1000: only the interval can flush these
  auto subscriber = MqttSubscriber::Start(config, collector_.Flush());
  ASSERT_TRUE(subscriber) << subscriber.error().message;
  auto expected = Numbered("m", 0, 3);
  PublishAll("plant/line1/temp", expected);
  ASSERT_TRUE(collector_.WaitFor(3));
  EXPECT_EQ(collector_.payloads(), expected);
  EXPECT_TRUE(Eventually([&] { return (*subscriber)->stats().buffered == 0; }));
}

TEST_F(MqttSubscriberTest, WildcardsSelectTopicsAndKeepEachTopicsOrder) {
  Collector plus_collector;
  auto plus =
      MqttSubscriber::Start(Config(broker_->uri(), "sensors/+/temp"), plus_collector.Flush());
  auto hash_config = Config(broker_->uri(), "sensors/#");
  hash_config.client_id = "falaj-test-hash";
  auto hash = MqttSubscriber::Start(hash_config, collector_.Flush());
  ASSERT_TRUE(plus && hash);
  std::vector<std::pair<std::string, std::string>> messages;
  for (int i = 0; i < 20; ++i) {
    messages.emplace_back("sensors/a/temp", fmt::format("a-{:03}", i));
    messages.emplace_back("sensors/b/temp", fmt::format("b-{:03}", i));
    messages.emplace_back("sensors/a/humidity", fmt::format("h-{:03}", i));
    messages.emplace_back("other/a/temp", fmt::format("x-{:03}", i));
  }
  data::PublishAll(broker_->uri(), messages);
  ASSERT_TRUE((*plus)->Stop());
  ASSERT_TRUE((*hash)->Stop());
  auto plus_got = plus_collector.payloads();
  EXPECT_EQ(plus_got.size(), 40u);
  EXPECT_EQ(WithPrefix(plus_got, 'a'), Numbered("a", 0, 20));
  EXPECT_EQ(WithPrefix(plus_got, 'b'), Numbered("b", 0, 20));
  auto hash_got = collector_.payloads();
  EXPECT_EQ(hash_got.size(), 60u);
  EXPECT_EQ(WithPrefix(hash_got, 'h'), Numbered("h", 0, 20));
  EXPECT_EQ(WithPrefix(hash_got, 'a'), Numbered("a", 0, 20));
}

TEST_F(MqttSubscriberTest, MessagesPublishedWhileCutOffArriveAfterReconnect) {
  TcpProxy proxy(broker_->port());
  auto config = Config(proxy.uri(), "plant/#");
  config.flush_rows = 5;
  config.flush_interval = 20ms;  // a redelivered duplicate can leave a batch short
  auto subscriber = MqttSubscriber::Start(config, collector_.Flush());
  ASSERT_TRUE(subscriber) << subscriber.error().message;
  PublishAll("plant/p1", Numbered("m", 0, 10));
  ASSERT_TRUE(collector_.WaitFor(10));

  proxy.Route(std::nullopt);
  proxy.CutAll();
  ASSERT_TRUE(Eventually([&] { return !(*subscriber)->stats().connected; }));
  PublishAll("plant/p1", Numbered("m", 10, 40));  // queued by the broker for the session
  EXPECT_EQ((*subscriber)->stats().received, 10);
  proxy.Route(broker_->port());

  ASSERT_TRUE(collector_.WaitFor(40)) << Describe(**subscriber);
  ExpectAtLeastOnceInOrder(collector_.payloads(), Numbered("m", 0, 40));
  EXPECT_GE((*subscriber)->stats().reconnects, 1);
  EXPECT_FALSE((*subscriber)->stats().last_error.empty());
}

TEST_F(MqttSubscriberTest, BrokerRestartLosesNothingForThePersistentSession) {
  TcpProxy proxy(broker_->port());
  auto config = Config(proxy.uri(), "plant/#");
  config.flush_rows = 5;
  config.flush_interval = 20ms;  // a redelivered duplicate can leave a batch short
  auto subscriber = MqttSubscriber::Start(config, collector_.Flush());
  ASSERT_TRUE(subscriber) << subscriber.error().message;
  PublishAll("plant/p1", Numbered("m", 0, 10));
  ASSERT_TRUE(collector_.WaitFor(10));

  // The proxy keeps the subscriber out until the messages below are queued at the new broker.
  proxy.Route(std::nullopt);
  broker_->Stop();
  ASSERT_TRUE(Eventually([&] { return !(*subscriber)->stats().connected; }));
  broker_->Start();  // same persistence directory, new port
  PublishAll("plant/p1", Numbered("m", 10, 30));
  proxy.Route(broker_->port());

  ASSERT_TRUE(collector_.WaitFor(30)) << Describe(**subscriber);
  ExpectAtLeastOnceInOrder(collector_.payloads(), Numbered("m", 0, 30));
  ASSERT_TRUE(Eventually([&] { return (*subscriber)->stats().connected; }));
  EXPECT_GE((*subscriber)->stats().reconnects, 1);
}

TEST_F(MqttSubscriberTest, FailedFlushIsRetriedWithTheSameBatch) {
  collector_.SetFailing(false, /*fail_next=*/3);
  auto config = Config(broker_->uri(), "plant/p1");
  config.flush_rows = 5;
  auto subscriber = MqttSubscriber::Start(config, collector_.Flush());
  ASSERT_TRUE(subscriber) << subscriber.error().message;
  auto expected = Numbered("m", 0, 12);
  PublishAll("plant/p1", expected);
  ASSERT_TRUE(collector_.WaitFor(10));
  ASSERT_TRUE((*subscriber)->Stop());
  EXPECT_EQ(collector_.payloads(), expected);
  auto attempts = collector_.attempts();
  ASSERT_GE(attempts.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(attempts[i], Numbered("m", 0, 5)) << "attempt " << i;
  auto stats = (*subscriber)->stats();
  EXPECT_EQ(stats.failed_flushes, 3);
  EXPECT_EQ(stats.flushed, 12);
  EXPECT_NE(stats.last_error.find("the dataset store is down"), std::string::npos);
}

TEST_F(MqttSubscriberTest, PausesAtMaxBufferedAndResumesWithoutLoss) {
  collector_.SetFailing(true);
  auto config = Config(broker_->uri(), "plant/p1");
  config.flush_rows = 5;
  config.flush_interval = 20ms;  // a redelivered duplicate can leave a batch short
  config.max_buffered = 10;
  auto subscriber = MqttSubscriber::Start(config, collector_.Flush());
  ASSERT_TRUE(subscriber) << subscriber.error().message;
  auto expected = Numbered("m", 0, 60);
  PublishAll("plant/p1", {expected.begin(), expected.begin() + 15});
  auto paused = [&] {
    auto stats = (*subscriber)->stats();
    return stats.paused && !stats.connected;
  };
  ASSERT_TRUE(Eventually(paused));
  int64_t received = (*subscriber)->stats().received;
  EXPECT_GE(received, 10);
  PublishAll("plant/p1", {expected.begin() + 15, expected.end()});
  EXPECT_EQ((*subscriber)->stats().received, received);  // waiting at the broker
  collector_.SetFailing(false);
  ASSERT_TRUE(collector_.WaitFor(60)) << Describe(**subscriber);
  ExpectAtLeastOnceInOrder(collector_.payloads(), expected);
  ASSERT_TRUE(Eventually([&] { return (*subscriber)->stats().connected; }));
  EXPECT_FALSE((*subscriber)->stats().paused);
  EXPECT_GE((*subscriber)->stats().reconnects, 1);
}

TEST_F(MqttSubscriberTest, StopFlushesWhatIsBuffered) {
  auto subscriber = MqttSubscriber::Start(Config(broker_->uri(), "plant/p1"), collector_.Flush());
  ASSERT_TRUE(subscriber) << subscriber.error().message;
  auto expected = Numbered("m", 0, 7);
  PublishAll("plant/p1", expected);
  ASSERT_TRUE(Eventually([&] { return (*subscriber)->stats().received == 7; }));
  EXPECT_TRUE(collector_.payloads().empty());  // neither 1000 rows nor an hour yet
  EXPECT_TRUE((*subscriber)->Stop());
  EXPECT_EQ(collector_.payloads(), expected);
  EXPECT_FALSE((*subscriber)->stats().connected);
  EXPECT_TRUE((*subscriber)->Stop());  // idempotent
}

TEST_F(MqttSubscriberTest, StopReportsWhatItCouldNotFlushByTheDeadline) {
  collector_.SetFailing(true);
  auto subscriber = MqttSubscriber::Start(Config(broker_->uri(), "plant/p1"), collector_.Flush());
  ASSERT_TRUE(subscriber) << subscriber.error().message;
  PublishAll("plant/p1", Numbered("m", 0, 3));
  ASSERT_TRUE(Eventually([&] { return (*subscriber)->stats().received == 3; }));
  auto stopped = (*subscriber)->Stop(300ms);
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_NE(stopped.error().message.find("3 received messages"), std::string::npos)
      << stopped.error().message;
}

TEST_F(MqttSubscriberTest, StartFailsWhenTheBrokerIsUnreachableOrRefuses) {
  auto unreachable = MqttSubscriber::Start(
      Config("tcp://127.0.0.1:" + std::to_string(FreePort()), "t"), collector_.Flush());
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, ErrorCode::kUnavailable);

  // With anonymous access off and no password file, Mosquitto refuses every CONNECT.
  fs::create_directory(dir_ / "closed");
  Broker closed(dir_ / "closed", /*persistent=*/false, /*anonymous=*/false);
  closed.Start();
  auto config = Config(closed.uri(), "t");
  config.username = "ingest";
  config.password = "wrong-password";
  auto refused = MqttSubscriber::Start(config, collector_.Flush());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("refused"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().message.find("wrong-password"), std::string::npos);

  EXPECT_FALSE(MqttSubscriber::Start(Config(broker_->uri(), "t"), nullptr));
  auto bad_topic = Config(broker_->uri(), "t/#/x");
  EXPECT_EQ(MqttSubscriber::Start(bad_topic, collector_.Flush()).error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace falaj::data
