#include "monitoring/alert_notifier.h"

#include "common/logging.h"

namespace falaj::monitoring {

AlertNotifier::AlertNotifier(JsonPoster poster, metrics::Registry& metrics, NotifierOptions options)
    : poster_(std::move(poster)),
      options_(options),
      outcomes_(metrics.AddCounter("falaj_alert_notifications_total",
                                   "Alert notifications by outcome: sent, failed (after every "
                                   "retry), dropped (the queue was full)",
                                   {"result"})),
      sent_(outcomes_.WithLabels({"sent"})),
      failed_(outcomes_.WithLabels({"failed"})),
      dropped_(outcomes_.WithLabels({"dropped"})),
      sender_([this] { Run(); }) {}

AlertNotifier::~AlertNotifier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  sender_.join();
}

bool AlertNotifier::Enqueue(std::string url, std::string body) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= options_.capacity || stopping_) {
      dropped_.Increment();
      return false;
    }
    queue_.push_back({std::move(url), std::move(body)});
  }
  wake_.notify_one();
  return true;
}

bool AlertNotifier::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

void AlertNotifier::Run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      for (size_t i = 0; i < queue_.size(); ++i) dropped_.Increment();
      queue_.clear();
      idle_.notify_all();
      return;
    }
    Item item = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    Deliver(item);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

void AlertNotifier::Deliver(const Item& item) {
  std::chrono::milliseconds backoff = options_.first_backoff;
  std::string last_error;
  for (int attempt = 1; attempt <= options_.attempts; ++attempt) {
    Result<int> status = poster_(item.url, item.body);
    if (status && *status >= 200 && *status < 300) {
      sent_.Increment();
      return;
    }
    last_error = status ? "HTTP " + std::to_string(*status) : status.error().message;
    if (attempt == options_.attempts) break;
    std::unique_lock lock(mutex_);
    // Stopping cuts the backoff short: shutdown does not wait out a dead receiver.
    if (wake_.wait_for(lock, backoff, [this] { return stopping_; })) break;
    backoff *= 2;
  }
  failed_.Increment();
  log::Warn("alert notification failed", {{"url", item.url}, {"error", last_error}});
}

}  // namespace falaj::monitoring
