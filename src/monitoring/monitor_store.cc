#include "monitoring/monitor_store.h"

#include <fmt/format.h>

#include "monitoring/store_reads.h"

namespace falaj::monitoring {
namespace {

constexpr std::string_view kMonitorColumns =
    "project, name, spec, reference, revision, created_by, created_at_ms, updated_at_ms";
constexpr std::string_view kReportColumns =
    "id, project, monitor, kind, window_start_ms, window_end_ms, created_at_ms, body";

Result<MonitorRecord> MonitorFromRow(const storage::Row& row) {
  MonitorRecord record;
  record.project = row.Text(0);
  auto spec = nlohmann::json::parse(row.Text(2), nullptr, false);
  auto reference = nlohmann::json::parse(row.Text(3), nullptr, false);
  if (spec.is_discarded() || reference.is_discarded()) {
    return MakeError(ErrorCode::kDataLoss, "monitor '{}' has an unreadable stored spec",
                     row.Text(1));
  }
  FALAJ_ASSIGN_OR_RETURN(record.spec, MonitorSpecFromJson(spec));
  record.reference = std::move(reference);
  record.revision = row.Int(4);
  record.created_by = row.Text(5);
  record.created_at_ms = row.Int(6);
  record.updated_at_ms = row.Int(7);
  return record;
}

Result<ReportRecord> ReportFromRow(const storage::Row& row) {
  ReportRecord report{row.Text(0), row.Text(1), row.Text(2), row.Text(3),
                      row.Int(4),  row.Int(5),  row.Int(6),  {}};
  report.body = nlohmann::json::parse(row.Text(7), nullptr, false);
  if (report.body.is_discarded()) {
    return MakeError(ErrorCode::kDataLoss, "report '{}' is unreadable", report.id);
  }
  return report;
}

Result<std::vector<MonitorRecord>> MonitorsFrom(const storage::Rows& rows) {
  std::vector<MonitorRecord> records;
  for (const auto& row : rows) {
    FALAJ_ASSIGN_OR_RETURN(auto record, MonitorFromRow(row));
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace

const storage::MigrationSet& MonitorStore::Migrations() {
  static const storage::MigrationSet kSet{
      "monitors",
      {{1, "create monitors and reports",
        "CREATE TABLE monitors (project TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, "
        "reference TEXT NOT NULL, revision BIGINT NOT NULL, created_by TEXT NOT NULL, "
        "created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, "
        "PRIMARY KEY (project, name)); "
        "CREATE TABLE monitor_reports (id TEXT PRIMARY KEY, project TEXT NOT NULL, monitor TEXT "
        "NOT NULL, kind TEXT NOT NULL, window_start_ms BIGINT NOT NULL, window_end_ms BIGINT NOT "
        "NULL, created_at_ms BIGINT NOT NULL, body TEXT NOT NULL); "
        "CREATE INDEX monitor_reports_monitor ON monitor_reports (project, monitor, "
        "created_at_ms)"}}};
  return kSet;
}

Result<int64_t> MonitorStore::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM monitors WHERE project = ?",
                                             {std::string(project)}));
  return rows[0].Int(0);
}

Status MonitorStore::Insert(const MonitorRecord& record) {
  Status inserted = store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(fmt::format("INSERT INTO monitors ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                  kMonitorColumns),
                      {record.project, record.spec.name, MonitorSpecToJson(record.spec).dump(),
                       record.reference.dump(), record.revision, record.created_by,
                       record.created_at_ms, record.updated_at_ms});
      });
  if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, "monitor '{}' already exists in project '{}'",
                     record.spec.name, record.project);
  }
  return inserted;
}

Result<MonitorRecord> MonitorStore::Update(const MonitorRecord& record,
                                           std::optional<int64_t> expected_revision) {
  MonitorRecord updated;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows, tx.Query("SELECT revision FROM monitors WHERE project = ? AND name = ?",
                                {record.project, record.spec.name}));
        if (rows.empty()) {
          return MakeError(ErrorCode::kNotFound, "monitor '{}' not found in project '{}'",
                           record.spec.name, record.project);
        }
        int64_t current = rows[0].Int(0);
        if (expected_revision && *expected_revision != current) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "monitor '{}' changed since revision {} (now {}): read it again and "
                           "retry",
                           record.spec.name, *expected_revision, current);
        }
        updated = record;
        updated.revision = current + 1;
        // The revision in the WHERE clause makes the read-check-write atomic on any backend.
        FALAJ_ASSIGN_OR_RETURN(
            int64_t changed,
            tx.Execute("UPDATE monitors SET spec = ?, revision = ?, updated_at_ms = ? WHERE "
                       "project = ? AND name = ? AND revision = ?",
                       {MonitorSpecToJson(updated.spec).dump(), updated.revision,
                        updated.updated_at_ms, record.project, record.spec.name, current}));
        if (changed != 1) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "monitor '{}' changed concurrently: retry", record.spec.name);
        }
        return Ok();
      }));
  return updated;
}

Result<MonitorRecord> MonitorStore::Get(std::string_view project, std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows, ReadRows(store_,
                          fmt::format("SELECT {} FROM monitors WHERE project = ? AND name = ?",
                                      kMonitorColumns),
                          {std::string(project), std::string(name)}));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound, "monitor '{}' not found in project '{}'", name, project);
  }
  return MonitorFromRow(rows[0]);
}

Result<std::vector<MonitorRecord>> MonitorStore::List(std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows, ReadRows(store_,
                          fmt::format("SELECT {} FROM monitors WHERE project = ? ORDER BY name",
                                      kMonitorColumns),
                          {std::string(project)}));
  return MonitorsFrom(rows);
}

Result<std::vector<MonitorRecord>> MonitorStore::ListAll() {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      ReadRows(store_,
               fmt::format("SELECT {} FROM monitors ORDER BY project, name", kMonitorColumns), {}));
  return MonitorsFrom(rows);
}

Status MonitorStore::Delete(std::string_view project, std::string_view name) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(int64_t changed,
                               tx.Execute("DELETE FROM monitors WHERE project = ? AND name = ?",
                                          {std::string(project), std::string(name)}));
        if (changed == 0) {
          return MakeError(ErrorCode::kNotFound, "monitor '{}' not found in project '{}'", name,
                           project);
        }
        return tx.Run("DELETE FROM monitor_reports WHERE project = ? AND monitor = ?",
                      {std::string(project), std::string(name)});
      });
}

Status MonitorStore::InsertReport(const ReportRecord& report) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            fmt::format("INSERT INTO monitor_reports ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        kReportColumns),
            {report.id, report.project, report.monitor, report.kind, report.window_start_ms,
             report.window_end_ms, report.created_at_ms, report.body.dump()});
      });
}

Result<std::vector<ReportRecord>> MonitorStore::ListReports(std::string_view project,
                                                            std::string_view monitor,
                                                            size_t limit) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      ReadRows(store_,
               fmt::format("SELECT {} FROM monitor_reports WHERE project = ? AND monitor = ? "
                           "ORDER BY created_at_ms DESC, id LIMIT ?",
                           kReportColumns),
               {std::string(project), std::string(monitor), static_cast<int64_t>(limit)}));
  std::vector<ReportRecord> reports;
  for (const auto& row : rows) {
    FALAJ_ASSIGN_OR_RETURN(auto report, ReportFromRow(row));
    reports.push_back(std::move(report));
  }
  return reports;
}

Result<ReportRecord> MonitorStore::GetReport(std::string_view project, std::string_view monitor,
                                             std::string_view id) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      ReadRows(store_,
               fmt::format("SELECT {} FROM monitor_reports WHERE project = ? AND monitor = ? AND "
                           "id = ?",
                           kReportColumns),
               {std::string(project), std::string(monitor), std::string(id)}));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound, "report '{}' of monitor '{}' not found",
                     id.substr(0, 64), monitor);
  }
  return ReportFromRow(rows[0]);
}

}  // namespace falaj::monitoring
