// MLflow 3 logged models: per project, a model logged from a run (or alone) with an id "m-<32
// hex>", its experiment, name, type, status (PENDING until its artifacts are uploaded and the
// client finalizes it, then READY or FAILED), tags and params. Its files live under its artifact
// location (mlflow-artifacts:/<experiment>/models/<id>/artifacts) in the ArtifactIndex.
// Also records which logged models a run output (runs/outputs), for the run's outputs.
//
// Kept in its own tables (component "tracking_logged_models") beside the tracking store.
// Errors: NOT_FOUND for an unknown id (also one of another project), INVALID_ARGUMENT for bad
// input. Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::tracking {

struct LoggedModel {
  std::string project;
  std::string model_id;
  std::string experiment_id;
  std::string name;
  std::string model_type;
  std::string source_run_id;
  std::string status = "PENDING";  // PENDING, READY or FAILED
  std::string status_message;
  std::string artifact_location;
  std::string creator;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> params;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct LoggedModelPage {
  std::vector<LoggedModel> models;
  std::string next_page_token;
};

class LoggedModelStore {
 public:
  explicit LoggedModelStore(storage::MetadataStore& store,
                            const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();

  // Assigns the id and times; `experiment_artifact_location` is the experiment's, under which
  // the model's own location is made. A missing name becomes the id.
  Result<LoggedModel> Create(LoggedModel model, std::string_view experiment_artifact_location);
  Result<LoggedModel> Get(std::string_view project, std::string_view model_id);
  // status is READY or FAILED.
  Result<LoggedModel> Finalize(std::string_view project, std::string_view model_id,
                               std::string_view status);
  Status SetTags(std::string_view project, std::string_view model_id,
                 const std::map<std::string, std::string>& tags);
  Status DeleteTag(std::string_view project, std::string_view model_id, std::string_view key);
  Status LogParams(std::string_view project, std::string_view model_id,
                   const std::map<std::string, std::string>& params);
  Status Delete(std::string_view project, std::string_view model_id);
  // Models of the given experiments (all when empty), newest first.
  Result<LoggedModelPage> Search(std::string_view project,
                                 const std::vector<std::string>& experiment_ids, size_t max_results,
                                 std::string_view page_token);

  // Records that run `run_id` output model `model_id` at `step`.
  Status LogOutput(std::string_view project, std::string_view run_id, std::string_view model_id,
                   int64_t step);

 private:
  // Reads, changes and writes one model in one transaction.
  Result<LoggedModel> Change(std::string_view project, std::string_view model_id,
                             const std::function<Status(LoggedModel&)>& change);

  storage::MetadataStore& store_;
  const Clock& clock_;
};

}  // namespace falaj::tracking
