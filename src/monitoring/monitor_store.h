// Persistence of monitors and their reports in the MetadataStore (tables monitors,
// monitor_reports). A monitor row holds its spec and the reference profile resolved when it was
// created, so its windows compare against the same reference after the model moves on or the
// server restarts. Updates carry a revision: a stale one is FAILED_PRECONDITION (two admins
// editing at once do not silently overwrite each other).
//
// Thread-safe: every method runs in its own transaction.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "monitoring/monitor_spec.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {

struct MonitorRecord {
  std::string project;
  MonitorSpec spec;
  // {"source": {"kind": "model_version" | "dataset", …}, "profile": data/column_profile JSON}
  nlohmann::json reference;
  int64_t revision = 1;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct ReportRecord {
  std::string id;
  std::string project;
  std::string monitor;
  std::string kind;  // "window" or "batch"
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  int64_t created_at_ms = 0;
  nlohmann::json body;  // the full report
};

class MonitorStore {
 public:
  explicit MonitorStore(storage::MetadataStore& store) : store_(store) {}

  static const storage::MigrationSet& Migrations();
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  // ALREADY_EXISTS naming the monitor.
  Status Insert(const MonitorRecord& record);
  // FAILED_PRECONDITION when `expected_revision` is set and differs; NOT_FOUND. Bumps revision.
  Result<MonitorRecord> Update(const MonitorRecord& record,
                               std::optional<int64_t> expected_revision);
  Result<MonitorRecord> Get(std::string_view project, std::string_view name);
  Result<std::vector<MonitorRecord>> List(std::string_view project);
  Result<std::vector<MonitorRecord>> ListAll();
  // Deletes the monitor and its reports. NOT_FOUND.
  Status Delete(std::string_view project, std::string_view name);

  Status InsertReport(const ReportRecord& report);
  // Newest first, without bodies' per-feature detail trimmed: callers choose what to show.
  Result<std::vector<ReportRecord>> ListReports(std::string_view project, std::string_view monitor,
                                                size_t limit);
  Result<ReportRecord> GetReport(std::string_view project, std::string_view monitor,
                                 std::string_view id);

 private:
  storage::MetadataStore& store_;
};

}  // namespace falaj::monitoring
