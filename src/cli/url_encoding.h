// Percent-encoding of the names and ids a client puts into request URLs (RFC 3986), so that a
// subject such as "group:ml team" or an id with '/', '?' or '#' stays one path segment or one
// query value. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace falaj::cli {

// One path segment: unreserved characters (A-Z a-z 0-9 - . _ ~) and ':' and '@' stay as they
// are (RFC 3986 allows both in a segment, and subjects are "kind:name"); every other byte,
// including '/', '%', '+' and non-ASCII, becomes %XX. A segment of only dots ("." or "..")
// is encoded entirely so that no client or proxy treats it as a relative step.
std::string EncodePathSegment(std::string_view segment);

// One query-string key or value: only unreserved characters stay; everything else, ':' and
// '+' included, becomes %XX.
std::string EncodeQueryComponent(std::string_view component);

// "/api/v1/" followed by the segments, each encoded with EncodePathSegment.
std::string ApiPath(const std::vector<std::string_view>& segments);

// "?k=v&…" for the parameters that have a value, in order; "" when none has.
std::string QueryString(
    const std::vector<std::pair<std::string_view, std::optional<std::string>>>& parameters);

}  // namespace falaj::cli
