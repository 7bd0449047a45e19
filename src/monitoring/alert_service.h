// Alert rules over monitored values, evaluated every tick: each rule's matching values go
// through the Prometheus lifecycle (alert_state.h); transitions are persisted (AlertStore),
// firing and resolved alerts are sent to the rule's webhook and Alertmanager (AlertNotifier,
// off this thread; a firing alert is sent to Alertmanager again every kAlertmanagerResend, as
// Prometheus does, or Alertmanager would resolve it on its own after its resolve_timeout), and a
// firing alert of a rule with a trigger submits one durable job through JobService
// (docs/decisions/0007-alert-triggers-submit-jobs.md). The trigger is recorded as pending in the
// same write that records the firing, so a restart before the submission submits it then; a firing
// submits at most one job (a crash between the job's creation and the recording of its id could
// submit a second: JobService has no idempotency key yet).
//
// Thread-safety: every method may be called concurrently; one mutex guards rules and alerts
// (evaluation is a short in-memory pass plus the writes of its transitions).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "jobs/job_service.h"
#include "monitoring/alert_notifier.h"
#include "monitoring/alert_store.h"
#include "monitoring/monitored_values.h"

namespace falaj::monitoring {

class AlertService {
 public:
  // Prometheus's default resend delay.
  static constexpr int64_t kAlertmanagerResendMs = 60'000;

  // `base_url` answers the server's own URL, for notifications' generator links.
  AlertService(storage::MetadataStore& store, MonitoredValues& values, jobs::JobService& jobs,
               AlertNotifier& notifier, const Clock& clock, std::function<std::string()> base_url);
  ~AlertService();

  static const storage::MigrationSet& Migrations() { return AlertStore::Migrations(); }
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project) {
    return AlertStore::CountInProject(tx, project);
  }

  // Loads rules and alerts, then evaluates every `tick`.
  Status Start(std::chrono::milliseconds tick = std::chrono::seconds(1));
  void Stop();

  Result<RuleRecord> CreateRule(std::string_view project, const nlohmann::json& body,
                                std::string_view created_by);
  // The body's name must match; its alerts start over. FAILED_PRECONDITION on a stale revision.
  Result<RuleRecord> ReplaceRule(std::string_view project, std::string_view name,
                                 const nlohmann::json& body);
  Result<RuleRecord> GetRule(std::string_view project, std::string_view name);
  Result<std::vector<RuleRecord>> ListRules(std::string_view project);
  Status DeleteRule(std::string_view project, std::string_view name);

  // The project's pending, firing and resolved alerts, by rule and series.
  std::vector<Alert> ListAlerts(std::string_view project, std::optional<AlertState> state);

  // One evaluation of every rule at `now_ms` (the timer calls it; tests call it directly).
  void Evaluate(int64_t now_ms);

 private:
  static std::string RuleKey(std::string_view project, std::string_view rule);
  static std::string AlertKey(const Alert& alert);
  void EvaluateRule(const RuleRecord& record, int64_t now_ms);  // mutex_ held
  void Apply(const RuleRecord& record, Alert& alert, bool holds, double value, int64_t now_ms);
  void SubmitTrigger(const RuleRecord& record, Alert& alert);  // mutex_ held
  void Notify(const AlertRule& rule, const Alert& alert);
  std::string GeneratorUrl(const Alert& alert) const;
  void Save(const Alert& alert);
  void ForgetAlerts(std::string_view project, std::string_view rule);  // mutex_ held

  AlertStore store_;
  MonitoredValues& values_;
  jobs::JobService& jobs_;
  AlertNotifier& notifier_;
  const Clock& clock_;
  std::function<std::string()> base_url_;

  std::mutex mutex_;
  std::map<std::string, RuleRecord> rules_;  // RuleKey -> rule; guarded by mutex_
  std::map<std::string, Alert> alerts_;      // AlertKey -> alert; guarded by mutex_
  // AlertKey -> when a firing alert was last sent to Alertmanager; guarded by mutex_. In memory:
  // after a restart the first evaluation sends firing alerts again, which Alertmanager absorbs.
  std::map<std::string, int64_t> alertmanager_sent_ms_;

  std::mutex timer_mutex_;
  std::condition_variable timer_wake_;
  bool stopping_ = false;  // guarded by timer_mutex_
  std::thread timer_;
};

}  // namespace falaj::monitoring
