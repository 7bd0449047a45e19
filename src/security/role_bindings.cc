#include "security/role_bindings.h"

#include "common/clock.h"
#include "security/roles.h"

namespace falaj::security {

const storage::MigrationSet& RoleBindingService::Migrations() {
  static const storage::MigrationSet kSet{
      "role_bindings",
      {{1, "create role_bindings",
        "CREATE TABLE role_bindings (project TEXT NOT NULL, subject TEXT NOT NULL, role TEXT NOT "
        "NULL, created_at_ms BIGINT NOT NULL, PRIMARY KEY (project, subject))"}}};
  return kSet;
}

Status RoleBindingService::ValidateSubject(std::string_view subject) {
  auto colon = subject.find(':');
  std::string_view kind = subject.substr(0, colon);
  bool valid = colon != std::string_view::npos &&
               (kind == "key" || kind == "user" || kind == "group" || kind == "cert") &&
               subject.size() > colon + 1 && subject.size() <= 256;
  for (char c : subject) valid = valid && c > ' ' && c < 127 && c != '/';
  if (!valid) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "subject '{}' must be key:<id>, user:<name>, group:<name> or cert:<name> (printable, no "
        "spaces or '/', at most 256 characters)",
        subject.substr(0, 80));
  }
  return Ok();
}

Result<RoleBinding> RoleBindingService::Set(std::string_view project, std::string_view subject,
                                            std::string_view role) {
  FALAJ_RETURN_IF_ERROR(ValidateSubject(subject));
  if (!IsProjectRole(role)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "role '{}' is not one of: viewer, developer, deployer, auditor, admin",
                     role.substr(0, 80));
  }
  RoleBinding binding{std::string(project), std::string(subject), std::string(role),
                      ToUnixMillis(SystemClock::Instance().Now())};
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(tx.Run("DELETE FROM role_bindings WHERE project = ? AND subject = ?",
                                     {binding.project, binding.subject}));
        return tx.Run(
            "INSERT INTO role_bindings (project, subject, role, created_at_ms) VALUES (?, ?, ?, ?)",
            {binding.project, binding.subject, binding.role, binding.created_at_ms});
      }));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return binding;
}

Status RoleBindingService::Remove(std::string_view project, std::string_view subject) {
  Status removed_binding = store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        auto removed = tx.Execute("DELETE FROM role_bindings WHERE project = ? AND subject = ?",
                                  {std::string(project), std::string(subject)});
        if (!removed) return std::unexpected(removed.error());
        if (*removed == 0) {
          return MakeError(ErrorCode::kNotFound, "'{}' has no role in project '{}'",
                           subject.substr(0, 80), project);
        }
        return Ok();
      });
  if (removed_binding) generation_.fetch_add(1, std::memory_order_acq_rel);
  return removed_binding;
}

Result<std::vector<RoleBinding>> RoleBindingService::List(std::string_view project) {
  std::vector<RoleBinding> bindings;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query(
            "SELECT project, subject, role, created_at_ms FROM role_bindings WHERE project = ? "
            "ORDER BY subject",
            {std::string(project)});
        if (!rows) return std::unexpected(rows.error());
        for (const auto& row : *rows) {
          bindings.push_back({row.Text(0), row.Text(1), row.Text(2), row.Int(3)});
        }
        return Ok();
      }));
  return bindings;
}

Result<std::vector<std::string>> RoleBindingService::RolesOf(
    std::string_view project, const std::vector<std::string>& subjects) {
  std::vector<std::string> roles;
  if (subjects.empty()) return roles;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        for (const auto& subject : subjects) {
          auto rows = tx.Query("SELECT role FROM role_bindings WHERE project = ? AND subject = ?",
                               {std::string(project), subject});
          if (!rows) return std::unexpected(rows.error());
          for (const auto& row : *rows) roles.push_back(row.Text(0));
        }
        return Ok();
      }));
  return roles;
}

Result<int64_t> RoleBindingService::CountInProject(storage::Transaction& tx,
                                                   std::string_view project) {
  auto rows =
      tx.Query("SELECT COUNT(*) FROM role_bindings WHERE project = ?", {std::string(project)});
  if (!rows) return std::unexpected(rows.error());
  return rows->at(0).Int(0);
}

}  // namespace falaj::security
