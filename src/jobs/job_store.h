// Durable job records in the MetadataStore: one row per job with its spec, status, progress,
// result and times. State changes are guarded by the expected current status in the UPDATE
// itself, so a cancel racing a worker's claim has exactly one winner.
//
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::jobs {

enum class JobStatus { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

std::string_view JobStatusName(JobStatus status);
// INVALID_ARGUMENT naming the accepted values for anything else.
Result<JobStatus> ParseJobStatus(std::string_view text);
inline bool IsFinished(JobStatus status) {
  return status != JobStatus::kQueued && status != JobStatus::kRunning;
}

struct Job {
  std::string id;
  std::string project;
  std::string kind;
  nlohmann::json spec;
  JobStatus status = JobStatus::kQueued;
  double progress = 0;
  std::string message;
  nlohmann::json result;  // null until succeeded
  std::string error;      // "" unless failed or cancelled
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t started_at_ms = 0;   // 0: not started
  int64_t finished_at_ms = 0;  // 0: not finished
  int64_t attempt = 0;         // 1 on the first run, +1 on each resume after a restart
};

struct JobFilter {
  std::optional<JobStatus> status;
  std::string kind;  // "" for any
  size_t limit = 50;
  size_t offset = 0;
};

class JobStore {
 public:
  explicit JobStore(storage::MetadataStore& store) : store_(store) {}

  static const storage::MigrationSet& Migrations();
  // For the project ownership check: jobs still queued or running in the project.
  static Result<int64_t> CountActiveInProject(storage::Transaction& tx, std::string_view project);

  Status Insert(const Job& job);
  // NOT_FOUND for an unknown id or one of another project.
  Result<Job> Get(std::string_view project, std::string_view id);
  // Newest first.
  Result<std::vector<Job>> List(std::string_view project, const JobFilter& filter);
  // Every job in `status`, oldest first (for recovery at start).
  Result<std::vector<Job>> ListInStatus(JobStatus status);

  // queued → running with the start time and attempt + 1; false when the job was no longer
  // queued (cancelled meanwhile).
  Result<bool> Claim(std::string_view id, int64_t now_ms);
  // (queued or running) → a finished status; false when the job had already finished.
  Result<bool> Finish(std::string_view id, JobStatus status, const nlohmann::json& result,
                      std::string_view error, int64_t now_ms);
  // Only while running.
  Status SetProgress(std::string_view id, double fraction, std::string_view message);
  // running → queued for a resume after a restart, attempt kept (Claim raises it).
  Status Requeue(std::string_view id);

 private:
  storage::MetadataStore& store_;
};

}  // namespace falaj::jobs
