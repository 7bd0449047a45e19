// Model versions: registration with a signed manifest, reads, status, deletion, verification
// and file access. Models and aliases are in model_registry.cc.
#include <algorithm>
#include <set>

#include "common/encoding.h"
#include "registry/model_registry.h"
#include "registry/registry_names.h"

namespace falaj::registry {
namespace {

// Formats whose loaders execute code embedded in the file: never accepted.
constexpr std::string_view kCodeExecutingFormats[] = {
    "pickle", "cloudpickle", "joblib", "sklearn", "pytorch", "torch", "keras-h5"};
constexpr std::string_view kStatuses[] = {"registered", "deprecated", "archived"};
constexpr size_t kMaxFiles = 1000;

std::string ManifestText(std::string_view project, std::string_view model, int64_t version,
                         std::string_view format, const std::vector<ArtifactFile>& files) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& file : files) {
    entries.push_back({{"path", file.path}, {"sha256", file.sha256}, {"size", file.size}});
  }
  // nlohmann::json keeps object keys sorted, so the text is canonical for the same content.
  return nlohmann::json({{"schema", "falaj.model-manifest.v1"},
                         {"project", project},
                         {"model", model},
                         {"version", version},
                         {"format", format},
                         {"files", entries}})
      .dump();
}

// Python pickles (protocol 2 and later) start with PROTO, 0x80, then the protocol number.
bool LooksLikePickle(std::string_view head) {
  return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 && head[1] >= 2 &&
         head[1] <= 5;
}

Status ValidateFormat(std::string_view format) {
  for (auto refused : kCodeExecutingFormats) {
    if (format == refused) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "format '{}' executes code when loaded, so Falaj refuses it; export the "
                       "model as XGBoost JSON/UBJ, LightGBM text, ONNX or linear JSON",
                       format);
    }
  }
  const auto& supported = ModelRegistry::SupportedFormats();
  if (std::find(supported.begin(), supported.end(), format) == supported.end()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "format '{}' is not one of: xgboost, lightgbm, onnx, linear",
                     format.substr(0, 40));
  }
  return Ok();
}

ModelVersion VersionFromRow(const storage::Row& row) {
  ModelVersion version;
  version.project = row.Text(0);
  version.model = row.Text(1);
  version.version = row.Int(2);
  version.format = row.Text(3);
  version.status = row.Text(4);
  for (const auto& file : nlohmann::json::parse(row.Text(5))) {
    version.files.push_back({file.at("path").get<std::string>(),
                             file.at("sha256").get<std::string>(),
                             file.at("size").get<uint64_t>()});
  }
  version.signature = nlohmann::json::parse(row.Text(6));
  version.metrics = nlohmann::json::parse(row.Text(7)).get<std::map<std::string, double>>();
  version.tags = nlohmann::json::parse(row.Text(8)).get<std::map<std::string, std::string>>();
  version.lineage = nlohmann::json::parse(row.Text(9));
  version.manifest = row.Text(10);
  version.manifest_signature = row.Text(11);
  version.signing_key_id = row.Text(12);
  version.created_by = row.Text(13);
  version.created_at_ms = row.Int(14);
  return version;
}

constexpr std::string_view kVersionColumns =
    "SELECT project, model, version, format, status, files, signature, metrics, tags, lineage, "
    "manifest, manifest_signature, signing_key_id, created_by, created_at_ms FROM model_versions";

Status AttachAliases(storage::Transaction& tx, ModelVersion& version) {
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT alias FROM model_aliases WHERE project = ? AND model = "
                                  "? AND version = ? ORDER BY alias",
                                  {version.project, version.model, version.version}));
  for (const auto& row : rows) version.aliases.push_back(row.Text(0));
  return Ok();
}

std::string FileArrayJson(const std::vector<ArtifactFile>& files) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& file : files) {
    entries.push_back({{"path", file.path}, {"sha256", file.sha256}, {"size", file.size}});
  }
  return entries.dump();
}

}  // namespace

const std::vector<std::string_view>& ModelRegistry::SupportedFormats() {
  static const std::vector<std::string_view> kFormats = {"xgboost", "lightgbm", "onnx", "linear"};
  return kFormats;
}

Result<ModelVersion> ModelRegistry::LoadVersion(storage::Transaction& tx, std::string_view project,
                                                std::string_view model, int64_t version) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows, tx.Query(std::string(kVersionColumns) + " WHERE project = ? AND model = ? AND "
                                                         "version = ?",
                          {std::string(project), std::string(model), version}));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound, "model '{}' has no version {}", model.substr(0, 80),
                     version);
  }
  ModelVersion loaded = VersionFromRow(rows.front());
  FALAJ_RETURN_IF_ERROR(AttachAliases(tx, loaded));
  return loaded;
}

Result<ModelVersion> ModelRegistry::RegisterVersion(std::string_view project,
                                                    std::string_view model, NewVersion request) {
  FALAJ_RETURN_IF_ERROR(ValidateFormat(request.format));
  if (request.files.empty() || request.files.size() > kMaxFiles) {
    return MakeError(ErrorCode::kInvalidArgument, "a version needs 1 to {} files", kMaxFiles);
  }
  std::set<std::string> paths;
  FALAJ_ASSIGN_OR_RETURN(auto artifacts, artifacts_(project));
  for (auto& file : request.files) {
    FALAJ_RETURN_IF_ERROR(ValidateArtifactPath(file.path));
    if (!paths.insert(file.path).second) {
      return MakeError(ErrorCode::kInvalidArgument, "file '{}' is listed twice", file.path);
    }
    auto reader = artifacts->Open(file.sha256);
    if (!reader && reader.error().code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "file '{}': no artifact with digest {} was uploaded to this project",
                       file.path, file.sha256.substr(0, 64));
    }
    if (!reader) return std::unexpected(reader.error());
    file.size = (*reader)->size();
    char head[2] = {0, 0};
    FALAJ_ASSIGN_OR_RETURN(size_t read, (*reader)->Read(head, sizeof head));
    if (LooksLikePickle(std::string_view(head, read))) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "file '{}' is a Python pickle, which executes code when loaded; Falaj "
                       "refuses it",
                       file.path);
    }
  }
  std::sort(request.files.begin(), request.files.end(),
            [](const ArtifactFile& a, const ArtifactFile& b) { return a.path < b.path; });
  ModelVersion created;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto exists,
                               tx.Query("SELECT COUNT(*) FROM models WHERE project = ? AND name "
                                        "= ?",
                                        {std::string(project), std::string(model)}));
        if (exists[0].Int(0) == 0) {
          return MakeError(ErrorCode::kNotFound, "model '{}' not found", model.substr(0, 80));
        }
        FALAJ_ASSIGN_OR_RETURN(auto latest,
                               tx.Query("SELECT COALESCE(MAX(version), 0) FROM model_versions "
                                        "WHERE project = ? AND model = ?",
                                        {std::string(project), std::string(model)}));
        created.project = project;
        created.model = model;
        created.version = latest[0].Int(0) + 1;
        created.format = request.format;
        created.status = "registered";
        created.files = request.files;
        created.signature = request.signature;
        created.metrics = request.metrics;
        created.tags = request.tags;
        created.lineage = request.lineage;
        created.created_by = request.created_by;
        created.created_at_ms = ToUnixMillis(clock_.Now());
        created.manifest =
            ManifestText(project, model, created.version, created.format, created.files);
        created.manifest_signature = HexEncode(signing_key_.Sign(created.manifest));
        created.signing_key_id = signing_key_.KeyId();
        return tx.Run(
            "INSERT INTO model_versions (project, model, version, format, status, files, "
            "signature, metrics, tags, lineage, manifest, manifest_signature, signing_key_id, "
            "created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {created.project, created.model, created.version, created.format, created.status,
             FileArrayJson(created.files), created.signature.dump(),
             nlohmann::json(created.metrics).dump(), nlohmann::json(created.tags).dump(),
             created.lineage.dump(), created.manifest, created.manifest_signature,
             created.signing_key_id, created.created_by, created.created_at_ms});
      }));
  return created;
}

Result<std::vector<ModelVersion>> ModelRegistry::ListVersions(std::string_view project,
                                                              std::string_view model) {
  std::vector<ModelVersion> versions;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query(std::string(kVersionColumns) +
                                            " WHERE project = ? AND model = ? ORDER BY version",
                                        {std::string(project), std::string(model)}));
        for (const auto& row : rows) {
          versions.push_back(VersionFromRow(row));
          FALAJ_RETURN_IF_ERROR(AttachAliases(tx, versions.back()));
        }
        return Ok();
      }));
  return versions;
}

Result<ModelVersion> ModelRegistry::GetVersion(std::string_view project, std::string_view model,
                                               int64_t version) {
  ModelVersion found;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(found, LoadVersion(tx, project, model, version));
        return Ok();
      }));
  return found;
}

Result<ModelVersion> ModelRegistry::SetStatus(std::string_view project, std::string_view model,
                                              int64_t version, std::string_view status) {
  if (std::find(std::begin(kStatuses), std::end(kStatuses), status) == std::end(kStatuses)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "status '{}' is not one of: registered, deprecated, archived",
                     status.substr(0, 40));
  }
  ModelVersion updated;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(updated, LoadVersion(tx, project, model, version));
        updated.status = status;
        return tx.Run(
            "UPDATE model_versions SET status = ? WHERE project = ? AND model = ? AND version = ?",
            {updated.status, updated.project, updated.model, version});
      }));
  return updated;
}

Status ModelRegistry::DeleteVersion(std::string_view project, std::string_view model,
                                    int64_t version) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto loaded, LoadVersion(tx, project, model, version));
        if (!loaded.aliases.empty()) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "version {} is still aliased as '{}'; move the alias first", version,
                           loaded.aliases.front());
        }
        for (const auto& users : version_users_) {
          FALAJ_ASSIGN_OR_RETURN(auto user, users(tx, project, model, version));
          if (user) {
            return MakeError(ErrorCode::kFailedPrecondition,
                             "version {} is still served by {}; change it first", version, *user);
          }
        }
        return tx.Run("DELETE FROM model_versions WHERE project = ? AND model = ? AND version = ?",
                      {std::string(project), std::string(model), version});
      });
}

Result<VerifyReport> ModelRegistry::Verify(std::string_view project, std::string_view model,
                                           int64_t version) {
  FALAJ_ASSIGN_OR_RETURN(auto loaded, GetVersion(project, model, version));
  std::string expected =
      ManifestText(loaded.project, loaded.model, loaded.version, loaded.format, loaded.files);
  if (expected != loaded.manifest) {
    return VerifyReport{false, "the stored manifest does not match the version's files"};
  }
  auto signature = HexDecode(loaded.manifest_signature);
  if (!signature ||
      !security::VerifyEd25519(signing_key_.PublicKeyRaw(), loaded.manifest, *signature)) {
    return VerifyReport{false, "the manifest signature does not verify with the server's key"};
  }
  FALAJ_ASSIGN_OR_RETURN(auto artifacts, artifacts_(project));
  std::string buffer(64 * 1024, '\0');
  for (const auto& file : loaded.files) {
    auto reader = artifacts->Open(file.sha256);
    if (!reader) {
      return VerifyReport{false, fmt::format("file '{}': {}", file.path, reader.error().message)};
    }
    uint64_t total = 0;
    while (true) {
      auto read = (*reader)->Read(buffer.data(), buffer.size());
      if (!read) {
        return VerifyReport{false, fmt::format("file '{}': {}", file.path, read.error().message)};
      }
      if (*read == 0) break;
      total += *read;
    }
    if (total != file.size) {
      return VerifyReport{false, fmt::format("file '{}' has {} bytes, the manifest says {}",
                                             file.path, total, file.size)};
    }
  }
  return VerifyReport{true, ""};
}

Result<std::unique_ptr<storage::BlobReader>> ModelRegistry::OpenFile(std::string_view project,
                                                                     std::string_view model,
                                                                     int64_t version,
                                                                     std::string_view path) {
  FALAJ_ASSIGN_OR_RETURN(auto loaded, GetVersion(project, model, version));
  for (const auto& file : loaded.files) {
    if (file.path != path) continue;
    FALAJ_ASSIGN_OR_RETURN(auto artifacts, artifacts_(project));
    return artifacts->Open(file.sha256);
  }
  return MakeError(ErrorCode::kNotFound, "version {} of model '{}' has no file '{}'", version,
                   model.substr(0, 80), path.substr(0, 120));
}

}  // namespace falaj::registry
