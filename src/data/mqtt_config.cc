#include "data/mqtt_config.h"

#include <fmt/format.h>

#include "common/json_fields.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

using std::chrono::milliseconds;

// Bounds that keep clock arithmetic far from overflow and catch unit mistakes (seconds for ms).
constexpr int64_t kMaxIntervalMs = 24LL * 3600 * 1000;
constexpr int64_t kMaxBufferedLimit = 10'000'000;
constexpr size_t kMaxClientIdLength = 128;
constexpr size_t kMaxTopicLength = 65535;
constexpr std::string_view kRedacted = "***";

std::unexpected<Error> Invalid(std::string_view field, std::string_view problem) {
  return MakeError(ErrorCode::kInvalidArgument, "field '{}' {}", field, problem);
}

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

// tcp://host:port or ssl://host:port, host a name, an IPv4 address or a bracketed IPv6 one.
// Credentials belong in username/password, never in the URI, so '@' is refused.
Status CheckBrokerUri(std::string_view uri) {
  constexpr std::string_view kProblem =
      "must be tcp://host:port or ssl://host:port (no user, path or query)";
  std::string_view rest;
  if (uri.starts_with("tcp://")) rest = uri.substr(6);
  if (uri.starts_with("ssl://")) rest = uri.substr(6);
  if (rest.empty()) return Invalid("broker_uri", kProblem);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return Invalid("broker_uri", kProblem);
  std::string_view host = rest.substr(0, colon);
  std::string_view port = rest.substr(colon + 1);
  if (host.front() == '[') {
    bool ok = host.size() > 2 && host.back() == ']' &&
              std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
                return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
              });
    if (!ok) return Invalid("broker_uri", kProblem);
  } else if (!std::all_of(host.begin(), host.end(), IsHostChar)) {
    return Invalid("broker_uri", kProblem);
  }
  int number = 0;
  bool digits = !port.empty() && port.size() <= 5 &&
                std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) number = std::stoi(std::string(port));
  if (!digits || number < 1 || number > 65535) {
    return Invalid("broker_uri", "must name a port from 1 to 65535 (tcp://host:port)");
  }
  return Ok();
}

// MQTT 3.1.1 §4.7: '+' is a whole level, '#' a whole level and the last one.
Status CheckTopicFilter(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopicLength) {
    return Invalid("topic", "must be 1 to 65535 bytes");
  }
  if (topic.find('\0') != std::string_view::npos || !IsValidUtf8(topic)) {
    return Invalid("topic", "must be UTF-8 without NUL characters");
  }
  size_t start = 0;
  while (true) {
    size_t end = topic.find('/', start);
    std::string_view level =
        topic.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (level.find('+') != std::string_view::npos && level != "+") {
      return Invalid("topic", "may use '+' only as a whole level (a/+/c)");
    }
    if (level.find('#') != std::string_view::npos &&
        (level != "#" || end != std::string_view::npos)) {
      return Invalid("topic", "may use '#' only as the whole last level (a/b/#)");
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return Ok();
}

Status CheckClientId(std::string_view id) {
  bool printable = std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
  if (id.empty() || id.size() > kMaxClientIdLength || !printable) {
    return Invalid("client_id",
                   "is required: 1 to 128 printable ASCII characters without spaces, stable "
                   "across restarts (it names the persistent session)");
  }
  return Ok();
}

Status CheckPositive(std::string_view field, int64_t value, int64_t limit) {
  if (value < 1 || value > limit) {
    return Invalid(field, fmt::format("must be between 1 and {}", limit));
  }
  return Ok();
}

}  // namespace

Status ValidateMqttConfig(const MqttSourceConfig& config) {
  FALAJ_RETURN_IF_ERROR(CheckBrokerUri(config.broker_uri));
  FALAJ_RETURN_IF_ERROR(CheckTopicFilter(config.topic));
  if (config.qos < 0 || config.qos > 2) return Invalid("qos", "must be 0, 1 or 2");
  FALAJ_RETURN_IF_ERROR(CheckClientId(config.client_id));
  if (!config.password.empty() && config.username.empty()) {
    return Invalid("password", "needs a username (MQTT 3.1.1 allows no password alone)");
  }
  FALAJ_RETURN_IF_ERROR(CheckPositive("flush_rows", config.flush_rows, kMaxBufferedLimit));
  FALAJ_RETURN_IF_ERROR(
      CheckPositive("flush_interval_ms", config.flush_interval.count(), kMaxIntervalMs));
  FALAJ_RETURN_IF_ERROR(
      CheckPositive("max_backoff_ms", config.max_backoff.count(), kMaxIntervalMs));
  FALAJ_RETURN_IF_ERROR(CheckPositive("max_buffered", config.max_buffered, kMaxBufferedLimit));
  if (config.max_buffered < config.flush_rows) {
    return Invalid("max_buffered", "must be at least flush_rows");
  }
  return Ok();
}

Result<MqttSourceConfig> ParseMqttConfig(const nlohmann::json& json) {
  if (!json.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "an MQTT source config must be a JSON object");
  }
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      json, {"broker_uri", "topic", "qos", "client_id", "username", "password", "flush_rows",
             "flush_interval_ms", "max_backoff_ms", "max_buffered"}));
  MqttSourceConfig config;
  FALAJ_ASSIGN_OR_RETURN(config.broker_uri, json::RequiredString(json, "broker_uri"));
  FALAJ_ASSIGN_OR_RETURN(config.topic, json::RequiredString(json, "topic"));
  FALAJ_ASSIGN_OR_RETURN(config.client_id, json::RequiredString(json, "client_id"));
  FALAJ_ASSIGN_OR_RETURN(auto username, json::OptionalString(json, "username"));
  FALAJ_ASSIGN_OR_RETURN(auto password, json::OptionalString(json, "password"));
  config.username = username.value_or("");
  config.password = password.value_or("");
  FALAJ_ASSIGN_OR_RETURN(auto qos, json::OptionalInt(json, "qos"));
  if (qos) {
    if (*qos < 0 || *qos > 2) return Invalid("qos", "must be 0, 1 or 2");
    config.qos = static_cast<int>(*qos);
  }
  FALAJ_ASSIGN_OR_RETURN(auto flush_rows, json::OptionalInt(json, "flush_rows"));
  FALAJ_ASSIGN_OR_RETURN(auto interval, json::OptionalInt(json, "flush_interval_ms"));
  FALAJ_ASSIGN_OR_RETURN(auto backoff, json::OptionalInt(json, "max_backoff_ms"));
  FALAJ_ASSIGN_OR_RETURN(auto max_buffered, json::OptionalInt(json, "max_buffered"));
  if (flush_rows) config.flush_rows = *flush_rows;
  if (max_buffered) config.max_buffered = *max_buffered;
  // Checked before building durations so that huge values cannot overflow them.
  if (interval) {
    FALAJ_RETURN_IF_ERROR(CheckPositive("flush_interval_ms", *interval, kMaxIntervalMs));
    config.flush_interval = milliseconds(*interval);
  }
  if (backoff) {
    FALAJ_RETURN_IF_ERROR(CheckPositive("max_backoff_ms", *backoff, kMaxIntervalMs));
    config.max_backoff = milliseconds(*backoff);
  }
  FALAJ_RETURN_IF_ERROR(ValidateMqttConfig(config));
  return config;
}

nlohmann::json MqttConfigJson(const MqttSourceConfig& config, bool redact_password) {
  nlohmann::json json = {{"broker_uri", config.broker_uri},
                         {"topic", config.topic},
                         {"qos", config.qos},
                         {"client_id", config.client_id},
                         {"flush_rows", config.flush_rows},
                         {"flush_interval_ms", config.flush_interval.count()},
                         {"max_backoff_ms", config.max_backoff.count()},
                         {"max_buffered", config.max_buffered}};
  if (!config.username.empty()) json["username"] = config.username;
  if (!config.password.empty()) {
    json["password"] = redact_password ? std::string(kRedacted) : config.password;
  }
  return json;
}

}  // namespace falaj::data
