#include "data/mqtt_ingest.h"

#include "common/logging.h"

namespace falaj::data {
namespace {

constexpr auto kRetryInterval = std::chrono::seconds(5);

}  // namespace

MqttSources::MqttSources(SourceStore& sources, IngestService& ingest)
    : sources_(sources), ingest_(ingest) {}

MqttSources::~MqttSources() { Stop(); }

void MqttSources::Launch(const Source& source) {
  Running& running = running_[{source.project, source.name}];
  running.revision = source.revision;
  running.subscriber.reset();
  auto config = ParseMqttConfig(source.config);
  if (!config) {
    running.last_error = config.error().message;
    return;
  }
  // The subscriber's own thread calls this; the source is looked up again for each batch so a
  // replaced schema or rule set applies from the next batch on.
  auto flush = [this, project = source.project,
                name = source.name](std::vector<std::string> payloads) -> Status {
    std::vector<std::string_view> objects(payloads.begin(), payloads.end());
    auto outcome = ingest_.Ingest({.project = project,
                                   .source = name,
                                   .format = BatchFormat::kJsonObjects,
                                   .body = {},
                                   .objects = std::move(objects),
                                   .principal = "source:" + name});
    if (!outcome) return std::unexpected(outcome.error());
    return Ok();
  };
  auto started = MqttSubscriber::Start(*config, std::move(flush));
  if (!started) {
    running.last_error = started.error().message;
    log::Warn(
        "mqtt source not started; retrying",
        {{"project", source.project}, {"source", source.name}, {"error", running.last_error}});
    return;
  }
  running.subscriber = std::move(*started);
  running.last_error.clear();
}

Status MqttSources::Start() {
  FALAJ_ASSIGN_OR_RETURN(auto sources, sources_.ListKind("mqtt"));
  {
    std::lock_guard lock(mutex_);
    for (const auto& source : sources) Launch(source);
  }
  retry_ = std::thread([this] { RetryLoop(); });
  return Ok();
}

void MqttSources::RetryLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, kRetryInterval);
    if (stopping_) break;
    for (auto& [key, running] : running_) {
      if (running.subscriber) continue;
      auto source = sources_.Get(key.first, key.second);
      if (source) Launch(*source);
    }
  }
}

void MqttSources::Refresh(const std::string& project, const std::string& name) {
  auto source = sources_.Get(project, name);
  std::unique_ptr<MqttSubscriber> retired;
  std::lock_guard lock(mutex_);
  auto found = running_.find({project, name});
  if (found != running_.end()) {
    retired = std::move(found->second.subscriber);
    running_.erase(found);
  }
  if (source && source->kind == "mqtt") Launch(*source);
  // `retired` stops (flushing its buffer into the source as it was) when it leaves scope.
}

nlohmann::json MqttSources::Describe(const std::string& project, const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto found = running_.find({project, name});
  if (found == running_.end()) return nullptr;
  nlohmann::json status = {{"running", found->second.subscriber != nullptr},
                           {"last_error", found->second.last_error}};
  if (found->second.subscriber) {
    const auto stats = found->second.subscriber->stats();
    status["connected"] = stats.connected;
    status["paused"] = stats.paused;
    status["received"] = stats.received;
    status["flushed"] = stats.flushed;
    status["flushed_batches"] = stats.flushed_batches;
    status["failed_flushes"] = stats.failed_flushes;
    status["reconnects"] = stats.reconnects;
    status["buffered"] = stats.buffered;
    if (!stats.last_error.empty()) status["last_error"] = stats.last_error;
  }
  return status;
}

void MqttSources::Stop() {
  std::map<Key, Running> stopping;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && running_.empty()) return;
    stopping_ = true;
    stopping.swap(running_);
  }
  wake_.notify_all();
  if (retry_.joinable()) retry_.join();
  for (auto& [key, running] : stopping) {
    if (running.subscriber) {
      if (auto stopped = running.subscriber->Stop(); !stopped) {
        log::Warn(
            "mqtt source stopped with messages unflushed",
            {{"project", key.first}, {"source", key.second}, {"error", stopped.error().message}});
      }
    }
  }
}

}  // namespace falaj::data
