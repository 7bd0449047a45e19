// Cryptographically strong random identifiers and secrets (OpenSSL's CSPRNG). Thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace falaj {

// `bytes` random bytes as lowercase hex (2 * bytes characters).
std::string RandomHex(size_t bytes);

// `bytes` random bytes as unpadded base64url.
std::string RandomBase64Url(size_t bytes);

// A request id: 128 bits as 32 hex characters, unique but not secret (not for tokens).
std::string NewRequestId();

}  // namespace falaj
