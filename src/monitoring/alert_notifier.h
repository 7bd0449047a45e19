// Delivers alert notifications off the evaluation thread: a bounded queue drained by one sender
// thread, each notification tried up to `attempts` times with doubling backoff (a 2xx answer is
// success; other answers and transport failures are retried). A full queue drops the
// notification and counts it (falaj_alert_notifications_total{result="dropped"}; "sent" and
// "failed" count the others): evaluation never waits on a slow receiver.
//
// Thread-safe: Enqueue may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/metrics.h"
#include "common/result.h"

namespace falaj::monitoring {

// POSTs a JSON body; returns the HTTP status.
using JsonPoster = std::function<Result<int>(const std::string& url, const std::string& body)>;

struct NotifierOptions {
  size_t capacity = 1000;
  int attempts = 3;
  std::chrono::milliseconds first_backoff{200};
};

class AlertNotifier {
 public:
  AlertNotifier(JsonPoster poster, metrics::Registry& metrics, NotifierOptions options = {});
  // Stops the sender; notifications still queued are dropped (counted).
  ~AlertNotifier();

  // False when the queue is full (the notification is dropped and counted).
  bool Enqueue(std::string url, std::string body);
  // Waits until the queue is empty and nothing is in flight, up to `timeout` (for tests).
  bool Drain(std::chrono::milliseconds timeout);

 private:
  struct Item {
    std::string url;
    std::string body;
  };
  void Run();
  void Deliver(const Item& item);

  JsonPoster poster_;
  NotifierOptions options_;
  metrics::Family<metrics::Counter>& outcomes_;
  metrics::Counter& sent_;
  metrics::Counter& failed_;
  metrics::Counter& dropped_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Item> queue_;  // guarded by mutex_
  bool busy_ = false;       // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::thread sender_;
};

}  // namespace falaj::monitoring
