#include "security/api_keys.h"

#include <openssl/rand.h>
#include <zlib.h>

#include <array>
#include <cstdlib>

#include "common/encoding.h"

namespace falaj::security {
namespace {

constexpr std::string_view kPrefix = "flj_";
constexpr size_t kBodyLength = 43;  // 43 base62 characters carry 256 bits
constexpr size_t kChecksumLength = 6;
constexpr size_t kKeyIdLength = 16;
constexpr size_t kMinimumConfiguredKeyLength = 24;
// Longer presented keys are refused before hashing, so a hostile header costs nothing.
constexpr size_t kMaximumKeyLength = 256;
constexpr size_t kMaximumNameLength = 128;
// last_used_at is written at most this often per key, so authentication stays read-mostly.
constexpr int64_t kLastUsedResolutionMs = 60'000;
// The cache is dropped whole when it grows past this, which bounds memory under key guessing.
constexpr size_t kMaxCachedKeys = 10'000;
constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

std::string KeyIdFor(std::string_view hash) { return std::string(hash.substr(0, kKeyIdLength)); }

std::string Base62Checksum(std::string_view text) {
  uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size()));
  std::string out(kChecksumLength, '0');
  for (size_t i = kChecksumLength; i-- > 0; crc /= 62) out[i] = kBase62[crc % 62];
  return out;
}

std::string NewKeyPlaintext() {
  std::string key(kPrefix);
  // Rejection sampling keeps every character uniform over the 62 symbols.
  while (key.size() < kPrefix.size() + kBodyLength) {
    std::array<unsigned char, 64> random;
    if (RAND_bytes(random.data(), random.size()) != 1) std::abort();
    for (unsigned char byte : random) {
      if (byte < 248 && key.size() < kPrefix.size() + kBodyLength)
        key.push_back(kBase62[byte % 62]);
    }
  }
  return key + Base62Checksum(key);
}

constexpr std::string_view kColumns =
    "SELECT id, name, platform_admin, project, created_by, created_at_ms, expires_at_ms, "
    "last_used_at_ms, revoked_at_ms, hash FROM api_keys";

ApiKeyInfo InfoFromRow(const storage::Row& row) {
  return {row.Text(0), row.Text(1), row.Int(2) != 0, row.Text(3), row.Text(4),
          row.Int(5),  row.Int(6),  row.Int(7),      row.Int(8)};
}

Error KeyNotFound(std::string_view id) {
  return {ErrorCode::kNotFound, fmt::format("API key '{}' not found", id.substr(0, 40))};
}

}  // namespace

const storage::MigrationSet& ApiKeyService::Migrations() {
  static const storage::MigrationSet kSet{
      "api_keys",
      {{1, "create api_keys",
        "CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL, name TEXT NOT NULL, "
        "role TEXT NOT NULL, created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT)"},
       {2, "scoped keys with expiry and last use",
        "ALTER TABLE api_keys ADD COLUMN platform_admin BIGINT NOT NULL DEFAULT 0; "
        "UPDATE api_keys SET platform_admin = 1 WHERE role = 'admin'; "
        "ALTER TABLE api_keys ADD COLUMN project TEXT NOT NULL DEFAULT ''; "
        "ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT ''; "
        "ALTER TABLE api_keys ADD COLUMN expires_at_ms BIGINT; "
        "ALTER TABLE api_keys ADD COLUMN last_used_at_ms BIGINT; "
        "CREATE INDEX api_keys_project ON api_keys (project)"}}};
  return kSet;
}

bool ApiKeyService::HasValidFormat(std::string_view key) {
  if (key.size() != kPrefix.size() + kBodyLength + kChecksumLength || !key.starts_with(kPrefix)) {
    return false;
  }
  for (char c : key.substr(kPrefix.size())) {
    if (kBase62.find(c) == std::string_view::npos) return false;
  }
  std::string_view body = key.substr(0, key.size() - kChecksumLength);
  return Base62Checksum(body) == key.substr(body.size());
}

Result<CreatedKey> ApiKeyService::Insert(const NewApiKey& request, std::string plaintext) {
  if (request.name.empty() || request.name.size() > kMaximumNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "key name must be 1-{} characters",
                     kMaximumNameLength);
  }
  int64_t now = ToUnixMillis(clock_.Now());
  if (request.expires_at_ms != 0 && request.expires_at_ms <= now) {
    return MakeError(ErrorCode::kInvalidArgument, "key expiry must be in the future");
  }
  std::string hash = Sha256Hex(plaintext);
  CreatedKey created{{KeyIdFor(hash), request.name, request.platform_admin, request.project,
                      request.created_by, now, request.expires_at_ms, 0, 0},
                     std::move(plaintext)};
  storage::SqlValue expires = request.expires_at_ms == 0 ? storage::SqlValue(nullptr)
                                                         : storage::SqlValue(request.expires_at_ms);
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) {
        return tx.Run(
            "INSERT INTO api_keys (id, hash, name, role, platform_admin, project, created_by, "
            "created_at_ms, expires_at_ms) VALUES (?, ?, ?, '', ?, ?, ?, ?, ?)",
            {created.info.id, hash, request.name, int64_t{request.platform_admin}, request.project,
             request.created_by, now, expires});
      }));
  return created;
}

Result<CreatedKey> ApiKeyService::Create(const NewApiKey& request) {
  return Insert(request, NewKeyPlaintext());
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
  NewApiKey request{"bootstrap-admin", true, "", 0, "bootstrap"};
  auto created = configured.empty() ? Create(request) : Insert(request, std::string(configured));
  if (!created) return std::unexpected(created.error());
  return std::optional<CreatedKey>(std::move(*created));
}

Result<std::vector<ApiKeyInfo>> ApiKeyService::List(std::string_view project) {
  std::vector<ApiKeyInfo> keys;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows =
            tx.Query(std::string(kColumns) + " WHERE project = ? ORDER BY created_at_ms DESC, id",
                     {std::string(project)});
        if (!rows) return std::unexpected(rows.error());
        for (const auto& row : *rows) keys.push_back(InfoFromRow(row));
        return Ok();
      }));
  return keys;
}

Result<ApiKeyInfo> ApiKeyService::Get(std::string_view id, std::string_view project) {
  std::optional<ApiKeyInfo> found;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query(std::string(kColumns) + " WHERE id = ?", {std::string(id)});
        if (!rows) return std::unexpected(rows.error());
        if (!rows->empty()) found = InfoFromRow(rows->front());
        return Ok();
      }));
  if (!found || (!project.empty() && found->project != project)) {
    return std::unexpected(KeyNotFound(id));
  }
  return std::move(*found);
}

Status ApiKeyService::Revoke(std::string_view id, std::string_view project) {
  FALAJ_RETURN_IF_ERROR(Get(id, project));
  Status revoked =
      store_.RunTransaction(storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) {
        return tx.Run(
            "UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL",
            {ToUnixMillis(clock_.Now()), std::string(id)});
      });
  ClearCache();
  return revoked;
}

Result<CreatedKey> ApiKeyService::Rotate(std::string_view id, std::string_view project,
                                         int64_t overlap_seconds) {
  if (overlap_seconds < 0 || overlap_seconds > 30 * 24 * 3600) {
    return MakeError(ErrorCode::kInvalidArgument, "overlap must be 0 to 2592000 seconds");
  }
  auto old = Get(id, project);
  if (!old) return std::unexpected(old.error());
  if (old->revoked_at_ms != 0) {
    return MakeError(ErrorCode::kFailedPrecondition, "API key '{}' is revoked", id);
  }
  auto created =
      Create({old->name, old->platform_admin, old->project, old->expires_at_ms, old->created_by});
  if (!created) return std::unexpected(created.error());
  int64_t now = ToUnixMillis(clock_.Now());
  int64_t old_expiry = now + overlap_seconds * 1000;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        // The replacement inherits every role the old key held.
        FALAJ_RETURN_IF_ERROR(tx.Run(
            "INSERT INTO role_bindings (project, subject, role, created_at_ms) SELECT project, ?, "
            "role, ? FROM role_bindings WHERE subject = ?",
            {created->info.subject(), now, old->subject()}));
        if (overlap_seconds == 0) {
          return tx.Run("UPDATE api_keys SET revoked_at_ms = ? WHERE id = ?",
                        {now, std::string(id)});
        }
        return tx.Run(
            "UPDATE api_keys SET expires_at_ms = ? WHERE id = ? AND (expires_at_ms IS NULL OR "
            "expires_at_ms > ?)",
            {old_expiry, std::string(id), old_expiry});
      }));
  ClearCache();  // the old key's expiry changed
  return created;
}

std::optional<Principal> ApiKeyService::RecentlyVerified(std::string_view presented) {
  if (presented.empty() || presented.size() > kMaximumKeyLength) return std::nullopt;
  std::string hash = Sha256Hex(presented);
  int64_t now = ToUnixMillis(clock_.Now());
  std::lock_guard lock(cache_mutex_);
  auto cached = cache_.find(hash);
  if (cached == cache_.end() || now >= cached->second.valid_until_ms) return std::nullopt;
  return cached->second.principal;
}

Result<Principal> ApiKeyService::Authenticate(std::string_view presented) {
  auto refused = [] { return MakeError(ErrorCode::kUnauthenticated, "invalid API key"); };
  if (presented.empty() || presented.size() > kMaximumKeyLength) return refused();
  // A key in our format with a bad checksum is a typo or a forgery: no need to ask storage.
  if (presented.starts_with(kPrefix) && !HasValidFormat(presented)) return refused();
  std::string hash = Sha256Hex(presented);
  std::string id = KeyIdFor(hash);
  int64_t now = ToUnixMillis(clock_.Now());
  {
    std::lock_guard lock(cache_mutex_);
    if (auto cached = cache_.find(hash); cached != cache_.end()) {
      if (now < cached->second.valid_until_ms) return cached->second.principal;
      cache_.erase(cached);
    }
  }
  std::optional<ApiKeyInfo> key;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query(std::string(kColumns) + " WHERE id = ?", {id});
        if (!rows) return std::unexpected(rows.error());
        if (!rows->empty() && ConstantTimeEquals(rows->at(0).Text(9), hash)) {
          key = InfoFromRow(rows->front());
        }
        return Ok();
      }));
  if (!key || key->revoked_at_ms != 0 || (key->expires_at_ms != 0 && key->expires_at_ms <= now)) {
    return refused();
  }
  if (now - key->last_used_at_ms >= kLastUsedResolutionMs) {
    // Best effort: a failed bookkeeping write must not refuse a valid key.
    (void)store_.RunTransaction(
        storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) {
          return tx.Run("UPDATE api_keys SET last_used_at_ms = ? WHERE id = ?", {now, id});
        });
  }
  Principal principal{key->subject(), key->name, key->platform_admin, key->project, {}};
  int64_t valid_until = now + kAuthenticationCacheTtl.count();
  if (key->expires_at_ms != 0) valid_until = std::min(valid_until, key->expires_at_ms);
  {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kMaxCachedKeys) cache_.clear();
    cache_[hash] = CachedPrincipal{principal, valid_until};
  }
  return principal;
}

void ApiKeyService::ClearCache() {
  std::lock_guard lock(cache_mutex_);
  cache_.clear();
}

Result<int64_t> ApiKeyService::CountLiveInProject(storage::Transaction& tx,
                                                  std::string_view project, int64_t now_ms) {
  auto rows = tx.Query(
      "SELECT COUNT(*) FROM api_keys WHERE project = ? AND revoked_at_ms IS NULL AND "
      "(expires_at_ms IS NULL OR expires_at_ms > ?)",
      {std::string(project), now_ms});
  if (!rows) return std::unexpected(rows.error());
  return rows->at(0).Int(0);
}

}  // namespace falaj::security
