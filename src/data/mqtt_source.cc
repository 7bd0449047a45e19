#include "data/mqtt_source.h"

#include <mqtt/async_client.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace falaj::data {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kOperationTimeout = std::chrono::seconds(10);  // subscribe, disconnect
constexpr auto kKeepAlive = std::chrono::seconds(30);
constexpr milliseconds kInitialBackoff{100};

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
