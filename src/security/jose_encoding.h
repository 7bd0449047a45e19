// Decoding primitives for JOSE objects (JWS, JWK): strict base64url and JSON that rejects
// duplicate member names and deep nesting. Both treat their input as hostile and never throw.
// Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::security {

// Decodes unpadded base64url (RFC 4648 §5, as JWS requires). INVALID_ARGUMENT on padding, any
// character outside the alphabet, an impossible length, or non-zero trailing bits (so that each
// byte string has exactly one accepted encoding).
Result<std::string> Base64UrlDecode(std::string_view text);

// Parses one JSON document. INVALID_ARGUMENT when it is not valid JSON, when any object repeats a
// member name (RFC 7515 §4 and RFC 8725 §3.2 ask for rejection rather than last-wins), or when
// objects and arrays nest deeper than `max_depth`.
Result<nlohmann::json> ParseJsonStrict(std::string_view text, size_t max_depth);

}  // namespace falaj::security
