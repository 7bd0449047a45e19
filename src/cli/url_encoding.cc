#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void AppendEscaped(std::string& out, char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto byte = static_cast<unsigned char>(c);
  out += '%';
  out += kHex[byte >> 4];
  out += kHex[byte & 0xF];
}

template <typename KeepLiteral>
std::string Encode(std::string_view text, KeepLiteral keep) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (keep(c)) {
      out += c;
    } else {
      AppendEscaped(out, c);
    }
  }
  return out;
}

}  // namespace

std::string EncodePathSegment(std::string_view segment) {
  bool only_dots = !segment.empty() && segment.find_first_not_of('.') == std::string_view::npos;
  return Encode(segment, [only_dots](char c) {
    return !only_dots && (IsUnreserved(c) || c == ':' || c == '@');
  });
}

std::string EncodeQueryComponent(std::string_view component) {
  return Encode(component, IsUnreserved);
}

std::string ApiPath(const std::vector<std::string_view>& segments) {
  std::string path = "/api/v1";
  for (std::string_view segment : segments) path += "/" + EncodePathSegment(segment);
  return path;
}

std::string QueryString(
    const std::vector<std::pair<std::string_view, std::optional<std::string>>>& parameters) {
  std::string query;
  for (const auto& [name, value] : parameters) {
    if (!value) continue;
    query += query.empty() ? "?" : "&";
    query += EncodeQueryComponent(name) + "=" + EncodeQueryComponent(*value);
  }
  return query;
}

}  // namespace falaj::cli
