// Byte encodings (hex, base64url) and SHA-256 digests, incremental or one-shot. Free functions are
// thread-safe; a Sha256 object is not (one per stream).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj {

std::string HexEncode(std::string_view bytes);
// nullopt unless `hex` is an even number of hex digits (either case).
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64UrlEncode(std::string_view bytes);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query strings).
// INVALID_ARGUMENT for a malformed escape.
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// Incremental SHA-256 over a stream of chunks.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view chunk);
  // The lowercase hex digest. The object must not be updated afterwards.
  std::string FinishHex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace falaj
