// Key-encryption keys (KEKs): the KMS plugin interface that wraps and unwraps data keys, and the
// built-in LocalKeyProvider that keeps versioned AES-256 KEKs from a key file or an environment
// variable. Providers are chosen by URI scheme through OpenKeyProvider() ("file", "env"; a KMS
// plugin registers e.g. "vault" with RegisterKeyProviderScheme).
//
// Rotation: a provider holds several versions of one KEK; Wrap always uses current_version(),
// Unwrap accepts every version still held, so after a new version is added old wrapped keys keep
// working until they are rewrapped (ProjectKeyring::RewrapAll) and the old version is retired.
//
// Thread-safety: every method of a provider may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::security {

// A data key encrypted under one version of a KEK. Safe to store and log (minus the ciphertext,
// which is harmless but noisy).
struct WrappedKey {
  std::string kek_id;        // which KEK (a KMS key name; "local" for LocalKeyProvider)
  uint32_t kek_version = 0;  // which version of it, >= 1
  std::string ciphertext;    // provider-specific; for LocalKeyProvider nonce || AES-GCM || tag
};

class KeyEncryptionKeyProvider {
 public:
  virtual ~KeyEncryptionKeyProvider() = default;

  // Encrypts `dek` under the current KEK version. `aad` names what the key belongs to (project,
  // key version …); Unwrap must be given the same bytes.
  virtual Result<WrappedKey> Wrap(std::string_view dek, std::string_view aad) = 0;

  // FAILED_PRECONDITION when `wrapped` names another KEK or a version this provider does not
  // hold; DATA_LOSS when it fails authentication (wrong key material, wrong aad, tampering).
  virtual Result<std::string> Unwrap(const WrappedKey& wrapped, std::string_view aad) = 0;

  // Re-encrypts a wrapped key under the current version. The default unwraps and wraps locally;
  // a remote KMS should override it with its server-side rewrap so the DEK never leaves the KMS.
  virtual Result<WrappedKey> Rewrap(const WrappedKey& wrapped, std::string_view aad);

  virtual uint32_t current_version() const = 0;
  virtual std::string kek_id() const = 0;
};

// Versioned 256-bit KEKs held in memory. Accepted text formats (key = 32 bytes in base64url, with
// or without padding; the standard base64 alphabet is accepted too):
//   lines:  "version:key" per line (or separated by ',' ';' or spaces, for environment
//           variables); '#' starts a comment. kek_id is "local"; current version is the highest.
//   JSON:   {"kek_id": "prod-kek", "current_version": 2,
//            "keys": [{"version": 1, "key": "..."}, {"version": 2, "key": "..."}]}
//           kek_id and current_version are optional; a staged version above current_version can
//           unwrap but is not yet used to wrap (so every replica learns it before any uses it).
// Unknown JSON fields are rejected. Errors never quote key material.
class LocalKeyProvider final : public KeyEncryptionKeyProvider {
 public:
  // The file must be a regular file with mode 0600 or stricter: FAILED_PRECONDITION if group or
  // others have any access. Symlinks are followed (Kubernetes secret mounts are symlinks) and
  // the file they reach is checked.
  static Result<std::unique_ptr<LocalKeyProvider>> FromFile(const std::string& path);
  // Parses key text from `source` (named in errors, e.g. "environment variable FALAJ_KEK").
  static Result<std::unique_ptr<LocalKeyProvider>> FromText(std::string_view text,
                                                            std::string_view source);

  ~LocalKeyProvider() override;

  // Adds KEK version `version` (32 raw bytes); it becomes current when `make_current`.
  // ALREADY_EXISTS for a version already held with other key material; INVALID_ARGUMENT for
  // version 0 or a key of the wrong size. The caller persists the key (e.g. to the key file);
  // a version only held in memory is lost at restart with everything wrapped under it.
  Status AddVersion(uint32_t version, std::string_view key, bool make_current = true);

  Result<WrappedKey> Wrap(std::string_view dek, std::string_view aad) override;
  Result<std::string> Unwrap(const WrappedKey& wrapped, std::string_view aad) override;
  uint32_t current_version() const override;
  std::string kek_id() const override { return kek_id_; }

 private:
  explicit LocalKeyProvider(std::string kek_id) : kek_id_(std::move(kek_id)) {}

  const std::string kek_id_;
  mutable std::shared_mutex mutex_;
  std::map<uint32_t, std::string> keys_;  // guarded by mutex_; version → raw key
  uint32_t current_version_ = 0;          // guarded by mutex_
};

// Decodes base64url or standard base64, padded or not. INVALID_ARGUMENT (without echoing the
// input, which may be secret) on any other character or an impossible length.
Result<std::string> DecodeBase64(std::string_view text);

using KeyProviderFactory =
    std::function<Result<std::unique_ptr<KeyEncryptionKeyProvider>>(std::string_view location)>;

// Registers a provider for a URI scheme; `location` is what follows "scheme://". Registering a
// scheme twice aborts.
void RegisterKeyProviderScheme(std::string scheme, KeyProviderFactory factory);

// "file:///etc/falaj/kek.keys" → LocalKeyProvider::FromFile("/etc/falaj/kek.keys");
// "env://FALAJ_KEK" → LocalKeyProvider::FromText(getenv("FALAJ_KEK")), FAILED_PRECONDITION when
// unset or empty. INVALID_ARGUMENT for an unknown scheme or malformed URI.
Result<std::unique_ptr<KeyEncryptionKeyProvider>> OpenKeyProvider(std::string_view uri);

}  // namespace falaj::security
