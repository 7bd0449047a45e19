// A/B tests as a service: create, read and delete tests on endpoints; count exposures and
// outcomes from the prediction log (it is a PredictionListener and an OutcomeListener); compute
// results; take decisions (promote, roll back, stop) by hand or by the automatic policy, moving
// traffic through serving::TrafficControl and, on promotion, the test's alias in the registry.
//
// The listener methods run on the prediction log's writer thread and only append to an
// in-memory buffer (bounded: beyond max_pending events are dropped and counted); a background
// thread writes the buffer to the store in one transaction per flush interval, refreshes which
// tests are running, and evaluates automatic policies every evaluate interval — all off the
// serving path. Reading results flushes first, so they include everything received.
//
// Thread-safety: every public method may be called from any thread concurrently, except the
// Set* wiring methods, which are called once before Start.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "abtest/ab_test.h"
#include "abtest/ab_test_results.h"
#include "abtest/ab_test_store.h"
#include "monitoring/prediction_events.h"
#include "registry/model_registry.h"
#include "security/audit_log.h"
#include "serving/traffic_control.h"

namespace falaj::abtest {

// The registry model version an endpoint arm serves, for moving an alias on promotion; nullopt
// when the arm follows an alias rather than a pinned version.
struct ArmModel {
  std::string model;
  int64_t version = 0;
};
using ArmModels = std::function<Result<std::optional<ArmModel>>(
    std::string_view project, std::string_view endpoint, std::string_view arm)>;

// OK when the project has the endpoint, else NOT_FOUND; used to check new tests when no
// TrafficControl is wired (with one, its Arms() checks endpoint and arms).
using EndpointCheck = std::function<Status(std::string_view project, std::string_view endpoint)>;

struct AbTestServiceOptions {
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::milliseconds evaluate_interval{60000};
  size_t max_pending = 100000;  // buffered events beyond this are dropped and counted
};

// What GET …/results answers: the test, its results, and the decision the automatic policy
// took on them (if it took one now).
struct ResultsReport {
  AbTest test;
  Results results;
  std::optional<Decision> automatic_decision;
  std::string policy_note;  // why an automatic policy did not act on its recommendation
};

class AbTestService final : public monitoring::PredictionListener,
                            public monitoring::OutcomeListener {
 public:
  // Nothing is owned; everything must outlive the service. `registry` moves aliases on
  // promotion and `audit` records automatic decisions; either may be null (then promotions do
  // not move aliases, and automatic decisions are only in the decision history).
  AbTestService(AbTestStore& store, registry::ModelRegistry* registry, security::AuditLog* audit,
                AbTestServiceOptions options = {}, const Clock& clock = SystemClock::Instance());
  ~AbTestService() override;
  AbTestService(const AbTestService&) = delete;
  AbTestService& operator=(const AbTestService&) = delete;

  void SetTrafficControl(serving::TrafficControl* traffic) { traffic_ = traffic; }
  void SetArmModels(ArmModels arm_models) { arm_models_ = std::move(arm_models); }
  void SetEndpointCheck(EndpointCheck check) { endpoint_check_ = std::move(check); }

  // Loads the running tests and starts the background thread.
  Status Start();
  // Stops the thread and writes what is buffered. Idempotent; the destructor calls it.
  void Stop();

  // Validates the definition, that the endpoint exists and, with a TrafficControl, that both
  // arms are its targets with traffic (their weights become the split SRM expects).
  Result<AbTest> Create(AbTest test);
  Result<AbTest> Get(std::string_view project, std::string_view name);
  Result<std::vector<AbTest>> List(std::string_view project);
  Status Delete(std::string_view project, std::string_view name);

  // Flushes, computes the results and, for a running test with the automatic policy, acts on
  // the recommendation.
  Result<ResultsReport> GetResults(std::string_view project, std::string_view name);

  // A manual decision: "promote" routes all traffic to the treatment (and moves the test's alias
  // to the treatment's version), "rollback" to the control, "stop" freezes the test. The
  // statistics at that moment are stored with it. INVALID_ARGUMENT for another action;
  // FAILED_PRECONDITION when the test is not running (of concurrent decisions one wins);
  // UNAVAILABLE for promote / rollback when no TrafficControl is wired.
  Result<Decision> Decide(std::string_view project, std::string_view name, std::string_view action,
                          std::string_view reason, std::string_view principal);
  Result<std::vector<Decision>> Decisions(std::string_view project, std::string_view name);

  // Writes the buffered events now.
  Status Flush();
  // Applies the automatic policy to every running test that has it.
  void EvaluateAll();

  void OnPrediction(const serving::PredictionRecord& record) override;
  void OnOutcome(const monitoring::OutcomeRecord& outcome) override;

  int64_t dropped_events() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  // What the listeners need to know of a running test.
  struct Watched {
    std::string id;
    std::string control;
    std::string treatment;
    std::map<std::string, MetricKind, std::less<>> metrics;
  };

  Status RefreshWatched();
  // Records the decision, then moves traffic and the alias; undoes the record if traffic
  // cannot move.
  Result<Decision> Apply(const AbTest& test, std::string_view action, std::string_view reason,
                         std::string_view principal, bool automatic,
                         const nlohmann::json& statistics);
  Status CheckArms(AbTest& test);
  void AuditAutomatic(const AbTest& test, const Decision& decision);
  void Run(std::stop_token stop);
  void Enqueue(auto&& add);

  AbTestStore& store_;
  registry::ModelRegistry* registry_;
  security::AuditLog* audit_;
  serving::TrafficControl* traffic_ = nullptr;
  ArmModels arm_models_;
  EndpointCheck endpoint_check_;
  const AbTestServiceOptions options_;
  const Clock& clock_;

  std::shared_mutex watched_mutex_;
  // "<project>\n<endpoint>" → its running tests. Guarded by watched_mutex_.
  std::map<std::string, std::vector<Watched>, std::less<>> watched_;

  std::mutex pending_mutex_;
  EventBatch pending_;  // guarded by pending_mutex_
  std::atomic<int64_t> dropped_{0};

  std::mutex stop_mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;
};

}  // namespace falaj::abtest
