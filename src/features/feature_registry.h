// The feature registry: a project's entities, feature views and feature services, versioned.
// Apply() takes a set of definitions (what `falaj apply -f DIR` sends), checks them together
// with what is already registered — entities exist, a view's source has the timestamp, join-key
// and feature columns with the declared types, a service's features exist — and records a new
// version of every object whose definition changed. Applying the same set again changes nothing
// (idempotent); a dry run reports the same changes without recording them. Older versions stay
// readable.
//
// Thread-safe: all state lives in the MetadataStore; concurrent applies serialise on its
// transactions.
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "data/source_store.h"
#include "features/feature_definitions.h"
#include "storage/metadata_store.h"

namespace falaj::features {

struct DefinitionVersion {
  std::string kind;
  std::string name;
  int64_t version = 0;
  nlohmann::json spec;
  std::string created_by;
  int64_t created_at_ms = 0;
};

struct AppliedChange {
  std::string kind;
  std::string name;
  std::string action;       // created, updated or unchanged
  int64_t version = 0;      // the version after the apply
  nlohmann::json previous;  // the replaced spec when updated, else null
};

// A view together with the join keys of its entities, resolved for joins and lookups.
struct ResolvedView {
  FeatureView view;
  std::vector<std::string> join_keys;            // in entity order, then key order
  std::vector<data::ColumnType> join_key_types;  // from the source's schema, one per join key
  std::vector<FeatureField> selected;            // the features a service asks for, in its order
  int64_t version = 0;
};

class FeatureRegistry {
 public:
  FeatureRegistry(storage::MetadataStore& store, data::SourceStore& sources,
                  const Clock& clock = SystemClock::Instance())
      : store_(store), sources_(sources), clock_(clock) {}

  static const storage::MigrationSet& Migrations();
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  // INVALID_ARGUMENT naming the object and the problem when the set does not check; then nothing
  // is recorded.
  Result<std::vector<AppliedChange>> Apply(std::string_view project,
                                           const std::vector<Definition>& definitions,
                                           std::string_view principal, bool dry_run);
  // The latest version of every object, by kind then name.
  Result<std::vector<DefinitionVersion>> List(std::string_view project);
  // `version` 0: the latest.
  Result<DefinitionVersion> Get(std::string_view project, std::string_view kind,
                                std::string_view name, int64_t version);
  Result<std::vector<DefinitionVersion>> Versions(std::string_view project, std::string_view kind,
                                                  std::string_view name);

  Result<ResolvedView> ResolveView(std::string_view project, std::string_view view);
  // A service's views, each with the features it selects, in the service's order.
  Result<std::vector<ResolvedView>> ResolveService(std::string_view project,
                                                   std::string_view service);
  // The same for an explicit list of "view:feature" references.
  Result<std::vector<ResolvedView>> ResolveReferences(std::string_view project,
                                                      const std::vector<FeatureReference>& refs);

  // The service's views when `service` is named, else the references' (INVALID_ARGUMENT when
  // neither is given): what a training set or an online read asks for.
  Result<std::vector<ResolvedView>> ResolveRequested(std::string_view project,
                                                     std::string_view service,
                                                     const std::vector<FeatureReference>& refs);

  // Bumped by every apply that records a change, so caches of resolved views know to refresh.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  storage::MetadataStore& store_;
  data::SourceStore& sources_;
  const Clock& clock_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace falaj::features
