// Data-subject erasure (UAE PDPL Art. 15; GDPR Art. 17): removes every record of one entity —
// identified by its join-key values, e.g. {"customer_id": 42} — from the project's offline data
// (every version of every dataset with those columns, quarantine and training sets included) and
// from the online store (every feature view keyed by them), and keeps an erasure report. The
// report names what was removed, per dataset version and per view, and identifies the entity only
// by a SHA-256 of its key (keeping the key itself would keep the personal data). Other modules
// that hold an entity's data (the prediction log and its outcomes) plug in with AddEraser; each
// eraser runs after the built-in ones and its result goes into the report under its name.
//
// Thread-safe once erasers are added (before serving): state lives in the MetadataStore, the blob
// stores and the online store. Ingests running during an erasure may add rows of the entity
// after it; erase again after such loads.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "data/dataset_store.h"
#include "features/feature_registry.h"
#include "features/online_store.h"
#include "storage/metadata_store.h"

namespace falaj::features {

struct ErasureRequest {
  std::string project;
  std::vector<EntityKeyColumn> keys;  // one value each
  std::string reason;
  std::string principal;
};

// A key value as text ("42" for 42), as erasers that store keys as text compare them.
std::string EntityKeyText(const OnlineValue& value);

class ErasureService {
 public:
  ErasureService(storage::MetadataStore& store, data::DatasetStore& datasets,
                 FeatureRegistry& registry, OnlineStore& online,
                 const Clock& clock = SystemClock::Instance())
      : store_(store), datasets_(datasets), registry_(registry), online_(online), clock_(clock) {}

  static const storage::MigrationSet& Migrations();

  // Removes the entity's records from one more store; returns what it removed, for the report.
  using Eraser = std::function<Result<nlohmann::json>(const ErasureRequest& request)>;
  // Adds an eraser run by every Erase, reported under `name`. Call before serving.
  void AddEraser(std::string name, Eraser eraser);

  // Erases and returns the report (also stored). INVALID_ARGUMENT for no keys or a key with
  // other than one value.
  Result<nlohmann::json> Erase(const ErasureRequest& request);
  Result<std::vector<nlohmann::json>> List(std::string_view project);

 private:
  Result<nlohmann::json> EraseOffline(const ErasureRequest& request, const std::string& id);
  Result<nlohmann::json> EraseOnline(const ErasureRequest& request);

  storage::MetadataStore& store_;
  data::DatasetStore& datasets_;
  FeatureRegistry& registry_;
  OnlineStore& online_;
  const Clock& clock_;
  std::vector<std::pair<std::string, Eraser>> erasers_;  // set before serving
};

}  // namespace falaj::features
