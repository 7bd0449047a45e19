// The model registry: per project, models (name, description, tags) and their immutable
// versions (auto-numbered; format; artifact files with SHA-256 digests; input/output signature;
// metrics; tags; lineage; status), plus aliases ("champion", "challenger", any name) that move
// atomically between versions.
//
// Every version is sealed when registered: a manifest of its files' digests and sizes is signed
// with the server's Ed25519 model-signing key, and Verify() re-reads every file (digests are
// checked by the blob store on read) and checks that signature, so serving can refuse a tampered
// or unsigned artifact. Formats that execute code when loaded (pickle and friends) are refused,
// by name and by sniffing the files.
//
// Artifacts live in each project's encrypted blob store, obtained from ArtifactStores.
// Thread-safe: all state lives in the MetadataStore and the blob stores.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "security/signing_key.h"
#include "storage/blob_store.h"
#include "storage/metadata_store.h"

namespace falaj::registry {

// A project's artifact store (encrypted under the project's key in production).
using ArtifactStores = storage::ProjectBlobStores;

struct Model {
  std::string project;
  std::string name;
  std::string description;
  std::map<std::string, std::string> tags;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct ArtifactFile {
  std::string path;    // relative, e.g. "model.json" or "weights/part-1.bin"
  std::string sha256;  // of the plaintext
  uint64_t size = 0;
};

struct NewVersion {
  std::string format;               // xgboost, linear, lightgbm or onnx
  std::vector<ArtifactFile> files;  // path and sha256; sizes are read from the store
  nlohmann::json signature = nlohmann::json::object();  // {"inputs": [...], "outputs": [...]}
  std::map<std::string, double> metrics;
  std::map<std::string, std::string> tags;
  nlohmann::json lineage = nlohmann::json::object();  // run_id, dataset/feature versions …
  std::string created_by;
};

struct ModelVersion {
  std::string project;
  std::string model;
  int64_t version = 0;
  std::string format;
  std::string status;  // registered, deprecated or archived
  std::vector<ArtifactFile> files;
  nlohmann::json signature;
  std::map<std::string, double> metrics;
  std::map<std::string, std::string> tags;
  nlohmann::json lineage;
  std::vector<std::string> aliases;
  std::string manifest;            // the exact signed text
  std::string manifest_signature;  // hex Ed25519 signature
  std::string signing_key_id;
  std::string created_by;
  int64_t created_at_ms = 0;
};

struct VerifyReport {
  bool ok = false;
  std::string reason;  // empty when ok
};

class ModelRegistry {
 public:
  // Nothing is owned; everything must outlive the registry.
  ModelRegistry(storage::MetadataStore& store, ArtifactStores artifacts,
                const security::SigningKey& signing_key,
                const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();
  // For the project ownership check.
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);
  // Formats that may be registered, and names of formats refused because loading them runs code.
  static const std::vector<std::string_view>& SupportedFormats();

  Result<Model> CreateModel(Model model);
  Result<std::vector<Model>> ListModels(std::string_view project);
  Result<Model> GetModel(std::string_view project, std::string_view name);
  Result<Model> UpdateModel(std::string_view project, std::string_view name,
                            const std::optional<std::string>& description,
                            const std::optional<std::map<std::string, std::string>>& tags);
  // FAILED_PRECONDITION while the model has versions.
  Status DeleteModel(std::string_view project, std::string_view name);

  // Checks every file exists in the project's artifact store and is not code-executing, then
  // assigns the next version number and signs the manifest, atomically.
  Result<ModelVersion> RegisterVersion(std::string_view project, std::string_view model,
                                       NewVersion version);
  Result<std::vector<ModelVersion>> ListVersions(std::string_view project, std::string_view model);
  Result<ModelVersion> GetVersion(std::string_view project, std::string_view model,
                                  int64_t version);
  Result<ModelVersion> SetStatus(std::string_view project, std::string_view model, int64_t version,
                                 std::string_view status);
  // Asked, inside DeleteVersion's transaction, who still uses a version: the name of a user
  // (e.g. "endpoint 'scoring'") or nullopt. Register before serving; not thread-safe to add.
  using VersionUsers = std::function<Result<std::optional<std::string>>(
      storage::Transaction& tx, std::string_view project, std::string_view model, int64_t version)>;
  void RegisterVersionUsers(VersionUsers users) { version_users_.push_back(std::move(users)); }

  // FAILED_PRECONDITION while an alias points at the version or a registered user uses it.
  Status DeleteVersion(std::string_view project, std::string_view model, int64_t version);

  Status SetAlias(std::string_view project, std::string_view model, std::string_view alias,
                  int64_t version);
  Result<int64_t> ResolveAlias(std::string_view project, std::string_view model,
                               std::string_view alias);
  Status DeleteAlias(std::string_view project, std::string_view model, std::string_view alias);

  // Re-reads every artifact and checks the manifest's digests and signature.
  Result<VerifyReport> Verify(std::string_view project, std::string_view model, int64_t version);

  // Opens one file of a version for download; its digest is verified as it is read.
  Result<std::unique_ptr<storage::BlobReader>> OpenFile(std::string_view project,
                                                        std::string_view model, int64_t version,
                                                        std::string_view path);

 private:
  Result<ModelVersion> LoadVersion(storage::Transaction& tx, std::string_view project,
                                   std::string_view model, int64_t version);

  storage::MetadataStore& store_;
  ArtifactStores artifacts_;
  const security::SigningKey& signing_key_;
  const Clock& clock_;
  std::vector<VersionUsers> version_users_;
};

}  // namespace falaj::registry
