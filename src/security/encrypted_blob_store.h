// EncryptedBlobStore: a BlobStore decorator that keeps one project's blobs encrypted at rest in
// any underlying BlobStore (file://, s3:// …), sealed as stream envelopes under the project's
// data key (security/envelope.h).
//
// Addressing. Callers see the ordinary BlobStore contract: the digest is the SHA-256 of the
// *plaintext*, so registry and dataset digests stay meaningful and identical with or without
// encryption. The underlying store addresses each object by the SHA-256 of its *ciphertext*
// (which is all it can verify). The mapping lives in the MetadataStore table encrypted_blobs
// (component "encrypted_blobs"), keyed by (project, plaintext_digest):
//   ciphertext_digest  the underlying object
//   object_id          random 128-bit id bound into the envelope's associated data, together
//                      with project and region; fixed before the digest is known, because a
//                      stream is sealed as it is written
//   dek_version, plaintext_size, created_at_ms
// Consequences:
//   * Isolation: a digest is looked up only within this store's project, so another project's
//     blob is NOT_FOUND, and its ciphertext would not decrypt here anyway.
//   * Integrity: the underlying reader verifies the ciphertext digest, every segment is
//     authenticated, and the plaintext is re-hashed and compared with the requested digest, so a
//     swapped mapping row or a substituted ciphertext ends in DATA_LOSS, never wrong data.
//   * No cross-project deduplication and no equal-plaintext leak: each write has a fresh salt,
//     so equal plaintexts give unrelated ciphertexts. Within a project, writing content that
//     already exists keeps the first copy and deletes the new ciphertext.
//   * Deleting removes the mapping row first, then the ciphertext object; a crash in between
//     leaves an unreferenced ciphertext (garbage, not a leak of plaintext).
//
// Thread-safety: as BlobStore. The store keeps no mutable state of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "security/envelope.h"
#include "storage/blob_store.h"
#include "storage/metadata_store.h"

namespace falaj::security {

class EncryptedBlobStore final : public storage::BlobStore {
 public:
  // Nothing is owned; `underlying`, `keyring` and `metadata` must outlive the store.
  // REQUIRES: Migrations() and ProjectKeyring::Migrations() applied to `metadata`.
  EncryptedBlobStore(storage::BlobStore& underlying, ProjectKeyring& keyring,
                     storage::MetadataStore& metadata, std::string project, std::string region,
                     const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();

  // The writer encrypts as it goes; Commit() returns the SHA-256 of the plaintext.
  Result<std::unique_ptr<storage::BlobWriter>> NewWriter() override;
  // The reader yields plaintext; size() is the plaintext size. The Read() that reaches the end
  // returns DATA_LOSS if authentication or the plaintext digest check fails.
  Result<std::unique_ptr<storage::BlobReader>> Open(std::string_view digest) override;
  Result<bool> Exists(std::string_view digest) override;
  Status Delete(std::string_view digest) override;

  const std::string& project() const { return project_; }

 private:
  class Writer;
  class Reader;
  struct Mapping {
    std::string ciphertext_digest;
    std::string object_id;
    uint64_t plaintext_size = 0;
  };
  Result<std::optional<Mapping>> Lookup(std::string_view digest);
  // Records digest → ciphertext after a write; returns the digest.
  Result<std::string> Record(const std::string& digest, const Mapping& mapping,
                             uint32_t dek_version);

  storage::BlobStore& underlying_;
  ProjectKeyring& keyring_;
  storage::MetadataStore& metadata_;
  const std::string project_;
  const std::string region_;
  const Clock& clock_;
};

}  // namespace falaj::security
