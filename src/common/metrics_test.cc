#include "common/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace falaj::metrics {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(MetricsTest, CountersAndGaugesRenderExactly) {
  Registry registry;
  auto& requests =
      registry.AddCounter("http_requests_total", "Requests served.", {"method", "code"});
  // Created out of order to show that series render sorted by label values.
  requests.WithLabels({"POST", "500"}).Increment(0.5);
  requests.WithLabels({"GET", "200"}).Increment();
  requests.WithLabels({"GET", "200"}).Increment(2);
  auto& in_flight = registry.AddGauge("http_in_flight_requests", "Requests in flight.", {});
  registry.AddCounter("http_errors_total", "Errors by kind.", {"kind"});
  auto& queue = registry.AddGauge("queue_depth", "Queued items.", {"queue"});
  queue.WithLabels({"ingest"}).Set(7);
  queue.WithLabels({"ingest"}).Add(-2);

  EXPECT_EQ(registry.Render(),
            "# HELP http_requests_total Requests served.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "http_requests_total{method=\"POST\",code=\"500\"} 0.5\n"
            "# HELP http_in_flight_requests Requests in flight.\n"
            "# TYPE http_in_flight_requests gauge\n"
            "http_in_flight_requests 0\n"
            "# HELP http_errors_total Errors by kind.\n"
            "# TYPE http_errors_total counter\n"
            "# HELP queue_depth Queued items.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth{queue=\"ingest\"} 5\n");
  EXPECT_EQ(in_flight.WithLabels({}).Value(), 0);
}

TEST(MetricsTest, EscapesHelpAndLabelValues) {
  Registry registry;
  auto& files =
      registry.AddCounter("files_total", "Files seen.\nPaths are \\-separated.", {"path"});
  files.WithLabels({"C:\\data\\\"new\"\nfile"}).Increment();

  EXPECT_EQ(registry.Render(), R"(# HELP files_total Files seen.\nPaths are \\-separated.
# TYPE files_total counter
files_total{path="C:\\data\\\"new\"\nfile"} 1
)");
}

TEST(MetricsTest, FormatsValuesWithoutExponentNoise) {
  Registry registry;
  auto& value = registry.AddGauge("value", "A value.", {"case"});
  value.WithLabels({"a_integer"}).Set(3);
  value.WithLabels({"b_fraction"}).Set(0.25);
  value.WithLabels({"c_small"}).Set(1e-05);
  value.WithLabels({"d_million"}).Set(1e6);
  value.WithLabels({"e_negative"}).Set(-42);
  value.WithLabels({"f_plus_inf"}).Set(std::numeric_limits<double>::infinity());
  value.WithLabels({"g_minus_inf"}).Set(-std::numeric_limits<double>::infinity());
  value.WithLabels({"h_nan"}).Set(std::numeric_limits<double>::quiet_NaN());

  EXPECT_EQ(registry.Render(),
            "# HELP value A value.\n"
            "# TYPE value gauge\n"
            "value{case=\"a_integer\"} 3\n"
            "value{case=\"b_fraction\"} 0.25\n"
            "value{case=\"c_small\"} 1e-05\n"
            "value{case=\"d_million\"} 1000000\n"
            "value{case=\"e_negative\"} -42\n"
            "value{case=\"f_plus_inf\"} +Inf\n"
            "value{case=\"g_minus_inf\"} -Inf\n"
            "value{case=\"h_nan\"} NaN\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry registry;
  auto& latency =
      registry.AddHistogram("latency_seconds", "Request latency.", {"route"}, {0.5, 1, 2.5});
  Histogram& route = latency.WithLabels({"/v1/predict"});
  // 0.5 sits exactly on a bound, which counts as inside it (le = less or equal).
  for (double seconds : {0.25, 0.5, 0.75, 2.0, 4.0}) route.Observe(seconds);

  Histogram::Snapshot snapshot = route.Read();
  EXPECT_EQ(snapshot.bucket_counts, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(snapshot.count, 5u);
  EXPECT_EQ(snapshot.sum, 7.5);
  EXPECT_EQ(registry.Render(),
            "# HELP latency_seconds Request latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{route=\"/v1/predict\",le=\"0.5\"} 2\n"
            "latency_seconds_bucket{route=\"/v1/predict\",le=\"1\"} 3\n"
            "latency_seconds_bucket{route=\"/v1/predict\",le=\"2.5\"} 4\n"
            "latency_seconds_bucket{route=\"/v1/predict\",le=\"+Inf\"} 5\n"
            "latency_seconds_sum{route=\"/v1/predict\"} 7.5\n"
            "latency_seconds_count{route=\"/v1/predict\"} 5\n");
}

TEST(MetricsTest, UnlabelledHistogramRendersBeforeFirstObservation) {
  Registry registry;
  registry.AddHistogram("load_seconds", "Model load time.", {}, {1, 10});

  EXPECT_EQ(registry.Render(),
            "# HELP load_seconds Model load time.\n"
            "# TYPE load_seconds histogram\n"
            "load_seconds_bucket{le=\"1\"} 0\n"
            "load_seconds_bucket{le=\"10\"} 0\n"
            "load_seconds_bucket{le=\"+Inf\"} 0\n"
            "load_seconds_sum 0\n"
            "load_seconds_count 0\n");
}

TEST(MetricsTest, DefaultLatencyBucketsSpan50MicrosecondsTo10Seconds) {
  std::vector<double> buckets = DefaultLatencyBuckets();
  ASSERT_FALSE(buckets.empty());
  EXPECT_EQ(buckets.front(), 0.00005);
  EXPECT_EQ(buckets.back(), 10);
  EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end()));
}

TEST(MetricsTest, ConcurrentUpdatesAreExact) {
  constexpr int kThreads = 8;
  constexpr int kIncrements = 100000;
  Registry registry;
  auto& counter = registry.AddCounter("work_total", "Work done.", {"worker"});
  auto& gauge = registry.AddGauge("work_pending", "Work pending.", {});
  auto& histogram = registry.AddHistogram("work_seconds", "Work time.", {}, {1});

  std::atomic<bool> done{false};
  // Scrapes run concurrently with updates and with the creation of new series.
  std::thread scraper([&] {
    while (!done.load()) EXPECT_FALSE(registry.Render().empty());
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Every thread resolves the series itself, so lookups race with each other too.
      Counter& shared = counter.WithLabels({"shared"});
      for (int i = 0; i < kIncrements; ++i) {
        shared.Increment();
        gauge.WithLabels({}).Add(0.5);
        histogram.WithLabels({}).Observe(2);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  done.store(true);
  scraper.join();

  EXPECT_EQ(counter.WithLabels({"shared"}).Value(), kThreads * kIncrements);
  EXPECT_EQ(gauge.WithLabels({}).Value(), kThreads * kIncrements * 0.5);
  Histogram::Snapshot snapshot = histogram.WithLabels({}).Read();
  EXPECT_EQ(snapshot.count, static_cast<uint64_t>(kThreads * kIncrements));
  EXPECT_EQ(snapshot.sum, kThreads * kIncrements * 2.0);
  EXPECT_NE(registry.Render().find("work_total{worker=\"shared\"} 800000\n"), std::string::npos);
}

TEST(MetricsTest, SameLabelsReturnTheSameSeries) {
  Registry registry;
  auto& family = registry.AddCounter("hits_total", "Hits.", {"model", "version"});
  Counter& first = family.WithLabels({"resnet", "1"});
  first.Increment(4);
  EXPECT_NE(&first, &family.WithLabels({"resnet", "2"}));
  // The label tuple, not the concatenation of its values, identifies a series.
  EXPECT_NE(&first, &family.WithLabels({"resnet1", ""}));
  for (int i = 0; i < 1000; ++i) family.WithLabels({"other", std::to_string(i)}).Increment();

  Counter& again = family.WithLabels({"resnet", "1"});
  EXPECT_EQ(&first, &again);
  EXPECT_EQ(again.Value(), 4);
}

TEST(MetricsTest, CollectorsRenderInRegistrationOrder) {
  Registry registry;
  registry.AddCollector([](std::string& out) { out += "# HELP a A.\n# TYPE a gauge\na 1\n"; });
  registry.AddGauge("b", "B.", {});

  EXPECT_EQ(registry.Render(),
            "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 0\n");
}

TEST(MetricsTest, ProcessCollectorReportsResidentMemory) {
  Registry registry;
  AddProcessCollector(registry);
  std::string text = registry.Render();

  const std::regex comment(R"(# (HELP|TYPE) process_[a-z_]+ .+)");
  const std::regex sample(R"((process_[a-z_]+) ([-+]?[0-9.e+-]+))");
  double resident_bytes = 0;
  for (const std::string& line : Lines(text)) {
    std::smatch match;
    if (std::regex_match(line, match, sample)) {
      if (match[1] == "process_resident_memory_bytes") resident_bytes = std::stod(match[2]);
    } else {
      EXPECT_TRUE(std::regex_match(line, comment)) << "malformed line: " << line;
    }
  }
  EXPECT_GT(resident_bytes, 0) << text;
  for (const char* name : {"process_cpu_seconds_total", "process_virtual_memory_bytes",
                           "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_NE(text.find(std::string("\n") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
}

// install-deps installs promtool, so its absence is a broken environment, not a reason to skip.
TEST(MetricsTest, PromtoolAcceptsTheWholeExposition) {
  ASSERT_EQ(std::system("command -v promtool > /dev/null"), 0) << "promtool is not on PATH";
  Registry registry;
  auto& requests = registry.AddCounter("falaj_requests_total", "Requests \"served\".\nBy code.",
                                       {"route", "code"});
  requests.WithLabels({"/v1/models/a\\b", "200"}).Increment(3);
  requests.WithLabels({"/v1/\"quoted\"\nroute", "500"}).Increment();
  registry.AddGauge("falaj_models_loaded", "Models in memory.", {}).WithLabels({}).Set(2);
  auto& latency = registry.AddHistogram("falaj_request_duration_seconds", "Request latency.",
                                        {"route"}, DefaultLatencyBuckets());
  for (double seconds : {0.00001, 0.003, 0.2, 42.0}) latency.WithLabels({"/v1"}).Observe(seconds);
  AddProcessCollector(registry);
  std::string text = registry.Render();

  FILE* promtool = popen("promtool check metrics", "w");
  ASSERT_NE(promtool, nullptr);
  EXPECT_EQ(std::fwrite(text.data(), 1, text.size(), promtool), text.size());
  int status = pclose(promtool);
  ASSERT_TRUE(WIFEXITED(status)) << text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
}

TEST(MetricsDeathTest, RegistrationMistakesAbort) {
  Registry registry;
  registry.AddCounter("taken_total", "Taken.", {});
  registry.AddHistogram("rpc_seconds", "RPC time.", {}, {1});
  EXPECT_DEATH(registry.AddCounter("taken_total", "Again.", {}), "registered twice");
  EXPECT_DEATH(registry.AddGauge("rpc_seconds_count", "Clashes.", {}), "registered twice");
  EXPECT_DEATH(registry.AddCounter("1st_total", "Bad name.", {}), "invalid metric name");
  EXPECT_DEATH(registry.AddCounter("dash-total", "Bad name.", {}), "invalid metric name");
  EXPECT_DEATH(registry.AddCounter("ok_total", "Reserved.", {"__name"}), "invalid label name");
  EXPECT_DEATH(registry.AddCounter("ok_total", "Colon.", {"a:b"}), "invalid label name");
  EXPECT_DEATH(registry.AddCounter("ok_total", "Twice.", {"a", "a"}), "duplicate label name");
  EXPECT_DEATH(registry.AddHistogram("h_seconds", "Le.", {"le"}, {1}), "reserve label le");
  EXPECT_DEATH(registry.AddHistogram("h_seconds", "Unsorted.", {}, {2, 1}), "strictly increasing");
  EXPECT_DEATH(
      registry.AddHistogram("h_seconds", "Inf.", {}, {1, std::numeric_limits<double>::infinity()}),
      "finite");
}

TEST(MetricsDeathTest, SeriesMisuseAborts) {
  Registry registry;
  auto& family = registry.AddCounter("calls_total", "Calls.", {"method"});
  EXPECT_DEATH(family.WithLabels({"a", "b"}), "1 label names but got 2 values");
  EXPECT_DEATH(family.WithLabels({"a"}).Increment(-1), "counter incremented by -1");
}

}  // namespace
}  // namespace falaj::metrics
