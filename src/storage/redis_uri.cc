#include "storage/redis_uri.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>
#include <limits>

#include "storage/redis_kv_store.h"

namespace falaj::storage {
namespace {

constexpr int64_t kMaxPoolSize = 256;
constexpr int64_t kMaxTimeoutMs = 600000;

bool IsUnixScheme(std::string_view scheme) {
  return scheme.size() == 10 &&
         std::equal(scheme.begin(), scheme.end(), "redis+unix", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// Where the user information ends (the '@'), or npos. Over-redacting is the safe failure, so for
// TCP URIs the last '@' counts: paths and options never contain one. A socket path may.
size_t UserinfoEnd(std::string_view scheme, std::string_view rest) {
  if (IsUnixScheme(scheme)) return rest.starts_with('/') ? std::string_view::npos : rest.find("@/");
  return rest.rfind('@');
}

Result<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max, std::string_view what,
                         const std::string& redacted) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return MakeError(ErrorCode::kInvalidArgument, "redis URI '{}': {} must be an integer in {}..{}",
                     redacted, what, min, max);
  }
  return value;
}

Result<std::string> PercentDecode(std::string_view text, const std::string& redacted) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded.push_back(text[i]);
      continue;
    }
    unsigned value = 0;
    auto [end, ec] =
        std::from_chars(text.data() + i + 1, text.data() + std::min(i + 3, text.size()), value, 16);
    if (i + 2 >= text.size() || ec != std::errc() || end != text.data() + i + 3) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "redis URI '{}': bad percent-encoding in the user information", redacted);
    }
    decoded.push_back(static_cast<char>(value));
    i += 2;
  }
  return decoded;
}

Status ParseQuery(std::string_view query, RedisTarget& target, bool& db_in_query) {
  struct Option {
    std::string_view name;
    int64_t RedisTarget::*field;
    int64_t min, max;
  };
  static constexpr Option kOptions[] = {
      {"db", &RedisTarget::db, 0, std::numeric_limits<int>::max()},
      {"pool_size", &RedisTarget::pool_size, 1, kMaxPoolSize},
      {"connect_timeout_ms", &RedisTarget::connect_timeout_ms, 1, kMaxTimeoutMs},
      {"timeout_ms", &RedisTarget::timeout_ms, 1, kMaxTimeoutMs}};
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto equals = param.find('=');
    std::string_view name = param.substr(0, equals);
    std::string_view value = equals == std::string_view::npos ? "" : param.substr(equals + 1);
    auto* option = std::find_if(std::begin(kOptions), std::end(kOptions),
                                [&](const Option& o) { return o.name == name; });
    if (option == std::end(kOptions)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "redis URI '{}': unknown option '{}'; known: db, pool_size, "
                       "connect_timeout_ms, timeout_ms",
                       target.redacted, name);
    }
    db_in_query |= option->field == &RedisTarget::db;
    FALAJ_ASSIGN_OR_RETURN(target.*option->field,
                           ParseInt(value, option->min, option->max, name, target.redacted));
  }
  return Ok();
}

// host[:port] or [ipv6][:port].
Status ParseHostPort(std::string_view authority, RedisTarget& target) {
  const bool bracketed = authority.starts_with('[');
  size_t host_end = authority.find(bracketed ? ']' : ':');
  target.host = authority.substr(bracketed ? 1 : 0, host_end - (bracketed ? 1 : 0));
  std::string_view after =
      host_end == std::string_view::npos ? "" : authority.substr(host_end + (bracketed ? 1 : 0));
  if (target.host.empty() || (bracketed && host_end == std::string_view::npos) ||
      (!after.empty() && !after.starts_with(':'))) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "redis URI '{}' has a malformed host; expected host[:port] or [ipv6][:port]",
                     target.redacted);
  }
  if (after.empty()) return Ok();
  FALAJ_ASSIGN_OR_RETURN(target.port, ParseInt(after.substr(1), 1, 65535, "port", target.redacted));
  return Ok();
}

}  // namespace

Result<RedisTarget> ParseRedisUri(std::string_view uri) {
  RedisTarget target;
  target.redacted = RedactUriPassword(uri);
  auto separator = uri.find("://");
  if (separator == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "redis URI '{}' has no scheme", target.redacted);
  }
  std::string_view scheme = uri.substr(0, separator);
  std::string_view rest = uri.substr(separator + 3);
  target.unix_socket = IsUnixScheme(scheme);

  if (auto at = UserinfoEnd(scheme, rest); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    // As redis-cli reads it: "user:password", ":password", or a bare "password".
    auto colon = userinfo.find(':');
    if (colon != std::string_view::npos) {
      FALAJ_ASSIGN_OR_RETURN(target.user,
                             PercentDecode(userinfo.substr(0, colon), target.redacted));
      userinfo = userinfo.substr(colon + 1);
    }
    FALAJ_ASSIGN_OR_RETURN(target.password, PercentDecode(userinfo, target.redacted));
    target.has_password = true;
  }
  std::string_view query;
  if (auto mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  bool db_in_query = false;
  FALAJ_RETURN_IF_ERROR(ParseQuery(query, target, db_in_query));

  if (target.unix_socket) {
    if (!rest.starts_with('/') || rest.size() < 2) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "redis URI '{}' names no absolute socket path; expected "
                       "'redis+unix:///path/to/redis.sock[?db=N]'",
                       target.redacted);
    }
    target.socket_path = rest;
    return target;
  }
  auto slash = rest.find('/');
  FALAJ_RETURN_IF_ERROR(ParseHostPort(rest.substr(0, slash), target));
  std::string_view db = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (!db.empty()) {
    if (db_in_query) {
      return MakeError(ErrorCode::kInvalidArgument, "redis URI '{}' gives the database twice",
                       target.redacted);
    }
    FALAJ_ASSIGN_OR_RETURN(target.db,
                           ParseInt(db, 0, std::numeric_limits<int>::max(), "db", target.redacted));
  }
  return target;
}

std::string RedactUriPassword(std::string_view uri) {
  // Without a scheme, read the whole text as what would follow one: it may still be "user:pw@…".
  auto separator = uri.find("://");
  size_t rest_start = separator == std::string_view::npos ? 0 : separator + 3;
  std::string_view scheme = uri.substr(0, separator == std::string_view::npos ? 0 : separator);
  std::string_view rest = uri.substr(rest_start);
  auto at = UserinfoEnd(scheme, rest);
  if (at == std::string_view::npos) return std::string(uri);
  std::string_view userinfo = rest.substr(0, at);
  auto colon = userinfo.find(':');
  size_t kept = colon == std::string_view::npos ? 0 : colon + 1;
  return fmt::format("{}***{}", uri.substr(0, rest_start + kept), rest.substr(at));
}

}  // namespace falaj::storage
