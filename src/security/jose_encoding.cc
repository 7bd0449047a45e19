#include "security/jose_encoding.h"

#include <array>
#include <cstdint>
#include <set>
#include <vector>

namespace falaj::security {
namespace {

constexpr int8_t kInvalid = -1;

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  table.fill(kInvalid);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}

constexpr std::array<int8_t, 256> kDecodeTable = MakeDecodeTable();

}  // namespace

Result<std::string> Base64UrlDecode(std::string_view text) {
  // A single leftover character carries only 6 bits: no byte string encodes to that length.
  if (text.size() % 4 == 1) return MakeError(ErrorCode::kInvalidArgument, "invalid base64url");
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    int8_t value = kDecodeTable[static_cast<unsigned char>(c)];
    if (value == kInvalid) return MakeError(ErrorCode::kInvalidArgument, "invalid base64url");
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  // Leftover bits must be zero, otherwise several encodings would map to the same bytes.
  if ((bits & ((1u << bit_count) - 1)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid base64url");
  }
  return out;
}

Result<nlohmann::json> ParseJsonStrict(std::string_view text, size_t max_depth) {
  // The member names seen so far in each enclosing object, innermost last.
  std::vector<std::set<std::string, std::less<>>> objects;
  size_t depth = 0;
  bool duplicate = false;
  bool too_deep = false;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    // After a failure, discard everything: the result is rejected anyway and discarding keeps
    // the parser from building a deep tree.
    if (duplicate || too_deep) return false;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (++depth > max_depth) {
          too_deep = true;
          return false;
        }
        if (event == Event::object_start) objects.emplace_back();
        return true;
      case Event::object_end:
        if (!objects.empty()) objects.pop_back();
        --depth;
        return true;
      case Event::array_end:
        --depth;
        return true;
      case Event::key:
        if (objects.empty() || !parsed.is_string()) return true;
        if (!objects.back().insert(parsed.get_ref<const std::string&>()).second) {
          duplicate = true;
          return false;
        }
        return true;
      case Event::value:
        return true;
    }
    return true;
  };
  nlohmann::json result = nlohmann::json::parse(text.begin(), text.end(), callback,
                                                /*allow_exceptions=*/false);
  if (duplicate) return MakeError(ErrorCode::kInvalidArgument, "duplicate JSON member name");
  if (too_deep) return MakeError(ErrorCode::kInvalidArgument, "JSON nested too deeply");
  if (result.is_discarded()) return MakeError(ErrorCode::kInvalidArgument, "invalid JSON");
  return result;
}

}  // namespace falaj::security
