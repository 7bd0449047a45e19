#include "abtest/ab_test_store.h"

#include <set>
#include <tuple>

#include "common/random.h"

namespace falaj::abtest {
namespace {

using storage::SqlValue;
using storage::Transaction;
using storage::TransactionMode;

constexpr std::string_view kColumns =
    "SELECT id, project, name, status, definition, control_weight, treatment_weight, created_by, "
    "created_at_ms, updated_at_ms FROM abtests";

Result<AbTest> FromRow(const storage::Row& row) {
  auto definition = nlohmann::json::parse(row.Text(4), nullptr, false);
  if (definition.is_discarded()) {
    return MakeError(ErrorCode::kDataLoss, "stored A/B test '{}' has a corrupt definition",
                     row.Text(2));
  }
  FALAJ_ASSIGN_OR_RETURN(AbTest test, AbTestFromJson(definition));
  test.id = row.Text(0);
  test.project = row.Text(1);
  FALAJ_ASSIGN_OR_RETURN(test.status, ParseTestStatus(row.Text(3)));
  test.control_weight = row.Real(5);
  test.treatment_weight = row.Real(6);
  test.created_by = row.Text(7);
  test.created_at_ms = row.Int(8);
  test.updated_at_ms = row.Int(9);
  return test;
}

Result<std::vector<AbTest>> FromRows(const storage::Rows& rows) {
  std::vector<AbTest> tests;
  for (const auto& row : rows) {
    FALAJ_ASSIGN_OR_RETURN(auto test, FromRow(row));
    tests.push_back(std::move(test));
  }
  return tests;
}

Error NotFound(std::string_view project, std::string_view name) {
  return {ErrorCode::kNotFound, fmt::format("project '{}' has no A/B test '{}'", project, name)};
}

// Exposures summed per (test, arm) before they are written, so a batch costs one upsert per arm.
Status ApplyExposures(Transaction& tx, const std::vector<ExposureEvent>& exposures,
                      const std::set<std::string>& live) {
  std::map<std::pair<std::string, std::string>, int64_t> requests;
  for (const auto& exposure : exposures) {
    if (!live.contains(exposure.test_id)) continue;
    ++requests[{exposure.test_id, exposure.arm}];
    FALAJ_RETURN_IF_ERROR(tx.Run(
        "INSERT INTO abtest_units (test_id, arm, unit) VALUES (?, ?, ?) ON CONFLICT (test_id, "
        "arm, unit) DO NOTHING",
        {exposure.test_id, exposure.arm, exposure.unit}));
  }
  for (const auto& [key, count] : requests) {
    FALAJ_RETURN_IF_ERROR(tx.Run(
        "INSERT INTO abtest_arms (test_id, arm, requests) VALUES (?, ?, ?) ON CONFLICT (test_id, "
        "arm) DO UPDATE SET requests = abtest_arms.requests + excluded.requests",
        {key.first, key.second, count}));
  }
  return Ok();
}

struct UnitStep {
  bool observed = false;   // the unit's first outcome for the metric
  bool converted = false;  // the unit's first non-zero outcome for the metric
};

// A unit counts once per conversion metric: its first outcome makes it observed, its first
// non-zero outcome (then or later: "no click yet" may be followed by a click) converts it;
// repeats change nothing.
Result<UnitStep> MarkUnit(Transaction& tx, const OutcomeEvent& outcome) {
  const bool converts = outcome.value != 0;
  if (converts) {
    FALAJ_ASSIGN_OR_RETURN(
        int64_t upgraded,
        tx.Execute("UPDATE abtest_converted SET converted = 1 WHERE test_id = ? AND metric = ? "
                   "AND unit = ? AND converted = 0",
                   {outcome.test_id, outcome.metric, outcome.unit}));
    if (upgraded == 1) return UnitStep{false, true};
  }
  FALAJ_ASSIGN_OR_RETURN(
      int64_t inserted,
      tx.Execute("INSERT INTO abtest_converted (test_id, metric, unit, converted) VALUES (?, ?, "
                 "?, ?) ON CONFLICT (test_id, metric, unit) DO NOTHING",
                 {outcome.test_id, outcome.metric, outcome.unit, int64_t{converts}}));
  return UnitStep{inserted == 1, inserted == 1 && converts};
}

Status ApplyOutcomes(Transaction& tx, const std::vector<OutcomeEvent>& outcomes,
                     const std::set<std::string>& live) {
  std::map<std::tuple<std::string, std::string, std::string>, MetricTally> sums;
  for (const auto& outcome : outcomes) {
    if (!live.contains(outcome.test_id)) continue;
    MetricTally& tally = sums[{outcome.test_id, outcome.arm, outcome.metric}];
    if (outcome.kind == MetricKind::kConversion) {
      FALAJ_ASSIGN_OR_RETURN(UnitStep step, MarkUnit(tx, outcome));
      tally.n += step.observed;
      tally.conversions += step.converted;
      continue;
    }
    ++tally.n;
    tally.sum += outcome.value;
    tally.sum_squares += outcome.value * outcome.value;
  }
  for (const auto& [key, tally] : sums) {
    const auto& [test_id, arm, metric] = key;
    FALAJ_RETURN_IF_ERROR(tx.Run(
        "INSERT INTO abtest_metrics (test_id, arm, metric, n, sum, sum_squares, conversions) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (test_id, arm, metric) DO UPDATE SET n = "
        "abtest_metrics.n + excluded.n, sum = abtest_metrics.sum + excluded.sum, sum_squares = "
        "abtest_metrics.sum_squares + excluded.sum_squares, conversions = "
        "abtest_metrics.conversions + excluded.conversions",
        {test_id, arm, metric, tally.n, tally.sum, tally.sum_squares, tally.conversions}));
  }
  return Ok();
}

}  // namespace

AbTestStore::AbTestStore(storage::MetadataStore& store, const Clock& clock)
    : store_(store), clock_(clock) {}

const storage::MigrationSet& AbTestStore::Migrations() {
  static const storage::MigrationSet kSet{
      "abtests",
      {{1, "create abtests",
        "CREATE TABLE abtests (id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT NOT NULL, "
        "endpoint TEXT NOT NULL, status TEXT NOT NULL, definition TEXT NOT NULL, control_weight "
        "DOUBLE PRECISION NOT NULL, treatment_weight DOUBLE PRECISION NOT NULL, created_by TEXT "
        "NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, UNIQUE (project, "
        "name));"
        "CREATE TABLE abtest_units (test_id TEXT NOT NULL, arm TEXT NOT NULL, unit TEXT NOT NULL, "
        "PRIMARY KEY (test_id, arm, unit));"
        "CREATE TABLE abtest_arms (test_id TEXT NOT NULL, arm TEXT NOT NULL, requests BIGINT NOT "
        "NULL, PRIMARY KEY (test_id, arm));"
        "CREATE TABLE abtest_converted (test_id TEXT NOT NULL, metric TEXT NOT NULL, unit TEXT "
        "NOT NULL, converted BIGINT NOT NULL, PRIMARY KEY (test_id, metric, unit));"
        "CREATE TABLE abtest_metrics (test_id TEXT NOT NULL, arm TEXT NOT NULL, metric TEXT NOT "
        "NULL, n BIGINT NOT NULL, sum DOUBLE PRECISION NOT NULL, sum_squares DOUBLE PRECISION NOT "
        "NULL, conversions BIGINT NOT NULL, PRIMARY KEY (test_id, arm, metric));"
        "CREATE TABLE abtest_decisions (test_id TEXT NOT NULL, seq BIGINT NOT NULL, action TEXT "
        "NOT NULL, reason TEXT NOT NULL, principal TEXT NOT NULL, automatic BIGINT NOT NULL, "
        "statistics TEXT NOT NULL, outcome TEXT NOT NULL, time_ms BIGINT NOT NULL, PRIMARY KEY "
        "(test_id, seq))"}}};
  return kSet;
}

Result<int64_t> AbTestStore::CountInProject(Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM abtests WHERE project = ?",
                                             {std::string(project)}));
  return rows.front().Int(0);
}

Result<AbTest> AbTestStore::Create(AbTest test) {
  test.id = RandomHex(16);
  test.status = TestStatus::kRunning;
  test.created_at_ms = test.updated_at_ms = ToUnixMillis(clock_.Now());
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
        auto inserted = tx.Run(
            "INSERT INTO abtests (id, project, name, endpoint, status, definition, control_weight, "
            "treatment_weight, created_by, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?)",
            {test.id, test.project, test.name, test.endpoint,
             std::string(TestStatusName(test.status)), DefinitionToJson(test).dump(),
             test.control_weight, test.treatment_weight, test.created_by, test.created_at_ms,
             test.updated_at_ms});
        if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
          return Status(MakeError(ErrorCode::kAlreadyExists,
                                  "project '{}' already has an A/B test named '{}'", test.project,
                                  test.name));
        }
        return inserted;
      }));
  return test;
}

Result<AbTest> AbTestStore::Get(std::string_view project, std::string_view name) {
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(rows,
                               tx.Query(std::string(kColumns) + " WHERE project = ? AND name = ?",
                                        {std::string(project), std::string(name)}));
        return Ok();
      }));
  if (rows.empty()) return std::unexpected(NotFound(project, name));
  return FromRow(rows.front());
}

Result<std::vector<AbTest>> AbTestStore::List(std::string_view project) {
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(rows,
                               tx.Query(std::string(kColumns) + " WHERE project = ? ORDER BY name",
                                        {std::string(project)}));
        return Ok();
      }));
  return FromRows(rows);
}

Result<std::vector<AbTest>> AbTestStore::ListRunning() {
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(rows, tx.Query(std::string(kColumns) + " WHERE status = 'running'"));
        return Ok();
      }));
  return FromRows(rows);
}

Status AbTestStore::Delete(std::string_view project, std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(AbTest test, Get(project, name));
  return store_.RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
    for (std::string_view table : {"abtest_units", "abtest_arms", "abtest_converted",
                                   "abtest_metrics", "abtest_decisions"}) {
      FALAJ_RETURN_IF_ERROR(
          tx.Run(fmt::format("DELETE FROM {} WHERE test_id = ?", table), {test.id}));
    }
    FALAJ_ASSIGN_OR_RETURN(int64_t removed,
                           tx.Execute("DELETE FROM abtests WHERE id = ?", {test.id}));
    if (removed == 0) return std::unexpected(NotFound(project, name));
    return Ok();
  });
}

Result<int64_t> AbTestStore::RecordDecision(const AbTest& test, TestStatus to, Decision decision) {
  int64_t seq = 0;
  const int64_t now = ToUnixMillis(clock_.Now());
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            int64_t moved,
            tx.Execute("UPDATE abtests SET status = ?, updated_at_ms = ? WHERE id = ? AND status = "
                       "'running'",
                       {std::string(TestStatusName(to)), now, test.id}));
        if (moved == 0) {
          FALAJ_ASSIGN_OR_RETURN(auto rows,
                                 tx.Query("SELECT status FROM abtests WHERE id = ?", {test.id}));
          if (rows.empty()) return std::unexpected(NotFound(test.project, test.name));
          return MakeError(ErrorCode::kFailedPrecondition,
                           "A/B test '{}' is {}, not running: it takes no more decisions",
                           test.name, rows.front().Text(0));
        }
        FALAJ_ASSIGN_OR_RETURN(
            auto last,
            tx.Query("SELECT COALESCE(MAX(seq), 0) FROM abtest_decisions WHERE test_id = ?",
                     {test.id}));
        seq = last.front().Int(0) + 1;
        return tx.Run(
            "INSERT INTO abtest_decisions (test_id, seq, action, reason, principal, automatic, "
            "statistics, outcome, time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {test.id, seq, decision.action, decision.reason, decision.principal,
             int64_t{decision.automatic}, decision.statistics.dump(), decision.outcome, now});
      }));
  return seq;
}

Status AbTestStore::RevertDecision(const AbTest& test, int64_t seq, std::string_view outcome) {
  return store_.RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
    FALAJ_RETURN_IF_ERROR(
        tx.Run("UPDATE abtests SET status = 'running', updated_at_ms = ? WHERE id = ?",
               {ToUnixMillis(clock_.Now()), test.id}));
    return tx.Run("UPDATE abtest_decisions SET outcome = ? WHERE test_id = ? AND seq = ?",
                  {std::string(outcome), test.id, seq});
  });
}

Status AbTestStore::SetDecisionOutcome(const AbTest& test, int64_t seq, std::string_view outcome) {
  return store_.RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
    return tx.Run("UPDATE abtest_decisions SET outcome = ? WHERE test_id = ? AND seq = ?",
                  {std::string(outcome), test.id, seq});
  });
}

Result<std::vector<Decision>> AbTestStore::ListDecisions(const AbTest& test) {
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            rows, tx.Query("SELECT seq, action, reason, principal, automatic, statistics, outcome, "
                           "time_ms FROM abtest_decisions WHERE test_id = ? ORDER BY seq",
                           {test.id}));
        return Ok();
      }));
  std::vector<Decision> decisions;
  for (const auto& row : rows) {
    auto statistics = nlohmann::json::parse(row.Text(5), nullptr, false);
    decisions.push_back({row.Int(0), row.Text(1), row.Text(2), row.Text(3), row.Int(4) != 0,
                         statistics.is_discarded() ? nlohmann::json() : statistics, row.Text(6),
                         row.Int(7)});
  }
  return decisions;
}

Status AbTestStore::Apply(const EventBatch& batch) {
  if (batch.empty()) return Ok();
  return store_.RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
    std::set<std::string> live;
    FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT id FROM abtests"));
    for (const auto& row : rows) live.insert(row.Text(0));
    FALAJ_RETURN_IF_ERROR(ApplyExposures(tx, batch.exposures, live));
    return ApplyOutcomes(tx, batch.outcomes, live);
  });
}

Result<Tally> AbTestStore::LoadTally(const AbTest& test) {
  Tally tally;
  tally[test.control];
  tally[test.treatment];
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto units,
            tx.Query("SELECT arm, COUNT(*) FROM abtest_units WHERE test_id = ? GROUP BY arm",
                     {test.id}));
        for (const auto& row : units) tally[row.Text(0)].units = row.Int(1);
        FALAJ_ASSIGN_OR_RETURN(
            auto arms,
            tx.Query("SELECT arm, requests FROM abtest_arms WHERE test_id = ?", {test.id}));
        for (const auto& row : arms) tally[row.Text(0)].requests = row.Int(1);
        FALAJ_ASSIGN_OR_RETURN(auto metrics,
                               tx.Query("SELECT arm, metric, n, sum, sum_squares, conversions FROM "
                                        "abtest_metrics WHERE test_id = ?",
                                        {test.id}));
        for (const auto& row : metrics) {
          tally[row.Text(0)].metrics[row.Text(1)] = {row.Int(2), row.Real(3), row.Real(4),
                                                     row.Int(5)};
        }
        return Ok();
      }));
  return tally;
}

}  // namespace falaj::abtest
