#include "monitoring/alert_store.h"

#include <fmt/format.h>

#include "monitoring/store_reads.h"

namespace falaj::monitoring {
namespace {

constexpr std::string_view kRuleColumns =
    "project, name, body, revision, created_by, created_at_ms, updated_at_ms";
constexpr std::string_view kAlertColumns =
    "project, rule, series, state, value, active_since_ms, fired_at_ms, resolved_at_ms, "
    "trigger_state, trigger_job, trigger_error";

Result<RuleRecord> RuleFromRow(const storage::Row& row) {
  auto body = nlohmann::json::parse(row.Text(2), nullptr, false);
  if (body.is_discarded()) {
    return MakeError(ErrorCode::kDataLoss, "alert rule '{}' is unreadable", row.Text(1));
  }
  if (body["trigger"].is_null()) body.erase("trigger");
  FALAJ_ASSIGN_OR_RETURN(auto rule, ParseAlertRule(body));
  return RuleRecord{row.Text(0), std::move(rule), row.Int(3), row.Text(4), row.Int(5), row.Int(6)};
}

Result<std::vector<RuleRecord>> RulesFrom(const storage::Rows& rows) {
  std::vector<RuleRecord> rules;
  for (const auto& row : rows) {
    FALAJ_ASSIGN_OR_RETURN(auto rule, RuleFromRow(row));
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::unexpected<Error> NotFound(std::string_view project, std::string_view name) {
  return MakeError(ErrorCode::kNotFound, "alert rule '{}' not found in project '{}'", name,
                   project);
}

}  // namespace

const storage::MigrationSet& AlertStore::Migrations() {
  static const storage::MigrationSet kSet{
      "alerts",
      {{1, "create alert rules and alerts",
        "CREATE TABLE alert_rules (project TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, "
        "revision BIGINT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, "
        "updated_at_ms BIGINT NOT NULL, PRIMARY KEY (project, name)); "
        "CREATE TABLE alerts (project TEXT NOT NULL, rule TEXT NOT NULL, series TEXT NOT NULL, "
        "state TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, active_since_ms BIGINT NOT NULL, "
        "fired_at_ms BIGINT NOT NULL, resolved_at_ms BIGINT NOT NULL, trigger_state TEXT NOT "
        "NULL, trigger_job TEXT NOT NULL, trigger_error TEXT NOT NULL, "
        "PRIMARY KEY (project, rule, series))"}}};
  return kSet;
}

Result<int64_t> AlertStore::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM alert_rules WHERE project = ?",
                                             {std::string(project)}));
  return rows[0].Int(0);
}

Status AlertStore::InsertRule(const RuleRecord& record) {
  Status inserted = store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            fmt::format("INSERT INTO alert_rules ({}) VALUES (?, ?, ?, ?, ?, ?, ?)", kRuleColumns),
            {record.project, record.rule.name, AlertRuleToJson(record.rule).dump(), record.revision,
             record.created_by, record.created_at_ms, record.updated_at_ms});
      });
  if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, "alert rule '{}' already exists in project '{}'",
                     record.rule.name, record.project);
  }
  return inserted;
}

Result<RuleRecord> AlertStore::ReplaceRule(const RuleRecord& record,
                                           std::optional<int64_t> expected_revision) {
  RuleRecord updated = record;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows,
            tx.Query("SELECT revision, created_by, created_at_ms FROM alert_rules WHERE project = "
                     "? AND name = ?",
                     {record.project, record.rule.name}));
        if (rows.empty()) return NotFound(record.project, record.rule.name);
        int64_t current = rows[0].Int(0);
        if (expected_revision && *expected_revision != current) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "alert rule '{}' changed since revision {} (now {}): read it again and "
                           "retry",
                           record.rule.name, *expected_revision, current);
        }
        updated.revision = current + 1;
        updated.created_by = rows[0].Text(1);
        updated.created_at_ms = rows[0].Int(2);
        FALAJ_ASSIGN_OR_RETURN(
            int64_t changed,
            tx.Execute("UPDATE alert_rules SET body = ?, revision = ?, updated_at_ms = ? WHERE "
                       "project = ? AND name = ? AND revision = ?",
                       {AlertRuleToJson(record.rule).dump(), updated.revision, record.updated_at_ms,
                        record.project, record.rule.name, current}));
        if (changed != 1) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "alert rule '{}' changed concurrently: retry", record.rule.name);
        }
        return tx.Run("DELETE FROM alerts WHERE project = ? AND rule = ?",
                      {record.project, record.rule.name});
      }));
  return updated;
}

Result<RuleRecord> AlertStore::GetRule(std::string_view project, std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows, ReadRows(store_,
                          fmt::format("SELECT {} FROM alert_rules WHERE project = ? AND name = ?",
                                      kRuleColumns),
                          {std::string(project), std::string(name)}));
  if (rows.empty()) return NotFound(project, name);
  return RuleFromRow(rows[0]);
}

Result<std::vector<RuleRecord>> AlertStore::ListRules(std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows, ReadRows(store_,
                          fmt::format("SELECT {} FROM alert_rules WHERE project = ? ORDER BY name",
                                      kRuleColumns),
                          {std::string(project)}));
  return RulesFrom(rows);
}

Result<std::vector<RuleRecord>> AlertStore::ListAllRules() {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      ReadRows(store_,
               fmt::format("SELECT {} FROM alert_rules ORDER BY project, name", kRuleColumns), {}));
  return RulesFrom(rows);
}

Status AlertStore::DeleteRule(std::string_view project, std::string_view name) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(int64_t changed,
                               tx.Execute("DELETE FROM alert_rules WHERE project = ? AND name = ?",
                                          {std::string(project), std::string(name)}));
        if (changed == 0) return NotFound(project, name);
        return tx.Run("DELETE FROM alerts WHERE project = ? AND rule = ?",
                      {std::string(project), std::string(name)});
      });
}

Status AlertStore::SaveAlert(const Alert& alert) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM alerts WHERE project = ? AND rule = ? AND series = ?",
                   {alert.project, alert.rule, alert.series}));
        if (alert.state == AlertState::kInactive) return Ok();
        return tx.Run(
            fmt::format("INSERT INTO alerts ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        kAlertColumns),
            {alert.project, alert.rule, alert.series, std::string(AlertStateName(alert.state)),
             alert.value, alert.active_since_ms, alert.fired_at_ms, alert.resolved_at_ms,
             std::string(TriggerStateName(alert.trigger)), alert.trigger_job, alert.trigger_error});
      });
}

Result<std::vector<Alert>> AlertStore::ListAllAlerts() {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      ReadRows(store_,
               fmt::format("SELECT {} FROM alerts ORDER BY project, rule, series", kAlertColumns),
               {}));
  std::vector<Alert> alerts;
  for (const auto& row : rows) {
    Alert alert{row.Text(0), row.Text(1), row.Text(2), ParseAlertState(row.Text(3)),   row.Real(4),
                row.Int(5),  row.Int(6),  row.Int(7),  ParseTriggerState(row.Text(8)), row.Text(9),
                row.Text(10)};
    alerts.push_back(std::move(alert));
  }
  return alerts;
}

}  // namespace falaj::monitoring
