// Retention of dataset versions per project and data class: a project's policy says how many
// days data of each classification (pii, health, financial) and unclassified data may be kept; a
// run purges (DatasetStore::Purge: rows and file gone, version number and lineage kept) every
// version older than the limit of its most restrictive column, and records what it did in the
// audit trail and in the project's last-run report.
//
// A version that a registered model's lineage pins — directly, or through the lineage of a pinned
// dataset version such as a training set — is kept, because purging it would make the model's
// training data irreproducible behind its signed lineage; the run reports it as "kept_pinned"
// with the pinning model and audits that decision, so an administrator can retire the model
// version (or accept the exception) deliberately. A reference {"dataset": d, "version": n} pins
// versions 1..n of d, since "d as of n" is the union of those versions.
//
// Thread-safe. Runs (manual or scheduled) of all projects are serialised by one mutex; the
// background thread started by StartSchedule stops and joins in the destructor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "data/dataset_store.h"
#include "security/audit_log.h"
#include "storage/metadata_store.h"

namespace falaj::data {

struct RetentionPolicy {
  std::optional<int64_t> default_days;     // unclassified columns; nullopt: kept for ever
  std::map<std::string, int64_t> classes;  // class → days; a class not listed uses the default
  std::string updated_by;
  int64_t updated_at_ms = 0;
};

// Largest number of days a policy may name (about 100 years; longer means "for ever").
inline constexpr int64_t kMaxRetentionDays = 36500;

// Parses {"default_days": N | null, "classes": {"pii": N, …}}: an empty object, unknown fields,
// unknown classes and days outside 0..kMaxRetentionDays are INVALID_ARGUMENT naming the problem. 0
// days means "purge at the next run".
Result<RetentionPolicy> ParseRetentionPolicy(const nlohmann::json& body);
nlohmann::json RetentionPolicyJson(const RetentionPolicy& policy);

// A model version's claim on a dataset's versions 1..version.
struct DatasetPin {
  std::string dataset;
  int64_t version = 0;
  std::string by;  // e.g. "model churn version 3"
};

// Every {"dataset": <string>, "version": <integer>} object anywhere in `lineage`.
std::vector<DatasetPin> PinsInLineage(const nlohmann::json& lineage, const std::string& by);

// The pins of every registered model version of a project (from the model registry).
using ModelPins = std::function<Result<std::vector<DatasetPin>>(std::string_view project)>;

class RetentionService {
 public:
  // Nothing is owned; everything must outlive the service.
  RetentionService(storage::MetadataStore& store, DatasetStore& datasets, ModelPins pins,
                   security::AuditLog& audit, const Clock& clock = SystemClock::Instance());
  ~RetentionService();
  RetentionService(const RetentionService&) = delete;
  RetentionService& operator=(const RetentionService&) = delete;

  static const storage::MigrationSet& Migrations();
  // For the project ownership check: a policy blocks deleting its project.
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  Result<RetentionPolicy> SetPolicy(std::string_view project, RetentionPolicy policy);
  // nullopt when the project has no policy (nothing expires).
  Result<std::optional<RetentionPolicy>> GetPolicy(std::string_view project);
  // NOT_FOUND when the project has no policy.
  Status RemovePolicy(std::string_view project);

  // Applies the project's policy now and returns the run report (also kept as the last run):
  // {"trigger", "started_at", "finished_at", "removed": [...], "kept_pinned": [...],
  //  "errors": [...]}. `principal` is who asked ("system:retention" for the schedule).
  Result<nlohmann::json> Run(std::string_view project, std::string_view principal,
                             std::string_view trigger);
  // The last run's report; nullopt before the first run.
  Result<std::optional<nlohmann::json>> LastRun(std::string_view project);

  // Runs every project that has a policy now and then every `interval`, on a background thread.
  void StartSchedule(std::chrono::seconds interval);

 private:
  void RunAll();
  void Audit(std::string_view principal, std::string_view action, const std::string& resource,
             int status, std::string_view outcome);

  storage::MetadataStore& store_;
  DatasetStore& datasets_;
  ModelPins pins_;
  security::AuditLog& audit_;
  const Clock& clock_;
  std::mutex run_mutex_;  // serialises runs, so two never purge the same version at once
  std::mutex schedule_mutex_;
  std::condition_variable_any wake_;  // with schedule_mutex_: stop requests end the wait
  std::jthread schedule_;             // last: stops before the members it uses go away
};

}  // namespace falaj::data
