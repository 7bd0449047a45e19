// API keys for users and service accounts: creation (the plaintext is shown once), bootstrap of
// the first platform-admin key, listing, revocation, rotation with an overlap, expiry,
// last-used tracking, and authentication of a presented key.
//
// Format: "flj_" + 43 base62 characters (≥ 256 random bits) + 6 base62 characters of CRC-32
// over the rest, so secret scanners can recognise and check a leaked key offline. Only the
// SHA-256 of a key is stored; a key is found by its non-secret id (a prefix of that hash) and
// the full hash is compared in constant time. Keys are never logged.
//
// Verified keys are cached in memory for a few seconds, so that a busy client (inference above
// all) does not cost a storage read per request. Revoking or rotating through this service
// clears the cache at once; in a multi-process deployment another process notices within
// kAuthenticationCacheTtl.
//
// Thread-safe: durable state lives in the MetadataStore; the cache is guarded by a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "security/principal.h"
#include "storage/metadata_store.h"

namespace falaj::security {

struct ApiKeyInfo {
  std::string id;
  std::string name;
  bool platform_admin = false;
  std::string project;  // "" for a platform-wide key
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;  // 0: never
  int64_t last_used_at_ms = 0;
  int64_t revoked_at_ms = 0;  // 0: live

  std::string subject() const { return "key:" + id; }
};

struct NewApiKey {
  std::string name;
  bool platform_admin = false;
  std::string project;
  int64_t expires_at_ms = 0;
  std::string created_by;
};

struct CreatedKey {
  ApiKeyInfo info;
  std::string plaintext;  // shown once, never stored
};

class ApiKeyService {
 public:
  static constexpr std::chrono::milliseconds kAuthenticationCacheTtl{10'000};

  explicit ApiKeyService(storage::MetadataStore& store,
                         const Clock& clock = SystemClock::Instance())
      : store_(store), clock_(clock) {}

  static const storage::MigrationSet& Migrations();

  // A fresh key. INVALID_ARGUMENT for an empty or over-long name or an expiry in the past.
  Result<CreatedKey> Create(const NewApiKey& request);

  // On an empty key table, creates the platform-admin key: `configured` if non-empty (at least
  // 24 characters), otherwise a random one. nullopt when keys already existed.
  Result<std::optional<CreatedKey>> Bootstrap(std::string_view configured);

  // Keys of one project, or with `project` empty the platform-wide keys; newest first.
  Result<std::vector<ApiKeyInfo>> List(std::string_view project);
  // NOT_FOUND (also for a key of another project than `project`, when `project` is non-empty).
  Result<ApiKeyInfo> Get(std::string_view id, std::string_view project);
  Status Revoke(std::string_view id, std::string_view project);
  // Issues a replacement with the same name, scope and role bindings; the old key keeps working
  // for `overlap_seconds` (0: revoked now) so clients can switch without an outage.
  Result<CreatedKey> Rotate(std::string_view id, std::string_view project, int64_t overlap_seconds);

  // UNAUTHENTICATED with the same message whatever the reason (unknown, revoked, expired,
  // malformed), to give a guesser nothing.
  Result<Principal> Authenticate(std::string_view presented);
  // The principal of a key verified within kAuthenticationCacheTtl, without touching storage;
  // nullopt when the key is not in that cache (Authenticate() then decides).
  std::optional<Principal> RecentlyVerified(std::string_view presented);

  // For the project ownership check: live keys scoped to the project.
  static Result<int64_t> CountLiveInProject(storage::Transaction& tx, std::string_view project,
                                            int64_t now_ms);

  // Whether `key` has the "flj_" format and a correct checksum.
  static bool HasValidFormat(std::string_view key);

 private:
  Result<CreatedKey> Insert(const NewApiKey& request, std::string plaintext);
  void ClearCache();

  struct CachedPrincipal {
    Principal principal;
    int64_t valid_until_ms;
  };

  storage::MetadataStore& store_;
  const Clock& clock_;
  std::mutex cache_mutex_;
  // Keyed by the SHA-256 of the presented key; guarded by cache_mutex_.
  std::unordered_map<std::string, CachedPrincipal> cache_;
};

}  // namespace falaj::security
