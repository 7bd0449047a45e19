// API keys: creation (the plaintext is shown once), bootstrap of the first admin key, and
// authentication of a presented key. Only SHA-256 hashes are stored; a key is found by its
// non-secret id (a prefix of its hash) and its full hash is compared in constant time.
//
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "security/principal.h"
#include "storage/metadata_store.h"

namespace falaj::security {

struct CreatedKey {
  std::string id;
  std::string plaintext;  // shown once, never stored
};

class ApiKeyService {
 public:
  explicit ApiKeyService(storage::MetadataStore& store) : store_(store) {}

  static const storage::MigrationSet& Migrations();

  // Creates a key with a fresh 256-bit secret.
  Result<CreatedKey> Create(std::string_view name, std::string_view role);

  // On an empty key table, creates the admin key: `configured` if non-empty (it must be at least
  // 24 characters), otherwise a random one. Returns the key when one was created now, nullopt
  // when keys already existed.
  Result<std::optional<CreatedKey>> Bootstrap(std::string_view configured);

  // UNAUTHENTICATED (without saying why, to give a guesser nothing) unless `presented` is a
  // live key.
  Result<Principal> Authenticate(std::string_view presented);

 private:
  Result<CreatedKey> Insert(std::string_view name, std::string_view role, std::string plaintext);

  storage::MetadataStore& store_;
};

}  // namespace falaj::security
