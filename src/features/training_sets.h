// Training sets: a feature service (or a list of features) joined point-in-time-correctly onto an
// entity dataset (join keys + event timestamps) — as-of joins for plain views, windowed
// aggregations (window_aggregation.h) for aggregation views, after each view's transformations —
// written as a new dataset version of kind `training` with its profile and a lineage that pins
// every input: the entity dataset version, each feature view's definition version, and the version
// of each source dataset read — so the same request on the same lineage reproduces it row for row.
//
// Thread-safe: stateless apart from the stores it calls.
#pragma once

#include <arrow/type_fwd.h>

#include <memory>
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

// The training set's columns in request order: the first `entity_columns` columns of `joined`,
// then per view its selected features, taken in turn from `joined` (as-of views) or from
// `aggregated[view]` (aggregation views). INVALID_ARGUMENT when two output columns share a name.
Result<std::shared_ptr<arrow::Table>> AssembleColumns(
    const arrow::Table& joined, int entity_columns, const std::vector<ResolvedView>& views,
    const std::vector<std::vector<std::shared_ptr<arrow::ChunkedArray>>>& aggregated,
    bool full_names);

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
