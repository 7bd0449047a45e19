#include "security/audit_log.h"

namespace falaj::security {

const storage::MigrationSet& AuditLog::Migrations() {
  static const storage::MigrationSet kSet{
      "audit",
      {{1, "create audit_events",
        "CREATE TABLE audit_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms BIGINT NOT "
        "NULL, request_id TEXT NOT NULL, principal TEXT NOT NULL, action TEXT NOT NULL, method "
        "TEXT NOT NULL, resource TEXT NOT NULL, status INTEGER NOT NULL)"}}};
  return kSet;
}

Status AuditLog::Append(const AuditRecord& record) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "INSERT INTO audit_events (time_ms, request_id, principal, action, method, "
            "resource, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
            {record.time_ms, record.request_id, record.principal, record.action, record.method,
             record.resource, int64_t{record.status}});
      });
}

Result<std::vector<AuditRecord>> AuditLog::Recent(int limit) {
  std::vector<AuditRecord> records;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query(
            "SELECT time_ms, request_id, principal, action, method, resource, status FROM "
            "audit_events ORDER BY seq DESC LIMIT ?",
            {int64_t{limit}});
        if (!rows) return std::unexpected(rows.error());
        for (const auto& row : *rows) {
          records.push_back({row.Int(0), row.Text(1), row.Text(2), row.Text(3), row.Text(4),
                             row.Text(5), static_cast<int>(row.Int(6))});
        }
        return Ok();
      }));
  return records;
}

}  // namespace falaj::security
