// Prometheus metrics: a registry of metric families (counters, gauges, histograms) with fixed
// label names, rendered in the text exposition format 0.0.4 for GET /metrics.
//
// Thread-safety: every method of every class here is thread-safe. Hot paths should resolve a
// series once with WithLabels() and keep the returned reference: series live as long as the
// registry, and updating one is a lock-free atomic operation.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace falaj::metrics {

// A monotonically increasing value. Incrementing by a negative amount (or NaN) is a programming
// error and aborts.
class Counter {
 public:
  void Increment(double amount = 1.0);
  double Value() const;

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value);
  void Add(double amount);
  double Value() const;

 private:
  std::atomic<double> value_{0.0};
};

// Cumulative buckets with fixed upper bounds, plus sum and count. The bounds must be finite and
// strictly increasing (the +Inf bucket is implicit); anything else is a programming error and
// aborts.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& upper_bounds);
  void Observe(double value);

  // Copies for rendering and tests; bucket_counts are cumulative, the last one is +Inf.
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> bucket_counts;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  std::vector<double> upper_bounds_;
  // Per bucket, not cumulative; +Inf last. The count is their total rather than a separate
  // atomic so that a snapshot's count always equals its +Inf bucket.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

template <typename Series>
class Family;

// Default buckets for request durations in seconds (50 µs to 10 s).
std::vector<double> DefaultLatencyBuckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering the same name twice, or a name or label name that Prometheus rejects, is a
  // programming error and aborts.
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names);
  Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> label_names);
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> upper_bounds);

  // A callback run at every Render() that appends complete, valid exposition text (HELP, TYPE
  // and samples) for values that are computed at scrape time, such as process metrics. It runs
  // under the registry's lock, so it must not call back into the registry.
  void AddCollector(std::function<void(std::string& out)> collector);

  // The whole registry in text exposition format 0.0.4.
  std::string Render() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The series of one metric, one per distinct tuple of label values.
template <typename Series>
class Family {
 public:
  // Finds or creates the series for these label values, given in the order of the label
  // names. A wrong number of values is a programming error and aborts.
  Series& WithLabels(std::initializer_list<std::string_view> label_values);

 private:
  friend class Registry;
  struct State;
  explicit Family(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;

 public:
  ~Family();
};

// Registers process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and process_start_time_seconds,
// read from /proc/self at scrape time.
void AddProcessCollector(Registry& registry);

}  // namespace falaj::metrics
