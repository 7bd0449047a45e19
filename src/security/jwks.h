// JSON Web Key Sets (RFC 7517) for verifying OIDC tokens: parsing JWKS documents into OpenSSL
// public keys, and a cache keyed by `kid` that refreshes itself from one configured source.
//
// Only signature keys are kept: RSA (at least 2048 bits) and EC on P-256. Keys with `use` other
// than "sig", `key_ops` without "verify", another `kty` or curve, private members, or weak
// parameters are set aside as unusable, with the reason; a structurally malformed document is
// rejected as a whole.
//
// Thread-safety: Jwk and JwksSnapshot are immutable once built and may be shared freely (OpenSSL 3
// allows concurrent verification with one EVP_PKEY). JwksCache is thread-safe: lookups of known
// keys read an atomically swapped snapshot and never wait on a refresh; refreshes are
// single-flight under a mutex. A refresh calls the fetch function, which may block (file or
// network I/O), so a Find for an unknown `kid` may block for as long as one fetch takes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "security/openssl_ptr.h"

namespace falaj::security {

enum class JwkKeyType {
  kRsa,
  kEcP256,
};

struct Jwk {
  std::string kid;
  JwkKeyType type;
  std::string alg;  // the JWK's `alg` member; empty when the key did not pin an algorithm
  EvpPkeyPtr key;   // public key, validated with EVP_PKEY_public_check
  int bits = 0;     // modulus size for RSA, 256 for P-256
};

struct JwksSnapshot {
  std::map<std::string, std::shared_ptr<const Jwk>, std::less<>> keys;
  // kid → why that key is not used (e.g. "RSA key smaller than 2048 bits").
  std::map<std::string, std::string, std::less<>> unusable;
};

// Limits on a fetched document, so that a hostile or broken endpoint cannot exhaust memory.
inline constexpr size_t kMaxJwksBytes = 1 << 20;
inline constexpr size_t kMaxJwksKeys = 100;

// True for a `kid` this module will look up: 1 to 128 characters from [A-Za-z0-9._-]. Anything
// else (path separators, quotes, control characters) never reaches a lookup or a log line.
bool IsSafeKeyId(std::string_view kid);

// Parses a JWKS document (`{"keys": [...]}`). INVALID_ARGUMENT with a message naming the
// offending key when the document is not such an object, a key is not an object, a usable key's
// members are missing or undecodable, or two usable keys share a `kid`.
Result<JwksSnapshot> ParseJwks(std::string_view text);

// A fetch function that reads the JWKS document from a file on every call. NOT_FOUND when the
// file cannot be opened, INVALID_ARGUMENT when it is larger than kMaxJwksBytes.
std::function<Result<std::string>()> JwksFromFile(std::string path);

class JwksCache {
 public:
  using Fetch = std::function<Result<std::string>()>;

  // `fetch` returns the JWKS document text; it is the only source of keys (keys are never taken
  // from a token). `clock` must outlive the cache. No fetch happens until the first Refresh or
  // Find.
  JwksCache(Fetch fetch, const Clock& clock,
            std::chrono::seconds cooldown = std::chrono::seconds(30));

  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // Fetches and parses the document now and, on success, replaces the key set. On failure the
  // previous keys stay in use and the fetch or parse error is returned (INVALID_ARGUMENT for a
  // malformed document). Either way the attempt starts the cooldown.
  Status Refresh();

  // The usable key with this kid. On a miss, refreshes once (concurrent misses share one fetch)
  // unless a refresh was attempted within the cooldown, and looks again. NOT_FOUND for a kid
  // that is still unknown, FAILED_PRECONDITION for a kid whose key was set aside (the message
  // says why), UNAVAILABLE (with the fetch or parse error in the message) when the refresh failed.
  Result<std::shared_ptr<const Jwk>> Find(std::string_view kid);

  // How many fetches have been attempted, for metrics and tests.
  size_t fetch_count() const { return fetch_count_.load(); }

 private:
  Result<std::shared_ptr<const Jwk>> Lookup(std::string_view kid) const;
  // Requires refresh_mutex_ to be held.
  Status RefreshLocked();

  const Fetch fetch_;
  const Clock& clock_;
  const std::chrono::seconds cooldown_;
  std::atomic<std::shared_ptr<const JwksSnapshot>> snapshot_;
  std::atomic<size_t> fetch_count_{0};
  // Serialises refreshes so that concurrent misses trigger a single fetch.
  std::mutex refresh_mutex_;
  // When the last fetch was attempted; guarded by refresh_mutex_.
  std::optional<std::chrono::system_clock::time_point> last_attempt_;
};

}  // namespace falaj::security
