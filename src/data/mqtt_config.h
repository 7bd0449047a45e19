// The configuration of an MQTT source (broker, topic filter, session, batching and backoff): parsed
// strictly from a source's JSON config, validated, and written back (redacted for display). Pure
// functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace falaj::data {

struct MqttSourceConfig {
  std::string broker_uri;  // tcp://host:port or ssl://host:port
  std::string topic;       // a topic filter; may contain + and # wildcards
  int qos = 1;             // 0, 1 or 2
  std::string client_id;   // names the persistent session at the broker: stable and unique
  std::string username;
  std::string password;
  int64_t flush_rows = 1000;                       // flush when this many payloads are buffered …
  std::chrono::milliseconds flush_interval{1000};  // … or when the oldest waited this long
  std::chrono::milliseconds max_backoff{30000};    // cap of reconnect and flush-retry backoff
  int64_t max_buffered = 100000;  // pause reading (disconnect) at this many unflushed payloads

  bool operator==(const MqttSourceConfig&) const = default;
};

// Parses {"broker_uri": …, "topic": …, "qos": 1, "client_id": …, "username": …, "password": …,
// "flush_rows": 1000, "flush_interval_ms": 1000, "max_backoff_ms": 30000,
// "max_buffered": 100000}. broker_uri, topic and client_id are required. Unknown keys, a URI that
// is not tcp:// or ssl:// with a host and port, a malformed topic filter, qos other than 0/1/2,
// non-positive limits, max_buffered below flush_rows, or a password without a username are
// INVALID_ARGUMENT naming the key.
Result<MqttSourceConfig> ParseMqttConfig(const nlohmann::json& json);
// The checks ParseMqttConfig makes, for a config built in code.
Status ValidateMqttConfig(const MqttSourceConfig& config);
// The config in ParseMqttConfig's format. With `redact_password` a set password is written as
// "***" (for display); without, the result parses back to the same config (for storage).
nlohmann::json MqttConfigJson(const MqttSourceConfig& config, bool redact_password);

}  // namespace falaj::data
