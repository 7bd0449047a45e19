#include "data/source_store.h"

#include "common/encoding.h"
#include "common/resource_names.h"
#include "data/mqtt_config.h"
#include "data/postgres_source.h"
#include "data/validation_rules.h"

namespace falaj::data {
namespace {

constexpr const char* kColumns =
    "project, name, kind, dataset, description, schema, validation, revision, created_by, "
    "created_at_ms, updated_at_ms, config";

Result<std::string> StringField(const nlohmann::json& body, std::string_view field, bool required) {
  auto found = body.find(field);
  if (found == body.end()) {
    if (required) return MakeError(ErrorCode::kInvalidArgument, "field '{}' is required", field);
    return std::string();
  }
  if (!found->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be a string", field);
  }
  return found->get<std::string>();
}

bool IsConnector(std::string_view kind) { return kind == "mqtt" || kind == "postgresql"; }

// The connector settings in canonical form (defaults filled in), checked strictly.
Result<nlohmann::json> CanonicalConfig(std::string_view kind, const nlohmann::json& config) {
  if (kind == "mqtt") {
    FALAJ_ASSIGN_OR_RETURN(auto parsed, ParseMqttConfig(config));
    return MqttConfigJson(parsed, false);
  }
  FALAJ_ASSIGN_OR_RETURN(auto parsed, ParsePostgresConfig(config));
  return PostgresConfigJson(parsed, false);
}

Result<nlohmann::json> RedactedConfig(std::string_view kind, const nlohmann::json& config) {
  if (kind == "mqtt") {
    FALAJ_ASSIGN_OR_RETURN(auto parsed, ParseMqttConfig(config));
    return MqttConfigJson(parsed, true);
  }
  FALAJ_ASSIGN_OR_RETURN(auto parsed, ParsePostgresConfig(config));
  return PostgresConfigJson(parsed, true);
}

Status CheckRules(const Source& source) {
  FALAJ_ASSIGN_OR_RETURN(auto rules, ParseRulesJson(source.validation));
  for (const auto& rule : rules.rules) {
    if (!rule.column.empty() && !source.schema.Find(rule.column)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "validation rule for column '{}': the schema has no such column",
                       rule.column);
    }
  }
  return Ok();
}

}  // namespace

Result<Source> ParseSource(const nlohmann::json& body) {
  if (!body.is_object())
    return MakeError(ErrorCode::kInvalidArgument, "a source must be an object");
  for (const auto& [key, value] : body.items()) {
    if (key != "name" && key != "kind" && key != "dataset" && key != "description" &&
        key != "schema" && key != "validation" && key != "config") {
      return MakeError(ErrorCode::kInvalidArgument, "unknown field '{}'", key);
    }
  }
  Source source;
  FALAJ_ASSIGN_OR_RETURN(source.name, StringField(body, "name", true));
  FALAJ_RETURN_IF_ERROR(ValidateName("source name", source.name));
  FALAJ_ASSIGN_OR_RETURN(source.kind, StringField(body, "kind", true));
  if (source.kind != "file" && source.kind != "push" && !IsConnector(source.kind)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "source kind '{}' is not supported; known: file, push, mqtt, postgresql",
                     source.kind.substr(0, 40));
  }
  FALAJ_ASSIGN_OR_RETURN(source.dataset, StringField(body, "dataset", false));
  if (source.dataset.empty()) source.dataset = source.name;
  FALAJ_RETURN_IF_ERROR(ValidateName("dataset name", source.dataset));
  FALAJ_ASSIGN_OR_RETURN(source.description, StringField(body, "description", false));
  auto schema = body.find("schema");
  if (schema == body.end())
    return MakeError(ErrorCode::kInvalidArgument, "field 'schema' is required");
  FALAJ_ASSIGN_OR_RETURN(source.schema, ParseTableSchema(*schema));
  if (auto validation = body.find("validation"); validation != body.end()) {
    FALAJ_ASSIGN_OR_RETURN(auto rules, ParseRulesJson(*validation));
    source.validation = RulesToJson(rules);
    FALAJ_RETURN_IF_ERROR(CheckRules(source));
  }
  auto config = body.find("config");
  if (IsConnector(source.kind)) {
    if (config == body.end()) {
      return MakeError(ErrorCode::kInvalidArgument, "a {} source needs a 'config'", source.kind);
    }
    auto canonical = CanonicalConfig(source.kind, *config);
    if (!canonical) {
      return MakeError(ErrorCode::kInvalidArgument, "config: {}", canonical.error().message);
    }
    source.config = std::move(*canonical);
  } else if (config != body.end()) {
    return MakeError(ErrorCode::kInvalidArgument, "a {} source takes no 'config'", source.kind);
  }
  return source;
}

nlohmann::json SourceJson(const Source& source) {
  nlohmann::json json = {{"name", source.name},
                         {"kind", source.kind},
                         {"dataset", source.dataset},
                         {"description", source.description},
                         {"schema", TableSchemaJson(source.schema)},
                         {"validation", source.validation},
                         {"revision", source.revision},
                         {"created_by", source.created_by},
                         {"created_at_ms", source.created_at_ms},
                         {"updated_at_ms", source.updated_at_ms}};
  if (IsConnector(source.kind)) {
    auto redacted = RedactedConfig(source.kind, source.config);
    json["config"] = redacted ? *redacted : nlohmann::json(nullptr);
  }
  return json;
}

const storage::MigrationSet& SourceStore::Migrations() {
  static const storage::MigrationSet kSet{
      "sources",
      {{1, "create sources",
        "CREATE TABLE sources (project TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, "
        "dataset TEXT NOT NULL, description TEXT NOT NULL, schema TEXT NOT NULL, validation TEXT "
        "NOT NULL, revision BIGINT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT "
        "NULL, updated_at_ms BIGINT NOT NULL, PRIMARY KEY (project, name))"},
       {2, "connector settings and watermarks",
        "ALTER TABLE sources ADD COLUMN config TEXT NOT NULL DEFAULT ''; "
        "CREATE TABLE source_watermarks (project TEXT NOT NULL, source TEXT NOT NULL, "
        "watermark_us BIGINT NOT NULL, PRIMARY KEY (project, source))"}}};
  return kSet;
}

Result<int64_t> SourceStore::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM sources WHERE project = ?",
                                             {std::string(project)}));
  return rows[0].Int(0);
}

Result<std::string> SourceStore::SealConfig(const Source& source) {
  if (!IsConnector(source.kind)) return std::string();
  const std::string plaintext = source.config.dump();
  if (!cipher_.seal) return plaintext;
  FALAJ_ASSIGN_OR_RETURN(auto sealed,
                         cipher_.seal(source.project, "source/" + source.name, plaintext));
  return "sealed:" + HexEncode(sealed);
}

Status SourceStore::OpenConfig(Source& source, const std::string& stored) {
  if (stored.empty()) return Ok();
  std::string plaintext = stored;
  if (stored.starts_with("sealed:")) {
    if (!cipher_.open) {
      return MakeError(ErrorCode::kFailedPrecondition, "source '{}': settings are sealed",
                       source.name);
    }
    auto sealed = HexDecode(std::string_view(stored).substr(7));
    if (!sealed)
      return MakeError(ErrorCode::kDataLoss, "source '{}': settings are damaged", source.name);
    FALAJ_ASSIGN_OR_RETURN(plaintext,
                           cipher_.open(source.project, "source/" + source.name, *sealed));
  }
  auto parsed = nlohmann::json::parse(plaintext, nullptr, false);
  if (parsed.is_discarded()) {
    return MakeError(ErrorCode::kDataLoss, "source '{}': settings are damaged", source.name);
  }
  source.config = std::move(parsed);
  return Ok();
}

Result<std::vector<Source>> SourceStore::Select(std::string_view where,
                                                const std::vector<storage::SqlValue>& params) {
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            rows, tx.Query(fmt::format("SELECT {} FROM sources WHERE {} ORDER BY project, name",
                                       kColumns, where),
                           params));
        return Ok();
      }));
  std::vector<Source> sources;
  for (const auto& row : rows) {
    Source source;
    source.project = row.Text(0);
    source.name = row.Text(1);
    source.kind = row.Text(2);
    source.dataset = row.Text(3);
    source.description = row.Text(4);
    FALAJ_ASSIGN_OR_RETURN(source.schema, ParseTableSchema(nlohmann::json::parse(row.Text(5))));
    source.validation = nlohmann::json::parse(row.Text(6));
    source.revision = row.Int(7);
    source.created_by = row.Text(8);
    source.created_at_ms = row.Int(9);
    source.updated_at_ms = row.Int(10);
    FALAJ_RETURN_IF_ERROR(OpenConfig(source, row.Text(11)));
    sources.push_back(std::move(source));
  }
  return sources;
}

Result<Source> SourceStore::Create(Source source) {
  source.revision = 1;
  source.created_at_ms = source.updated_at_ms = ToUnixMillis(clock_.Now());
  FALAJ_ASSIGN_OR_RETURN(auto sealed, SealConfig(source));
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        auto inserted = tx.Run(
            "INSERT INTO sources (project, name, kind, dataset, description, schema, validation, "
            "revision, created_by, created_at_ms, updated_at_ms, config) VALUES (?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?)",
            {source.project, source.name, source.kind, source.dataset, source.description,
             TableSchemaJson(source.schema).dump(), source.validation.dump(), source.revision,
             source.created_by, source.created_at_ms, source.updated_at_ms, sealed});
        if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
          return MakeError(ErrorCode::kAlreadyExists, "source '{}' already exists in project '{}'",
                           source.name, source.project);
        }
        return inserted;
      }));
  return source;
}

Result<Source> SourceStore::Replace(Source source) {
  FALAJ_ASSIGN_OR_RETURN(auto existing, Get(source.project, source.name));
  if (existing.dataset != source.dataset) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "source '{}' writes to dataset '{}'; its dataset cannot change", source.name,
                     existing.dataset);
  }
  // Settings sent back as the API showed them (password "***") keep the stored secret.
  if (existing.kind == source.kind && IsConnector(source.kind)) {
    auto redacted = RedactedConfig(existing.kind, existing.config);
    if (redacted && *redacted == source.config) source.config = existing.config;
  }
  source.revision = existing.revision + 1;
  source.created_by = existing.created_by;
  source.created_at_ms = existing.created_at_ms;
  source.updated_at_ms = ToUnixMillis(clock_.Now());
  FALAJ_ASSIGN_OR_RETURN(auto sealed, SealConfig(source));
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            int64_t changed,
            tx.Execute("UPDATE sources SET kind = ?, description = ?, schema = ?, validation = ?, "
                       "revision = ?, updated_at_ms = ?, config = ? WHERE project = ? AND name = "
                       "? AND revision = ?",
                       {source.kind, source.description, TableSchemaJson(source.schema).dump(),
                        source.validation.dump(), source.revision, source.updated_at_ms, sealed,
                        source.project, source.name, existing.revision}));
        if (changed == 0) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "source '{}' changed meanwhile; read it and replace it again",
                           source.name);
        }
        return Ok();
      }));
  return source;
}

Result<std::vector<Source>> SourceStore::List(std::string_view project) {
  return Select("project = ?", {std::string(project)});
}

Result<std::vector<Source>> SourceStore::ListKind(std::string_view kind) {
  return Select("kind = ?", {std::string(kind)});
}

Result<Source> SourceStore::Get(std::string_view project, std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(
      auto found, Select("project = ? AND name = ?", {std::string(project), std::string(name)}));
  if (found.empty()) {
    return MakeError(ErrorCode::kNotFound, "source '{}' not found in project '{}'", name, project);
  }
  return std::move(found.front());
}

Status SourceStore::Delete(std::string_view project, std::string_view name) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(int64_t deleted,
                               tx.Execute("DELETE FROM sources WHERE project = ? AND name = ?",
                                          {std::string(project), std::string(name)}));
        if (deleted == 0) {
          return MakeError(ErrorCode::kNotFound, "source '{}' not found in project '{}'", name,
                           project);
        }
        return tx.Run("DELETE FROM source_watermarks WHERE project = ? AND source = ?",
                      {std::string(project), std::string(name)});
      });
}

Result<std::optional<int64_t>> SourceStore::Watermark(std::string_view project,
                                                      std::string_view name) {
  std::optional<int64_t> watermark;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT watermark_us FROM source_watermarks "
                                                   "WHERE project = ? AND source = ?",
                                                   {std::string(project), std::string(name)}));
        if (!rows.empty()) watermark = rows[0].Int(0);
        return Ok();
      }));
  return watermark;
}

Status SourceStore::SetWatermark(std::string_view project, std::string_view name, int64_t micros) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM source_watermarks WHERE project = ? AND source = ?",
                   {std::string(project), std::string(name)}));
        return tx.Run(
            "INSERT INTO source_watermarks (project, source, watermark_us) VALUES (?, ?, ?)",
            {std::string(project), std::string(name), micros});
      });
}

}  // namespace falaj::data
