#include <gtest/gtest.h>

#include <atomic>

#include "common/metrics.h"
#include "monitoring/alert_http.h"
#include "monitoring/alert_notifier.h"
#include "monitoring/alert_payloads.h"
#include "monitoring/alert_rule.h"
#include "monitoring/alert_state.h"
#include "monitoring/duration_text.h"

namespace falaj::monitoring {
namespace {

// The rule's `for` is 10 s; the fake clock is the `now` handed to each step.
TEST(AlertState, PendingThenFiringAfterForThenResolved) {
  Alert alert{"p", "r", "monitor.m.drift_share"};
  EXPECT_EQ(Step(alert, false, 0.1, 0, 10'000), Transition::kNone);
  EXPECT_EQ(Step(alert, true, 0.6, 1'000, 10'000), Transition::kPending);
  EXPECT_EQ(alert.state, AlertState::kPending);
  EXPECT_EQ(alert.active_since_ms, 1'000);
  EXPECT_EQ(Step(alert, true, 0.7, 10'999, 10'000), Transition::kNone);
  EXPECT_EQ(Step(alert, true, 0.8, 11'000, 10'000), Transition::kFired);
  EXPECT_EQ(alert.state, AlertState::kFiring);
  EXPECT_EQ(alert.fired_at_ms, 11'000);
  EXPECT_EQ(alert.value, 0.8);
  EXPECT_EQ(Step(alert, true, 0.8, 12'000, 10'000), Transition::kNone);
  EXPECT_EQ(Step(alert, false, 0.1, 13'000, 10'000), Transition::kResolved);
  EXPECT_EQ(alert.state, AlertState::kResolved);
  EXPECT_EQ(alert.resolved_at_ms, 13'000);
  // Holding again starts a new pending period, and a new trigger.
  alert.trigger = TriggerState::kSubmitted;
  EXPECT_EQ(Step(alert, true, 0.9, 20'000, 10'000), Transition::kPending);
  EXPECT_EQ(alert.trigger, TriggerState::kNone);
  EXPECT_EQ(alert.resolved_at_ms, 0);
}

TEST(AlertState, PendingThatStopsHoldingIsDroppedAndZeroForFiresAtOnce) {
  Alert alert{"p", "r", "s"};
  EXPECT_EQ(Step(alert, true, 1, 0, 5'000), Transition::kPending);
  EXPECT_EQ(Step(alert, false, 0, 4'000, 5'000), Transition::kDropped);
  EXPECT_EQ(alert.state, AlertState::kInactive);
  Alert immediate{"p", "r", "s"};
  EXPECT_EQ(Step(immediate, true, 1, 7, 0), Transition::kFired);
  EXPECT_EQ(immediate.active_since_ms, 7);
  EXPECT_EQ(immediate.fired_at_ms, 7);
}

AlertRule Rule() {
  auto rule = ParseAlertRule({{"name", "drift"},
                              {"value", "monitor.credit.drift_share"},
                              {"op", ">="},
                              {"threshold", 0.5},
                              {"for", "2m"},
                              {"labels", {{"team", "risk"}}},
                              {"annotations", {{"summary", "inputs drifted"}}},
                              {"alertmanager_url", "http://127.0.0.1:9093"}});
  EXPECT_TRUE(rule.has_value()) << rule.error().message;
  return *rule;
}

TEST(AlertPayloads, AlertmanagerShape) {
  AlertRule rule = Rule();
  EXPECT_EQ(rule.for_ms, 120'000);
  Alert alert{"p", "drift", "monitor.credit.drift_share", AlertState::kFiring, 0.6, 1000, 121'000};
  nlohmann::json firing = AlertmanagerPayload(rule, alert, "http://falaj/x");
  ASSERT_TRUE(firing.is_array());
  ASSERT_EQ(firing.size(), 1u);
  const nlohmann::json& one = firing[0];
  EXPECT_EQ(one["labels"], (nlohmann::json{{"alertname", "drift"},
                                           {"project", "p"},
                                           {"team", "risk"},
                                           {"series", "monitor.credit.drift_share"},
                                           {"severity", "warning"}}));
  EXPECT_EQ(one["annotations"]["summary"], "inputs drifted");
  EXPECT_EQ(one["annotations"]["value"], "0.6");
  EXPECT_EQ(one["startsAt"], "1970-01-01T00:02:01.000Z");
  EXPECT_FALSE(one.contains("endsAt"));
  EXPECT_EQ(one["generatorURL"], "http://falaj/x");
  alert.state = AlertState::kResolved;
  alert.resolved_at_ms = 180'000;
  EXPECT_EQ(AlertmanagerPayload(rule, alert, "g")[0]["endsAt"], "1970-01-01T00:03:00.000Z");
  EXPECT_EQ(AlertmanagerAlertsUrl("http://127.0.0.1:9093/"), "http://127.0.0.1:9093/api/v2/alerts");
  nlohmann::json webhook = WebhookPayload(rule, alert, "g");
  EXPECT_EQ(webhook["state"], "resolved");
  EXPECT_EQ(webhook["op"], ">=");
  EXPECT_EQ(webhook["trigger_job"], nullptr);
}

TEST(AlertRules, MalformedRulesNameTheField) {
  nlohmann::json base = {{"name", "r"}, {"value", "monitor.m.*"}, {"op", ">"}, {"threshold", 1}};
  EXPECT_TRUE(ParseAlertRule(base).has_value());
  EXPECT_TRUE(ParseAlertRule(base)->is_prefix());
  EXPECT_EQ(ParseAlertRule(base)->prefix(), "monitor.m.");
  auto refused = [&](nlohmann::json change, std::string_view field) {
    nlohmann::json body = base;
    body.update(change);
    auto rule = ParseAlertRule(body);
    ASSERT_FALSE(rule.has_value()) << change.dump();
    EXPECT_NE(rule.error().message.find(field), std::string::npos) << rule.error().message;
  };
  refused({{"op", "=>"}}, "op");
  refused({{"threshold", "high"}}, "threshold");
  refused({{"value", "a*b"}}, "value");
  refused({{"for", "-1s"}}, "for");
  refused({{"webhook_url", "http://example.com/hook"}}, "loopback");
  refused({{"webhook_url", "https://127.0.0.1/hook"}}, "webhook_url");
  refused({{"alertmanager_url", "http://user:pw@127.0.0.1/"}}, "credentials");
  refused({{"trigger", {{"kind", "command"}, {"spec", nlohmann::json::object()}}}}, "trigger.kind");
  refused({{"colour", "red"}}, "colour");
}

TEST(AlertHttp, UrlsAreLoopbackOnly) {
  auto parsed = ParseHttpUrl("http://127.0.0.1:8123/hook?x=1", "url");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->host, "127.0.0.1");
  EXPECT_EQ(parsed->port, "8123");
  EXPECT_EQ(parsed->target, "/hook?x=1");
  EXPECT_EQ(ParseHttpUrl("http://[::1]", "url")->port, "80");
  EXPECT_FALSE(ParseHttpUrl("http://10.0.0.1/", "url").has_value());
  EXPECT_FALSE(ParseHttpUrl("http://127.0.0.1:99999999/", "url").has_value());
}

TEST(AlertNotifier, RetriesThenCountsAndBoundsTheQueue) {
  metrics::Registry registry;
  std::atomic<int> calls{0};
  AlertNotifier notifier(
      [&](const std::string&, const std::string&) -> Result<int> {
        // The first delivery succeeds on its third try.
        int call = ++calls;
        return call < 3 ? 503 : 200;
      },
      registry, {2, 3, std::chrono::milliseconds(1)});
  EXPECT_TRUE(notifier.Enqueue("http://127.0.0.1/a", "{}"));
  ASSERT_TRUE(notifier.Drain(std::chrono::seconds(5)));
  EXPECT_EQ(calls.load(), 3);
  std::string text = registry.Render();
  EXPECT_NE(text.find("falaj_alert_notifications_total{result=\"sent\"} 1"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace falaj::monitoring

namespace falaj::monitoring {
namespace {

TEST(DurationText, ParsesUnitsAndNumbersAndFormatsBack) {
  EXPECT_EQ(*ParseDurationMs("90s", "f", 0, 86'400'000), 90'000);
  EXPECT_EQ(*ParseDurationMs("1.5m", "f", 0, 86'400'000), 90'000);
  EXPECT_EQ(*ParseDurationMs("2h", "f", 0, 86'400'000), 7'200'000);
  EXPECT_EQ(*ParseDurationMs(2.5, "f", 0, 86'400'000), 2'500);
  EXPECT_FALSE(ParseDurationMs("2 h", "f", 0, 86'400'000).has_value());
  EXPECT_FALSE(ParseDurationMs("inf", "f", 0, 86'400'000).has_value());
  EXPECT_FALSE(ParseDurationMs("2d", "f", 0, 86'400'000).has_value());
  EXPECT_FALSE(ParseDurationMs(nlohmann::json::array(), "f", 0, 1).has_value());
  EXPECT_EQ(FormatDurationMs(7'200'000), "2h");
  EXPECT_EQ(FormatDurationMs(90'000), "90s");
  EXPECT_EQ(FormatDurationMs(1'500), "1.5s");
  EXPECT_EQ(FormatDurationMs(0), "0s");
}

}  // namespace
}  // namespace falaj::monitoring
