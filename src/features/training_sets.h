// Training sets: a feature service (or a list of features) joined point-in-time-correctly onto an
// entity dataset (join keys + event timestamps), written as a new dataset version of kind
// `training` with its profile and a lineage that pins every input: the entity dataset version,
// each feature view's definition version, and the version of each source dataset read — so the
// same request on the same lineage reproduces it row for row.
//
// Thread-safe: stateless apart from the stores it calls.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "data/dataset_store.h"
#include "data/source_store.h"
#include "features/feature_registry.h"

namespace falaj::features {

struct TrainingSetRequest {
  std::string project;
  std::string feature_service;             // or `features`
  std::vector<FeatureReference> features;  // used when feature_service is empty
  std::string entity_dataset;
  int64_t entity_version = 0;  // 0: as of the latest version
  std::string entity_timestamp_column = "event_timestamp";
  std::string output;  // the training dataset's name
  bool full_feature_names = false;
  std::string principal;
};

class TrainingSetBuilder {
 public:
  TrainingSetBuilder(FeatureRegistry& registry, data::SourceStore& sources,
                     data::DatasetStore& datasets)
      : registry_(registry), sources_(sources), datasets_(datasets) {}

  Result<data::DatasetVersion> Build(const TrainingSetRequest& request);

 private:
  FeatureRegistry& registry_;
  data::SourceStore& sources_;
  data::DatasetStore& datasets_;
};

}  // namespace falaj::features
