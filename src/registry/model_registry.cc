// Models and aliases. Versions, manifests and verification are in model_versions.cc.
#include "registry/model_registry.h"

#include "registry/registry_names.h"

namespace falaj::registry {
namespace {

constexpr size_t kMaxDescriptionLength = 4096;

Model ModelFromRow(const storage::Row& row) {
  return {row.Text(0), row.Text(1),
          row.Text(2), nlohmann::json::parse(row.Text(3)).get<std::map<std::string, std::string>>(),
          row.Text(4), row.Int(5),
          row.Int(6)};
}

constexpr std::string_view kModelColumns =
    "SELECT project, name, description, tags, created_by, created_at_ms, updated_at_ms FROM "
    "models";

Result<std::optional<Model>> FindModel(storage::Transaction& tx, std::string_view project,
                                       std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query(std::string(kModelColumns) + " WHERE project = ? AND name = ?",
                                  {std::string(project), std::string(name)}));
  if (rows.empty()) return std::optional<Model>();
  return std::optional<Model>(ModelFromRow(rows.front()));
}

}  // namespace

ModelRegistry::ModelRegistry(storage::MetadataStore& store, ArtifactStores artifacts,
                             const security::SigningKey& signing_key, const Clock& clock)
    : store_(store), artifacts_(std::move(artifacts)), signing_key_(signing_key), clock_(clock) {}

const storage::MigrationSet& ModelRegistry::Migrations() {
  static const storage::MigrationSet kSet{
      "registry",
      {{1, "create models, versions and aliases",
        "CREATE TABLE models (project TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT "
        "NULL, tags TEXT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, "
        "updated_at_ms BIGINT NOT NULL, PRIMARY KEY (project, name)); "
        "CREATE TABLE model_versions (project TEXT NOT NULL, model TEXT NOT NULL, version BIGINT "
        "NOT NULL, format TEXT NOT NULL, status TEXT NOT NULL, files TEXT NOT NULL, signature "
        "TEXT NOT NULL, metrics TEXT NOT NULL, tags TEXT NOT NULL, lineage TEXT NOT NULL, "
        "manifest TEXT NOT NULL, manifest_signature TEXT NOT NULL, signing_key_id TEXT NOT NULL, "
        "created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, PRIMARY KEY (project, model, "
        "version)); "
        "CREATE TABLE model_aliases (project TEXT NOT NULL, model TEXT NOT NULL, alias TEXT NOT "
        "NULL, version BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, PRIMARY KEY (project, "
        "model, alias))"}}};
  return kSet;
}

Result<int64_t> ModelRegistry::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows, tx.Query("SELECT COUNT(*) FROM models WHERE project = ?", {std::string(project)}));
  return rows[0].Int(0);
}

Result<Model> ModelRegistry::CreateModel(Model model) {
  FALAJ_RETURN_IF_ERROR(ValidateName("model name", model.name));
  FALAJ_RETURN_IF_ERROR(ValidateTags(model.tags));
  if (model.description.size() > kMaxDescriptionLength) {
    return MakeError(ErrorCode::kInvalidArgument, "description is longer than {} bytes",
                     kMaxDescriptionLength);
  }
  model.created_at_ms = model.updated_at_ms = ToUnixMillis(clock_.Now());
  Status inserted =
      store_.RunTransaction(storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) {
        return tx.Run(
            "INSERT INTO models (project, name, description, tags, created_by, created_at_ms, "
            "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            {model.project, model.name, model.description, nlohmann::json(model.tags).dump(),
             model.created_by, model.created_at_ms, model.updated_at_ms});
      });
  if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, "model '{}' already exists", model.name);
  }
  if (!inserted) return std::unexpected(inserted.error());
  return model;
}

Result<std::vector<Model>> ModelRegistry::ListModels(std::string_view project) {
  std::vector<Model> models;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows, tx.Query(std::string(kModelColumns) + " WHERE project = ? ORDER BY name",
                                {std::string(project)}));
        for (const auto& row : rows) models.push_back(ModelFromRow(row));
        return Ok();
      }));
  return models;
}

Result<Model> ModelRegistry::GetModel(std::string_view project, std::string_view name) {
  std::optional<Model> found;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(found, FindModel(tx, project, name));
        return Ok();
      }));
  if (!found) return MakeError(ErrorCode::kNotFound, "model '{}' not found", name.substr(0, 80));
  return std::move(*found);
}

Result<Model> ModelRegistry::UpdateModel(
    std::string_view project, std::string_view name, const std::optional<std::string>& description,
    const std::optional<std::map<std::string, std::string>>& tags) {
  if (tags) FALAJ_RETURN_IF_ERROR(ValidateTags(*tags));
  if (description && description->size() > kMaxDescriptionLength) {
    return MakeError(ErrorCode::kInvalidArgument, "description is longer than {} bytes",
                     kMaxDescriptionLength);
  }
  Model model;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto found, FindModel(tx, project, name));
        if (!found) {
          return MakeError(ErrorCode::kNotFound, "model '{}' not found", name.substr(0, 80));
        }
        model = std::move(*found);
        if (description) model.description = *description;
        if (tags) model.tags = *tags;
        model.updated_at_ms = ToUnixMillis(clock_.Now());
        return tx.Run(
            "UPDATE models SET description = ?, tags = ?, updated_at_ms = ? WHERE project = ? "
            "AND name = ?",
            {model.description, nlohmann::json(model.tags).dump(), model.updated_at_ms,
             model.project, model.name});
      }));
  return model;
}

Status ModelRegistry::DeleteModel(std::string_view project, std::string_view name) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto versions,
                               tx.Query("SELECT COUNT(*) FROM model_versions WHERE project = ? "
                                        "AND model = ?",
                                        {std::string(project), std::string(name)}));
        if (versions[0].Int(0) > 0) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "model '{}' still has {} versions; delete them first", name,
                           versions[0].Int(0));
        }
        FALAJ_ASSIGN_OR_RETURN(auto deleted,
                               tx.Execute("DELETE FROM models WHERE project = ? AND name = ?",
                                          {std::string(project), std::string(name)}));
        if (deleted == 0) {
          return MakeError(ErrorCode::kNotFound, "model '{}' not found", name.substr(0, 80));
        }
        return Ok();
      });
}

Status ModelRegistry::SetAlias(std::string_view project, std::string_view model,
                               std::string_view alias, int64_t version) {
  FALAJ_RETURN_IF_ERROR(ValidateName("alias", alias));
  if (IsVersionNumber(alias)) {
    return MakeError(ErrorCode::kInvalidArgument, "alias '{}' looks like a version number", alias);
  }
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        // Checked in the same transaction as the move, so an alias never points at nothing.
        FALAJ_RETURN_IF_ERROR(LoadVersion(tx, project, model, version));
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM model_aliases WHERE project = ? AND model = ? AND alias = ?",
                   {std::string(project), std::string(model), std::string(alias)}));
        return tx.Run(
            "INSERT INTO model_aliases (project, model, alias, version, updated_at_ms) VALUES "
            "(?, ?, ?, ?, ?)",
            {std::string(project), std::string(model), std::string(alias), version,
             ToUnixMillis(clock_.Now())});
      });
}

Result<int64_t> ModelRegistry::ResolveAlias(std::string_view project, std::string_view model,
                                            std::string_view alias) {
  std::optional<int64_t> version;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows, tx.Query("SELECT version FROM model_aliases WHERE project = ? AND model = "
                                "? AND alias = ?",
                                {std::string(project), std::string(model), std::string(alias)}));
        if (!rows.empty()) version = rows[0].Int(0);
        return Ok();
      }));
  if (!version) {
    return MakeError(ErrorCode::kNotFound, "model '{}' has no alias '{}'", model.substr(0, 80),
                     alias.substr(0, 80));
  }
  return *version;
}

Status ModelRegistry::DeleteAlias(std::string_view project, std::string_view model,
                                  std::string_view alias) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto deleted,
            tx.Execute("DELETE FROM model_aliases WHERE project = ? AND model = ? AND alias = ?",
                       {std::string(project), std::string(model), std::string(alias)}));
        if (deleted == 0) {
          return MakeError(ErrorCode::kNotFound, "model '{}' has no alias '{}'",
                           model.substr(0, 80), alias.substr(0, 80));
        }
        return Ok();
      });
}

}  // namespace falaj::registry
