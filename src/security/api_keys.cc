#include "security/api_keys.h"

#include "common/clock.h"
#include "common/encoding.h"
#include "common/random.h"
#include "security/authorizer.h"

namespace falaj::security {
namespace {

constexpr size_t kKeyIdLength = 16;
constexpr size_t kMinimumConfiguredKeyLength = 24;
// Keys longer than this are refused before hashing, so a hostile header costs nothing.
constexpr size_t kMaximumKeyLength = 256;

std::string KeyIdFor(std::string_view hash) { return std::string(hash.substr(0, kKeyIdLength)); }

}  // namespace

const storage::MigrationSet& ApiKeyService::Migrations() {
  static const storage::MigrationSet kSet{
      "api_keys",
      {{1, "create api_keys",
        "CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL, name TEXT NOT NULL, "
        "role TEXT NOT NULL, created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT)"}}};
  return kSet;
}

Result<CreatedKey> ApiKeyService::Insert(std::string_view name, std::string_view role,
                                         std::string plaintext) {
  if (!IsKnownRole(role)) {
    return MakeError(ErrorCode::kInvalidArgument, "unknown role '{}'", role);
  }
  std::string hash = Sha256Hex(plaintext);
  CreatedKey created{KeyIdFor(hash), std::move(plaintext)};
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "INSERT INTO api_keys (id, hash, name, role, created_at_ms) VALUES (?, ?, ?, ?, ?)",
            {created.id, hash, std::string(name), std::string(role),
             ToUnixMillis(SystemClock::Instance().Now())});
      }));
  return created;
}

Result<CreatedKey> ApiKeyService::Create(std::string_view name, std::string_view role) {
  return Insert(name, role, "fk_" + RandomBase64Url(32));
}

Result<std::optional<CreatedKey>> ApiKeyService::Bootstrap(std::string_view configured) {
  if (!configured.empty() && configured.size() < kMinimumConfiguredKeyLength) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "FALAJ_BOOTSTRAP_ADMIN_KEY must be at least {} characters",
                     kMinimumConfiguredKeyLength);
  }
  int64_t existing = 0;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query("SELECT COUNT(*) FROM api_keys");
        if (!rows) return std::unexpected(rows.error());
        existing = rows->at(0).Int(0);
        return Ok();
      }));
  if (existing > 0) return std::optional<CreatedKey>();
  auto created = configured.empty() ? Create("bootstrap-admin", "admin")
                                    : Insert("bootstrap-admin", "admin", std::string(configured));
  if (!created) return std::unexpected(created.error());
  return std::optional<CreatedKey>(std::move(*created));
}

Result<Principal> ApiKeyService::Authenticate(std::string_view presented) {
  auto refused = [] { return MakeError(ErrorCode::kUnauthenticated, "invalid API key"); };
  if (presented.empty() || presented.size() > kMaximumKeyLength) return refused();
  std::string hash = Sha256Hex(presented);
  std::optional<Principal> principal;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows =
            tx.Query("SELECT hash, name, role FROM api_keys WHERE id = ? AND revoked_at_ms IS NULL",
                     {KeyIdFor(hash)});
        if (!rows) return std::unexpected(rows.error());
        if (!rows->empty() && ConstantTimeEquals(rows->at(0).Text(0), hash)) {
          principal = Principal{"key:" + KeyIdFor(hash), rows->at(0).Text(1), rows->at(0).Text(2)};
        }
        return Ok();
      }));
  if (!principal) return refused();
  return std::move(*principal);
}

}  // namespace falaj::security
