// Test-only helpers for JOSE: generating keys, publishing them as JWKs, and signing compact JWS
// tokens the way an OIDC provider does. Used by the security unit tests and the JWT fuzz harness;
// never linked into the server. Functions abort on OpenSSL failure, which in a test is a bug.
// Stateless and thread-safe.
#pragma once

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "security/openssl_ptr.h"

namespace falaj::security::testing {

inline void Check(bool ok) {
  if (!ok) std::abort();
}

inline EvpPkeyPtr GenerateRsaKey(size_t bits = 2048) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  Check(key != nullptr);
  return key;
}

inline EvpPkeyPtr GenerateEcKey() {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  Check(key != nullptr);
  return key;
}

// A big-endian integer parameter of `key`, left-padded with zeros to `width` bytes if non-zero.
inline std::string BignumParam(const EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* raw = nullptr;
  Check(EVP_PKEY_get_bn_param(key, name, &raw) == 1);
  BignumPtr value(raw);
  std::string out(width > 0 ? width : BN_num_bytes(value.get()), '\0');
  auto data = reinterpret_cast<unsigned char*>(out.data());
  Check(BN_bn2binpad(value.get(), data, static_cast<int>(out.size())) >= 0);
  return out;
}

inline nlohmann::json RsaJwk(const EVP_PKEY* key, std::string_view kid) {
  return {{"kty", "RSA"},
          {"kid", kid},
          {"use", "sig"},
          {"alg", "RS256"},
          {"n", Base64UrlEncode(BignumParam(key, OSSL_PKEY_PARAM_RSA_N))},
          {"e", Base64UrlEncode(BignumParam(key, OSSL_PKEY_PARAM_RSA_E))}};
}

inline nlohmann::json EcJwk(const EVP_PKEY* key, std::string_view kid) {
  return {{"kty", "EC"},
          {"kid", kid},
          {"use", "sig"},
          {"crv", "P-256"},
          {"x", Base64UrlEncode(BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
          {"y", Base64UrlEncode(BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

// The signature JWS expects from `key` over `input`: PKCS#1 v1.5 for RSA, raw r || s for EC.
inline std::string SignJws(EVP_PKEY* key, std::string_view input, const EVP_MD* digest) {
  EvpMdCtxPtr context(EVP_MD_CTX_new());
  Check(EVP_DigestSignInit(context.get(), nullptr, digest, nullptr, key) == 1);
  size_t length = 0;
  auto data = reinterpret_cast<const unsigned char*>(input.data());
  Check(EVP_DigestSign(context.get(), nullptr, &length, data, input.size()) == 1);
  std::string signature(length, '\0');
  auto out = reinterpret_cast<unsigned char*>(signature.data());
  Check(EVP_DigestSign(context.get(), out, &length, data, input.size()) == 1);
  signature.resize(length);
  if (!EVP_PKEY_is_a(key, "EC")) return signature;
  auto der = reinterpret_cast<const unsigned char*>(signature.data());
  EcdsaSigPtr parsed(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())));
  Check(parsed != nullptr);
  std::string raw(64, '\0');
  auto raw_data = reinterpret_cast<unsigned char*>(raw.data());
  Check(BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), raw_data, 32) == 32);
  Check(BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), raw_data + 32, 32) == 32);
  return raw;
}

// HMAC-SHA256 with `secret`, to forge the classic RS/HS confusion token.
inline std::string HmacSha256(std::string_view secret, std::string_view input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t length = 0;
  Check(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                  reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
                  sizeof out, &length) != nullptr);
  return std::string(reinterpret_cast<char*>(out), length);
}

inline std::string PublicKeyPem(EVP_PKEY* key) {
  OpenSslPtr<BIO, BIO_free_all> bio(BIO_new(BIO_s_mem()));
  Check(bio != nullptr && PEM_write_bio_PUBKEY(bio.get(), key) == 1);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

// header.payload (base64url of the given texts), unsigned.
inline std::string SigningInput(std::string_view header, std::string_view payload) {
  return Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
}

// A compact JWS over the given header and payload texts, signed with `key` and `digest`.
inline std::string SignedToken(std::string_view header, std::string_view payload, EVP_PKEY* key,
                               const EVP_MD* digest = EVP_sha256()) {
  std::string input = SigningInput(header, payload);
  return input + "." + Base64UrlEncode(SignJws(key, input, digest));
}

}  // namespace falaj::security::testing
