#include "common/random.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "common/encoding.h"

namespace falaj {
namespace {

std::vector<unsigned char> RandomBytes(size_t count) {
  std::vector<unsigned char> bytes(count);
  // A CSPRNG failure leaves no safe way to mint secrets; stopping is the only honest answer.
  if (RAND_bytes(bytes.data(), static_cast<int>(count)) != 1) std::abort();
  return bytes;
}

}  // namespace

std::string RandomHex(size_t bytes) {
  auto raw = RandomBytes(bytes);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

std::string RandomBase64Url(size_t bytes) {
  auto raw = RandomBytes(bytes);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

// Request ids need uniqueness, not secrecy: a per-thread generator seeded from the CSPRNG is
// unique enough and costs nanoseconds instead of an OpenSSL call per request.
std::string NewRequestId() {
  thread_local std::mt19937_64 generator = [] {
    auto seed = RandomBytes(sizeof(uint64_t) * 4);
    std::seed_seq sequence(seed.begin(), seed.end());
    return std::mt19937_64(sequence);
  }();
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = generator();
    for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = kDigits[bits & 0xf];
  }
  return id;
}

}  // namespace falaj
