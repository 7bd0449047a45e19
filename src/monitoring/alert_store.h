// Persistence of alert rules and alerts in the MetadataStore (tables alert_rules, alerts), so
// a pending or firing alert, and a retraining trigger not yet submitted, survive a restart.
// Rule replacement carries a revision like monitors (stale: FAILED_PRECONDITION).
//
// Thread-safe: every method runs in its own transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "monitoring/alert_rule.h"
#include "monitoring/alert_state.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {

struct RuleRecord {
  std::string project;
  AlertRule rule;
  int64_t revision = 1;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

class AlertStore {
 public:
  explicit AlertStore(storage::MetadataStore& store) : store_(store) {}

  static const storage::MigrationSet& Migrations();
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  Status InsertRule(const RuleRecord& record);
  // Replaces the rule and deletes its alerts (a new condition starts over). Bumps revision.
  Result<RuleRecord> ReplaceRule(const RuleRecord& record,
                                 std::optional<int64_t> expected_revision);
  Result<RuleRecord> GetRule(std::string_view project, std::string_view name);
  Result<std::vector<RuleRecord>> ListRules(std::string_view project);
  Result<std::vector<RuleRecord>> ListAllRules();
  Status DeleteRule(std::string_view project, std::string_view name);

  // Writes the alert's current state (an inactive alert is deleted).
  Status SaveAlert(const Alert& alert);
  Result<std::vector<Alert>> ListAllAlerts();

 private:
  storage::MetadataStore& store_;
};

}  // namespace falaj::monitoring
