// Experiment tracking: per project, experiments (name unique in the project, tags, lifecycle)
// and their runs (status, times, user, parent run, lifecycle) with write-once params,
// last-write-wins tags and metrics kept as time series plus the latest value per key. Batches are
// written in one transaction. Run search uses the MLflow filter language (run_filter.h), run as
// SQL (run_search_sql.h) so only the page's runs are read.
//
// This is the domain service behind the MLflow-compatible REST API and the native one; it knows
// nothing of HTTP. Errors: NOT_FOUND for an unknown experiment or run (also one of another
// project), ALREADY_EXISTS for a duplicate experiment name, INVALID_ARGUMENT for bad input,
// FAILED_PRECONDITION for writes to a deleted run.
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "storage/metadata_store.h"
#include "tracking/tracking_types.h"

namespace falaj::tracking {

class TrackingStore {
 public:
  // The store and clock must outlive this.
  explicit TrackingStore(storage::MetadataStore& store,
                         const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();
  // For the project ownership check: experiments in the project (of any lifecycle).
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  // Experiments. Ids are decimal strings assigned in creation order within the project, from 1;
  // "0" is MLflow's Default experiment, created when first asked for.
  Result<Experiment> CreateExperiment(std::string_view project, std::string_view name,
                                      const std::map<std::string, std::string>& tags);
  Result<Experiment> GetExperiment(std::string_view project, std::string_view experiment_id);
  Result<Experiment> GetExperimentByName(std::string_view project, std::string_view name);
  // Ordered by id; `view` selects the lifecycle.
  Result<std::vector<Experiment>> ListExperiments(std::string_view project, ViewType view);
  Status RenameExperiment(std::string_view project, std::string_view experiment_id,
                          std::string_view new_name);
  Status SetExperimentLifecycle(std::string_view project, std::string_view experiment_id,
                                Lifecycle lifecycle);
  Status SetExperimentTag(std::string_view project, std::string_view experiment_id,
                          std::string_view key, std::string_view value);

  // Runs. The experiment must be active. A kParentRunTag tag names the parent run.
  Result<Run> CreateRun(std::string_view project, NewRun run);
  Result<Run> GetRun(std::string_view project, std::string_view run_id);
  Result<RunInfo> UpdateRun(std::string_view project, std::string_view run_id, RunUpdate update);
  Status SetRunLifecycle(std::string_view project, std::string_view run_id, Lifecycle lifecycle);

  // Validates the whole batch (limits, keys, values, params against those already logged) and
  // then writes it in one transaction, or nothing.
  Status LogBatch(std::string_view project, std::string_view run_id, const Batch& batch);
  Status DeleteTag(std::string_view project, std::string_view run_id, std::string_view key);

  // Points of one metric ordered by step, timestamp, then insertion; pages of `max_results`.
  Result<MetricHistoryPage> MetricHistory(std::string_view project, std::string_view run_id,
                                          std::string_view key, size_t max_results,
                                          std::string_view page_token);

  Result<RunPage> SearchRuns(std::string_view project, const RunSearch& search);

  // 1 to kMaxComparedRuns distinct runs of the project, read in one transaction, side by side.
  // INVALID_ARGUMENT for too few, too many or repeated ids; NOT_FOUND for a run not in the
  // project.
  Result<RunComparison> CompareRuns(std::string_view project,
                                    const std::vector<std::string>& run_ids);

 private:
  Result<Run> LoadRun(storage::Transaction& tx, std::string_view project, std::string_view run_id);

  storage::MetadataStore& store_;
  const Clock& clock_;
};

}  // namespace falaj::tracking
