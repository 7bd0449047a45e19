#include "security/aead.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <utility>

namespace falaj::security {
namespace {

// EVP_*Update take an int length, so long inputs go through in slices.
constexpr size_t kMaxUpdate = size_t{1} << 30;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* MutableBytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::string RandomBytes(size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(MutableBytes(bytes), static_cast<int>(count)) != 1) std::abort();
  return bytes;
}

void Wipe(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

std::unexpected<Error> AuthenticationFailure() {
  return MakeError(ErrorCode::kDataLoss, "ciphertext failed authentication");
}

std::unexpected<Error> OpenSslFailure(std::string_view step) {
  return MakeError(ErrorCode::kInternal, "AES-256-GCM {} failed in OpenSSL", step);
}

Status CheckKey(std::string_view key) {
  if (key.size() != kAeadKeySize) {
    return MakeError(ErrorCode::kInvalidArgument, "AES-256-GCM key must be {} bytes, got {}",
                     kAeadKeySize, key.size());
  }
  return Ok();
}

void AppendU32(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

uint32_t ReadU32(std::string_view bytes) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::string SegmentNonce(std::string_view prefix, uint32_t counter, bool last) {
  std::string nonce(prefix);
  AppendU32(&nonce, counter);
  nonce.push_back(last ? '\x01' : '\x00');
  return nonce;
}

}  // namespace

// One AES-256-GCM key schedule, reused for many messages (each with its own nonce), in one
// direction. Not thread-safe.
class GcmContext {
 public:
  ~GcmContext() { EVP_CIPHER_CTX_free(ctx_); }
  GcmContext(const GcmContext&) = delete;
  GcmContext& operator=(const GcmContext&) = delete;

  static Result<std::unique_ptr<GcmContext>> Create(std::string_view key, bool encrypt) {
    FALAJ_RETURN_IF_ERROR(CheckKey(key));
    std::unique_ptr<GcmContext> gcm(new GcmContext(encrypt));
    if (gcm->ctx_ == nullptr ||
        EVP_CipherInit_ex(gcm->ctx_, EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt) != 1 ||
        EVP_CIPHER_CTX_ctrl(gcm->ctx_, EVP_CTRL_GCM_SET_IVLEN, kAeadNonceSize, nullptr) != 1 ||
        EVP_CipherInit_ex(gcm->ctx_, nullptr, nullptr, Bytes(key), nullptr, encrypt) != 1) {
      return OpenSslFailure("initialisation");
    }
    return gcm;
  }

  // ciphertext || tag
  Result<std::string> Seal(std::string_view nonce, std::string_view plaintext,
                           std::string_view aad) {
    FALAJ_RETURN_IF_ERROR(Start(nonce, aad));
    std::string out(plaintext.size() + kAeadTagSize, '\0');
    FALAJ_RETURN_IF_ERROR(Process(plaintext, MutableBytes(out)));
    int final_length = 0;
    if (EVP_EncryptFinal_ex(ctx_, MutableBytes(out) + plaintext.size(), &final_length) != 1 ||
        final_length != 0) {
      return OpenSslFailure("encryption");
    }
    if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, kAeadTagSize,
                            MutableBytes(out) + plaintext.size()) != 1) {
      return OpenSslFailure("tag computation");
    }
    return out;
  }

  // The plaintext only when the tag verifies; nothing unauthenticated ever leaves.
  Result<std::string> Open(std::string_view nonce, std::string_view sealed, std::string_view aad) {
    if (sealed.size() < kAeadTagSize) return AuthenticationFailure();
    std::string_view ciphertext = sealed.substr(0, sealed.size() - kAeadTagSize);
    std::string tag(sealed.substr(ciphertext.size()));
    FALAJ_RETURN_IF_ERROR(Start(nonce, aad));
    std::string out(ciphertext.size(), '\0');
    if (auto processed = Process(ciphertext, MutableBytes(out)); !processed) {
      Wipe(out);
      return std::unexpected(processed.error());
    }
    // The expected tag goes in before Final, and only a return of exactly 1 means success:
    // EVP_DecryptFinal_ex reports a mismatch with 0, which a "< 0" check would accept.
    int final_length = 0;
    if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, kAeadTagSize, MutableBytes(tag)) != 1 ||
        EVP_DecryptFinal_ex(ctx_, MutableBytes(out) + ciphertext.size(), &final_length) != 1 ||
        final_length != 0) {
      Wipe(out);
      return AuthenticationFailure();
    }
    return out;
  }

 private:
  explicit GcmContext(bool encrypt) : ctx_(EVP_CIPHER_CTX_new()), encrypt_(encrypt) {}

  Status Start(std::string_view nonce, std::string_view aad) {
    if (nonce.size() != kAeadNonceSize) {
      return MakeError(ErrorCode::kInvalidArgument, "AES-256-GCM nonce must be {} bytes, got {}",
                       kAeadNonceSize, nonce.size());
    }
    if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, Bytes(nonce), encrypt_) != 1) {
      return OpenSslFailure("nonce set-up");
    }
    for (size_t offset = 0; offset < aad.size(); offset += kMaxUpdate) {
      size_t length = std::min(kMaxUpdate, aad.size() - offset);
      int ignored = 0;
      if (EVP_CipherUpdate(ctx_, nullptr, &ignored, Bytes(aad) + offset,
                           static_cast<int>(length)) != 1) {
        return OpenSslFailure("associated data");
      }
    }
    return Ok();
  }

  Status Process(std::string_view in, unsigned char* out) {
    for (size_t offset = 0; offset < in.size(); offset += kMaxUpdate) {
      size_t length = std::min(kMaxUpdate, in.size() - offset);
      int written = 0;
      if (EVP_CipherUpdate(ctx_, out + offset, &written, Bytes(in) + offset,
                           static_cast<int>(length)) != 1 ||
          static_cast<size_t>(written) != length) {
        return OpenSslFailure("update");
      }
    }
    return Ok();
  }

  EVP_CIPHER_CTX* ctx_;
  bool encrypt_;
};

std::string NewAeadKey() { return RandomBytes(kAeadKeySize); }

Result<std::string> AesGcmSealWithNonce(std::string_view key, std::string_view nonce,
                                        std::string_view plaintext, std::string_view aad) {
  auto gcm = GcmContext::Create(key, /*encrypt=*/true);
  if (!gcm) return std::unexpected(gcm.error());
  return (*gcm)->Seal(nonce, plaintext, aad);
}

Result<std::string> AesGcmOpenWithNonce(std::string_view key, std::string_view nonce,
                                        std::string_view sealed, std::string_view aad) {
  auto gcm = GcmContext::Create(key, /*encrypt=*/false);
  if (!gcm) return std::unexpected(gcm.error());
  return (*gcm)->Open(nonce, sealed, aad);
}

Result<std::string> AeadSeal(std::string_view key, std::string_view plaintext,
                             std::string_view aad) {
  std::string nonce = RandomBytes(kAeadNonceSize);
  auto sealed = AesGcmSealWithNonce(key, nonce, plaintext, aad);
  if (!sealed) return sealed;
  return nonce + *sealed;
}

Result<std::string> AeadOpen(std::string_view key, std::string_view sealed, std::string_view aad) {
  FALAJ_RETURN_IF_ERROR(CheckKey(key));
  if (sealed.size() < kAeadNonceSize + kAeadTagSize) return AuthenticationFailure();
  return AesGcmOpenWithNonce(key, sealed.substr(0, kAeadNonceSize), sealed.substr(kAeadNonceSize),
                             aad);
}

Result<std::string> HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                               size_t length) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf == nullptr ? nullptr : EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return MakeError(ErrorCode::kInternal, "HKDF is unavailable in OpenSSL");
  char digest[] = "SHA256";
  // OSSL_PARAM wants non-const pointers, but the KDF only reads the inputs.
  auto octets = [](std::string_view s) {
    return const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(s.data()));
  };
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, octets(ikm), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, octets(salt), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, octets(info), info.size()),
      OSSL_PARAM_construct_end()};
  std::string out(length, '\0');
  int derived = EVP_KDF_derive(ctx, MutableBytes(out), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (derived != 1) {
    Wipe(out);
    return MakeError(ErrorCode::kInternal, "HKDF-SHA256 derivation failed in OpenSSL");
  }
  return out;
}

namespace {

Result<std::unique_ptr<GcmContext>> StreamGcm(std::string_view key, std::string_view header,
                                              bool encrypt) {
  std::string info(kStreamInfoLabel);
  info.append(header);
  auto subkey = HkdfSha256(key, header.substr(4, kStreamSaltSize), info, kAeadKeySize);
  if (!subkey) return std::unexpected(subkey.error());
  auto gcm = GcmContext::Create(*subkey, encrypt);
  Wipe(*subkey);
  return gcm;
}

std::string_view NoncePrefix(std::string_view header) {
  return header.substr(4 + kStreamSaltSize, kStreamNoncePrefixSize);
}

std::unexpected<Error> Exhausted() {
  return MakeError(ErrorCode::kInvalidArgument, "stream exceeds 2^32 segments");
}

}  // namespace

StreamSealer::StreamSealer(std::unique_ptr<GcmContext> gcm, std::string header, std::string aad,
                           size_t segment_size)
    : gcm_(std::move(gcm)),
      header_(std::move(header)),
      aad_(std::move(aad)),
      segment_size_(segment_size) {}

StreamSealer::~StreamSealer() { Wipe(pending_); }

Result<std::unique_ptr<StreamSealer>> StreamSealer::Create(std::string_view key,
                                                           std::string_view aad,
                                                           size_t segment_size) {
  FALAJ_RETURN_IF_ERROR(CheckKey(key));
  if (segment_size < kStreamMinSegmentSize || segment_size > kStreamMaxSegmentSize) {
    return MakeError(ErrorCode::kInvalidArgument, "stream segment size {} is outside [{}, {}]",
                     segment_size, kStreamMinSegmentSize, kStreamMaxSegmentSize);
  }
  std::string header;
  AppendU32(&header, static_cast<uint32_t>(segment_size));
  header += RandomBytes(kStreamSaltSize + kStreamNoncePrefixSize);
  auto gcm = StreamGcm(key, header, /*encrypt=*/true);
  if (!gcm) return std::unexpected(gcm.error());
  return std::unique_ptr<StreamSealer>(
      new StreamSealer(std::move(*gcm), std::move(header), std::string(aad), segment_size));
}

void StreamSealer::EmitHeader(std::string* out) {
  if (header_emitted_) return;
  out->append(header_);
  header_emitted_ = true;
}

Status StreamSealer::SealSegment(std::string_view plaintext, bool last, std::string* out) {
  if (!last && counter_ == UINT32_MAX) return Exhausted();
  auto sealed = gcm_->Seal(SegmentNonce(NoncePrefix(header_), counter_, last), plaintext, aad_);
  if (!sealed) return std::unexpected(sealed.error());
  out->append(*sealed);
  ++counter_;
  return Ok();
}

Status StreamSealer::Update(std::string_view plaintext, std::string* out) {
  if (finished_) return MakeError(ErrorCode::kFailedPrecondition, "stream already finished");
  EmitHeader(out);
  // A full segment is sealed only once more input exists, so the last segment is never empty
  // unless the whole stream is.
  while (!plaintext.empty()) {
    if (pending_.size() == segment_size_) {
      FALAJ_RETURN_IF_ERROR(SealSegment(pending_, /*last=*/false, out));
      Wipe(pending_);
    }
    size_t take = std::min(plaintext.size(), segment_size_ - pending_.size());
    pending_.append(plaintext.substr(0, take));
    plaintext.remove_prefix(take);
  }
  return Ok();
}

Status StreamSealer::Finish(std::string* out) {
  if (finished_) return MakeError(ErrorCode::kFailedPrecondition, "stream already finished");
  finished_ = true;
  EmitHeader(out);
  Status sealed = SealSegment(pending_, /*last=*/true, out);
  Wipe(pending_);
  return sealed;
}

StreamOpener::StreamOpener(std::string key, std::string aad)
    : key_(std::move(key)), aad_(std::move(aad)) {}

StreamOpener::~StreamOpener() {
  Wipe(key_);
  Wipe(pending_);
}

Result<std::unique_ptr<StreamOpener>> StreamOpener::Create(std::string_view key,
                                                           std::string_view aad) {
  FALAJ_RETURN_IF_ERROR(CheckKey(key));
  return std::unique_ptr<StreamOpener>(new StreamOpener(std::string(key), std::string(aad)));
}

Status StreamOpener::Fail(Error error) {
  failed_ = true;
  Wipe(pending_);
  return std::unexpected(std::move(error));
}

Status StreamOpener::ParseHeader() {
  std::string_view header = std::string_view(pending_).substr(0, kStreamHeaderSize);
  size_t segment_size = ReadU32(header);
  if (segment_size < kStreamMinSegmentSize || segment_size > kStreamMaxSegmentSize) {
    return Fail({ErrorCode::kDataLoss,
                 fmt::format("stream header names segment size {}, outside [{}, {}]", segment_size,
                             kStreamMinSegmentSize, kStreamMaxSegmentSize)});
  }
  auto gcm = StreamGcm(key_, header, /*encrypt=*/false);
  Wipe(key_);
  if (!gcm) return Fail(gcm.error());
  gcm_ = std::move(*gcm);
  segment_size_ = segment_size;
  return Ok();
}

Status StreamOpener::OpenSegment(std::string_view sealed, bool last, std::string* out) {
  if (!last && counter_ == UINT32_MAX) return Fail(Exhausted().error());
  std::string_view header = std::string_view(pending_).substr(0, kStreamHeaderSize);
  auto opened = gcm_->Open(SegmentNonce(NoncePrefix(header), counter_, last), sealed, aad_);
  if (!opened) return Fail(opened.error());
  out->append(*opened);
  Wipe(*opened);
  ++counter_;
  return Ok();
}

Status StreamOpener::Update(std::string_view ciphertext, std::string* out) {
  if (failed_ || finished_) {
    return MakeError(ErrorCode::kFailedPrecondition, "stream already failed or finished");
  }
  // pending_ keeps the header at its front, so segments are addressed after it.
  pending_.append(ciphertext);
  if (gcm_ == nullptr) {
    if (pending_.size() < kStreamHeaderSize) return Ok();
    FALAJ_RETURN_IF_ERROR(ParseHeader());
  }
  size_t sealed_segment = segment_size_ + kAeadTagSize;
  size_t offset = kStreamHeaderSize;
  // A full segment is opened as non-final only when more bytes follow it; otherwise it may be
  // the last one, which Finish() opens with the final flag.
  while (pending_.size() - offset > sealed_segment) {
    FALAJ_RETURN_IF_ERROR(OpenSegment(std::string_view(pending_).substr(offset, sealed_segment),
                                      /*last=*/false, out));
    offset += sealed_segment;
  }
  pending_.erase(kStreamHeaderSize, offset - kStreamHeaderSize);
  return Ok();
}

Status StreamOpener::Finish(std::string* out) {
  if (failed_ || finished_) {
    return MakeError(ErrorCode::kFailedPrecondition, "stream already failed or finished");
  }
  finished_ = true;
  if (gcm_ == nullptr) {
    return Fail({ErrorCode::kDataLoss, "stream is truncated: incomplete header"});
  }
  std::string_view rest = std::string_view(pending_).substr(kStreamHeaderSize);
  if (rest.size() < kAeadTagSize) {
    return Fail({ErrorCode::kDataLoss, "stream is truncated: incomplete final segment"});
  }
  FALAJ_RETURN_IF_ERROR(OpenSegment(rest, /*last=*/true, out));
  Wipe(pending_);
  return Ok();
}

}  // namespace falaj::security
