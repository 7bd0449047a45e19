// TrainingService: one training spec → data loaded and split, a model trained (XGBoost, ridge or
// logistic regression), evaluated on the test split, everything logged to experiment tracking
// (params, the validation metric per iteration, test metrics, tags, the model, evaluation report
// and reference profile as blobs), and optionally registered as a model version with full
// lineage and an alias. This is what a training job runs (Run's signature is the jobs
// subsystem's contract) and what the tuner prepares its data through (Prepare).
//
// Thread-safe: holds no mutable state; concurrent runs only share the stores, which are.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/task_context.h"
#include "data/dataset_store.h"
#include "registry/model_registry.h"
#include "tracking/tracking_store.h"
#include "training/trainer.h"
#include "training/training_spec.h"

namespace falaj::features {
class FeatureRegistry;
class TrainingSetBuilder;
}  // namespace falaj::features

namespace falaj::training {

// A spec with its data loaded, defaults resolved and split: the tuner fits on `data` repeatedly.
struct PreparedTraining {
  TrainingSpec spec;  // with features and split method resolved
  PreparedData data;
  nlohmann::json data_lineage;  // {"dataset", "version"} or the training set's lineage
};

// How distributed fits ("distributed" in a spec) run: config training.python and
// training.collective_script (empty: DefaultCollectiveScript()).
struct DistributedRuntime {
  std::string python = "python3";
  std::string script;
};

class TrainingService {
 public:
  // Nothing is owned; everything must outlive the service. `training_sets` and `features` may be
  // null, and then specs naming a feature service are FAILED_PRECONDITION. `artifacts` is the
  // project blob store the registry reads (models must be uploaded where it looks for them).
  TrainingService(data::DatasetStore& datasets, features::FeatureRegistry* features,
                  features::TrainingSetBuilder* training_sets, tracking::TrackingStore& tracking,
                  registry::ModelRegistry& registry, storage::ProjectBlobStores artifacts);

  // Set before the service is shared; the default runs "python3" from PATH.
  void SetDistributedRuntime(DistributedRuntime runtime) { distributed_ = std::move(runtime); }

  // Parses and checks `spec`, loads its data (building the point-in-time training set for a
  // feature service), resolves the default features and split, and splits.
  Result<PreparedTraining> Prepare(std::string_view project, const nlohmann::json& spec,
                                   TaskContext& context);

  // Trains, evaluates, tracks and registers. Returns
  //   {"run_id", "experiment_id", "trainer", "metrics": {...}, "best_iteration",
  //    "iterations", "artifacts": {"model", "evaluation", "profile": sha256},
  //    "model": name, "version": n, "alias"}  (the last three only when registering).
  // Reports progress per iteration; CANCELLED when `context` asks (the run is then KILLED; a
  // failure marks it FAILED). INVALID_ARGUMENT naming the field for a bad spec.
  Result<nlohmann::json> Run(std::string_view project, const nlohmann::json& spec,
                             TaskContext& context);
  // The same, with `extra_lineage` (an object) merged into the registered version's lineage
  // (the tune job links the study and the best trial this way).
  Result<nlohmann::json> Run(std::string_view project, const nlohmann::json& spec,
                             TaskContext& context, const nlohmann::json& extra_lineage);

 private:
  Result<nlohmann::json> TrainTrackedRun(std::string_view project, const PreparedTraining& prepared,
                                         const std::string& run_id, TaskContext& context,
                                         const nlohmann::json& extra_lineage);

  data::DatasetStore& datasets_;
  features::FeatureRegistry* features_;
  features::TrainingSetBuilder* training_sets_;
  tracking::TrackingStore& tracking_;
  registry::ModelRegistry& registry_;
  storage::ProjectBlobStores artifacts_;
  DistributedRuntime distributed_;
};

}  // namespace falaj::training
