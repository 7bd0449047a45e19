// SigningKey: the server's Ed25519 signing key (OpenSSL), kept as an unencrypted PKCS#8 PEM file
// readable by its owner only. It signs audit checkpoints and, later, model artifacts; anything
// that needs "the server vouches for these bytes" signs through it, and verifiers need only the
// 32-byte raw public key (VerifyEd25519).
//
// Thread-safe: a loaded SigningKey is immutable; Sign() may run on many threads at once. The free
// functions are stateless.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::security {

class SigningKey {
 public:
  static constexpr size_t kPublicKeySize = 32;
  static constexpr size_t kSignatureSize = 64;

  // Loads the Ed25519 private key PEM at `path`, or, when no file exists there, generates a key
  // and writes it with mode 0600 (parent directories are created with mode 0700). Creation is
  // atomic and never replaces a file another process created meanwhile. Fails with
  // FAILED_PRECONDITION when the existing file is accessible by group or others, and with
  // INVALID_ARGUMENT when it does not hold an Ed25519 private key.
  static Result<SigningKey> LoadOrCreate(const std::string& path);

  // Like LoadOrCreate() but never creates: NOT_FOUND when `path` does not exist.
  static Result<SigningKey> Load(const std::string& path);

  // A fresh key that lives only in memory (tests, ephemeral tools).
  static Result<SigningKey> Generate();

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  // The 64-byte raw Ed25519 signature of `message` (pure Ed25519, no pre-hash).
  std::string Sign(std::string_view message) const;
  // The 32-byte raw public key.
  const std::string& PublicKeyRaw() const { return public_key_raw_; }
  // The public key as a SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----"), for distribution.
  std::string PublicKeyPem() const;
  // The first 16 hex characters of SHA-256(PublicKeyRaw()); names the key in stored signatures.
  const std::string& KeyId() const { return key_id_; }

 private:
  struct State;
  explicit SigningKey(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
  std::string public_key_raw_;
  std::string key_id_;
};

// True only when `signature` is a valid Ed25519 signature of `message` under the 32-byte raw
// `public_key_raw`. Wrong sizes and malformed keys are simply false.
bool VerifyEd25519(std::string_view public_key_raw, std::string_view message,
                   std::string_view signature);

// The raw 32-byte public key from text a user may supply: 64 hex characters or a PEM
// SubjectPublicKeyInfo of an Ed25519 key. INVALID_ARGUMENT otherwise.
Result<std::string> ParseEd25519PublicKey(std::string_view text);

// The key id (first 16 hex of SHA-256) of a raw public key.
std::string Ed25519KeyId(std::string_view public_key_raw);

}  // namespace falaj::security
