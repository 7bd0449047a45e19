// Sources: per project, the registered connectors data arrives through, each with a declared
// schema, validation rules and the dataset its batches land in. Kinds: `file` (CSV or Parquet
// uploaded to …/ingest), `push` (JSON rows posted to …/push by applications and external APIs),
// `mqtt` (a topic subscribed to; JSON payloads) and `postgresql` (a table or query pulled,
// incrementally by a timestamp column). Connector kinds carry a `config` whose secrets
// (passwords) are stored sealed under the project's data key and shown redacted. The definition
// is checked strictly when created or replaced; every replacement bumps `revision`.
//
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
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
  nlohmann::json config = nlohmann::json::object();      // mqtt / postgresql settings
  int64_t revision = 0;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// Parses a source definition from its JSON form ({"name", "kind", "dataset", "description",
// "schema", "validation", "config"}); unknown fields, bad names, schemas, rules and connector
// settings are INVALID_ARGUMENT naming the field.
Result<Source> ParseSource(const nlohmann::json& body);
// The API form: connector passwords redacted as "***".
nlohmann::json SourceJson(const Source& source);

// Seals and opens a source's connector settings at rest (the server uses the project's envelope
// key, bound to the project, its region and the source). Without one, settings are stored as
// they are — for tests only.
struct SecretCipher {
  std::function<Result<std::string>(std::string_view project, std::string_view object,
                                    std::string_view plaintext)>
      seal;
  std::function<Result<std::string>(std::string_view project, std::string_view object,
                                    std::string_view sealed)>
      open;
};

class SourceStore {
 public:
  explicit SourceStore(storage::MetadataStore& store, SecretCipher cipher = {},
                       const Clock& clock = SystemClock::Instance())
      : store_(store), cipher_(std::move(cipher)), clock_(clock) {}

  static const storage::MigrationSet& Migrations();
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  // ALREADY_EXISTS when the name is taken.
  Result<Source> Create(Source source);
  // Replaces the definition (the dataset it writes to cannot change); bumps the revision.
  Result<Source> Replace(Source source);
  Result<std::vector<Source>> List(std::string_view project);
  Result<Source> Get(std::string_view project, std::string_view name);
  Status Delete(std::string_view project, std::string_view name);
  // Every source of `kind` in every project (the connectors to run at start-up).
  Result<std::vector<Source>> ListKind(std::string_view kind);

  // The last watermark a pulling source recorded (µs; nullopt before the first pull), and
  // recording a new one.
  Result<std::optional<int64_t>> Watermark(std::string_view project, std::string_view name);
  Status SetWatermark(std::string_view project, std::string_view name, int64_t micros);

 private:
  Result<std::vector<Source>> Select(std::string_view where,
                                     const std::vector<storage::SqlValue>& params);
  Result<std::string> SealConfig(const Source& source);
  Status OpenConfig(Source& source, const std::string& stored);

  storage::MetadataStore& store_;
  SecretCipher cipher_;
  const Clock& clock_;
};

}  // namespace falaj::data
