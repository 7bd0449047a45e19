// Runs the MQTT sources: one subscriber per `mqtt` source of every project, each flushed batch of
// JSON payloads ingested like pushed rows (typed, validated, quarantined, stored as a dataset
// version, streamed to the online store). Subscribers start with the server and follow source
// creation, replacement and deletion; one whose broker cannot be reached is retried every few
// seconds, its last error shown in the source's status.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/result.h"
#include "data/ingest_service.h"
#include "data/mqtt_source.h"
#include "data/source_store.h"

namespace falaj::data {

class MqttSources {
 public:
  MqttSources(SourceStore& sources, IngestService& ingest);
  ~MqttSources();
  MqttSources(const MqttSources&) = delete;
  MqttSources& operator=(const MqttSources&) = delete;

  // Starts a subscriber for every mqtt source, and the retry thread.
  Status Start();
  // Re-reads one source after it was created, replaced or deleted, and (re)starts or stops its
  // subscriber accordingly.
  void Refresh(const std::string& project, const std::string& name);
  // {"connected", "received", "flushed", …, "last_error"} for the source's status, or null when it
  // is not an mqtt source.
  nlohmann::json Describe(const std::string& project, const std::string& name) const;
  // Stops every subscriber (flushing what each buffered).
  void Stop();

 private:
  struct Running {
    std::unique_ptr<MqttSubscriber> subscriber;
    std::string last_error;
    int64_t revision = 0;
  };
  using Key = std::pair<std::string, std::string>;

  void Launch(const Source& source);  // requires mutex_ held
  void RetryLoop();

  SourceStore& sources_;
  IngestService& ingest_;
  mutable std::mutex mutex_;
  std::map<Key, Running> running_;  // guarded by mutex_
  bool stopping_ = false;           // guarded by mutex_
  std::condition_variable wake_;
  std::thread retry_;
};

}  // namespace falaj::data
