#include "monitoring/alert_service.h"

#include <fmt/format.h>

#include <set>

#include "common/json_fields.h"
#include "common/logging.h"
#include "monitoring/alert_payloads.h"

namespace falaj::monitoring {

AlertService::AlertService(storage::MetadataStore& store, MonitoredValues& values,
                           jobs::JobService& jobs, AlertNotifier& notifier, const Clock& clock,
                           std::function<std::string()> base_url)
    : store_(store),
      values_(values),
      jobs_(jobs),
      notifier_(notifier),
      clock_(clock),
      base_url_(std::move(base_url)) {}

AlertService::~AlertService() { Stop(); }

std::string AlertService::RuleKey(std::string_view project, std::string_view rule) {
  return fmt::format("{}\n{}", project, rule);
}

std::string AlertService::AlertKey(const Alert& alert) {
  return fmt::format("{}\n{}\n{}", alert.project, alert.rule, alert.series);
}

Status AlertService::Start(std::chrono::milliseconds tick) {
  FALAJ_ASSIGN_OR_RETURN(auto rules, store_.ListAllRules());
  FALAJ_ASSIGN_OR_RETURN(auto alerts, store_.ListAllAlerts());
  {
    std::lock_guard lock(mutex_);
    for (auto& record : rules) {
      std::string key = RuleKey(record.project, record.rule.name);
      rules_.emplace(std::move(key), std::move(record));
    }
    for (auto& alert : alerts) {
      std::string key = AlertKey(alert);
      alerts_.emplace(std::move(key), std::move(alert));
    }
    // A firing recorded before a restart whose job was not submitted yet is submitted now,
    // before any evaluation could resolve it (the values it watched are gone until their
    // monitors report again).
    for (auto& [key, alert] : alerts_) {
      auto rule = rules_.find(RuleKey(alert.project, alert.rule));
      if (alert.trigger == TriggerState::kPending && rule != rules_.end() &&
          rule->second.rule.trigger) {
        SubmitTrigger(rule->second, alert);
      }
    }
  }
  timer_ = std::thread([this, tick] {
    std::unique_lock lock(timer_mutex_);
    while (!timer_wake_.wait_for(lock, tick, [this] { return stopping_; })) {
      lock.unlock();
      Evaluate(ToUnixMillis(clock_.Now()));
      lock.lock();
    }
  });
  return Ok();
}

void AlertService::Stop() {
  {
    std::lock_guard lock(timer_mutex_);
    stopping_ = true;
  }
  timer_wake_.notify_all();
  if (timer_.joinable()) timer_.join();
}

Result<RuleRecord> AlertService::CreateRule(std::string_view project, const nlohmann::json& body,
                                            std::string_view created_by) {
  FALAJ_ASSIGN_OR_RETURN(AlertRule rule, ParseAlertRule(body));
  int64_t now = ToUnixMillis(clock_.Now());
  RuleRecord record{std::string(project), std::move(rule), 1, std::string(created_by), now, now};
  FALAJ_RETURN_IF_ERROR(store_.InsertRule(record));
  std::lock_guard lock(mutex_);
  rules_[RuleKey(project, record.rule.name)] = record;
  return record;
}

Result<RuleRecord> AlertService::ReplaceRule(std::string_view project, std::string_view name,
                                             const nlohmann::json& body) {
  FALAJ_ASSIGN_OR_RETURN(AlertRule rule, ParseAlertRule(body));
  if (rule.name != name) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "name '{}' in the body differs from the rule '{}' in the path", rule.name,
                     name);
  }
  FALAJ_ASSIGN_OR_RETURN(auto expected, json::OptionalInt(body, "revision"));
  RuleRecord record{std::string(project), std::move(rule), 0, "", 0, ToUnixMillis(clock_.Now())};
  std::lock_guard lock(mutex_);
  FALAJ_ASSIGN_OR_RETURN(RuleRecord updated, store_.ReplaceRule(record, expected));
  ForgetAlerts(project, name);
  rules_[RuleKey(project, name)] = updated;
  return updated;
}

Result<RuleRecord> AlertService::GetRule(std::string_view project, std::string_view name) {
  return store_.GetRule(project, name);
}

Result<std::vector<RuleRecord>> AlertService::ListRules(std::string_view project) {
  return store_.ListRules(project);
}

Status AlertService::DeleteRule(std::string_view project, std::string_view name) {
  std::lock_guard lock(mutex_);
  FALAJ_RETURN_IF_ERROR(store_.DeleteRule(project, name));
  rules_.erase(RuleKey(project, name));
  ForgetAlerts(project, name);
  return Ok();
}

void AlertService::ForgetAlerts(std::string_view project, std::string_view rule) {
  std::string prefix = RuleKey(project, rule) + "\n";
  for (auto it = alerts_.lower_bound(prefix);
       it != alerts_.end() && it->first.starts_with(prefix);) {
    it = alerts_.erase(it);
  }
}

std::vector<Alert> AlertService::ListAlerts(std::string_view project,
                                            std::optional<AlertState> state) {
  std::lock_guard lock(mutex_);
  std::vector<Alert> found;
  std::string prefix = fmt::format("{}\n", project);
  for (auto it = alerts_.lower_bound(prefix); it != alerts_.end() && it->first.starts_with(prefix);
       ++it) {
    if (!state || it->second.state == *state) found.push_back(it->second);
  }
  return found;
}

void AlertService::Evaluate(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  for (const auto& [key, record] : rules_) EvaluateRule(record, now_ms);
}

void AlertService::EvaluateRule(const RuleRecord& record, int64_t now_ms) {
  const AlertRule& rule = record.rule;
  std::vector<std::pair<std::string, MonitoredValue>> matching;
  if (rule.is_prefix()) {
    matching = values_.List(record.project, rule.prefix());
  } else if (auto value = values_.Get(record.project, rule.value)) {
    matching.emplace_back(rule.value, *value);
  }
  std::set<std::string> seen;
  for (const auto& [series, value] : matching) {
    seen.insert(series);
    // A value older than the rule's window is stale: its monitor stopped reporting.
    bool holds =
        now_ms - value.at_ms <= rule.window_ms && Compare(rule.op, value.value, rule.threshold);
    Alert probe{record.project, rule.name, series};
    auto [it, inserted] = alerts_.try_emplace(AlertKey(probe), std::move(probe));
    Apply(record, it->second, holds, value.value, now_ms);
    if (it->second.state == AlertState::kInactive) alerts_.erase(it);
  }
  // Alerts whose value disappeared (its monitor was deleted) stop holding.
  std::string prefix = RuleKey(record.project, rule.name) + "\n";
  for (auto it = alerts_.lower_bound(prefix);
       it != alerts_.end() && it->first.starts_with(prefix);) {
    if (!seen.contains(it->second.series)) {
      Apply(record, it->second, false, it->second.value, now_ms);
    }
    it = it->second.state == AlertState::kInactive ? alerts_.erase(it) : std::next(it);
  }
}

void AlertService::Apply(const RuleRecord& record, Alert& alert, bool holds, double value,
                         int64_t now_ms) {
  Transition transition = Step(alert, holds, value, now_ms, record.rule.for_ms);
  switch (transition) {
    case Transition::kNone:
      // Retries a trigger left pending by a restart or a full job queue.
      if (alert.state == AlertState::kFiring && alert.trigger == TriggerState::kPending) {
        SubmitTrigger(record, alert);
      }
      if (alert.state == AlertState::kFiring && !record.rule.alertmanager_url.empty()) {
        auto [sent, first] = alertmanager_sent_ms_.try_emplace(AlertKey(alert), 0);
        if (now_ms - sent->second >= kAlertmanagerResendMs) {
          notifier_.Enqueue(AlertmanagerAlertsUrl(record.rule.alertmanager_url),
                            AlertmanagerPayload(record.rule, alert, GeneratorUrl(alert)).dump());
          sent->second = now_ms;
        }
      }
      return;
    case Transition::kPending:
    case Transition::kDropped:
      Save(alert);
      return;
    case Transition::kFired:
      if (record.rule.trigger) alert.trigger = TriggerState::kPending;
      Save(alert);
      if (record.rule.trigger) SubmitTrigger(record, alert);
      Notify(record.rule, alert);
      alertmanager_sent_ms_[AlertKey(alert)] = now_ms;
      return;
    case Transition::kResolved:
      Save(alert);
      Notify(record.rule, alert);
      alertmanager_sent_ms_.erase(AlertKey(alert));
      return;
  }
}

void AlertService::SubmitTrigger(const RuleRecord& record, Alert& alert) {
  const AlertTrigger& trigger = *record.rule.trigger;
  auto job = jobs_.Submit(record.project, trigger.kind, trigger.spec,
                          fmt::format("alert:{}", record.rule.name));
  if (job) {
    alert.trigger = TriggerState::kSubmitted;
    alert.trigger_job = job->id;
    alert.trigger_error.clear();
  } else {
    // A full queue or an unavailable store may pass; anything else (a spec that no longer
    // validates) will not, so it is recorded and not retried.
    bool transient = job.error().code == ErrorCode::kResourceExhausted ||
                     job.error().code == ErrorCode::kUnavailable;
    alert.trigger = transient ? TriggerState::kPending : TriggerState::kFailed;
    alert.trigger_error = job.error().message;
  }
  Save(alert);
}

std::string AlertService::GeneratorUrl(const Alert& alert) const {
  return fmt::format("{}/api/v1/projects/{}/alerts", base_url_(), alert.project);
}

void AlertService::Notify(const AlertRule& rule, const Alert& alert) {
  std::string generator = GeneratorUrl(alert);
  if (!rule.webhook_url.empty()) {
    notifier_.Enqueue(rule.webhook_url, WebhookPayload(rule, alert, generator).dump());
  }
  if (!rule.alertmanager_url.empty()) {
    notifier_.Enqueue(AlertmanagerAlertsUrl(rule.alertmanager_url),
                      AlertmanagerPayload(rule, alert, generator).dump());
  }
}

void AlertService::Save(const Alert& alert) {
  if (Status saved = store_.SaveAlert(alert); !saved) {
    log::Error(
        "alert state could not be saved",
        {{"project", alert.project}, {"rule", alert.rule}, {"error", saved.error().message}});
  }
}

}  // namespace falaj::monitoring
