// Materialisation: copying each online feature view's latest row per entity from its source's
// offline dataset into the online store. Full runs read every dataset version; incremental runs
// read only the versions added since the view's last run (a changed view definition forces a
// full run). Bulk writes skip the write-ahead log and are flushed before the run is recorded, so
// a crash mid-run is repaired by running again. Streaming: rows a push ingest accepted go
// straight to every online view of their source (write-if-newer, durable). Every view's rows pass
// through its transformations first (view_rows.h). Aggregation views keep tiles instead of a row
// (online_aggregates.h): a full run drops the view's tiles and rebuilds them from every dataset
// version as one batch; an incremental run merges each new version as its own batch, and
// streaming merges each ingested batch under its version, so a version merged twice is skipped.
//
// Thread-safe: concurrent runs of one plain view are safe (writes keep the newest row), though
// wasteful; for aggregation views concurrent runs race (read-modify-write), see docs/features.md.
#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "data/dataset_store.h"
#include "features/feature_registry.h"
#include "features/online_store.h"
#include "storage/kv_store.h"
#include "storage/metadata_store.h"

namespace falaj::features {

struct MaterializationRun {
  std::string view;
  std::string mode;                  // full or incremental
  int64_t from_dataset_version = 0;  // exclusive
  int64_t to_dataset_version = 0;    // inclusive
  int64_t rows_read = 0;
  int64_t entities_written = 0;
};

class Materializer {
 public:
  Materializer(storage::MetadataStore& store, FeatureRegistry& registry, data::SourceStore& sources,
               data::DatasetStore& datasets, OnlineStore& online, storage::KvStore& kv,
               const Clock& clock = SystemClock::Instance())
      : store_(store),
        registry_(registry),
        sources_(sources),
        datasets_(datasets),
        online_(online),
        kv_(kv),
        clock_(clock) {}

  static const storage::MigrationSet& Migrations();

  // Materialises `views` (empty: every online view of the project).
  Result<std::vector<MaterializationRun>> Run(std::string_view project,
                                              const std::vector<std::string>& views,
                                              bool incremental);
  // Writes freshly accepted rows of `source`, stored as `dataset_version`, to its online views.
  Status OnIngested(std::string_view project, std::string_view source, const arrow::Table& rows,
                    int64_t dataset_version);

 private:
  Result<MaterializationRun> RunOne(std::string_view project, const ResolvedView& view,
                                    bool incremental);
  // Reads the versions (run.from, run.to] of the view's dataset into the online store.
  Status Load(std::string_view project, const ResolvedView& view, const std::string& dataset,
              MaterializationRun& run);

  storage::MetadataStore& store_;
  FeatureRegistry& registry_;
  data::SourceStore& sources_;
  data::DatasetStore& datasets_;
  OnlineStore& online_;
  storage::KvStore& kv_;  // the online store's, for aggregation tiles
  const Clock& clock_;
};

}  // namespace falaj::features
