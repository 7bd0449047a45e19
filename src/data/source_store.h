// Sources: per project, the registered connectors data arrives through, each with a declared
// schema, validation rules and the dataset its batches land in. Kinds: `file` (CSV or Parquet
// uploaded to …/ingest), `push` (JSON rows posted to …/push by applications and external APIs);
// `mqtt` and `postgresql` are recognised and refused as not yet implemented. The definition is
// checked strictly when created or replaced; every replacement bumps `revision`.
//
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "data/table_schema.h"
#include "storage/metadata_store.h"

namespace falaj::data {

struct Source {
  std::string project;
  std::string name;
  std::string kind;  // file or push
  std::string dataset;
  std::string description;
  TableSchema schema;
  nlohmann::json validation = nlohmann::json::object();  // {"policy": …, "rules": […]}
  int64_t revision = 0;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// Parses a source definition from its JSON form ({"name", "kind", "dataset", "description",
// "schema", "validation"}); unknown fields, bad names, schemas and rules are INVALID_ARGUMENT
// naming the field.
Result<Source> ParseSource(const nlohmann::json& body);
nlohmann::json SourceJson(const Source& source);

class SourceStore {
 public:
  explicit SourceStore(storage::MetadataStore& store, const Clock& clock = SystemClock::Instance())
      : store_(store), clock_(clock) {}

  static const storage::MigrationSet& Migrations();
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  // ALREADY_EXISTS when the name is taken.
  Result<Source> Create(Source source);
  // Replaces the definition (the dataset it writes to cannot change); bumps the revision.
  Result<Source> Replace(Source source);
  Result<std::vector<Source>> List(std::string_view project);
  Result<Source> Get(std::string_view project, std::string_view name);
  Status Delete(std::string_view project, std::string_view name);

 private:
  storage::MetadataStore& store_;
  const Clock& clock_;
};

}  // namespace falaj::data
