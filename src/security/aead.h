// Authenticated encryption for data at rest: AES-256-GCM (OpenSSL EVP) with 96-bit nonces and
// associated data, one-shot for small values and a STREAM construction for large blobs. Free
// functions are thread-safe; a StreamSealer or StreamOpener belongs to one thread at a time.
//
// One-shot format (AeadSeal):   nonce(12) || ciphertext || tag(16), nonce fresh from the CSPRNG.
//
// Stream format (StreamSealer): header || segment_0 || ... || segment_n, where
//   header    = segment_size (u32 big-endian) || salt(32) || nonce_prefix(7)        (43 bytes)
//   subkey    = HKDF-SHA256(ikm = key, salt = salt, info = kStreamInfoLabel || header)
//   segment_i = AES-256-GCM(subkey, nonce_prefix || u32be(i) || last_flag, plaintext_i, aad)
// Every segment but the last carries exactly segment_size plaintext bytes; the last carries
// 1..segment_size (0 only for an empty stream) and last_flag = 1. The counter in the nonce detects
// reordering and dropped segments, the flag detects truncation at a segment boundary and
// extension past the end (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption
// and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015; the layout follows Tink's
// AesGcmHkdfStreaming). The per-object subkey matters: one project key seals many objects, and
// a 56-bit random prefix alone would repeat (key, nonce) pairs after ~2^28 objects, whereas a
// fresh subkey per object keeps each GCM key far below the NIST SP 800-38D bounds.
//
// Failures: INVALID_ARGUMENT for a key that is not 32 bytes or a bad nonce length; DATA_LOSS
// "ciphertext failed authentication" when a tag does not verify (tampering, wrong key, wrong
// associated data, truncation, reordering); DATA_LOSS for a malformed stream header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::security {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;

inline constexpr size_t kStreamSegmentSize = 64 * 1024;
inline constexpr size_t kStreamMinSegmentSize = 256;
inline constexpr size_t kStreamMaxSegmentSize = 8 * 1024 * 1024;
inline constexpr size_t kStreamSaltSize = 32;
inline constexpr size_t kStreamNoncePrefixSize = 7;
inline constexpr size_t kStreamHeaderSize = 4 + kStreamSaltSize + kStreamNoncePrefixSize;
inline constexpr std::string_view kStreamInfoLabel = "falaj/stream/aes256gcm-hkdf-sha256/v1";

// 32 fresh bytes from the CSPRNG, for a new data key or key-encryption key. Aborts if the CSPRNG
// fails: there is no safe way to continue minting keys.
std::string NewAeadKey();

// Raw AES-256-GCM with a caller-chosen 12-byte nonce; returns ciphertext || tag.
// REQUIRES: the (key, nonce) pair is never used for two different messages. Exposed for
// known-answer tests and the STREAM construction; everything else uses AeadSeal.
Result<std::string> AesGcmSealWithNonce(std::string_view key, std::string_view nonce,
                                        std::string_view plaintext, std::string_view aad);

// Inverse of AesGcmSealWithNonce. Returns no plaintext unless the tag verifies.
Result<std::string> AesGcmOpenWithNonce(std::string_view key, std::string_view nonce,
                                        std::string_view sealed, std::string_view aad);

// Seals `plaintext` under a fresh random nonce: nonce || ciphertext || tag.
Result<std::string> AeadSeal(std::string_view key, std::string_view plaintext,
                             std::string_view aad);

// Opens the output of AeadSeal with the same key and associated data.
Result<std::string> AeadOpen(std::string_view key, std::string_view sealed, std::string_view aad);

// HKDF-SHA256 (RFC 5869) of `length` bytes.
Result<std::string> HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                               size_t length);

class GcmContext;

// Encrypts one stream. Output is appended to `*out`: the header on the first call, then each
// segment as soon as it is known not to be the last one.
class StreamSealer {
 public:
  // INVALID_ARGUMENT for a bad key or a segment size outside [kStreamMinSegmentSize,
  // kStreamMaxSegmentSize].
  static Result<std::unique_ptr<StreamSealer>> Create(std::string_view key, std::string_view aad,
                                                      size_t segment_size = kStreamSegmentSize);
  ~StreamSealer();
  StreamSealer(const StreamSealer&) = delete;
  StreamSealer& operator=(const StreamSealer&) = delete;

  Status Update(std::string_view plaintext, std::string* out);
  // Seals the last segment. No call is allowed afterwards.
  Status Finish(std::string* out);

 private:
  StreamSealer(std::unique_ptr<GcmContext> gcm, std::string header, std::string aad,
               size_t segment_size);
  Status SealSegment(std::string_view plaintext, bool last, std::string* out);
  void EmitHeader(std::string* out);

  std::unique_ptr<GcmContext> gcm_;
  std::string header_;
  std::string aad_;
  size_t segment_size_;
  std::string pending_;  // plaintext not yet sealed, at most segment_size_ bytes
  uint32_t counter_ = 0;
  bool header_emitted_ = false;
  bool finished_ = false;
};

// Decrypts one stream. Plaintext is appended to `*out` segment by segment once each segment has
// authenticated; a truncated stream is only detected by Finish(), so callers must not act on the
// plaintext (beyond buffering it) until Finish() succeeds.
class StreamOpener {
 public:
  static Result<std::unique_ptr<StreamOpener>> Create(std::string_view key, std::string_view aad);
  ~StreamOpener();
  StreamOpener(const StreamOpener&) = delete;
  StreamOpener& operator=(const StreamOpener&) = delete;

  Status Update(std::string_view ciphertext, std::string* out);
  // Opens the last segment; DATA_LOSS if the stream was truncated or extended.
  Status Finish(std::string* out);

 private:
  StreamOpener(std::string key, std::string aad);
  Status ParseHeader();
  Status OpenSegment(std::string_view sealed, bool last, std::string* out);
  Status Fail(Error error);

  std::string key_;  // the caller's key until the header arrives; wiped afterwards
  std::string aad_;
  std::unique_ptr<GcmContext> gcm_;  // set once the header has been parsed
  size_t segment_size_ = 0;
  std::string pending_;  // ciphertext not yet opened
  uint32_t counter_ = 0;
  bool failed_ = false;
  bool finished_ = false;
};

}  // namespace falaj::security
