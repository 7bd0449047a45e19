#include "cli/audit_data_dir.h"

#include <filesystem>
#include <memory>

#include "security/signing_key.h"
#include "storage/metadata_store.h"

namespace falaj::cli {
namespace {

// The metadata store of `data_dir`, whose audit tables must be at the schema this binary reads.
Result<std::unique_ptr<storage::MetadataStore>> OpenAuditStore(const std::string& data_dir) {
  std::string path = data_dir + "/falaj.db";
  std::error_code error;
  // Checked first: SQLite would otherwise create an empty database and report a clean log.
  if (!std::filesystem::is_regular_file(path, error)) {
    return MakeError(ErrorCode::kNotFound, "no Falaj database at {}", path);
  }
  FALAJ_ASSIGN_OR_RETURN(auto store, storage::OpenMetadataStore("sqlite://" + path, 1));
  auto version = store->SchemaVersion(security::AuditLog::Migrations().component);
  if (!version) {
    return MakeError(ErrorCode::kFailedPrecondition, "{} holds no audit trail: {}", path,
                     version.error().message);
  }
  int expected = security::AuditLog::Migrations().migrations.back().version;
  if (*version != expected) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the audit trail in {} is at schema version {}, this falaj reads version {}{}",
                     path, *version, expected,
                     *version < expected ? " (start the server once to upgrade it)" : "");
  }
  return store;
}

Result<std::string> PublicKeyRaw(const std::string& data_dir, const std::string& public_key) {
  if (!public_key.empty()) return security::ParseEd25519PublicKey(public_key);
  FALAJ_ASSIGN_OR_RETURN(auto key, security::SigningKey::Load(data_dir + "/audit_signing_key.pem"));
  return key.PublicKeyRaw();
}

}  // namespace

Result<nlohmann::json> VerifyAuditDataDir(const std::string& data_dir,
                                          const std::string& public_key) {
  FALAJ_ASSIGN_OR_RETURN(auto store, OpenAuditStore(data_dir));
  FALAJ_ASSIGN_OR_RETURN(auto key, PublicKeyRaw(data_dir, public_key));
  security::AuditLog audit(*store);
  FALAJ_ASSIGN_OR_RETURN(auto report, audit.Verify(key));
  return security::AuditVerifyReportJson(report, key);
}

Status ExportAuditDataDir(const std::string& data_dir, const security::AuditQuery& query,
                          std::ostream& out) {
  FALAJ_ASSIGN_OR_RETURN(auto store, OpenAuditStore(data_dir));
  security::AuditLog audit(*store);
  return audit.ExportJsonLines(out, query);
}

}  // namespace falaj::cli
