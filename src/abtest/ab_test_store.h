// Where A/B tests live in the MetadataStore: their definitions and status, the aggregates their
// results are computed from (distinct units and requests per arm; per arm and metric the count,
// sum, sum of squares and conversions of outcomes), and their decision history.
//
// Aggregates arrive in batches (EventBatch), each written in one transaction: units and
// converting units are kept as keys (INSERT … ON CONFLICT DO NOTHING), so a unit is counted once
// per arm and converts at most once per metric — at its first non-zero outcome — however often
// its events repeat, across restarts too.
// Aggregates are keyed by the test's id, never its name, so a test deleted and created again
// under the same name starts from nothing even if a late batch for the old one lands.
//
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abtest/ab_test.h"
#include "common/clock.h"
#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::abtest {

struct MetricTally {
  int64_t n = 0;            // numeric: outcomes; conversion: units with an outcome
  double sum = 0;           // numeric metrics only
  double sum_squares = 0;   // numeric metrics only
  int64_t conversions = 0;  // conversion metrics: units with a non-zero outcome
};

struct ArmTally {
  int64_t units = 0;     // distinct exposed units
  int64_t requests = 0;  // exposures (non-shadow predictions)
  std::map<std::string, MetricTally> metrics;
};

// Per arm name.
using Tally = std::map<std::string, ArmTally>;

// A unit seen by an arm: `unit` is the unit key, or "request:<id>" for requests without one.
struct ExposureEvent {
  std::string test_id;
  std::string arm;
  std::string unit;
};

struct OutcomeEvent {
  std::string test_id;
  std::string arm;
  std::string metric;
  MetricKind kind = MetricKind::kNumeric;
  std::string unit;  // as in ExposureEvent
  double value = 0;
};

struct EventBatch {
  std::vector<ExposureEvent> exposures;
  std::vector<OutcomeEvent> outcomes;
  bool empty() const { return exposures.empty() && outcomes.empty(); }
};

struct Decision {
  int64_t seq = 0;     // 1, 2, … per test
  std::string action;  // promote, rollback or stop
  std::string reason;
  std::string principal;  // who decided; "policy:auto" for automatic decisions
  bool automatic = false;
  nlohmann::json statistics;  // the results the decision was taken on
  std::string outcome;        // "applied", or what went wrong
  int64_t time_ms = 0;
};

class AbTestStore {
 public:
  explicit AbTestStore(storage::MetadataStore& store, const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  // Assigns the id, status running and the times. ALREADY_EXISTS for a taken name.
  Result<AbTest> Create(AbTest test);
  Result<AbTest> Get(std::string_view project, std::string_view name);
  Result<std::vector<AbTest>> List(std::string_view project);
  Result<std::vector<AbTest>> ListRunning();
  // Removes the test, its aggregates and its decisions.
  Status Delete(std::string_view project, std::string_view name);

  // Moves a running test to `to` and records the decision, atomically; the decision's seq is
  // returned. FAILED_PRECONDITION when the test is no longer running, so of concurrent
  // decisions exactly one wins.
  Result<int64_t> RecordDecision(const AbTest& test, TestStatus to, Decision decision);
  // Undoes a recorded decision whose effect failed: the test runs again, the decision keeps
  // what went wrong.
  Status RevertDecision(const AbTest& test, int64_t seq, std::string_view outcome);
  Status SetDecisionOutcome(const AbTest& test, int64_t seq, std::string_view outcome);
  Result<std::vector<Decision>> ListDecisions(const AbTest& test);

  // Writes a batch in one transaction; events of tests that no longer exist are dropped.
  Status Apply(const EventBatch& batch);
  Result<Tally> LoadTally(const AbTest& test);

 private:
  storage::MetadataStore& store_;
  const Clock& clock_;
};

}  // namespace falaj::abtest
