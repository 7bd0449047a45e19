#include "security/residency.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace falaj::security {
namespace {

bool Contains(const auto& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

std::string Join(const std::vector<std::string_view>& values) {
  std::string joined;
  for (auto value : values) joined += (joined.empty() ? "" : ", ") + std::string(value);
  return joined;
}

Status ValidateClasses(const std::vector<std::string>& classes) {
  for (const auto& data_class : classes) {
    if (!Contains(DataClasses(), data_class)) {
      return MakeError(ErrorCode::kInvalidArgument, "data class '{}' is not one of: {}",
                       data_class.substr(0, 40), Join(DataClasses()));
    }
  }
  return Ok();
}

}  // namespace

const std::vector<std::string_view>& LegalBases() {
  static const std::vector<std::string_view> kBases = {
      "pdpl-art22-adequacy",          // destination with adequate protection
      "pdpl-art23-contract",          // contract binding the recipient to PDPL standards
      "pdpl-art23-consent",           // the data subject's express consent
      "pdpl-art23-judicial",          // establishing or defending rights before the courts
      "pdpl-art23-subject-contract",  // a contract with or for the data subject
      "pdpl-art23-public-interest",  "difc-art26-adequacy",
      "difc-art27-safeguards",       "adgm-s41-safeguards",
      "regulator-approval",  // e.g. CBUAE or a health authority's written approval
  };
  return kBases;
}

const std::vector<std::string_view>& DataClasses() {
  static const std::vector<std::string_view> kClasses = {"pii", "health", "financial"};
  return kClasses;
}

const storage::MigrationSet& ResidencyService::Migrations() {
  static const storage::MigrationSet kSet{
      "residency",
      {{1, "create transfer policies and restricted classes",
        "CREATE TABLE transfer_policies (project TEXT NOT NULL, to_region TEXT NOT NULL, "
        "legal_basis TEXT NOT NULL, data_classes TEXT NOT NULL, created_by TEXT NOT NULL, "
        "created_at_ms BIGINT NOT NULL, PRIMARY KEY (project, to_region)); "
        "CREATE TABLE restricted_classes (project TEXT PRIMARY KEY, classes TEXT NOT NULL)"}}};
  return kSet;
}

Result<TransferPolicy> ResidencyService::SetPolicy(const TransferPolicy& policy,
                                                   std::string_view project_region) {
  if (!Contains(LegalBases(), policy.legal_basis)) {
    return MakeError(ErrorCode::kInvalidArgument, "legal basis '{}' is not one of: {}",
                     policy.legal_basis.substr(0, 60), Join(LegalBases()));
  }
  if (policy.to_region.empty() || policy.to_region == project_region) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a transfer policy needs a target region other than the project's ('{}')",
                     project_region);
  }
  FALAJ_RETURN_IF_ERROR(ValidateClasses(policy.data_classes));
  TransferPolicy stored = policy;
  stored.created_at_ms = ToUnixMillis(SystemClock::Instance().Now());
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM transfer_policies WHERE project = ? AND to_region = ?",
                   {stored.project, stored.to_region}));
        return tx.Run(
            "INSERT INTO transfer_policies (project, to_region, legal_basis, data_classes, "
            "created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
            {stored.project, stored.to_region, stored.legal_basis,
             nlohmann::json(stored.data_classes).dump(), stored.created_by, stored.created_at_ms});
      }));
  return stored;
}

Result<std::vector<TransferPolicy>> ResidencyService::ListPolicies(std::string_view project) {
  std::vector<TransferPolicy> policies;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows, tx.Query("SELECT project, to_region, legal_basis, data_classes, "
                                "created_by, created_at_ms FROM transfer_policies WHERE project "
                                "= ? ORDER BY to_region",
                                {std::string(project)}));
        for (const auto& row : rows) {
          policies.push_back({row.Text(0), row.Text(1), row.Text(2),
                              nlohmann::json::parse(row.Text(3)).get<std::vector<std::string>>(),
                              row.Text(4), row.Int(5)});
        }
        return Ok();
      }));
  return policies;
}

Status ResidencyService::RemovePolicy(std::string_view project, std::string_view to_region) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto removed,
                               tx.Execute("DELETE FROM transfer_policies WHERE project = ? AND "
                                          "to_region = ?",
                                          {std::string(project), std::string(to_region)}));
        if (removed == 0) {
          return MakeError(ErrorCode::kNotFound, "no transfer policy to '{}' in project '{}'",
                           to_region.substr(0, 60), project);
        }
        return Ok();
      });
}

Status ResidencyService::SetRestrictedClasses(std::string_view project,
                                              const std::vector<std::string>& classes) {
  FALAJ_RETURN_IF_ERROR(ValidateClasses(classes));
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM restricted_classes WHERE project = ?", {std::string(project)}));
        if (classes.empty()) return Ok();
        return tx.Run("INSERT INTO restricted_classes (project, classes) VALUES (?, ?)",
                      {std::string(project), nlohmann::json(classes).dump()});
      });
}

Result<std::vector<std::string>> ResidencyService::RestrictedClasses(std::string_view project) {
  std::vector<std::string> classes;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query("SELECT classes FROM restricted_classes WHERE project = ?",
                                        {std::string(project)}));
        if (!rows.empty()) {
          classes = nlohmann::json::parse(rows[0].Text(0)).get<std::vector<std::string>>();
        }
        return Ok();
      }));
  return classes;
}

Result<TransferDecision> ResidencyService::CheckTransfer(std::string_view project,
                                                         std::string_view project_region,
                                                         std::string_view to_region,
                                                         std::string_view data_class) {
  if (!data_class.empty() && !Contains(DataClasses(), data_class)) {
    return MakeError(ErrorCode::kInvalidArgument, "data class '{}' is not one of: {}",
                     data_class.substr(0, 40), Join(DataClasses()));
  }
  if (to_region == project_region) {
    return TransferDecision{true, "same-region", "the target is in the project's region"};
  }
  FALAJ_ASSIGN_OR_RETURN(auto restricted, RestrictedClasses(project));
  if (!data_class.empty() && Contains(restricted, data_class)) {
    return TransferDecision{false, "",
                            fmt::format("data class '{}' may not leave region '{}' in project "
                                        "'{}'",
                                        data_class, project_region, project)};
  }
  FALAJ_ASSIGN_OR_RETURN(auto policies, ListPolicies(project));
  for (const auto& policy : policies) {
    if (policy.to_region != to_region) continue;
    if (data_class.empty() || Contains(policy.data_classes, data_class)) {
      return TransferDecision{
          true, policy.legal_basis,
          fmt::format("transfer to '{}' allowed under {}", to_region, policy.legal_basis)};
    }
    return TransferDecision{
        false, "",
        fmt::format("the policy for '{}' does not cover data class '{}'", to_region, data_class)};
  }
  return TransferDecision{false, "",
                          fmt::format("no transfer policy allows data of project '{}' to leave "
                                      "'{}' for '{}'",
                                      project, project_region, to_region.substr(0, 60))};
}

Result<int64_t> ResidencyService::CountInProject(storage::Transaction& tx,
                                                 std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM transfer_policies WHERE "
                                             "project = ?",
                                             {std::string(project)}));
  return rows[0].Int(0);
}

}  // namespace falaj::security
