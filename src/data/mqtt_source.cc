#include "data/mqtt_source.h"

#include <mqtt/async_client.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/json_fields.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kOperationTimeout = std::chrono::seconds(10);  // subscribe, disconnect
constexpr auto kKeepAlive = std::chrono::seconds(30);
constexpr milliseconds kInitialBackoff{100};
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

// Text for a failed CONNECT: MQTT 3.1.1 CONNACK codes are 1-5, Paho's own errors negative.
std::string ConnectFailureText(int rc, std::string_view detail) {
  static constexpr std::string_view kConnack[] = {
      "",
      "the broker refused the protocol version (MQTT 3.1.1)",
      "the broker refused the client id",
      "the broker is unavailable",
      "the broker refused the user name or password",
      "the broker refused the connection: not authorised"};
  if (rc >= 1 && rc <= 5) return std::string(kConnack[rc]);
  return std::string(detail.empty() ? "connection failed" : detail);
}

// The caller's flush may throw; exceptions never leave this module.
Status CallFlush(const MqttSubscriber::Flush& flush, std::vector<std::string> batch) {
  try {
    return flush(std::move(batch));
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kInternal, "the flush callback threw: {}", error.what());
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "the flush callback threw");
  }
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

struct MqttSubscriber::State {
  struct Arrived {
    std::string payload;
    Clock::time_point at{};
  };

  // Paho calls this on its own thread when an asynchronous connect finishes.
  class ConnectListener : public mqtt::iaction_listener {
   public:
    explicit ConnectListener(State* state) : state_(state) {}
    void on_success(const mqtt::token&) override { state_->OnConnected(); }
    void on_failure(const mqtt::token& token) override {
      state_->OnConnectFailed(ConnectFailureText(token.get_return_code(), ""));
    }

   private:
    State* state_;
  };

  State(MqttSourceConfig config_in, Flush flush_in)
      : config(std::move(config_in)),
        flush(std::move(flush_in)),
        connect_backoff(std::min(kInitialBackoff, config.max_backoff)),
        flush_backoff(connect_backoff) {}

  Status CreateClient();
  Status ConnectFirst();
  void Run();
  Status Drain();

  // Paho callbacks: they only record and wake the worker, so Paho's thread never waits on a
  // flush or on the network.
  void OnMessage(const mqtt::const_message_ptr& message);
  void OnConnected();
  void OnConnectFailed(std::string reason);
  void OnConnectionLost(const std::string& cause);

  // Worker steps; each is entered and left with `mutex` held by `lock`.
  void Subscribe(std::unique_lock<std::mutex>& lock);
  void Pause(std::unique_lock<std::mutex>& lock);
  void BeginConnect(std::unique_lock<std::mutex>& lock);
  void FlushPending(std::unique_lock<std::mutex>& lock);
  bool FlushDue(Clock::time_point now) const;
  Clock::time_point NextWake(Clock::time_point now) const;
  void Disconnect(Clock::duration timeout);
  void ScheduleReconnect(std::string reason);
  int64_t Buffered() const { return static_cast<int64_t>(buffer.size() + pending.size()); }

  const MqttSourceConfig config;
  const Flush flush;
  mqtt::connect_options connect_options;
  ConnectListener listener{this};

  mutable std::mutex mutex;
  std::condition_variable wake;  // signalled by callbacks and Stop
  // Guarded by `mutex`.
  std::deque<Arrived> buffer;
  std::vector<std::string> pending;  // the batch being flushed or awaiting retry; worker writes
  Stats stats;                       // counters and last_error; the flags below are derived
  bool link_up = false;              // an MQTT connection is established
  bool subscribed = false;
  bool connecting = false;  // an asynchronous connect is in flight
  bool subscribe_needed = false;
  bool ever_connected = false;
  bool paused = false;
  bool stopping = false;
  Clock::time_point stop_deadline{};
  Clock::time_point next_connect_at{};
  milliseconds connect_backoff{kInitialBackoff};
  Clock::time_point retry_at{};
  milliseconds flush_backoff{kInitialBackoff};

  std::mutex stop_mutex;              // serialises Stop callers
  std::optional<Status> stop_result;  // guarded by stop_mutex
  Status drain_result;                // written by the worker before it exits, read after join
  std::thread worker;
  std::thread::id worker_id;  // set before Start returns, then constant
  // Declared last so that it is destroyed first, while everything its callbacks touch is alive.
  std::unique_ptr<mqtt::async_client> client;
};

Status MqttSubscriber::State::CreateClient() {
  try {
    client = std::make_unique<mqtt::async_client>(config.broker_uri, config.client_id, nullptr);
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kInvalidArgument, "MQTT client for {}: {}", config.broker_uri,
                     error.what());
  }
  connect_options.set_clean_session(false);  // the broker queues QoS 1/2 while we are away
  connect_options.set_keep_alive_interval(kKeepAlive);
  connect_options.set_connect_timeout(kConnectTimeout);
  connect_options.set_automatic_reconnect(false);  // ours backs off in milliseconds, not seconds
  connect_options.set_mqtt_version(MQTTVERSION_3_1_1);
  if (!config.username.empty()) connect_options.set_user_name(config.username);
  if (!config.password.empty()) connect_options.set_password(config.password);
  if (config.broker_uri.starts_with("ssl://")) {
    mqtt::ssl_options ssl;  // the system trust store, with host name verification
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);
    connect_options.set_ssl(std::move(ssl));
  }
  client->set_message_callback([this](mqtt::const_message_ptr message) { OnMessage(message); });
  client->set_connection_lost_handler(
      [this](const std::string& cause) { OnConnectionLost(cause); });
  return Ok();
}

Status MqttSubscriber::State::ConnectFirst() {
  const std::string& uri = config.broker_uri;
  try {
    if (!client->connect(connect_options)->wait_for(kConnectTimeout + std::chrono::seconds(1))) {
      return MakeError(ErrorCode::kUnavailable, "cannot connect to MQTT broker {}: timed out", uri);
    }
  } catch (const mqtt::exception& error) {
    return MakeError(ErrorCode::kUnavailable, "cannot connect to MQTT broker {}: {}", uri,
                     ConnectFailureText(error.get_return_code(), error.what()));
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kUnavailable, "cannot connect to MQTT broker {}: {}", uri,
                     error.what());
  }
  Status subscribed_status = Ok();
  try {
    if (!client->subscribe(config.topic, config.qos)->wait_for(kOperationTimeout)) {
      subscribed_status = MakeError(ErrorCode::kUnavailable, "subscribing to '{}' at {}: timed out",
                                    config.topic, uri);
    }
  } catch (const mqtt::exception& error) {
    subscribed_status = MakeError(
        error.get_return_code() == MQTT_BAD_SUBSCRIBE ? ErrorCode::kInvalidArgument
                                                      : ErrorCode::kUnavailable,
        "MQTT broker {} refused the subscription to '{}': {}", uri, config.topic, error.what());
  }
  if (!subscribed_status) {
    Disconnect(std::chrono::seconds(1));
    return subscribed_status;
  }
  std::lock_guard lock(mutex);
  link_up = subscribed = ever_connected = true;
  return Ok();
}

void MqttSubscriber::State::OnMessage(const mqtt::const_message_ptr& message) {
  try {
    std::lock_guard lock(mutex);
    buffer.push_back({message->to_string(), Clock::now()});
    ++stats.received;
    // Wake for the first message (its interval starts) and once a batch is full.
    if (buffer.size() == 1 || static_cast<int64_t>(buffer.size()) >= config.flush_rows) {
      wake.notify_one();
    }
  } catch (const std::exception& error) {
    // Only allocation can fail here; an exception must not unwind into the Paho C library.
    std::lock_guard lock(mutex);
    stats.last_error = fmt::format("dropped a message: {}", error.what());
  }
}

void MqttSubscriber::State::OnConnected() {
  std::lock_guard lock(mutex);
  connecting = false;
  link_up = true;
  subscribe_needed = true;  // the broker may have lost the session (restarted without persistence)
  if (ever_connected) ++stats.reconnects;
  ever_connected = true;
  connect_backoff = std::min(kInitialBackoff, config.max_backoff);
  wake.notify_one();
}

void MqttSubscriber::State::OnConnectFailed(std::string reason) {
  std::lock_guard lock(mutex);
  connecting = false;
  ScheduleReconnect(fmt::format("connecting to {}: {}", config.broker_uri, reason));
}

void MqttSubscriber::State::OnConnectionLost(const std::string& cause) {
  std::lock_guard lock(mutex);
  link_up = subscribed = false;
  ScheduleReconnect(fmt::format("connection to {} lost{}{}", config.broker_uri,
                                cause.empty() ? "" : ": ", cause));
}

// Requires `mutex`.
void MqttSubscriber::State::ScheduleReconnect(std::string reason) {
  stats.last_error = std::move(reason);
  next_connect_at = Clock::now() + connect_backoff;
  connect_backoff = std::min(connect_backoff * 2, config.max_backoff);
  wake.notify_one();
}

void MqttSubscriber::State::Disconnect(Clock::duration timeout) {
  try {
    auto timeout_ms = std::chrono::duration_cast<milliseconds>(timeout);
    client->disconnect(timeout_ms)->wait_for(timeout_ms + milliseconds(500));
  } catch (const std::exception&) {
    // Already disconnected, or the connection broke on the way: either way it is gone.
  }
}

void MqttSubscriber::State::Subscribe(std::unique_lock<std::mutex>& lock) {
  subscribe_needed = false;
  lock.unlock();
  std::string failure;
  try {
    if (!client->subscribe(config.topic, config.qos)->wait_for(kOperationTimeout)) {
      failure = "timed out";
    }
  } catch (const std::exception& error) {
    failure = error.what();
  }
  if (!failure.empty()) Disconnect(std::chrono::seconds(1));
  lock.lock();
  if (failure.empty()) {
    subscribed = link_up;
    return;
  }
  link_up = subscribed = false;
  ScheduleReconnect(fmt::format("subscribing to '{}': {}", config.topic, failure));
}

// Drops the connection while paused; the broker keeps queueing for the persistent session.
void MqttSubscriber::State::Pause(std::unique_lock<std::mutex>& lock) {
  subscribe_needed = false;
  lock.unlock();
  Disconnect(std::chrono::seconds(1));
  lock.lock();
  link_up = subscribed = false;
}

void MqttSubscriber::State::BeginConnect(std::unique_lock<std::mutex>& lock) {
  connecting = true;
  lock.unlock();
  std::string failure;
  try {
    client->connect(connect_options, nullptr, listener);
  } catch (const std::exception& error) {
    failure = error.what();
  }
  lock.lock();
  if (!failure.empty()) {
    connecting = false;
    ScheduleReconnect(fmt::format("connecting to {}: {}", config.broker_uri, failure));
  }
}

bool MqttSubscriber::State::FlushDue(Clock::time_point now) const {
  if (!pending.empty()) return now >= retry_at;
  if (buffer.empty()) return false;
  return static_cast<int64_t>(buffer.size()) >= config.flush_rows ||
         now >= buffer.front().at + config.flush_interval;
}

void MqttSubscriber::State::FlushPending(std::unique_lock<std::mutex>& lock) {
  if (pending.empty()) {
    size_t take = std::min(buffer.size(), static_cast<size_t>(config.flush_rows));
    pending.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      pending.push_back(std::move(buffer.front().payload));
      buffer.pop_front();
    }
  }
  std::vector<std::string> batch = pending;  // kept until a flush succeeds
  lock.unlock();
  Status status = CallFlush(flush, std::move(batch));
  lock.lock();
  if (status) {
    stats.flushed += static_cast<int64_t>(pending.size());
    ++stats.flushed_batches;
    pending.clear();
    flush_backoff = std::min(kInitialBackoff, config.max_backoff);
    return;
  }
  ++stats.failed_flushes;
  stats.last_error =
      fmt::format("flushing {} messages: {}", pending.size(), status.error().message);
  retry_at = Clock::now() + flush_backoff;
  flush_backoff = std::min(flush_backoff * 2, config.max_backoff);
}

Clock::time_point MqttSubscriber::State::NextWake(Clock::time_point now) const {
  Clock::time_point next = now + std::chrono::hours(1);
  if (!pending.empty()) {
    next = std::min(next, retry_at);
  } else if (!buffer.empty()) {
    next = std::min(next, buffer.front().at + config.flush_interval);
  }
  if (!link_up && !connecting && !paused) next = std::min(next, next_connect_at);
  return next;
}

void MqttSubscriber::State::Run() {
  std::unique_lock lock(mutex);
  while (!stopping) {
    auto now = Clock::now();
    if (!paused && Buffered() >= config.max_buffered) {
      paused = true;
    } else if (paused && link_up) {
      Pause(lock);  // also a connection that completed after the pause began
    } else if (subscribe_needed) {
      Subscribe(lock);
    } else if (paused && !connecting && Buffered() <= config.max_buffered / 2) {
      paused = false;
      next_connect_at = now;
    } else if (!link_up && !connecting && !paused && now >= next_connect_at) {
      BeginConnect(lock);
    } else if (FlushDue(now)) {
      FlushPending(lock);
    } else {
      wake.wait_until(lock, NextWake(now));
    }
  }
  lock.unlock();
  drain_result = Drain();
}

Status MqttSubscriber::State::Drain() {
  std::unique_lock lock(mutex);
  // A connect still in flight would bring the session back after the disconnect below.
  wake.wait_until(lock, stop_deadline, [this] { return !connecting; });
  lock.unlock();
  auto remaining = std::max(stop_deadline - Clock::now(), Clock::duration(0));
  Disconnect(std::min<Clock::duration>(remaining, std::chrono::seconds(2)));
  lock.lock();
  link_up = subscribed = false;
  while (!pending.empty() || !buffer.empty()) {
    auto now = Clock::now();
    if (now >= stop_deadline) break;
    if (!pending.empty() && now < retry_at) {
      wake.wait_until(lock, std::min(retry_at, stop_deadline));
      continue;
    }
    FlushPending(lock);
  }
  if (Buffered() == 0) return Ok();
  return MakeError(ErrorCode::kDeadlineExceeded,
                   "stopping the MQTT subscriber for '{}': {} received messages were not flushed "
                   "before the deadline and are dropped (last error: {})",
                   config.topic, Buffered(), stats.last_error);
}

MqttSubscriber::MqttSubscriber(std::unique_ptr<State> state) : state_(std::move(state)) {}

MqttSubscriber::~MqttSubscriber() {
  // Status is reported by an explicit Stop(); the destructor can only do its best.
  (void)Stop(kDefaultStopDeadline);
}

Result<std::unique_ptr<MqttSubscriber>> MqttSubscriber::Start(MqttSourceConfig config,
                                                              Flush flush) {
  FALAJ_RETURN_IF_ERROR(ValidateMqttConfig(config));
  if (!flush) return MakeError(ErrorCode::kInvalidArgument, "an MQTT subscriber needs a flush");
  auto state = std::make_unique<State>(std::move(config), std::move(flush));
  FALAJ_RETURN_IF_ERROR(state->CreateClient());
  FALAJ_RETURN_IF_ERROR(state->ConnectFirst());
  State* raw = state.get();
  state->worker = std::thread([raw] { raw->Run(); });
  state->worker_id = state->worker.get_id();
  return std::unique_ptr<MqttSubscriber>(new MqttSubscriber(std::move(state)));
}

Status MqttSubscriber::Stop(std::chrono::milliseconds deadline) {
  if (std::this_thread::get_id() == state_->worker_id) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "MqttSubscriber::Stop called from its own flush callback");
  }
  std::lock_guard stop_lock(state_->stop_mutex);
  if (state_->stop_result) return *state_->stop_result;
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->stop_deadline = Clock::now() + deadline;
    state_->wake.notify_one();
  }
  if (state_->worker.joinable()) state_->worker.join();
  state_->stop_result = state_->drain_result;
  return *state_->stop_result;
}

MqttSubscriber::Stats MqttSubscriber::stats() const {
  std::lock_guard lock(state_->mutex);
  Stats stats = state_->stats;
  stats.buffered = state_->Buffered();
  stats.connected = state_->link_up && state_->subscribed;
  stats.paused = state_->paused;
  return stats;
}

const MqttSourceConfig& MqttSubscriber::config() const { return state_->config; }

}  // namespace falaj::data
