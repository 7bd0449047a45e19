// Envelope encryption of project data at rest. Each project has a data key (DEK, AES-256),
// generated on first use and stored only wrapped by the key-encryption key (KEK) in the
// MetadataStore table project_keys (component "project_keys"). Data is sealed under the DEK;
// rotating the KEK rewraps DEKs (cheap, RewrapAll) without touching data, and rotating a DEK
// (RotateDataKey) makes new data use a new version while old versions keep decrypting.
//
// Envelope layout (big-endian integers):
//   "FLJE" | format version (1) | algorithm | dek_version (u32) | body
//   algorithm 1 (kOneShot): body = nonce(12) || AES-256-GCM ciphertext || tag(16)
//   algorithm 2 (kStream):  body = the STREAM format of security/aead.h (64 KiB segments)
// The associated data of every envelope is the label "falaj/envelope/v1", the 10 fixed header
// bytes (so the DEK version is bound), and length-prefixed project, region and object id: a
// ciphertext copied to another project, region or object fails to decrypt. KEK id and version
// live with the wrapped DEK (one row per project and DEK version, not per object) and are bound
// there by the provider, which is why rewrapping never invalidates data.
//
// Every failure to decrypt (tampering, truncation, wrong project/region/object, unknown DEK
// version, bad header) is DATA_LOSS; a missing or wrong KEK version is FAILED_PRECONDITION or
// DATA_LOSS from the provider, with the KEK named.
//
// Thread-safety: a ProjectKeyring may be used from many threads; unwrapped DEKs are cached in
// memory under a mutex, so the hot path costs one lock and a map lookup. Processes sharing one
// MetadataStore agree through its primary key: concurrent first use creates exactly one DEK.
// An EnvelopeSealer or EnvelopeOpener belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/clock.h"
#include "common/result.h"
#include "security/aead.h"
#include "security/key_provider.h"
#include "storage/metadata_store.h"

namespace falaj::security {

inline constexpr std::string_view kEnvelopeMagic = "FLJE";
inline constexpr uint8_t kEnvelopeFormatVersion = 1;
inline constexpr size_t kEnvelopePrefixSize = 10;  // magic, format, algorithm, dek_version
enum class EnvelopeAlgorithm : uint8_t { kOneShot = 1, kStream = 2 };

// Where a ciphertext belongs; all three are bound into its associated data.
struct EnvelopeContext {
  std::string_view project;
  std::string_view region;
  std::string_view object_id;
};

class ProjectKeyring;

// Encrypts one object as a stream envelope. Output goes to `*out` as in StreamSealer.
class EnvelopeSealer {
 public:
  Status Update(std::string_view plaintext, std::string* out);
  Status Finish(std::string* out);
  uint32_t dek_version() const { return dek_version_; }

 private:
  friend class ProjectKeyring;
  EnvelopeSealer(std::string prefix, uint32_t dek_version, std::unique_ptr<StreamSealer> stream)
      : prefix_(std::move(prefix)), dek_version_(dek_version), stream_(std::move(stream)) {}
  void EmitPrefix(std::string* out);

  std::string prefix_;
  uint32_t dek_version_;
  std::unique_ptr<StreamSealer> stream_;
  bool prefix_emitted_ = false;
};

// Decrypts one stream envelope; the DEK is looked up once its header arrives. As with
// StreamOpener, plaintext is only trustworthy as a whole once Finish() succeeds.
class EnvelopeOpener {
 public:
  Status Update(std::string_view envelope, std::string* out);
  Status Finish(std::string* out);

 private:
  friend class ProjectKeyring;
  EnvelopeOpener(ProjectKeyring& keyring, EnvelopeContext context);

  ProjectKeyring& keyring_;
  std::string project_, region_, object_id_;
  std::string prefix_;  // the fixed header bytes, until complete
  std::unique_ptr<StreamOpener> stream_;
};

class ProjectKeyring {
 public:
  // Neither argument is owned; both must outlive the keyring. REQUIRES: Migrations() applied.
  ProjectKeyring(storage::MetadataStore& store, KeyEncryptionKeyProvider& kek,
                 const Clock& clock = SystemClock::Instance());
  ~ProjectKeyring();
  ProjectKeyring(const ProjectKeyring&) = delete;
  ProjectKeyring& operator=(const ProjectKeyring&) = delete;

  static const storage::MigrationSet& Migrations();

  // One-shot envelope for small values (secrets, rows, manifests). INVALID_ARGUMENT for an
  // empty project.
  Result<std::string> Encrypt(std::string_view project, std::string_view region,
                              std::string_view object_id, std::string_view plaintext);
  // Accepts one-shot and stream envelopes.
  Result<std::string> Decrypt(std::string_view project, std::string_view region,
                              std::string_view object_id, std::string_view envelope);

  // Streaming envelopes for large objects, sealed with the project's current DEK.
  Result<std::unique_ptr<EnvelopeSealer>> NewSealer(const EnvelopeContext& context,
                                                    size_t segment_size = kStreamSegmentSize);
  std::unique_ptr<EnvelopeOpener> NewOpener(const EnvelopeContext& context);

  // Creates DEK version current+1 for `project` (re-encryption of old data is the caller's job,
  // e.g. after a suspected DEK compromise). Returns the new version.
  Result<uint32_t> RotateDataKey(std::string_view project);

  // Rewraps every DEK not yet under the KEK's current version, without re-encrypting data.
  // Rows rewrapped concurrently elsewhere are left alone. Continues past failures and reports
  // how many rows failed, with the first error; running it again is safe.
  Status RewrapAll();

  // Drops the unwrapped DEKs from memory; the next use unwraps again.
  void ClearCache();

 private:
  friend class EnvelopeOpener;
  struct ProjectKeys {
    uint32_t current = 0;                  // 0 until the current version has been looked up
    std::map<uint32_t, std::string> deks;  // dek_version → unwrapped DEK
  };
  Result<std::pair<uint32_t, std::string>> CurrentKey(std::string_view project);
  Result<std::string> KeyForVersion(std::string_view project, uint32_t dek_version);
  Result<std::string> Unwrap(std::string_view project, uint32_t dek_version,
                             const WrappedKey& wrapped);
  Result<std::string> CreateKey(std::string_view project, uint32_t dek_version);
  void Remember(std::string_view project, uint32_t dek_version, const std::string& dek,
                bool current);

  storage::MetadataStore& store_;
  KeyEncryptionKeyProvider& kek_;
  const Clock& clock_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, ProjectKeys, std::less<>> projects_;  // guarded by mutex_
};

// The associated data of an envelope whose fixed header bytes are `prefix` (exposed for tests).
std::string EnvelopeAad(std::string_view prefix, const EnvelopeContext& context);

}  // namespace falaj::security
