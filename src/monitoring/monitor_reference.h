// Where a monitor's reference and a batch report's rows come from: the model registry (a model
// version's training reference profile), datasets (a version profiled on demand, or read as
// columns). Monitoring sees only this interface; the server implements it over the registry and
// the dataset store, so monitoring never reaches into their tables.
//
// Implementations must be thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "data/column_profile.h"

namespace falaj::monitoring {

struct ResolvedReference {
  // What was resolved, e.g. {"kind": "model_version", "model": "m", "version": 3,
  // "profile_sha256": "…"} or {"kind": "dataset", "dataset": "d", "version": 2}.
  nlohmann::json source;
  data::TableProfile profile;
};

struct DatasetColumns {
  nlohmann::json source;  // {"dataset": "d", "version": 2}
  int64_t rows = 0;
  // The requested numeric columns the dataset has, as doubles (null: NaN), by name.
  std::map<std::string, std::vector<double>> columns;
};

class ReferenceSource {
 public:
  virtual ~ReferenceSource() = default;
  // The training reference profile of the model version `endpoint` serves (its first target),
  // or of `model` `version` (0: the latest). FAILED_PRECONDITION when the version has none.
  virtual Result<ResolvedReference> ModelReference(std::string_view project,
                                                   std::string_view endpoint,
                                                   std::string_view model, int64_t version) = 0;
  // A dataset version (0: the latest) profiled with `bins` histogram bins (0: Sturges' count,
  // ceil(log2 rows) + 1, as Evidently bins numeric columns).
  virtual Result<ResolvedReference> DatasetReference(std::string_view project,
                                                     std::string_view dataset, int64_t version,
                                                     int bins) = 0;
  virtual Result<DatasetColumns> ReadColumns(std::string_view project, std::string_view dataset,
                                             int64_t version,
                                             const std::vector<std::string>& names) = 0;
};

}  // namespace falaj::monitoring
