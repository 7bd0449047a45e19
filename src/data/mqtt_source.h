// MQTT source: subscribes to a topic filter on a broker (Eclipse Paho C++) and hands the message
// payloads, in arrival order, to a flush callback in batches — by count or by age — on the
// subscriber's own thread, never on Paho's. A failed flush keeps its batch and is retried with
// backoff; a lost connection is re-established with exponential backoff, resubscribing each time.
//
// Delivery guarantee (QoS 1 and 2). The session is persistent (clean_session = false), so the
// broker queues messages published while the subscriber is disconnected and delivers them after
// it reconnects. Paho C 1.3 (under Paho C++ 1.2) has no manual acknowledgement: it sends PUBACK
// as soon as it reads a PUBLISH, before the application sees the message. A message is therefore
// durable at the broker until received, then held only in this process's memory until `flush`
// returns success: if the process dies in between, the received-but-unflushed messages (at most
// `max_buffered` plus what was in flight when the subscriber paused) are lost. Stop() and the
// destructor flush them first. Broker outages, refused flushes and pauses lose nothing, within
// the broker's own per-client queue limit for offline sessions (Mosquitto: max_queued_messages,
// 1000 by default). Delivery is at least once across reconnects (a message whose PUBACK was lost
// is redelivered), in order per topic. QoS 0 is at most once: nothing is queued while away.
//
// Memory is bounded: when `max_buffered` payloads are waiting (flushes failing or slower than
// arrivals), the subscriber disconnects — the broker keeps queueing for the persistent session —
// and reconnects once the backlog has drained to half of that.
//
// Thread-safety: MqttSubscriber's methods may be called from any thread; `flush` is only ever
// called on the subscriber's thread, one call at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "data/mqtt_config.h"

namespace falaj::data {

class MqttSubscriber {
 public:
  // Receives one batch of payloads in arrival order. A batch is handed over again, unchanged and
  // before anything newer, until a call returns success, so the callee should make a retried
  // batch idempotent or at least harmless.
  using Flush = std::function<Status(std::vector<std::string> payloads)>;

  struct Stats {
    int64_t received = 0;  // messages received from the broker
    int64_t flushed = 0;   // messages handed to a flush that succeeded
    int64_t flushed_batches = 0;
    int64_t failed_flushes = 0;  // flush calls that returned an error (or threw)
    int64_t reconnects = 0;      // successful connections after the first
    int64_t buffered = 0;        // received and not yet flushed
    bool connected = false;      // connected and subscribed
    bool paused = false;         // disconnected on purpose because max_buffered was reached
    std::string last_error;      // the latest connection or flush failure, "" if none yet
  };

  // Validates `config`, connects (persistent session), subscribes and starts the subscriber's
  // thread. The first connection must succeed within 10 s: a broker that cannot be reached, or
  // refuses the session, is UNAVAILABLE (a bad user name or password says so); a refused
  // subscription is INVALID_ARGUMENT. Only later outages are retried. `flush` must be callable.
  static Result<std::unique_ptr<MqttSubscriber>> Start(MqttSourceConfig config, Flush flush);

  // Stop(kDefaultStopDeadline) unless Stop was called.
  ~MqttSubscriber();
  MqttSubscriber(const MqttSubscriber&) = delete;
  MqttSubscriber& operator=(const MqttSubscriber&) = delete;

  static constexpr std::chrono::milliseconds kDefaultStopDeadline{10000};

  // Disconnects (no further messages are read), then flushes everything buffered, retrying a
  // failed flush with backoff, until `deadline` has passed. OK when nothing was left unflushed;
  // otherwise DEADLINE_EXCEEDED saying how many messages were dropped and why. A flush already
  // running is not interrupted: Stop returns after it. Later calls return the first call's result.
  // Called from within `flush` it is FAILED_PRECONDITION (it would wait for itself).
  Status Stop(std::chrono::milliseconds deadline = kDefaultStopDeadline);

  Stats stats() const;
  const MqttSourceConfig& config() const;

  struct State;  // the Paho client, the buffer and the thread; defined in mqtt_source.cc

 private:
  explicit MqttSubscriber(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace falaj::data
