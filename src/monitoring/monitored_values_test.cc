#include "monitoring/monitored_values.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace falaj::monitoring {
namespace {

TEST(MonitoredValues, KeepsTheLatestValuePerProjectAndName) {
  MonitoredValues values;
  values.Set("p", "monitor.m.drift.age.score", {0.1, 10});
  values.Set("p", "monitor.m.drift.age.score", {0.4, 20});
  values.Set("q", "monitor.m.drift.age.score", {0.9, 30});
  auto found = values.Get("p", "monitor.m.drift.age.score");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->value, 0.4);
  EXPECT_EQ(found->at_ms, 20);
  EXPECT_EQ(values.Get("q", "monitor.m.drift.age.score")->value, 0.9);
  EXPECT_FALSE(values.Get("p", "monitor.m.drift.income.score"));
  EXPECT_FALSE(values.Get("r", "monitor.m.drift.age.score"));
}

TEST(MonitoredValues, ListsAndErasesByPrefixWithinOneProjectOnly) {
  MonitoredValues values;
  values.Set("p", "monitor.a.x", {1, 1});
  values.Set("p", "monitor.a.y", {2, 1});
  values.Set("p", "monitor.ab.x", {3, 1});
  values.Set("p2", "monitor.a.x", {4, 1});
  // A project that is a prefix of another ("p" of "p2") must not see its values.
  auto listed = values.List("p", "monitor.a.");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].first, "monitor.a.x");
  EXPECT_EQ(listed[1].first, "monitor.a.y");
  EXPECT_EQ(values.List("p").size(), 3u);

  values.Erase("p", "monitor.a.");
  EXPECT_EQ(values.List("p").size(), 1u);
  EXPECT_TRUE(values.Get("p", "monitor.ab.x"));
  EXPECT_TRUE(values.Get("p2", "monitor.a.x"));
}

TEST(MonitoredValues, ConcurrentWritersAndReadersSeeWholeValues) {
  MonitoredValues values;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&values, t] {
      for (int i = 0; i < 2000; ++i) {
        values.Set("p", "v" + std::to_string(i % 50), {static_cast<double>(t), i});
        auto read = values.List("p", "v");
        ASSERT_LE(read.size(), 50u);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(values.List("p").size(), 50u);
}

}  // namespace
}  // namespace falaj::monitoring
