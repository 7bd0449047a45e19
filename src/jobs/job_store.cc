#include "jobs/job_store.h"

#include <fmt/format.h>

namespace falaj::jobs {
namespace {

constexpr std::string_view kColumns =
    "SELECT id, project, kind, spec, status, progress, message, result, error, created_by, "
    "created_at_ms, started_at_ms, finished_at_ms, attempt FROM jobs";

constexpr std::string_view kStatusNames[] = {"queued", "running", "succeeded", "failed",
                                             "cancelled"};

Job JobFromRow(const storage::Row& row) {
  Job job;
  job.id = row.Text(0);
  job.project = row.Text(1);
  job.kind = row.Text(2);
  job.spec = nlohmann::json::parse(row.Text(3), nullptr, false);
  job.status = *ParseJobStatus(row.Text(4));
  job.progress = row.Real(5);
  job.message = row.Text(6);
  job.result =
      row.IsNull(7) ? nlohmann::json() : nlohmann::json::parse(row.Text(7), nullptr, false);
  job.error = row.Text(8);
  job.created_by = row.Text(9);
  job.created_at_ms = row.Int(10);
  job.started_at_ms = row.Int(11);
  job.finished_at_ms = row.Int(12);
  job.attempt = row.Int(13);
  return job;
}

std::string StatusText(JobStatus status) { return std::string(JobStatusName(status)); }

}  // namespace

std::string_view JobStatusName(JobStatus status) {
  return kStatusNames[static_cast<size_t>(status)];
}

Result<JobStatus> ParseJobStatus(std::string_view text) {
  for (size_t i = 0; i < std::size(kStatusNames); ++i) {
    if (kStatusNames[i] == text) return static_cast<JobStatus>(i);
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "status must be queued, running, succeeded, failed or cancelled, got '{}'",
                   text.substr(0, 64));
}

const storage::MigrationSet& JobStore::Migrations() {
  static const storage::MigrationSet kSet{
      "jobs",
      {{1, "create jobs",
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, project TEXT NOT NULL, kind TEXT NOT NULL, "
        "spec TEXT NOT NULL, status TEXT NOT NULL, progress DOUBLE PRECISION NOT NULL, message "
        "TEXT NOT NULL, result TEXT, error TEXT NOT NULL, created_by TEXT NOT NULL, "
        "created_at_ms BIGINT NOT NULL, started_at_ms BIGINT NOT NULL, finished_at_ms BIGINT "
        "NOT NULL, attempt BIGINT NOT NULL); "
        "CREATE INDEX jobs_project ON jobs (project, created_at_ms); "
        "CREATE INDEX jobs_status ON jobs (status)"}}};
  return kSet;
}

Result<int64_t> JobStore::CountActiveInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      tx.Query("SELECT COUNT(*) FROM jobs WHERE project = ? AND status IN ('queued', 'running')",
               {std::string(project)}));
  return rows[0].Int(0);
}

Status JobStore::Insert(const Job& job) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "INSERT INTO jobs (id, project, kind, spec, status, progress, message, result, error, "
            "created_by, created_at_ms, started_at_ms, finished_at_ms, attempt) VALUES (?, ?, ?, "
            "?, ?, 0, '', NULL, '', ?, ?, 0, 0, 0)",
            {job.id, job.project, job.kind, job.spec.dump(), StatusText(job.status), job.created_by,
             job.created_at_ms});
      });
}

Result<Job> JobStore::Get(std::string_view project, std::string_view id) {
  Result<Job> found = MakeError(ErrorCode::kNotFound, "job '{}' does not exist", id.substr(0, 64));
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query(fmt::format("{} WHERE id = ? AND project = ?", kColumns),
                                        {std::string(id), std::string(project)}));
        if (!rows.empty()) found = JobFromRow(rows.front());
        return Ok();
      }));
  return found;
}

Result<std::vector<Job>> JobStore::List(std::string_view project, const JobFilter& filter) {
  std::string sql = fmt::format("{} WHERE project = ?", kColumns);
  std::vector<storage::SqlValue> params{std::string(project)};
  if (filter.status) {
    sql += " AND status = ?";
    params.push_back(StatusText(*filter.status));
  }
  if (!filter.kind.empty()) {
    sql += " AND kind = ?";
    params.push_back(filter.kind);
  }
  sql += " ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?";
  params.push_back(static_cast<int64_t>(filter.limit));
  params.push_back(static_cast<int64_t>(filter.offset));
  std::vector<Job> jobs;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
        for (const auto& row : rows) jobs.push_back(JobFromRow(row));
        return Ok();
      }));
  return jobs;
}

Result<std::vector<Job>> JobStore::ListInStatus(JobStatus status) {
  std::vector<Job> jobs;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows,
            tx.Query(fmt::format("{} WHERE status = ? ORDER BY created_at_ms, id", kColumns),
                     {StatusText(status)}));
        for (const auto& row : rows) jobs.push_back(JobFromRow(row));
        return Ok();
      }));
  return jobs;
}

Result<bool> JobStore::Claim(std::string_view id, int64_t now_ms) {
  int64_t changed = 0;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            changed, tx.Execute("UPDATE jobs SET status = 'running', started_at_ms = ?, attempt "
                                "= attempt + 1 WHERE id = ? AND status = 'queued'",
                                {now_ms, std::string(id)}));
        return Ok();
      }));
  return changed > 0;
}

Result<bool> JobStore::Finish(std::string_view id, JobStatus status, const nlohmann::json& result,
                              std::string_view error, int64_t now_ms) {
  int64_t changed = 0;
  storage::SqlValue result_value = nullptr;
  if (!result.is_null()) result_value = result.dump();
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            changed,
            tx.Execute("UPDATE jobs SET status = ?, result = ?, error = ?, finished_at_ms = ?, "
                       "progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END "
                       "WHERE id = ? AND status IN ('queued', 'running')",
                       {StatusText(status), result_value, std::string(error), now_ms,
                        StatusText(status), std::string(id)}));
        return Ok();
      }));
  return changed > 0;
}

Status JobStore::SetProgress(std::string_view id, double fraction, std::string_view message) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "UPDATE jobs SET progress = ?, message = ? WHERE id = ? AND status = 'running'",
            {fraction, std::string(message), std::string(id)});
      });
}

Status JobStore::Requeue(std::string_view id) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run("UPDATE jobs SET status = 'queued' WHERE id = ? AND status = 'running'",
                      {std::string(id)});
      });
}

}  // namespace falaj::jobs
