#include "common/random.h"

#include <openssl/rand.h>

#include <cstdlib>
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

std::string NewRequestId() { return RandomHex(16); }

}  // namespace falaj
