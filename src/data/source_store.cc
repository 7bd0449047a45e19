#include "data/source_store.h"

#include "common/resource_names.h"
#include "data/validation_rules.h"

namespace falaj::data {
namespace {

constexpr const char* kColumns =
    "name, kind, dataset, description, schema, validation, revision, created_by, created_at_ms, "
    "updated_at_ms";

Result<Source> FromRow(const storage::Row& row, std::string_view project) {
  Source source;
  source.project = project;
  source.name = row.Text(0);
  source.kind = row.Text(1);
  source.dataset = row.Text(2);
  source.description = row.Text(3);
  FALAJ_ASSIGN_OR_RETURN(source.schema, ParseTableSchema(nlohmann::json::parse(row.Text(4))));
  source.validation = nlohmann::json::parse(row.Text(5));
  source.revision = row.Int(6);
  source.created_by = row.Text(7);
  source.created_at_ms = row.Int(8);
  source.updated_at_ms = row.Int(9);
  return source;
}

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

}  // namespace

Result<Source> ParseSource(const nlohmann::json& body) {
  if (!body.is_object())
    return MakeError(ErrorCode::kInvalidArgument, "a source must be an object");
  for (const auto& [key, value] : body.items()) {
    if (key != "name" && key != "kind" && key != "dataset" && key != "description" &&
        key != "schema" && key != "validation") {
      return MakeError(ErrorCode::kInvalidArgument, "unknown field '{}'", key);
    }
  }
  Source source;
  FALAJ_ASSIGN_OR_RETURN(source.name, StringField(body, "name", true));
  FALAJ_RETURN_IF_ERROR(ValidateName("source name", source.name));
  FALAJ_ASSIGN_OR_RETURN(source.kind, StringField(body, "kind", true));
  if (source.kind == "mqtt" || source.kind == "postgresql") {
    return MakeError(ErrorCode::kUnimplemented, "source kind '{}' is not implemented yet",
                     source.kind);
  }
  if (source.kind != "file" && source.kind != "push") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "source kind '{}' is not supported; known: file, push", source.kind);
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
    for (const auto& rule : rules.rules) {
      if (!rule.column.empty() && !source.schema.Find(rule.column)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "validation rule for column '{}': the schema has no such column",
                         rule.column);
      }
    }
    source.validation = RulesToJson(rules);
  }
  return source;
}

nlohmann::json SourceJson(const Source& source) {
  return {{"name", source.name},
          {"kind", source.kind},
          {"dataset", source.dataset},
          {"description", source.description},
          {"schema", TableSchemaJson(source.schema)},
          {"validation", source.validation},
          {"revision", source.revision},
          {"created_by", source.created_by},
          {"created_at_ms", source.created_at_ms},
          {"updated_at_ms", source.updated_at_ms}};
}

const storage::MigrationSet& SourceStore::Migrations() {
  static const storage::MigrationSet kSet{
      "sources",
      {{1, "create sources",
        "CREATE TABLE sources (project TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, "
        "dataset TEXT NOT NULL, description TEXT NOT NULL, schema TEXT NOT NULL, validation TEXT "
        "NOT NULL, revision BIGINT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT "
        "NULL, updated_at_ms BIGINT NOT NULL, PRIMARY KEY (project, name))"}}};
  return kSet;
}

Result<int64_t> SourceStore::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM sources WHERE project = ?",
                                             {std::string(project)}));
  return rows[0].Int(0);
}

Result<Source> SourceStore::Create(Source source) {
  source.revision = 1;
  source.created_at_ms = source.updated_at_ms = ToUnixMillis(clock_.Now());
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        auto inserted = tx.Run(
            "INSERT INTO sources (project, name, kind, dataset, description, schema, validation, "
            "revision, created_by, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?)",
            {source.project, source.name, source.kind, source.dataset, source.description,
             TableSchemaJson(source.schema).dump(), source.validation.dump(), source.revision,
             source.created_by, source.created_at_ms, source.updated_at_ms});
        if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
          return MakeError(ErrorCode::kAlreadyExists, "source '{}' already exists in project '{}'",
                           source.name, source.project);
        }
        return inserted;
      }));
  return source;
}

Result<Source> SourceStore::Replace(Source source) {
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows,
            tx.Query(fmt::format("SELECT {} FROM sources WHERE project = ? AND name = ?", kColumns),
                     {source.project, source.name}));
        if (rows.empty()) {
          return MakeError(ErrorCode::kNotFound, "source '{}' not found in project '{}'",
                           source.name, source.project);
        }
        FALAJ_ASSIGN_OR_RETURN(auto existing, FromRow(rows[0], source.project));
        if (existing.dataset != source.dataset) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "source '{}' writes to dataset '{}'; its dataset cannot change",
                           source.name, existing.dataset);
        }
        source.revision = existing.revision + 1;
        source.created_by = existing.created_by;
        source.created_at_ms = existing.created_at_ms;
        source.updated_at_ms = ToUnixMillis(clock_.Now());
        return tx.Run(
            "UPDATE sources SET kind = ?, description = ?, schema = ?, validation = ?, revision = "
            "?, updated_at_ms = ? WHERE project = ? AND name = ?",
            {source.kind, source.description, TableSchemaJson(source.schema).dump(),
             source.validation.dump(), source.revision, source.updated_at_ms, source.project,
             source.name});
      }));
  return source;
}

Result<std::vector<Source>> SourceStore::List(std::string_view project) {
  std::vector<Source> sources;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows,
            tx.Query(
                fmt::format("SELECT {} FROM sources WHERE project = ? ORDER BY name", kColumns),
                {std::string(project)}));
        for (const auto& row : rows) {
          FALAJ_ASSIGN_OR_RETURN(auto source, FromRow(row, project));
          sources.push_back(std::move(source));
        }
        return Ok();
      }));
  return sources;
}

Result<Source> SourceStore::Get(std::string_view project, std::string_view name) {
  Source found;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows,
            tx.Query(fmt::format("SELECT {} FROM sources WHERE project = ? AND name = ?", kColumns),
                     {std::string(project), std::string(name)}));
        if (rows.empty()) {
          return MakeError(ErrorCode::kNotFound, "source '{}' not found in project '{}'", name,
                           project);
        }
        FALAJ_ASSIGN_OR_RETURN(found, FromRow(rows[0], project));
        return Ok();
      }));
  return found;
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
        return Ok();
      });
}

}  // namespace falaj::data
